package dev.keel.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FloorTest {

    @Test
    void measuresEveryFigureAndLeavesNoFilesBehind(@TempDir Path dir) throws Exception {
        Floor f = Floor.measure(dir.resolve("floor"));
        assertThat(f.fsyncMicrosP50()).isPositive();
        assertThat(f.fsyncMicrosP99()).isGreaterThanOrEqualTo(f.fsyncMicrosP50());
        assertThat(f.syncedMiBPerSecond()).isPositive();
        assertThat(f.rttMicrosP50()).isPositive();
        assertThat(f.colocatedSyncMicrosP50()).isPositive();
        assertThat(f.floorMicros()).isEqualTo(f.fsyncMicrosP50() + f.rttMicrosP50());
        assertThat(f.overwriteFsyncMicrosP50()).isPositive();
        assertThat(f.strictFloorMicros()).isEqualTo(Math.min(f.fsyncMicrosP50(), f.overwriteFsyncMicrosP50()) + f.rttMicrosP50());
        try (Stream<Path> left = Files.list(dir.resolve("floor"))) {
            assertThat(left).as("scratch files removed").isEmpty();
        }
    }

    @Test
    void medianTakesEachFigureOnItsOwn() {
        Floor a = new Floor(100, 900, 50, 700, 12, 200);
        Floor b = new Floor(300, 500, 70, 600, 68, 240);
        Floor c = new Floor(200, 700, 60, 800, 70, 220);
        assertThat(Floor.median(List.of(a, b, c))).isEqualTo(new Floor(200, 700, 60, 700, 68, 220));
        // An even count takes the mean of the middle two; one measurement is its own median.
        assertThat(Floor.median(List.of(a, b))).isEqualTo(new Floor(200, 700, 60, 650, 40, 220));
        assertThat(Floor.median(List.of(b))).isEqualTo(b);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Floor.median(List.of()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
