package dev.keel.core;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Message.AppendEntries;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A leader that carries out its Ready before its own write is durable ({@link RaftNode#advanceBeforeDurable},
 * thesis §10.2.1): its copy counts towards a majority only once {@link RaftNode#persisted} says so.
 */
class LeaderWriteBeforeDurableTest {
    private final CoreTestCluster c = new CoreTestCluster(3);

    /** Node 1 leads; returns its Ready for one new command, carried out before the write is durable. */
    private Ready proposeOnLeader(String command) {
        RaftNode leader = c.node(1);
        assertThat(leader.propose(command.getBytes(UTF_8))).isInstanceOf(ProposeResult.Accepted.class);
        Ready rd = leader.ready();
        leader.advanceBeforeDurable(rd);
        return rd;
    }

    /** Delivers the leader's appends to the given followers, lets them persist and answer, and delivers the answers. */
    private void replicateTo(Ready rd, int... followers) {
        for (int f : followers) {
            for (Message m : rd.messages()) if (m.to() == f) c.deliver(m);
            c.drain(f);
        }
        for (Message m : c.take(m -> m.to() == 1)) c.deliver(m);
    }

    @Test
    @DisplayName("§10.2.1: one follower and a leader whose own write is still in flight are not a majority; the write's completion commits")
    void leaderCopyCountsOnceDurable() {
        c.elect(1);
        RaftNode leader = c.node(1);
        long before = leader.commitIndex();
        Ready rd = proposeOnLeader("x");
        Entry x = rd.entries().get(0);
        assertThat(leader.status().stableIndex()).isEqualTo(x.index() - 1);
        assertThat(leader.hasReady()).as("nothing to hand off again").isFalse();

        replicateTo(rd, 2);
        assertThat(leader.commitIndex()).isEqualTo(before);

        c.storage(1).append(rd.entries()); // the write lands
        leader.persisted(x.index(), x.term());
        assertThat(leader.status().stableIndex()).isEqualTo(x.index());
        assertThat(leader.commitIndex()).isEqualTo(x.index());
        Ready next = leader.ready();
        assertThat(next.entries()).isEmpty();
        assertThat(next.committedEntries()).containsExactly(x);
        leader.advance(next);
    }

    @Test
    @DisplayName("§10.2.1: two durable followers commit an entry while the leader's own write is still in flight")
    void followersAloneCommit() {
        c.elect(1);
        RaftNode leader = c.node(1);
        Ready rd = proposeOnLeader("x");
        Entry x = rd.entries().get(0);

        replicateTo(rd, 2, 3);
        assertThat(leader.commitIndex()).isEqualTo(x.index());
        assertThat(leader.status().stableIndex()).isEqualTo(x.index() - 1);
        Ready next = leader.ready();
        assertThat(next.entries()).as("already handed off").isEmpty();
        assertThat(next.committedEntries()).containsExactly(x);
    }

    @Test
    @DisplayName("Later Readys carry only entries not yet handed off; advance() then declares every earlier write durable too")
    void laterReadysCarryOnlyNewEntries() {
        c.elect(1);
        RaftNode leader = c.node(1);
        Ready first = proposeOnLeader("a");
        leader.propose("b".getBytes(UTF_8));
        Ready second = leader.ready();
        assertThat(second.entries()).hasSize(1);
        assertThat(second.entries().get(0).index()).isEqualTo(first.entries().get(0).index() + 1);

        c.storage(1).append(first.entries());
        c.storage(1).append(second.entries());
        leader.advance(second);
        assertThat(leader.status().stableIndex()).isEqualTo(second.entries().get(0).index());
    }

    @Test
    @DisplayName("Only a leader's Ready may go out before its write is durable: a follower's acknowledgement is a promise (Figure 2)")
    void followersMustNotSkipTheWrite() {
        c.elect(1);
        Ready rd = c.node(1).ready(); // nothing new: advance it the ordinary way
        c.node(1).advance(rd);
        c.node(1).propose("x".getBytes(UTF_8));
        Ready lr = c.node(1).ready();
        c.storage(1).append(lr.entries());
        c.node(1).advance(lr);
        for (Message m : lr.messages()) if (m.to() == 2) c.deliver(m);
        Ready fr = c.node(2).ready();
        assertThat(fr.entries()).isNotEmpty();
        assertThatThrownBy(() -> c.node(2).advanceBeforeDurable(fr)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("only a leader's");
    }

    @Test
    @DisplayName("A write that completes after a new leader overwrote its entry says nothing of the replacement, which is handed off again")
    void staleCompletionIsIgnored() {
        c.elect(1);
        RaftNode old = c.node(1);
        Ready rd = proposeOnLeader("x"); // never reaches anyone
        Entry x = rd.entries().get(0);
        Entry prev = CoreTestCluster.logOf(old).get((int) x.index() - 2);

        // A leader of the next term never saw x and puts its own entry at that index.
        Entry y = Entry.normal(x.index(), x.term() + 1, "y".getBytes(UTF_8));
        old.step(new AppendEntries(2, 1, y.term(), prev.index(), prev.term(), List.of(y), 0, 0));
        assertThat(old.role()).isEqualTo(Role.FOLLOWER);

        old.persisted(x.index(), x.term()); // the old write completes late
        assertThat(old.status().stableIndex()).isEqualTo(x.index() - 1);
        Ready fr = old.ready();
        assertThat(fr.entries()).containsExactly(y);
    }
}
