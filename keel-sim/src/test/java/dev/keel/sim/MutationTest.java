package dev.keel.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.core.TestMutation;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Proves the checkers can fail: each deliberately injected protocol bug must be caught by the
 * randomized simulator within a bounded number of seeds. Searching stops at the first catch.
 */
class MutationTest {
    @ParameterizedTest(name = "{0} caught within {3} seeds")
    @CsvSource({
        // mutation,                  nodes, faultTicks, seed bound
        "GRANT_SECOND_VOTE,           0,     1500,       100",
        "FOLLOWER_COMMIT_WITHOUT_MIN, 0,     1500,       100",
        "FORGET_PERSIST_VOTE,         3,     1500,       2000",
        "COMMIT_OLD_TERM_BY_COUNTING, 3,     3000,       5000",
        "SKIP_JOINT_CONSENSUS,        0,     1500,       3000",
        "COUNT_OWN_WRITE_BEFORE_DURABLE, 3,  1500,       1000",
    })
    void injectedBugIsCaught(TestMutation mutation, int nodes, int faultTicks, int bound) {
        SimOptions options = SimOptions.DEFAULT.withMutation(mutation).withNodes(nodes).withFaultTicks(faultTicks);
        int threads = Runtime.getRuntime().availableProcessors();
        long chunk = 50L * threads;
        for (long from = 1; from <= bound; from += chunk) {
            long to = Math.min(bound, from + chunk - 1);
            StringBuilder caught = new StringBuilder();
            SimRunner.Summary s = SimRunner.runRange(from, to, options, threads, r -> {
                if (!r.ok() && caught.isEmpty()) caught.append(r.line());
            });
            if (s.violations() > 0) {
                System.out.println("[mutation] " + mutation + " caught: " + caught);
                assertThat(caught.toString()).contains("VIOLATION");
                return;
            }
        }
        throw new AssertionError(mutation + " was not caught in seeds 1.." + bound
                + ": the simulator or its checkers have lost the power to find it");
    }
}
