package dev.keel.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs many seeds of the full simulator (faults on: loss, duplication, reordering, partitions,
 * crashes, clients) with every safety checker after every step, linearizability at the end and the
 * liveness bound after healing. The count comes from {@code -Dkeel.sim.seeds} (1000 in the
 * build, 500 if unset).
 */
class SimulatorSeedsTest {
    @Test
    void manySeedsWithFaultsViolateNothing() {
        int seeds = Integer.getInteger("keel.sim.seeds", 500);
        List<String> failures = new ArrayList<>();
        long[] work = new long[3];
        SimRunner.Summary s = SimRunner.runRange(1, seeds, SimOptions.DEFAULT, Runtime.getRuntime().availableProcessors(),
                r -> {
                    if (!r.ok()) failures.add(r.line() + "\n  replay: bin/keel sim --seed " + r.seed());
                    work[0] += r.crashes();
                    work[1] += r.partitions();
                    work[2] += r.opsOk();
                });
        System.out.println("[sim] " + s.line() + " crashes=" + work[0] + " partitions=" + work[1] + " ops_ok=" + work[2]);
        assertThat(failures).as("seeds with violations").isEmpty();
        assertThat(s.seeds()).isEqualTo(seeds);
        // The runs must be non-trivial: faults happened and clients got work done.
        assertThat(work[0]).as("crashes injected").isGreaterThan(seeds);
        assertThat(work[1]).as("partitions injected").isGreaterThan(seeds);
        assertThat(work[2]).as("client operations completed").isGreaterThan(50L * seeds);
    }

    /**
     * Every node on keel-storage's real DurableLog in a temporary directory, crashes dropping
     * unsynced writes: the log format, recovery, truncation, compaction and snapshot install are
     * exercised under the same checkers.
     */
    @Test
    void seedsOnRealStorageViolateNothing() {
        List<String> failures = new ArrayList<>();
        int[] installs = new int[1];
        SimRunner.Summary s = SimRunner.runRange(100_001, 100_060,
                SimOptions.DEFAULT.withRealStorage(SimOptions.Seeds.ALWAYS),
                Runtime.getRuntime().availableProcessors(), r -> {
                    if (!r.ok()) failures.add(r.line() + "\n  replay: bin/keel sim --real-storage ALWAYS --seed " + r.seed());
                    installs[0] += r.snapshotsInstalled();
                });
        System.out.println("[sim-real-storage] " + s.line() + " installs=" + installs[0]);
        assertThat(failures).isEmpty();
        assertThat(installs[0]).as("snapshots installed from leaders").isPositive();
    }
}
