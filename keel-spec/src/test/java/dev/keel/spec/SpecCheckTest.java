package dev.keel.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.sim.SimResult;
import dev.keel.sim.Simulation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The CI-sized model checks, the mutation checks (which must fail), and trace validation of
 * simulator seeds, run by TLC from spec/ (see spec/README.md for what each configuration bounds).
 */
class SpecCheckTest {
    private static final Path SPEC = SpecCheck.findSpecDir(Path.of("."));

    @Test
    void ciModelChecksFindNoViolationAndEveryMutationIsCaught() {
        List<String> wrong = new ArrayList<>();
        for (SpecCheck.Check c : SpecCheck.CI_CHECKS) {
            Tlc.Result r = SpecCheck.modelCheck(SPEC, c, 600);
            System.out.println(r.line());
            if (!SpecCheck.asExpected(c, r)) wrong.add(r.line() + "\n" + SpecCheck.tail(r.output(), 30));
            if (!c.expectViolation()) assertThat(r.distinct()).as(c.cfg() + " explored states").isGreaterThan(1000);
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void simulatorTracesWithFaultsAreBehavioursOfTheSpec() {
        for (long seed : SpecCheck.CI_SEEDS) {
            TraceValidation.Run run = TraceValidation.record(seed, TraceValidation.OPTIONS);
            assertThat(run.result().ok()).as("seed " + seed + " passes the simulator's own checks").isTrue();
            // The trace spec models a fixed set of voters: no spare nodes, no membership changes.
            assertThat(run.result().nodes()).isEqualTo(3);
            assertThat(run.result().membershipChanges()).isZero();
            assertThat(run.result().crashes() + run.result().partitions()).as("seed " + seed + " has faults").isPositive();
            TraceValidation.Outcome o = TraceValidation.validate("seed " + seed, run.ndjson(), SPEC, 600);
            System.out.println(o.line());
            assertThat(o.accepted()).as(o.line()).isTrue();
            assertThat(o.events()).isGreaterThan(500);
        }
    }

    @Test
    void aCorruptedTraceIsRejectedAtTheCorruptedEvent() {
        TraceValidation.Run run = TraceValidation.record(SpecCheck.CI_SEEDS.get(0), TraceValidation.OPTIONS);
        List<String> lines = new ArrayList<>(run.ndjson().lines().toList());
        // Make a follower claim a vote it never granted: the first granted RequestVote response
        // that is sent is flipped to a refusal, which no step of the spec produces there.
        int target = -1;
        for (int i = 1; i < lines.size() && target < 0; i++) {
            String l = lines.get(i);
            if (l.contains("\"ev\":\"persist\"") && l.contains("\"type\":\"RVR\",\"granted\":true,\"pre\":false")) target = i;
        }
        assertThat(target).as("the trace has a granted vote").isPositive();
        lines.set(target, lines.get(target).replaceFirst("\"granted\":true,\"pre\":false", "\"granted\":false,\"pre\":false"));
        TraceValidation.Outcome o = TraceValidation.validate("corrupted", String.join("\n", lines), SPEC, 600);
        System.out.println(o.line());
        assertThat(o.accepted()).isFalse();
        assertThat(o.firstUnexplained()).isEqualTo(target);
        assertThat(o.unexplainedLine()).isEqualTo(lines.get(target));
    }

    @Test
    void recordingATraceDoesNotChangeTheRun() {
        SimResult plain = Simulation.run(7, TraceValidation.OPTIONS);
        TraceValidation.Run traced = TraceValidation.record(7, TraceValidation.OPTIONS);
        assertThat(traced.result().digest()).isEqualTo(plain.digest());
        assertThat(traced.ndjson().lines().count()).isGreaterThan(100);
    }

    @Test
    void jsonBecomesTlaRecordsAndSequences() {
        assertThat(JsonToTla.convert("{\"ev\":\"recv\",\"n\":2,\"m\":{\"entries\":[1,2],\"ok\":true,\"x\":[]}}"))
                .isEqualTo("[ev |-> \"recv\", n |-> 2, m |-> [entries |-> <<1, 2>>, ok |-> TRUE, x |-> <<>>]]");
        assertThatThrownBy(() -> JsonToTla.convert("{\"n\":1.5}")).hasMessageContaining("only integers");
        assertThatThrownBy(() -> JsonToTla.convert("{\"n\":1")).hasMessageContaining("expected '}'");
        assertThatThrownBy(() -> TraceValidation.validate("no header", "{\"ev\":\"tick\"}", SPEC, 10))
                .hasMessageContaining("init line");
    }
}
