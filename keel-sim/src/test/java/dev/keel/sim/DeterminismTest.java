package dev.keel.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A seed is a complete description of a run: the same seed replays byte for byte. */
class DeterminismTest {
    @Test
    void sameSeedSameRun() {
        for (long seed = 1; seed <= 10; seed++) {
            SimResult a = Simulation.run(seed, SimOptions.DEFAULT);
            SimResult b = Simulation.run(seed, SimOptions.DEFAULT);
            assertThat(b.line()).isEqualTo(a.line());
            assertThat(b.digest()).isEqualTo(a.digest());
        }
    }

    @Test
    void tracingDoesNotChangeTheRun() {
        SimResult plain = Simulation.run(42, SimOptions.DEFAULT);
        SimResult traced = Simulation.run(42, SimOptions.DEFAULT.withTraceLines(100));
        assertThat(traced.digest()).isEqualTo(plain.digest());
        assertThat(traced.trace()).hasSize(100);
    }

    @Test
    void differentSeedsDifferentRuns() {
        Set<Long> digests = new HashSet<>();
        for (long seed = 1; seed <= 20; seed++) digests.add(Simulation.run(seed, SimOptions.DEFAULT).digest());
        assertThat(digests).hasSize(20);
    }

    @Test
    void threadCountDoesNotChangeResults() {
        StringBuilder one = new StringBuilder();
        StringBuilder two = new StringBuilder();
        SimRunner.runRange(1, 8, SimOptions.DEFAULT, 1, r -> one.append(r.line()).append('\n'));
        SimRunner.runRange(1, 8, SimOptions.DEFAULT, 2, r -> two.append(r.line()).append('\n'));
        assertThat(two.toString()).isEqualTo(one.toString());
    }
}
