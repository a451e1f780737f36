package dev.keel.bench.microraft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.bench.harness.LoadDriver;
import dev.keel.bench.harness.Result;
import dev.keel.bench.harness.Setup;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MicroRaftSystemTest {

    @TempDir
    Path dir;

    private Setup setup(boolean durable) {
        return new Setup(3, dir, 20_000, 1000, 2000, durable);
    }

    @Test
    void commitsEveryCommandOnTheLeader() throws Exception {
        try (MicroRaftSystem system = new MicroRaftSystem()) {
            system.start(setup(false));
            assertThat(system.describe()).contains("MicroRaft").contains("in memory");

            List<CompletableFuture<Void>> futures = LoadDriver.submitAll(system, 1000, 64, 64, 60);

            assertThat(futures).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
            // Each future completes after the leader's state machine applied its command.
            assertThat(system.leaderAppliedCommands()).isEqualTo(1000);
        }
    }

    @Test
    void closedLoopRunsWithoutErrors() throws Exception {
        try (MicroRaftSystem system = new MicroRaftSystem()) {
            system.start(setup(false));
            Result r = new LoadDriver(system, 64).closedLoop(16, 0.5, 1.0);
            assertThat(r.system()).isEqualTo("microraft");
            assertThat(r.ops()).isPositive();
            assertThat(r.errors()).isZero();
        }
    }

    @Test
    void refusesTheDurableTable() throws Exception {
        try (MicroRaftSystem system = new MicroRaftSystem()) {
            assertThatThrownBy(() -> system.start(setup(true)))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("durable");
        }
    }
}
