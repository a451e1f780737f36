package dev.keel.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import dev.keel.core.MemoryStorage;
import dev.keel.core.Message;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.Role;
import dev.keel.core.TestMutation;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every checker must be shown able to fail: each test builds a state that breaks one property
 * and expects the checker to name it.
 */
class SafetyCheckerTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A node whose persisted state is given; voters default to itself alone so it can elect itself. */
    private static RaftNode node(int id, List<Integer> voters, HardState hs, Entry... entries) {
        MemoryStorage st = new MemoryStorage();
        st.append(List.of(entries));
        st.setHardState(hs);
        return new RaftNode(RaftConfig.builder(id, voters).build(), st, new Random(id));
    }

    private static RaftNode soloLeader(int id, HardState hs, Entry... entries) {
        RaftNode n = node(id, List.of(id), hs, entries);
        n.campaignNow();
        assertThat(n.role()).isEqualTo(Role.LEADER);
        return n;
    }

    @Test
    void electionSafety() {
        SafetyChecker c = new SafetyChecker();
        RaftNode a = soloLeader(1, HardState.EMPTY);
        RaftNode b = soloLeader(2, HardState.EMPTY);
        assertThat(a.currentTerm()).isEqualTo(b.currentTerm());
        c.afterStep(new RaftNode[] {a, null});
        assertThatThrownBy(() -> c.afterStep(new RaftNode[] {a, b}))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("ElectionSafety");
    }

    @Test
    void logMatchingSameIndexAndTermDifferentCommand() {
        SafetyChecker c = new SafetyChecker();
        RaftNode a = node(1, List.of(1, 2), new HardState(1, 0, 0));
        RaftNode b = node(2, List.of(1, 2), new HardState(1, 0, 0));
        c.onPersist(a, List.of(Entry.normal(1, 1, b("x"))));
        assertThatThrownBy(() -> c.onPersist(b, List.of(Entry.normal(1, 1, b("y")))))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("LogMatching");
    }

    @Test
    void logMatchingDifferentPrefix() {
        SafetyChecker c = new SafetyChecker();
        RaftNode a = node(1, List.of(1, 2), new HardState(2, 0, 0), Entry.normal(1, 1, b("p")));
        RaftNode b = node(2, List.of(1, 2), new HardState(2, 0, 0), Entry.normal(1, 2, b("q")));
        c.onPersist(a, List.of(Entry.normal(2, 2, b("x"))));
        assertThatThrownBy(() -> c.onPersist(b, List.of(Entry.normal(2, 2, b("x")))))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("LogMatching");
    }

    @Test
    void stateMachineSafetyConflictingCommits() {
        SafetyChecker c = new SafetyChecker();
        c.onStart(node(1, List.of(1, 2), new HardState(1, 0, 1), Entry.normal(1, 1, b("a"))));
        RaftNode other = node(2, List.of(1, 2), new HardState(1, 0, 1), Entry.normal(1, 1, b("b")));
        assertThatThrownBy(() -> c.onStart(other))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("StateMachineSafety");
    }

    @Test
    void stateMachineSafetyApplyingUncommitted() {
        SafetyChecker c = new SafetyChecker();
        RaftNode a = node(1, List.of(1, 2), new HardState(1, 0, 0), Entry.normal(1, 1, b("a")));
        c.onStart(a);
        assertThatThrownBy(() -> c.onApply(a, Entry.normal(1, 1, b("a"))))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("StateMachineSafety");
    }

    @Test
    void applyOrder() {
        SafetyChecker c = new SafetyChecker();
        RaftNode a = node(1, List.of(1, 2), new HardState(1, 0, 2), Entry.normal(1, 1, b("a")), Entry.normal(2, 1, b("b")));
        c.onStart(a);
        assertThatThrownBy(() -> c.onApply(a, Entry.normal(2, 1, b("b"))))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("ApplyOrder");
    }

    @Test
    void commitIndexNeverDecreasesWithinARun() {
        SafetyChecker c = new SafetyChecker();
        RaftNode before = node(1, List.of(1, 2), new HardState(1, 0, 1), Entry.normal(1, 1, b("a")));
        c.onStart(before);
        c.afterStep(new RaftNode[] {before});
        // The same node, seen again with a lower commitIndex and no restart in between.
        RaftNode after = node(1, List.of(1, 2), new HardState(1, 0, 0), Entry.normal(1, 1, b("a")));
        assertThatThrownBy(() -> c.afterStep(new RaftNode[] {after}))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("CommitMonotonic");
    }

    @Test
    void leaderAppendOnly() {
        SafetyChecker c = new SafetyChecker();
        RaftNode longer = soloLeader(1, new HardState(1, 0, 0), Entry.normal(1, 1, b("a")), Entry.normal(2, 1, b("b")));
        c.afterStep(new RaftNode[] {longer});
        // The same leader in the same term, now with entry 2 gone.
        RaftNode shorter = soloLeader(1, new HardState(1, 0, 0), Entry.normal(1, 1, b("a")));
        assertThat(shorter.currentTerm()).isEqualTo(longer.currentTerm());
        assertThatThrownBy(() -> c.afterStep(new RaftNode[] {shorter}))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("LeaderAppendOnly");
    }

    @Test
    void leaderCompleteness() {
        SafetyChecker c = new SafetyChecker();
        c.onStart(node(1, List.of(1, 2), new HardState(1, 0, 1), Entry.normal(1, 1, b("a"))));
        RaftNode lacking = soloLeader(2, new HardState(1, 0, 0));
        assertThatThrownBy(() -> c.afterStep(new RaftNode[] {null, lacking}))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("LeaderCompleteness");
    }

    @Test
    void oneVotePerTerm() {
        SafetyChecker c = new SafetyChecker();
        c.onSend(new Message.RequestVoteResponse(3, 1, 5, true, false));
        c.onSend(new Message.RequestVoteResponse(3, 1, 5, true, false)); // the same vote again is fine
        c.onSend(new Message.RequestVoteResponse(3, 2, 5, true, true)); // a pre-vote is not a vote
        c.onSend(new Message.RequestVoteResponse(3, 2, 6, true, false)); // a new term
        assertThatThrownBy(() -> c.onSend(new Message.RequestVoteResponse(3, 2, 5, true, false)))
                .isInstanceOf(SafetyViolation.class).hasMessageStartingWith("OneVotePerTerm");
    }

    @Test
    void livenessCheckFailsWhenNoLeaderCanBeElected() {
        SimResult r = Simulation.run(1, SimOptions.DEFAULT.withMutation(TestMutation.NO_ELECTIONS).withFaultTicks(100));
        assertThat(r.ok()).isFalse();
        assertThat(r.violation()).startsWith("Liveness");
    }

    @Test
    void linearizabilityVerdictReachesTheRunResult() {
        // A healthy run's history passes; the checker's own failing cases are in lin.LinearizabilityCheckerTest.
        SimResult r = Simulation.run(3, SimOptions.DEFAULT);
        assertThat(r.ok()).as(r.line()).isTrue();
        assertThat(r.opsOk()).isPositive();
    }
}
