package dev.keel.explorer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Role;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SessionTest {

    /** Drives an election by hand: n1 times out, then every message is delivered one by one. */
    private static int electNode1(Session s) {
        s.apply("timeout 1");
        int delivered = 0;
        while (delivered < 100 && !s.cluster().inFlight().isEmpty()) {
            s.apply("deliver " + s.cluster().inFlight().get(0).id());
            delivered++;
        }
        return delivered;
    }

    @Test
    void electsALeaderByDeliveringMessagesOneAtATime() {
        Session s = Session.standard();
        int delivered = electNode1(s);
        assertThat(s.cluster().node(1).role()).isEqualTo(Role.LEADER);
        assertThat(s.cluster().node(1).currentTerm()).isEqualTo(1);
        // At least pre-vote (2 out, 2 back), vote (2 out, 2 back), the leader's no-op (2 out, 2 back).
        assertThat(delivered).isGreaterThanOrEqualTo(12);
        assertThat(s.step()).isEqualTo(1 + delivered).isEqualTo(s.history().size());
        assertThat(s.history().get(0)).isEqualTo(new Action.Timeout(1));
        assertThat(s.historyText()).startsWith("cluster 3 seed=1\ntimeout 1\ndeliver 1\n");
        assertThat(s.cluster().node(1).commitIndex()).isEqualTo(1); // the leader's no-op
        @SuppressWarnings("unchecked")
        List<String> changes = (List<String>) s.state().get("leaderChanges");
        assertThat(changes).singleElement().asString().contains("n1 leader of term 1");
    }

    @Test
    void sameHistoryGivesTheSameState() {
        Session a = Session.standard();
        electNode1(a);
        a.apply("put x 1 @1");
        a.apply("tick 3");
        a.apply("deliver all");
        a.apply("partition 1|2,3");
        a.apply("tick 25");
        a.apply("deliver all");
        a.apply("tick 5");
        a.apply("deliver all");
        a.apply("read @2");
        a.apply("crash 3");
        a.apply("heal");
        a.apply("restart 3");
        a.apply("tick 4");
        a.apply("deliver all");
        assertThat(a.cluster().node(1).role()).isNotEqualTo(Role.LEADER); // cut off, it stepped down
        Session b = Session.replay(a.historyText());
        assertThat(b.state()).isEqualTo(a.state());
        assertThat(b.cluster().describeAll()).isEqualTo(a.cluster().describeAll());
        // And a second replay from the text of the first.
        assertThat(Session.replay(b.historyText()).state()).isEqualTo(a.state());
    }

    @Test
    void seekingBackAndForthRebuildsTheSameStates() {
        Session s = Session.standard();
        electNode1(s);
        s.apply("put x 1 @1");
        s.apply("deliver all");
        Map<String, Object> end = s.state();
        String atEnd = s.cluster().describeAll();
        int n = s.history().size();
        s.seek(3);
        assertThat(s.step()).isEqualTo(3);
        assertThat(s.history()).hasSize(n); // the future is kept for scrubbing
        String at3 = s.cluster().describeAll();
        s.seek(n);
        assertThat(s.cluster().describeAll()).isEqualTo(atEnd);
        assertThat(s.state().get("nodes")).isEqualTo(end.get("nodes"));
        s.seek(3);
        assertThat(s.cluster().describeAll()).isEqualTo(at3);
        // A new action at step 3 replaces the future.
        s.apply("tick");
        assertThat(s.history()).hasSize(4);
        assertThatThrownBy(() -> s.seek(9)).hasMessageContaining("step 9 outside 0..4");
    }

    @Test
    void refusedActionsLeaveNoTraceInTheHistory() {
        Session s = Session.standard();
        assertThatThrownBy(() -> s.apply("deliver 99")).hasMessageContaining("no message #99 in flight");
        assertThatThrownBy(() -> s.apply("crash 4")).hasMessageContaining("no node 4 (nodes are 1..3)");
        assertThatThrownBy(() -> s.apply("transfer 2")).hasMessageContaining("no leader");
        s.apply("crash 2");
        assertThatThrownBy(() -> s.apply("timeout 2")).hasMessageContaining("n2 is down");
        assertThatThrownBy(() -> s.apply("crash 2")).hasMessageContaining("n2 is down");
        assertThatThrownBy(() -> s.apply("restart 1")).hasMessageContaining("n1 is running");
        assertThat(s.historyText()).isEqualTo("cluster 3 seed=1\ncrash 2\n");
        assertThat(s.step()).isEqualTo(1);
    }

    @Test
    void replayNamesTheBadLine() {
        assertThatThrownBy(() -> Session.replay("cluster 3\n# comment\ntimeout 1\nfly 2\n"))
                .hasMessageContaining("line 4: unknown action `fly`");
        assertThatThrownBy(() -> Session.replay("cluster 3\ndeliver 40\n"))
                .hasMessageContaining("action 1 `deliver 40`: no message #40 in flight");
        assertThatThrownBy(() -> Session.replay("\n\n")).hasMessageContaining("empty history");
    }

    @Test
    void membershipChangesGoThroughTheLeader() {
        Session s = new Session(Action.Header.parse("cluster 4 voters=3 seed=3"));
        electNode1(s);
        s.apply("tick");
        s.apply("deliver all"); // commit the leader's no-op everywhere: changes wait for it
        assertThat(s.apply("add 4")).contains("n1 proposes voters [1, 2, 3] learners [4]: accepted");
        for (int i = 0; i < 3; i++) {
            s.apply("tick");
            s.apply("deliver all");
        }
        assertThat(s.cluster().node(4).commitIndex()).isEqualTo(s.cluster().node(1).commitIndex()); // caught up
        assertThat(s.apply("add 4")).contains("n1 proposes voters [1, 2, 3, 4]: accepted");
        for (int i = 0; i < 3; i++) {
            s.apply("tick");
            s.apply("deliver all");
        }
        assertThat(s.cluster().node(1).membership().voters()).containsExactly(1, 2, 3, 4);
        assertThat(s.apply("remove 2")).contains("n1 proposes voters [1, 3, 4]: accepted");
        assertThatThrownBy(() -> s.apply("add 4")).hasMessageContaining("n4 is already a voter");
    }

    @Test
    void aBrokenPropertyStopsTheSessionAndNamesTheNodes() {
        // With a core that grants a second vote in a term, two candidates of term 1 can both win.
        Session s = new Session(Action.Header.parse("cluster 3 seed=1 mutation=GRANT_SECOND_VOTE"));
        s.apply("timeout 1");
        s.apply("timeout 2");
        String outcome = s.apply("deliver all");
        assertThat(outcome).startsWith("VIOLATION");
        Session.Violation v = s.violation();
        assertThat(v).isNotNull();
        assertThat(v.property()).isIn("OneVotePerTerm", "ElectionSafety");
        assertThat(v.step()).isEqualTo(3);
        assertThat(v.action()).isEqualTo("deliver all");
        assertThat(v.nodes()).isNotEmpty();
        assertThat(s.state().get("violation")).isEqualTo(v);
        assertThatThrownBy(() -> s.apply("tick")).hasMessageContaining("stopped by " + v.property() + " at step 3");
        // Replaying the history reproduces the violation; stepping back clears it.
        Session again = Session.replay(s.historyText());
        assertThat(again.violation()).isEqualTo(v);
        s.seek(2);
        assertThat(s.violation()).isNull();
        s.apply("tick");
    }
}
