package dev.keel.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Membership changes (thesis chapter 4) and leadership transfer (thesis §3.10) in the core. */
class MembershipTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Nodes 1-4 exist; 1-3 are the voters; 4 starts outside the cluster. */
    private static CoreTestCluster cluster() {
        CoreTestCluster c = new CoreTestCluster();
        java.util.List<Integer> voters = java.util.List.of(1, 2, 3);
        for (int id = 1; id <= 4; id++) c.add(CoreTestCluster.config(id, voters).build(), new MemoryStorage());
        c.elect(1);
        c.stabilize();
        return c;
    }

    @Test
    @DisplayName("Thesis §4.2.1: a new server joins as a learner, catches up, then is promoted; one change at a time")
    void addLearnerThenPromote() {
        CoreTestCluster c = cluster();
        RaftNode leader = c.node(1);
        Membership withLearner = new Membership(new int[] {1, 2, 3}, new int[0], new int[] {4});
        assertThat(leader.changeMembership(withLearner)).isInstanceOf(ProposeResult.Accepted.class);
        // A second change before the first commits is refused.
        assertThat(leader.changeMembership(Membership.of(1, 2, 3, 4)))
                .isInstanceOf(ProposeResult.Rejected.class);
        c.stabilize();
        assertThat(c.node(4).membership()).isEqualTo(withLearner);
        assertThat(c.node(4).lastIndex()).isEqualTo(leader.lastIndex());
        assertThat(leader.changeMembership(Membership.of(1, 2, 3, 4))).isInstanceOf(ProposeResult.Accepted.class);
        c.stabilize();
        for (int id = 1; id <= 4; id++) assertThat(c.node(id).membership()).isEqualTo(Membership.of(1, 2, 3, 4));
        // Four voters: commit now needs three of them.
        c.isolated.add(2);
        c.isolated.add(3);
        leader.propose(b("x"));
        c.stabilize();
        assertThat(leader.commitIndex()).isLessThan(leader.lastIndex());
    }

    @Test
    @DisplayName("A voter cannot be added directly: it must be a caught-up learner first")
    void directVoterAddRefused() {
        CoreTestCluster c = cluster();
        ProposeResult r = c.node(1).changeMembership(Membership.of(1, 2, 3, 4));
        assertThat(r).isInstanceOf(ProposeResult.Rejected.class);
        assertThat(((ProposeResult.Rejected) r).reason()).isEqualTo(ProposeResult.Reason.INVALID_MEMBERSHIP);
    }

    @Test
    @DisplayName("Thesis §4.3: replacing a voter goes through a joint configuration, left automatically once committed")
    void replaceThroughJointConsensus() {
        CoreTestCluster c = cluster();
        RaftNode leader = c.node(1);
        leader.changeMembership(new Membership(new int[] {1, 2, 3}, new int[0], new int[] {4}));
        c.stabilize();
        ProposeResult r = leader.changeMembership(Membership.of(1, 2, 4)); // 3 out, 4 in: two changes
        assertThat(r).isInstanceOf(ProposeResult.Accepted.class);
        Membership joint = leader.membership();
        assertThat(joint.isJoint()).isTrue();
        assertThat(joint.outgoing()).containsExactly(1, 2, 3);
        assertThat(joint.voters()).containsExactly(1, 2, 4);
        c.stabilize();
        assertThat(leader.membership()).isEqualTo(Membership.of(1, 2, 4));
        assertThat(c.node(4).membership()).isEqualTo(Membership.of(1, 2, 4));
        assertThat(leader.commitIndex()).isEqualTo(leader.lastIndex());
    }

    @Test
    @DisplayName("Thesis §4.2.2: a leader that removes itself leads until the change commits, then steps down")
    void removingTheLeader() {
        CoreTestCluster c = cluster();
        RaftNode leader = c.node(1);
        assertThat(leader.changeMembership(Membership.of(2, 3))).isInstanceOf(ProposeResult.Accepted.class);
        assertThat(leader.role()).isEqualTo(Role.LEADER);
        c.stabilize();
        assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
        // The remaining voters elect a leader among themselves; node 1 no longer campaigns.
        for (int i = 0; i < 60 && c.node(2).role() != Role.LEADER && c.node(3).role() != Role.LEADER; i++) c.tickAll();
        assertThat(c.node(2).role() == Role.LEADER || c.node(3).role() == Role.LEADER).isTrue();
        assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
    }

    @Test
    @DisplayName("Thesis §3.10: leadership transfer to a lagging voter brings it up to date, then it wins at once")
    void transferToLaggingNode() {
        CoreTestCluster c = cluster();
        RaftNode leader = c.node(1);
        c.isolated.add(3);
        for (int i = 0; i < 5; i++) leader.propose(b("v" + i));
        c.stabilize();
        c.isolated.clear();
        ProposeResult r = leader.transferLeadership(3);
        assertThat(r).isInstanceOf(ProposeResult.Accepted.class);
        // Proposals wait while leadership moves.
        assertThat(leader.propose(b("late"))).isInstanceOf(ProposeResult.Rejected.class);
        // The entries sent while node 3 was cut off were lost: the leader notices the stalled window
        // within half an election timeout, resends, node 3 catches up and then gets TimeoutNow.
        for (int i = 0; i < 8 && c.node(3).role() != Role.LEADER; i++) c.node(1).tick();
        c.stabilize();
        assertThat(c.node(3).role()).isEqualTo(Role.LEADER);
        assertThat(c.node(3).lastIndex()).isGreaterThanOrEqualTo(6);
        assertThat(c.node(3).currentTerm()).isEqualTo(leader.currentTerm());
        assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
        assertThat(c.delivered).anyMatch(m -> m instanceof Message.TimeoutNow);
    }

    @Test
    @DisplayName("Membership survives encoding, and a config entry in the log is what a restarted node uses")
    void membershipFromLogOnRestart() {
        CoreTestCluster c = cluster();
        c.node(1).changeMembership(new Membership(new int[] {1, 2, 3}, new int[0], new int[] {4}));
        c.stabilize();
        RaftNode again = new RaftNode(c.node(2).config(), c.storage(2), new java.util.Random(3));
        assertThat(again.membership()).isEqualTo(new Membership(new int[] {1, 2, 3}, new int[0], new int[] {4}));
        Membership m = new Membership(new int[] {1, 5}, new int[] {1, 2, 3}, new int[] {4});
        assertThat(Membership.decode(m.encode())).isEqualTo(m);
    }
}
