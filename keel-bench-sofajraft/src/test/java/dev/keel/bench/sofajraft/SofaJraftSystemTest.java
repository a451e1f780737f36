package dev.keel.bench.sofajraft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.bench.harness.LoadDriver;
import dev.keel.bench.harness.Result;
import dev.keel.bench.harness.Setup;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class SofaJraftSystemTest {

    @TempDir
    Path dir;

    /** A random base so that a run does not collide with a leftover one; node i uses base + 10*i. */
    private static int basePort() {
        return 24_000 + 10 * ThreadLocalRandom.current().nextInt(0, 500);
    }

    private Setup setup() {
        return new Setup(3, dir, basePort(), 1000, 2000, true);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void commitsAThousandCommandsAndReleasesItsPorts() throws Exception {
        Setup setup = setup();
        SofaJraftSystem system = new SofaJraftSystem();
        try {
            system.start(setup);
            assertThat(system.describe()).contains("sync=true", "syncMeta=true", "[1000, 2000)");
            List<CompletableFuture<Void>> futures = LoadDriver.submitAll(system, 1000, 64, 64, 60);
            assertThat(futures).allSatisfy(f -> assertThat(f).isCompleted().isNotCompletedExceptionally());
            // The futures complete from inside onApply, so the counter already includes every command.
            assertThat(system.leaderApplied()).isEqualTo(1000);
        } finally {
            system.close();
        }
        for (int id = 1; id <= setup.nodes(); id++) {
            assertThat(canBind(setup.port(id))).as("port of node %d released", id).isTrue();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void runsUnderTheLoadDriver() throws Exception {
        try (SofaJraftSystem system = new SofaJraftSystem()) {
            system.start(setup());
            Result r = new LoadDriver(system, 64).closedLoop(16, 0.5, 1.0);
            assertThat(r.ops()).isPositive();
            assertThat(r.errors()).isZero();
        }
    }

    @Test
    void refusesTheInMemoryTable() {
        SofaJraftSystem system = new SofaJraftSystem();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> system.start(new Setup(3, dir, basePort(), 1000, 2000, false)))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    private static boolean canBind(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.isBound();
        } catch (IOException e) {
            return false;
        }
    }
}
