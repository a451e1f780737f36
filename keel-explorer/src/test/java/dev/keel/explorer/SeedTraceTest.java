package dev.keel.explorer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.TestMutation;
import dev.keel.sim.SimFrame;
import dev.keel.sim.SimOptions;
import dev.keel.sim.SimResult;
import dev.keel.sim.Simulation;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SeedTraceTest {

    @Test
    void framesFollowTheSeedsRunAndRepeat() {
        SeedTrace t = SeedTrace.parse("seed 7 nodes=3 ticks=300");
        SimResult r = t.result();
        assertThat(r.ok()).isTrue();
        assertThat(t.frame().event()).isZero();
        assertThat(t.frame().nodes()).hasSize(3).allSatisfy(n -> assertThat(n.role()).isEqualTo("FOLLOWER"));

        t.seek(r.events() / 2);
        Map<String, Object> middle = t.state();
        assertThat(middle.get("step")).isEqualTo(r.events() / 2);
        assertThat(t.frame().time()).isPositive();
        // The trace's last line is the last traced event at or before this one (persists are not traced).
        String last = t.frame().trace().get(t.frame().trace().size() - 1);
        long lastTraced = Long.parseLong(last.replaceAll("^t=\\d+ #(\\d+) .*$", "$1"));
        assertThat(lastTraced).isBetween(r.events() / 2 - 20, r.events() / 2);
        t.seek(3);
        t.seek(r.events() / 2);
        assertThat(t.state()).isEqualTo(middle); // the same event gives the same picture, every time

        t.seek(r.events());
        SimFrame end = t.frame();
        assertThat(end.event()).isEqualTo(r.events());
        assertThat(end.nodes().stream().filter(n -> n.role().equals("LEADER")).count()).isEqualTo(1);
        assertThat(end.nodes()).allSatisfy(n -> assertThat(n.commit()).isPositive());
        assertThatThrownBy(() -> t.seek(r.events() + 1)).hasMessageContaining("outside 0.." + r.events());
    }

    @Test
    void aFailingSeedShowsItsViolationAtTheReportedEvent() {
        // The mutation test's first catch: a core that grants a second vote in a term.
        SimOptions options = SimOptions.DEFAULT.withMutation(TestMutation.GRANT_SECOND_VOTE);
        long failing = -1;
        for (long seed = 1; seed <= 100 && failing < 0; seed++) {
            if (!Simulation.run(seed, options).ok()) failing = seed;
        }
        assertThat(failing).as("a failing seed within 100").isPositive();
        SimResult r = Simulation.run(failing, options);
        SimFrame before = Simulation.frameAt(failing, options, r.violationAtEvent() - 1);
        assertThat(before.violation()).isNull();
        SimFrame at = Simulation.frameAt(failing, options, r.violationAtEvent());
        assertThat(at.violation()).isEqualTo(r.violation());
        assertThat(at.ended()).isTrue();
        Session.Violation v = Session.violationOf(at.violation(), (int) at.event(), "event", at.nodes().size());
        assertThat(v.property()).isIn("OneVotePerTerm", "ElectionSafety");
        assertThat(v.nodes()).isNotEmpty();
    }

    @Test
    void badSeedLinesSayWhatIsWrong() {
        assertThatThrownBy(() -> SeedTrace.parse("sed 4")).hasMessageContaining("expected `seed N [nodes=K] [ticks=T]`");
        assertThatThrownBy(() -> SeedTrace.parse("seed x")).hasMessageContaining("seed `x` is not a number");
        assertThatThrownBy(() -> SeedTrace.parse("seed 1 nodes=9")).hasMessageContaining("0 (the seed chooses) or 1..7");
        assertThatThrownBy(() -> SeedTrace.parse("seed 1 speed=2")).hasMessageContaining("unknown seed option `speed`");
        assertThat(List.of(SeedTrace.parse("seed 3 nodes=5").header())).containsExactly("seed 3 nodes=5");
    }
}
