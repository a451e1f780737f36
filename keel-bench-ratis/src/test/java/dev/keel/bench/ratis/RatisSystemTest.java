package dev.keel.bench.ratis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.bench.harness.LoadDriver;
import dev.keel.bench.harness.Result;
import dev.keel.bench.harness.Setup;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class RatisSystemTest {

    /**
     * A random base port per test, so parallel builds and leftover sockets from an earlier run do not clash.
     * Kept below 32768, where Linux starts handing out ephemeral ports. (A clash matters more than usual:
     * Ratis' gRPC service calls System.exit(1) when it cannot bind.)
     */
    private static Setup setup(Path dir, boolean durable) {
        int base = 23_000 + 100 * ThreadLocalRandom.current().nextInt(90);
        return new Setup(3, dir, base, 1000, 2000, durable);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void commitsEveryProposalOnTheLeader(@TempDir Path dir) throws Exception {
        try (RatisSystem ratis = new RatisSystem()) {
            ratis.start(setup(dir, true));
            assertThat(ratis.describe()).contains("SegmentedRaftLog", "force.sync.num=128", "1000-2000 ms");

            List<CompletableFuture<Void>> futures = LoadDriver.submitAll(ratis, 1000, 64, 64, 60);
            assertThat(futures).allSatisfy(f -> assertThat(f).isCompleted().isNotCompletedExceptionally());
            // The reply completes once the leader applied the entry, so the count is already there.
            assertThat(ratis.leaderApplied()).isEqualTo(1000);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void closedLoopRunsWithoutErrors(@TempDir Path dir) throws Exception {
        try (RatisSystem ratis = new RatisSystem()) {
            ratis.start(setup(dir, true));
            Result r = new LoadDriver(ratis, 1024).closedLoop(16, 0.5, 1.0);
            assertThat(r.ops()).isPositive();
            assertThat(r.errors()).isZero();
            assertThat(r.system()).isEqualTo("ratis");
        }
    }

    @Test
    void refusesTheInMemoryTable(@TempDir Path dir) throws Exception {
        try (RatisSystem ratis = new RatisSystem()) {
            assertThatThrownBy(() -> ratis.start(setup(dir, false))).isInstanceOf(UnsupportedOperationException.class);
        }
    }
}
