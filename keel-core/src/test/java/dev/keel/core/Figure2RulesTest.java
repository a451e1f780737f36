package dev.keel.core;

import static dev.keel.core.CoreTestCluster.drain;
import static dev.keel.core.CoreTestCluster.logOf;
import static dev.keel.core.CoreTestCluster.node;
import static dev.keel.core.CoreTestCluster.persistAndAdvance;
import static dev.keel.core.CoreTestCluster.storage;
import static dev.keel.core.CoreTestCluster.termsOf;
import static dev.keel.core.RaftNode.NONE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.CoreTestCluster.Output;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.AppendEntriesResponse;
import dev.keel.core.Message.ReadIndexRequest;
import dev.keel.core.Message.ReadIndexResponse;
import dev.keel.core.Message.RequestVote;
import dev.keel.core.Message.RequestVoteResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One test per rule of Figure 2 of the Raft paper (Ongaro and Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", 2014), and of the related rules Keel follows from Ongaro's
 * dissertation (Pre-Vote §9.6, disruptive servers §4.2.3, check-quorum §6.2, ReadIndex §6.4).
 * Each test drives {@link RaftNode} through its public inputs only (messages, ticks, proposals)
 * with {@link MemoryStorage} holding pre-set logs and hard states where a state is needed.
 */
class Figure2RulesTest {
    static final List<Integer> V = List.of(1, 2, 3);
    static final int ET = RaftConfig.DEFAULT_ELECTION_TIMEOUT_TICKS;

    static Entry e(long index, long term) {
        return Entry.normal(index, term, ("e" + index).getBytes(StandardCharsets.UTF_8));
    }

    static HardState hs(long term, int vote, long commit) {
        return new HardState(term, vote, commit);
    }

    static byte[] bytes(int n) {
        return new byte[n];
    }

    // =================================================================== RequestVote receiver

    @Nested
    @DisplayName("Figure 2, RequestVote RPC, receiver implementation")
    class RequestVoteReceiver {

        @Test
        @DisplayName("Figure 2, RequestVote receiver 1: reply false if term < currentTerm, and the refusal IS sent with the receiver's term")
        void staleTermIsRefusedWithAnAnswer() {
            MemoryStorage s = storage(hs(5, NONE, 0));
            RaftNode n = node(2, V, s);

            n.step(new RequestVote(1, 2, 3, 0, 0, false));
            Ready rd = persistAndAdvance(n, s);

            // The seed sent no reply at all, so a stale candidate never learnt the newer term.
            assertThat(rd.messages()).containsExactly(new RequestVoteResponse(2, 1, 5, false, false));
            assertThat(n.currentTerm()).isEqualTo(5);
            assertThat(n.votedFor()).isEqualTo(NONE);
            assertThat(n.role()).isEqualTo(Role.FOLLOWER);
        }

        @Test
        @DisplayName("Figure 2, RequestVote receiver 1 (Pre-Vote, §9.6): a stale pre-vote is refused too, with the receiver's term")
        void stalePreVoteIsRefusedWithAnAnswer() {
            MemoryStorage s = storage(hs(5, NONE, 0));
            RaftNode n = node(2, V, s);

            n.step(new RequestVote(1, 2, 3, 0, 0, true));

            assertThat(persistAndAdvance(n, s).messages()).containsExactly(new RequestVoteResponse(2, 1, 5, false, true));
            assertThat(n.currentTerm()).isEqualTo(5);
        }

        /**
         * Figure 2, RequestVote receiver 2 and §5.4.1: the voter holds [1/1, 2/2] in term 2; a
         * candidate of term 4 gets the vote iff its last term is later, or equal with a log at
         * least as long. Either way the receiver adopts term 4 (all servers rule).
         */
        @ParameterizedTest(name = "candidate last log {0}/{1}: granted={2}")
        @CsvSource({
                "1, 3, true",   // later last term wins even with a shorter log
                "9, 3, true",
                "3, 2, true",   // same last term, longer log
                "2, 2, true",   // same last term, same length
                "1, 2, false",  // same last term, shorter log
                "5, 1, false",  // earlier last term loses even with a longer log
                "0, 0, false"})
        @DisplayName("Figure 2, RequestVote receiver 2 + §5.4.1: grant only if the candidate's log is at least as up-to-date")
        void upToDateRule(long lastIndex, long lastTerm, boolean granted) {
            MemoryStorage s = storage(hs(2, NONE, 0), 1, 2);
            RaftNode n = node(2, V, s);

            n.step(new RequestVote(1, 2, 4, lastIndex, lastTerm, false));
            Ready rd = persistAndAdvance(n, s);

            assertThat(rd.messages()).containsExactly(new RequestVoteResponse(2, 1, 4, granted, false));
            assertThat(n.currentTerm()).isEqualTo(4);
            assertThat(n.votedFor()).isEqualTo(granted ? 1 : NONE);
            assertThat(s.hardState()).isEqualTo(hs(4, granted ? 1 : NONE, 0));
        }

        @Test
        @DisplayName("Figure 2, RequestVote receiver 2: votedFor null -> grant; a second candidate in the same term is refused; the same candidate is granted again")
        void oneVotePerTerm() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, V, s);

            n.step(new RequestVote(2, 1, 1, 0, 0, false));
            assertThat(persistAndAdvance(n, s).messages()).containsExactly(new RequestVoteResponse(1, 2, 1, true, false));

            n.step(new RequestVote(3, 1, 1, 0, 0, false));
            assertThat(persistAndAdvance(n, s).messages()).containsExactly(new RequestVoteResponse(1, 3, 1, false, false));
            assertThat(n.votedFor()).isEqualTo(2);

            // A retransmitted request from the candidate we voted for: votedFor == candidateId, grant again.
            n.step(new RequestVote(2, 1, 1, 0, 0, false));
            assertThat(persistAndAdvance(n, s).messages()).containsExactly(new RequestVoteResponse(1, 2, 1, true, false));
            assertThat(s.hardState()).isEqualTo(hs(1, 2, 0));
        }

        @Test
        @DisplayName("Figure 2, persistent state: votedFor is in the hardState of the SAME Ready whose messages carry the grant (persist before reply)")
        void voteIsPersistedInTheReadyThatCarriesTheGrant() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(2, V, s);

            n.step(new RequestVote(1, 2, 1, 0, 0, false));
            Ready rd = n.ready();

            assertThat(rd.messages()).containsExactly(new RequestVoteResponse(2, 1, 1, true, false));
            assertThat(rd.hardState()).isEqualTo(hs(1, 1, 0));
            assertThat(rd.mustPersist()).isTrue();
            n.advance(rd);
        }

        @Test
        @DisplayName("Figure 2, persistent state: a candidate's own vote and new term are in the Ready that sends its RequestVotes")
        void candidateVoteIsPersistedWithItsRequests() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(RaftConfig.builder(1, V).preVote(false).build(), s);

            n.campaignNow();
            Ready rd = n.ready();

            assertThat(rd.hardState()).isEqualTo(hs(1, 1, 0));
            assertThat(rd.messages()).containsExactlyInAnyOrder(
                    new RequestVote(1, 2, 1, 0, 0, false), new RequestVote(1, 3, 1, 0, 0, false));
        }
    }

    // =================================================================== AppendEntries receiver

    @Nested
    @DisplayName("Figure 2, AppendEntries RPC, receiver implementation")
    class AppendEntriesReceiver {

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 1: reply false if term < currentTerm, and the reply carries the higher term")
        void staleTermRefused() {
            MemoryStorage s = storage(hs(5, NONE, 0), 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 3, 1, 1, List.of(e(2, 3)), 1, 7));
            Ready rd = persistAndAdvance(n, s);

            assertThat(rd.messages()).singleElement().isInstanceOfSatisfying(AppendEntriesResponse.class, r -> {
                assertThat(r.success()).isFalse();
                assertThat(r.term()).isEqualTo(5);
                assertThat(r.to()).isEqualTo(1);
                assertThat(r.readSeq()).isEqualTo(7);
            });
            assertThat(n.lastIndex()).isEqualTo(1);
            assertThat(n.commitIndex()).isZero();
            assertThat(n.leaderId()).isEqualTo(NONE);
            assertThat(n.currentTerm()).isEqualTo(5);
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 2: reply false if the log is too short for prevLogIndex; hint conflictTerm=0, conflictIndex=lastIndex+1")
        void prevLogIndexBeyondLogRefused() {
            MemoryStorage s = storage(hs(1, NONE, 0), 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 1, 3, 1, List.of(e(4, 1)), 0, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(2, 1, 1, false, 3, 0, 2, 0));
            assertThat(rd.entries()).isEmpty();
            assertThat(n.lastIndex()).isEqualTo(1);
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 2: reply false if the entry at prevLogIndex has another term; hint its term and the first index of that term")
        void prevLogTermMismatchRefused() {
            MemoryStorage s = storage(hs(2, NONE, 0), 1, 2, 2);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 3, 3, 3, List.of(e(4, 3)), 3, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(2, 1, 3, false, 3, 2, 2, 0));
            assertThat(termsOf(n)).containsExactly(1L, 2L, 2L);
            assertThat(n.commitIndex()).as("a refused request must not advance commitIndex").isZero();
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 3: a conflicting entry (same index, different term) is deleted with all that follow it")
        void conflictingSuffixTruncated() {
            MemoryStorage s = storage(hs(1, NONE, 0), 1, 1, 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 2, 1, 1, List.of(e(2, 2)), 0, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(termsOf(n)).containsExactly(1L, 2L);
            assertThat(rd.entries()).containsExactly(e(2, 2));
            assertThat(s.lastIndex()).as("persisting the Ready truncates storage too").isEqualTo(2);
            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(2, 1, 2, true, 2, 0, 0, 0));
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 3: an entry already present does not truncate (a delayed shorter AppendEntries leaves the log intact)")
        void delayedShorterAppendDoesNotTruncate() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(2, V, s);
            n.step(new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1), e(2, 1), e(3, 1)), 0, 0));
            drain(n, s);

            n.step(new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1)), 0, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(termsOf(n)).containsExactly(1L, 1L, 1L);
            assertThat(rd.entries()).isEmpty();
            assertThat(s.lastIndex()).isEqualTo(3);
            assertThat(rd.messages()).singleElement().isInstanceOfSatisfying(AppendEntriesResponse.class, r -> {
                assertThat(r.success()).isTrue();
                assertThat(r.index()).isEqualTo(1);
            });
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 4: append any new entries not already in the log; reply success with the last matching index")
        void newEntriesAppended() {
            MemoryStorage s = storage(hs(1, NONE, 0), 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 1, 1, 1, List.of(e(2, 1), e(3, 1)), 0, 4));
            Ready rd = persistAndAdvance(n, s);

            assertThat(logOf(n)).containsExactly(e(1, 1), e(2, 1), e(3, 1));
            assertThat(rd.entries()).containsExactly(e(2, 1), e(3, 1));
            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(2, 1, 1, true, 3, 0, 0, 4));
            assertThat(n.leaderId()).isEqualTo(1);
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 5: commitIndex = min(leaderCommit, index of last new entry); a stale divergent tail beyond it never commits")
        void commitCappedAtLastNewEntry() {
            // Entry 3/1 is a stale tail from an old term-1 leader; the term-2 leader's log differs there.
            MemoryStorage s = storage(hs(1, NONE, 0), 1, 1, 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 2, 1, 1, List.of(e(2, 1)), 10, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(termsOf(n)).as("2/1 is already present: nothing truncated").containsExactly(1L, 1L, 1L);
            assertThat(n.commitIndex()).as("the unchecked entry 3 must not commit").isEqualTo(2);
            assertThat(rd.hardState().commitIndex()).isEqualTo(2);
            assertThat(rd.committedEntries()).containsExactly(e(1, 1), e(2, 1));

            // A heartbeat that checks index 2 only (no new entries) still caps at prevLogIndex.
            n.step(new AppendEntries(1, 2, 2, 2, 1, List.of(), 10, 0));
            drain(n, s);
            assertThat(n.commitIndex()).isEqualTo(2);
        }

        @Test
        @DisplayName("Figure 2, AppendEntries receiver 5: commitIndex never decreases (delayed AppendEntries with a smaller leaderCommit)")
        void commitIndexMonotonic() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(2, V, s);
            n.step(new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1), e(2, 1), e(3, 1)), 3, 0));
            drain(n, s);
            assertThat(n.commitIndex()).isEqualTo(3);

            n.step(new AppendEntries(1, 2, 1, 3, 1, List.of(), 1, 0));
            drain(n, s);
            assertThat(n.commitIndex()).isEqualTo(3);

            n.step(new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1)), 0, 0));
            drain(n, s);
            assertThat(n.commitIndex()).isEqualTo(3);
            assertThat(n.lastIndex()).isEqualTo(3);
            assertThat(s.hardState().commitIndex()).isEqualTo(3);
        }

        @Test
        @DisplayName("Figure 2, all servers: apply committed entries in order (lastApplied follows commitIndex through Ready.committedEntries)")
        void committedEntriesAppliedInOrder() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(2, V, s);
            n.step(new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1), e(2, 1), e(3, 1)), 2, 0));
            Output o = drain(n, s);
            n.step(new AppendEntries(1, 2, 1, 3, 1, List.of(), 3, 0));
            Output o2 = drain(n, s);

            assertThat(o.committed).containsExactly(e(1, 1), e(2, 1));
            assertThat(o2.committed).containsExactly(e(3, 1));
            assertThat(n.lastApplied()).isEqualTo(3);
        }
    }

    // =================================================================== All servers

    @Nested
    @DisplayName("Figure 2, rules for all servers: a higher term in a request or response")
    class AllServers {

        @Test
        @DisplayName("Figure 2, all servers: a leader receiving an AppendEntriesResponse with a higher term adopts it and becomes follower")
        void leaderStepsDownOnHigherTermResponse() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            RaftNode leader = c.node(1);

            leader.step(new AppendEntriesResponse(2, 1, 5, false, 0, 0, 0, 0));
            Output o = c.drain(1);

            assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
            assertThat(leader.currentTerm()).isEqualTo(5);
            assertThat(leader.votedFor()).isEqualTo(NONE);
            assertThat(leader.leaderId()).isEqualTo(NONE);
            assertThat(o.readys.get(0).hardState()).isEqualTo(hs(5, NONE, leader.commitIndex()));
            assertThat(leader.propose(bytes(1))).isEqualTo(new ProposeResult.NotLeader(NONE));
        }

        @Test
        @DisplayName("Figure 2, all servers: a candidate receiving a RequestVoteResponse with a higher term adopts it and becomes follower")
        void candidateStepsDownOnHigherTermVoteResponse() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, V, s);
            n.campaignNow();
            n.step(new RequestVoteResponse(2, 1, 1, true, true)); // pre-vote granted
            assertThat(n.role()).isEqualTo(Role.CANDIDATE);
            assertThat(n.currentTerm()).isEqualTo(1);

            n.step(new RequestVoteResponse(3, 1, 4, false, false));

            assertThat(n.role()).isEqualTo(Role.FOLLOWER);
            assertThat(n.currentTerm()).isEqualTo(4);
            assertThat(n.votedFor()).isEqualTo(NONE);
        }

        @Test
        @DisplayName("Figure 2, all servers: a follower receiving an AppendEntries with a higher term adopts it, clears its vote and follows the sender")
        void followerAdoptsHigherTermFromAppendEntries() {
            MemoryStorage s = storage(hs(1, 3, 0), 1);
            RaftNode n = node(2, V, s);

            n.step(new AppendEntries(1, 2, 4, 1, 1, List.of(), 0, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(n.currentTerm()).isEqualTo(4);
            assertThat(n.votedFor()).isEqualTo(NONE);
            assertThat(n.leaderId()).isEqualTo(1);
            assertThat(rd.hardState()).isEqualTo(hs(4, NONE, 0));
            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(2, 1, 4, true, 1, 0, 0, 0));
        }

        @Test
        @DisplayName("Figure 2, all servers + §5.2: a candidate receiving AppendEntries from the leader of its own term becomes follower AND runs the log check")
        void candidateHearingLeaderRunsTheLogCheck() {
            MemoryStorage s = storage(hs(1, NONE, 0), 1);
            RaftNode n = node(1, V, s);
            n.campaignNow();
            n.step(new RequestVoteResponse(3, 1, 2, true, true));
            assertThat(n.role()).isEqualTo(Role.CANDIDATE);
            assertThat(n.currentTerm()).isEqualTo(2);
            drain(n, s);

            // Node 2 won term 2; its first AppendEntries assumes an entry 2/2 that node 1 lacks.
            n.step(new AppendEntries(2, 1, 2, 2, 2, List.of(e(3, 2)), 0, 0));
            Ready rd = persistAndAdvance(n, s);

            assertThat(n.role()).isEqualTo(Role.FOLLOWER);
            assertThat(n.leaderId()).isEqualTo(2);
            assertThat(n.currentTerm()).isEqualTo(2);
            assertThat(n.votedFor()).as("same term: the vote it cast stays").isEqualTo(1);
            assertThat(termsOf(n)).as("refused, not appended at the wrong index").containsExactly(1L);
            assertThat(rd.entries()).isEmpty();
            assertThat(rd.messages()).containsExactly(new AppendEntriesResponse(1, 2, 2, false, 2, 0, 2, 0));

            n.step(new AppendEntries(2, 1, 2, 1, 1, List.of(e(2, 2), e(3, 2)), 0, 0));
            drain(n, s);
            assertThat(termsOf(n)).containsExactly(1L, 2L, 2L);
        }

        @Test
        @DisplayName("Figure 2, all servers: a stale response (lower term) is ignored")
        void staleResponseIgnored() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.node(1).campaignNow();
            c.node(1).step(new RequestVoteResponse(2, 1, 1, true, true));
            c.node(1).campaignNow(); // times out as candidate: pre-vote round for term 2
            c.node(1).step(new RequestVoteResponse(2, 1, 2, true, true));
            assertThat(c.node(1).role()).isEqualTo(Role.CANDIDATE);
            assertThat(c.node(1).currentTerm()).isEqualTo(2);

            c.node(1).step(new RequestVoteResponse(2, 1, 1, true, false)); // a term-1 grant, late
            assertThat(c.node(1).role()).isEqualTo(Role.CANDIDATE);
            assertThat(c.node(1).currentTerm()).isEqualTo(2);
        }
    }

    // =================================================================== Candidates

    @Nested
    @DisplayName("Figure 2, rules for candidates (§5.2), with Pre-Vote (§9.6)")
    class Candidates {

        @Test
        @DisplayName("Figure 2, candidates + §9.6: on election timeout a follower pre-votes without changing its term; a pre-vote majority makes it candidate (term+1, votes for itself, RequestVote); a vote majority makes it leader with a NOOP of its term (§8)")
        void electionFromTicks() {
            CoreTestCluster c = new CoreTestCluster(3);
            RaftNode n = c.node(1);

            int ticks = 0;
            while (n.role() == Role.FOLLOWER) {
                n.tick();
                ticks++;
                assertThat(ticks).as("election timeout is in [ET, 2*ET)").isLessThan(2 * ET);
            }
            assertThat(ticks).isGreaterThanOrEqualTo(ET);
            assertThat(n.role()).isEqualTo(Role.PRE_CANDIDATE);
            assertThat(n.currentTerm()).isZero();
            assertThat(n.votedFor()).isEqualTo(NONE);

            Output pre = c.drain(1);
            assertThat(pre.messages).containsExactlyInAnyOrder(
                    new RequestVote(1, 2, 1, 0, 0, true), new RequestVote(1, 3, 1, 0, 0, true));
            assertThat(pre.readys).allSatisfy(rd -> assertThat(rd.hardState()).isNull());

            c.flush(); // pre-votes reach 2 and 3
            Output from2 = c.drain(2);
            assertThat(from2.messages).containsExactly(new RequestVoteResponse(2, 1, 1, true, true));
            assertThat(c.node(2).currentTerm()).as("a pre-vote changes no one's term").isZero();
            assertThat(c.node(2).votedFor()).isEqualTo(NONE);
            c.drain(3);

            c.flush(); // grants reach 1
            assertThat(n.role()).isEqualTo(Role.CANDIDATE);
            assertThat(n.currentTerm()).isEqualTo(1);
            assertThat(n.votedFor()).isEqualTo(1);
            Output vote = c.drain(1);
            assertThat(vote.readys.get(0).hardState()).isEqualTo(hs(1, 1, 0));
            assertThat(vote.messages).containsExactlyInAnyOrder(
                    new RequestVote(1, 2, 1, 0, 0, false), new RequestVote(1, 3, 1, 0, 0, false));

            c.flush();
            c.drainAll();
            c.flush(); // vote grants reach 1
            assertThat(n.role()).isEqualTo(Role.LEADER);
            assertThat(n.leaderId()).isEqualTo(1);
            assertThat(n.lastIndex()).isEqualTo(1);
            assertThat(n.entry(1)).isEqualTo(Entry.noop(1, 1));

            c.stabilize();
            assertThat(c.node(2).leaderId()).isEqualTo(1);
            assertThat(c.node(3).leaderId()).isEqualTo(1);
            assertThat(n.commitIndex()).isEqualTo(1);
            // A follower still probing when the NOOP committed learns it from the next heartbeat.
            n.tick();
            c.stabilize();
            assertThat(c.nodes.values()).allSatisfy(x -> assertThat(x.commitIndex()).isEqualTo(1));
        }

        @Test
        @DisplayName("§9.6 Pre-Vote: a pre-candidate refused by a majority returns to follower without raising its term")
        void preVoteRefusedByMajority() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, V, s);
            n.campaignNow();
            n.step(new RequestVoteResponse(2, 1, 0, false, true));
            n.step(new RequestVoteResponse(3, 1, 0, false, true));

            assertThat(n.role()).isEqualTo(Role.FOLLOWER);
            assertThat(n.currentTerm()).isZero();
            assertThat(n.votedFor()).isEqualTo(NONE);
        }

        @Test
        @DisplayName("§9.6 Pre-Vote: a node cut off from the cluster keeps its term however long it keeps timing out")
        void isolatedNodeKeepsItsTerm() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            long term = c.node(3).currentTerm();
            c.isolated.add(3);

            for (int i = 0; i < 6 * ET; i++) {
                c.node(3).tick();
                c.stabilize();
            }

            assertThat(c.node(3).currentTerm()).isEqualTo(term);
            assertThat(c.node(3).role()).isNotIn(Role.CANDIDATE, Role.LEADER);
        }

        @Test
        @DisplayName("§9.6 Pre-Vote + Figure 2 all servers: after a partition heals the leader keeps its term (fails with the pre-candidate timeout bug)")
        void healedPartitionDoesNotDisruptLeader() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.isolated.add(3);
            for (int i = 0; i < 6 * ET; i++) c.tickAll();
            c.isolated.clear();
            for (int i = 0; i < 3; i++) c.tickAll();

            assertThat(c.node(1).role()).isEqualTo(Role.LEADER);
            assertThat(c.node(1).currentTerm()).isEqualTo(1);
        }
    }

    // =================================================================== Leaders

    @Nested
    @DisplayName("Figure 2, rules for leaders: nextIndex[], matchIndex[], commit")
    class Leaders {

        @Test
        @DisplayName("Figure 2, leaders: nextIndex starts at lastIndex+1; a refusal moves it back (to the follower's lastIndex+1 hint); success sets matchIndex and nextIndex = matchIndex+1")
        void nextIndexBacksOffToShortFollower() {
            CoreTestCluster c = new CoreTestCluster()
                    .add(RaftConfig.builder(1, V).build(), storage(hs(2, NONE, 0), 1, 1, 2))
                    .add(RaftConfig.builder(2, V).build(), storage(hs(2, NONE, 0), 1, 1, 2))
                    .add(RaftConfig.builder(3, V).build(), storage(hs(2, NONE, 0)));
            c.elect(1);
            c.stabilize();
            RaftNode leader = c.node(1);
            assertThat(leader.currentTerm()).isEqualTo(3);

            List<AppendEntries> to3 = c.delivered.stream().filter(m -> m.to() == 3)
                    .filter(AppendEntries.class::isInstance).map(AppendEntries.class::cast).toList();
            List<AppendEntriesResponse> from3 = c.delivered.stream().filter(m -> m.from() == 3)
                    .filter(AppendEntriesResponse.class::isInstance).map(AppendEntriesResponse.class::cast).toList();
            // The first probe assumes the follower is up to date (nextIndex = lastIndex + 1 = 4 at election).
            assertThat(to3.get(0).prevLogIndex()).isEqualTo(3);
            assertThat(to3.get(0).entries()).containsExactly(Entry.noop(4, 3));
            assertThat(from3.get(0)).isEqualTo(new AppendEntriesResponse(3, 1, 3, false, 3, 0, 1, 0));
            // Back-off straight to the follower's end, with all entries.
            assertThat(to3.get(1).prevLogIndex()).isZero();
            assertThat(to3.get(1).entries()).extracting(Entry::index).containsExactly(1L, 2L, 3L, 4L);
            assertThat(from3.get(1).success()).isTrue();
            assertThat(from3.get(1).index()).isEqualTo(4);

            assertThat(leader.progressOf(3)).contains("match=4 next=5 REPLICATE");
            assertThat(leader.progressOf(2)).contains("match=4 next=5 REPLICATE");
            assertThat(logOf(c.node(3))).isEqualTo(logOf(leader));
            assertThat(c.nodes.values()).allSatisfy(n -> assertThat(n.commitIndex()).isEqualTo(4));

            // With matchIndex known, new entries stream from nextIndex.
            leader.propose("x".getBytes());
            Output o = c.drain(1);
            assertThat(o.messages(AppendEntries.class)).allSatisfy(ae -> {
                assertThat(ae.prevLogIndex()).isEqualTo(4);
                assertThat(ae.entries()).extracting(Entry::index).containsExactly(5L);
            });
        }

        @Test
        @DisplayName("§5.3 (end): the conflictTerm hint lets the leader skip a whole conflicting term in one round trip")
        void conflictTermHintSkipsTerm() {
            CoreTestCluster c = new CoreTestCluster()
                    .add(RaftConfig.builder(1, V).build(), storage(hs(3, NONE, 0), 1, 1, 1, 3))
                    .add(RaftConfig.builder(2, V).build(), storage(hs(3, NONE, 0), 1, 1, 1, 3))
                    .add(RaftConfig.builder(3, V).build(), storage(hs(2, NONE, 0), 1, 1, 2, 2, 2));
            c.elect(1);
            c.stabilize();

            List<Message> to3 = c.delivered.stream().filter(m -> m.to() == 3 && m instanceof AppendEntries).toList();
            List<Message> from3 = c.delivered.stream()
                    .filter(m -> m.from() == 3 && m instanceof AppendEntriesResponse).toList();
            assertThat(from3.get(0)).isEqualTo(new AppendEntriesResponse(3, 1, 4, false, 4, 2, 3, 0));
            assertThat(((AppendEntries) to3.get(1)).prevLogIndex()).isEqualTo(2);
            assertThat(termsOf(c.node(3))).containsExactly(1L, 1L, 1L, 3L, 4L);
            assertThat(c.storage(3).lastIndex()).isEqualTo(5);
            assertThat(c.storage(3).term(3)).isEqualTo(1);
        }

        @Test
        @DisplayName("Figure 2, leaders + §5.4.2 (Figure 8): an entry of an older term on a majority is NOT committed until an entry of the current term is")
        void commitOnlyCurrentTermByCounting() {
            CoreTestCluster c = figure8Cluster(TestMutation.NONE);
            RaftNode leader = c.node(1);

            assertThat(leader.role()).isEqualTo(Role.LEADER);
            assertThat(leader.currentTerm()).isEqualTo(3);
            assertThat(c.node(2).term(2)).as("2/2 is on a majority (1 and 2)").isEqualTo(2);
            assertThat(leader.progressOf(2)).contains("match=2 ");
            assertThat(leader.commitIndex()).as("2/2 is of term 2, not the current term 3").isEqualTo(1);

            c.stabilize();
            assertThat(c.node(2).term(3)).isEqualTo(3);
            assertThat(leader.commitIndex()).as("3/3 on a majority commits it and, with it, 2/2").isEqualTo(3);
            assertThat(c.output(1).committed).extracting(Entry::index).containsExactly(1L, 2L, 3L);
        }

        @Test
        @DisplayName("§5.4.2 sanity check: the COMMIT_OLD_TERM_BY_COUNTING mutation is caught by the scenario above")
        void figure8MutationIsDetectable() {
            CoreTestCluster c = figure8Cluster(TestMutation.COMMIT_OLD_TERM_BY_COUNTING);
            assertThat(c.node(1).commitIndex()).isEqualTo(2);
        }

        /**
         * Node 1 (log 1/1 2/2, term 2) wins term 3 with node 2's vote (log 1/1); node 3 is cut off.
         * With one entry per AppendEntries, the leader first brings node 2 up to 2/2, and the
         * cluster is left just after the leader learnt matchIndex[2] = 2.
         */
        CoreTestCluster figure8Cluster(TestMutation mutation) {
            CoreTestCluster c = new CoreTestCluster()
                    .add(RaftConfig.builder(1, V).maxEntriesPerAppend(1).mutation(mutation).build(),
                            storage(hs(2, NONE, 1), 1, 2))
                    .add(RaftConfig.builder(2, V).build(), storage(hs(2, NONE, 1), 1))
                    .add(RaftConfig.builder(3, V).build(), storage(hs(2, NONE, 1), 1));
            c.isolated.add(3);
            c.node(1).campaignNow();
            c.runUntil(() -> c.node(1).role() == Role.LEADER);
            c.runUntil(() -> c.node(1).progressOf(2).contains("match=2 "));
            return c;
        }

        @Test
        @DisplayName("Figure 2, leaders: one-node cluster elects itself and commits on its own after ready()+advance()")
        void singleNodeCluster() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, List.of(1), s);
            for (int i = 0; i < 2 * ET && n.role() != Role.LEADER; i++) n.tick();
            assertThat(n.role()).isEqualTo(Role.LEADER);
            assertThat(n.currentTerm()).isEqualTo(1);
            assertThat(n.commitIndex()).as("nothing durable yet").isZero();

            Output o = drain(n, s);
            assertThat(n.commitIndex()).isEqualTo(1);
            assertThat(o.committed).containsExactly(Entry.noop(1, 1));
            assertThat(o.messages).isEmpty();

            assertThat(n.propose("a".getBytes())).isEqualTo(new ProposeResult.Accepted(2, 1));
            Ready rd = persistAndAdvance(n, s);
            assertThat(rd.entries()).extracting(Entry::index).containsExactly(2L);
            assertThat(rd.committedEntries()).as("not committed before it is durable").isEmpty();
            Output o2 = drain(n, s);
            assertThat(o2.committed).containsExactly(Entry.normal(2, 1, "a".getBytes()));
            assertThat(n.lastApplied()).isEqualTo(2);
            assertThat(s.hardState()).isEqualTo(hs(1, 1, 2));
        }

        @Test
        @DisplayName("§6.2 check-quorum: a leader that hears from no follower for an election timeout steps down (same term)")
        void checkQuorumStepDown() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            c.isolated.addAll(List.of(2, 3));

            int ticks = 0;
            while (c.node(1).role() == Role.LEADER) {
                c.node(1).tick();
                c.drain(1);
                ticks++;
                assertThat(ticks).as("at most two election timeouts").isLessThanOrEqualTo(2 * ET);
            }
            assertThat(c.node(1).role()).isEqualTo(Role.FOLLOWER);
            assertThat(c.node(1).currentTerm()).isEqualTo(1);
            assertThat(c.node(1).leaderId()).isEqualTo(NONE);
        }

        @Test
        @DisplayName("§6.2 check-quorum: a leader that keeps hearing from a majority stays leader")
        void checkQuorumKeepsConnectedLeader() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.isolated.add(3);
            for (int i = 0; i < 5 * ET; i++) {
                c.node(1).tick();
                c.node(2).tick();
                c.stabilize();
            }
            assertThat(c.node(1).role()).isEqualTo(Role.LEADER);
            assertThat(c.node(1).currentTerm()).isEqualTo(1);
        }
    }

    // =================================================================== Pre-Vote, disruptive servers

    @Nested
    @DisplayName("§4.2.3 disruptive servers and §9.6 Pre-Vote")
    class DisruptiveServers {

        CoreTestCluster cluster() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            return c;
        }

        @Test
        @DisplayName("§9.6: a follower that heard from its leader within the election timeout refuses a pre-vote with a higher term, term unchanged")
        void preVoteRefusedWhileLeaderIsHeard() {
            CoreTestCluster c = cluster();
            RaftNode f = c.node(2);

            f.step(new RequestVote(3, 2, 2, 9, 1, true));
            Output o = c.drain(2);

            assertThat(o.messages).containsExactly(new RequestVoteResponse(2, 3, 1, false, true));
            assertThat(f.currentTerm()).isEqualTo(1);
            assertThat(f.leaderId()).isEqualTo(1);
        }

        @Test
        @DisplayName("§4.2.3: a follower that heard from its leader within the election timeout refuses a RequestVote with a higher term, term and vote unchanged")
        void voteRefusedWhileLeaderIsHeard() {
            CoreTestCluster c = cluster();
            RaftNode f = c.node(2);

            f.step(new RequestVote(3, 2, 2, 9, 1, false));
            Output o = c.drain(2);

            assertThat(o.messages).containsExactly(new RequestVoteResponse(2, 3, 1, false, false));
            assertThat(f.currentTerm()).isEqualTo(1);
            assertThat(f.votedFor()).isEqualTo(1);
            assertThat(o.readys).allSatisfy(rd -> assertThat(rd.hardState()).isNull());
        }

        @Test
        @DisplayName("§4.2.3 / §6.2: the leader itself refuses a higher-term RequestVote while check-quorum holds")
        void leaderRefusesDisruptiveVote() {
            CoreTestCluster c = cluster();
            c.node(1).step(new RequestVote(3, 1, 7, 9, 1, false));
            assertThat(c.node(1).role()).isEqualTo(Role.LEADER);
            assertThat(c.node(1).currentTerm()).isEqualTo(1);
            assertThat(c.drain(1).messages).contains(new RequestVoteResponse(1, 3, 1, false, false));
        }

        @Test
        @DisplayName("§9.6: once an election timeout passed without the leader, the same pre-vote is granted (still without a term change)")
        void preVoteGrantedAfterLeaderSilence() {
            CoreTestCluster c = cluster();
            c.isolated.add(1);
            RaftNode f = c.node(2);
            for (int i = 0; i < ET; i++) {
                f.tick();
                c.drain(2);
            }
            c.network.clear();

            f.step(new RequestVote(3, 2, 2, 9, 1, true));
            Output o = c.drain(2);

            assertThat(o.messages).containsExactly(new RequestVoteResponse(2, 3, 2, true, true));
            assertThat(f.currentTerm()).isEqualTo(1);
        }
    }

    // =================================================================== ReadIndex

    @Nested
    @DisplayName("§6.4 ReadIndex")
    class ReadIndex {

        @Test
        @DisplayName("§6.4 step 2: the leader answers a read only after a heartbeat round acknowledged by a majority (echoed readSeq)")
        void leaderReadNeedsQuorumRound() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            RaftNode leader = c.node(1);
            long commit = leader.commitIndex();
            assertThat(commit).isEqualTo(1);

            assertThat(leader.readIndex(42)).isTrue();
            Output o = c.drain(1);
            assertThat(o.readStates).isEmpty();
            List<AppendEntries> beats = o.messages(AppendEntries.class);
            assertThat(beats).hasSize(2);
            long seq = beats.get(0).readSeq();
            assertThat(seq).isPositive();
            c.network.clear();

            // An acknowledgement of an older round confirms nothing.
            leader.step(new AppendEntriesResponse(2, 1, 1, true, 1, 0, 0, seq - 1));
            assertThat(c.drain(1).readStates).isEmpty();

            // Node 2 acknowledges the round: with the leader itself that is a majority.
            c.deliver(beats.stream().filter(m -> m.to() == 2).findFirst().orElseThrow());
            List<Message> ack = c.drain(2).messages;
            assertThat(ack).singleElement().isInstanceOfSatisfying(AppendEntriesResponse.class,
                    r -> assertThat(r.readSeq()).isEqualTo(seq));
            c.network.clear();
            c.deliver(ack.get(0));
            Output done = c.drain(1);

            assertThat(done.readStates).containsExactly(new ReadState(42, commit));
        }

        @Test
        @DisplayName("§6.4 step 1: a new leader answers a read only after an entry of its own term committed (read index is then at least its NOOP)")
        void leaderReadWaitsForCurrentTermCommit() {
            // A term-1 leader committed 1..2 on nodes 2 and 3; node 1 never learnt it.
            CoreTestCluster c = new CoreTestCluster()
                    .add(RaftConfig.builder(1, V).build(), storage(hs(1, NONE, 0), 1, 1))
                    .add(RaftConfig.builder(2, V).build(), storage(hs(1, NONE, 2), 1, 1))
                    .add(RaftConfig.builder(3, V).build(), storage(hs(1, NONE, 2), 1, 1));
            RaftNode leader = c.node(1);
            leader.campaignNow();
            c.runUntil(() -> leader.role() == Role.LEADER);
            assertThat(leader.commitIndex()).isZero();

            assertThat(leader.readIndex(7)).isTrue();
            Output o = c.drain(1);
            assertThat(o.readStates).isEmpty();

            c.stabilize();
            assertThat(leader.commitIndex()).isEqualTo(3);
            // readIndex = commitIndex at the time would have been 0: a stale read of data committed at 2.
            assertThat(c.output(1).readStates).containsExactly(new ReadState(7, 3));
        }

        @Test
        @DisplayName("§6.4: a follower's read is forwarded to the leader (ReadIndexRequest) and completes via ReadIndexResponse")
        void followerReadForwarded() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();

            assertThat(c.node(2).readIndex(9)).isTrue();
            assertThat(c.drain(2).messages).containsExactly(new ReadIndexRequest(2, 1, 1, 9));
            c.stabilize();

            assertThat(c.delivered).contains(new ReadIndexResponse(1, 2, 1, 9, 1, true));
            assertThat(c.output(2).readStates).containsExactly(new ReadState(9, 1));
            assertThat(c.output(1).readStates).isEmpty();
        }

        @Test
        @DisplayName("§6.4: a node that knows no leader refuses readIndex")
        void noLeaderNoRead() {
            RaftNode n = node(1, V, new MemoryStorage());
            assertThat(n.readIndex(1)).isFalse();
            assertThat(n.hasReady()).isFalse();
        }

        @Test
        @DisplayName("§6.4: a leader stepping down aborts its pending reads (contexts appear in abortedReads)")
        void stepDownAbortsReads() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            c.isolated.addAll(List.of(2, 3));
            RaftNode leader = c.node(1);

            assertThat(leader.readIndex(5)).isTrue();
            assertThat(c.drain(1).readStates).isEmpty();
            leader.step(new AppendEntriesResponse(2, 1, 2, false, 0, 0, 0, 0));
            Output o = c.drain(1);

            assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
            assertThat(o.abortedReads).containsExactly(5L);
            assertThat(o.readStates).isEmpty();
        }

        @Test
        @DisplayName("§6.4 (RaftNode.readIndex contract): a follower's forwarded read ends in readStates or abortedReads even when the follower moved to a newer term")
        void forwardedReadAbortReachesFollowerInNewerTerm() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            assertThat(c.node(2).readIndex(9)).isTrue();
            c.runUntil(() -> c.delivered.stream().anyMatch(m -> m instanceof ReadIndexRequest));
            c.network.clear(); // the leader's confirmation round is lost
            c.isolated.add(3);
            // Node 3 won term 2 and reached node 2; the old leader 1 has not heard of it yet.
            c.node(2).step(new AppendEntries(3, 2, 2, 1, 1, List.of(), 1, 0));
            c.drain(2);
            c.network.clear();
            assertThat(c.node(2).currentTerm()).isEqualTo(2);

            c.node(1).tick(); // heartbeat to 2; its answer carries term 2 and deposes 1
            c.stabilize();

            assertThat(c.node(1).role()).isEqualTo(Role.FOLLOWER);
            assertThat(c.delivered).contains(new ReadIndexResponse(1, 2, 2, 9, 0, false));
            List<Long> finished = new java.util.ArrayList<>(c.output(2).abortedReads);
            c.output(2).readStates.forEach(r -> finished.add(r.context()));
            assertThat(finished).containsExactly(9L);
        }

        @Test
        @DisplayName("§6.4 + §6.2: a leader deposed by check-quorum aborts a follower's forwarded read with ok=false")
        void checkQuorumAbortsForwardedRead() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            RaftNode leader = c.node(1);
            leader.step(new ReadIndexRequest(2, 1, 1, 11));
            c.drain(1);
            c.network.clear(); // the heartbeat round is lost
            c.isolated.addAll(List.of(2, 3));
            for (int i = 0; i < 2 * ET && leader.role() == Role.LEADER; i++) {
                leader.tick();
                c.drain(1);
            }
            assertThat(leader.role()).isEqualTo(Role.FOLLOWER);
            assertThat(c.output(1).messages).contains(new ReadIndexResponse(1, 2, 1, 11, 0, false));
        }
    }

    // =================================================================== Proposals

    @Nested
    @DisplayName("Client proposals")
    class Proposals {

        @Test
        @DisplayName("§5.1 / §8: a proposal on a follower returns NotLeader with the leader hint and appends nothing")
        void followerRefusesProposal() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            RaftNode f = c.node(2);
            long last = f.lastIndex();

            assertThat(f.propose("x".getBytes())).isEqualTo(new ProposeResult.NotLeader(1));
            assertThat(f.lastIndex()).isEqualTo(last);
            assertThat(c.drain(2).readys).isEmpty();
        }

        @Test
        @DisplayName("Back-pressure: a proposal beyond maxUncommittedBytes returns Rejected(UNCOMMITTED_LIMIT) and appends nothing")
        void uncommittedLimit() {
            CoreTestCluster c = new CoreTestCluster(3, b -> b.maxUncommittedBytes(100));
            c.elect(1);
            c.stabilize();
            c.isolated.addAll(List.of(2, 3));
            RaftNode leader = c.node(1);

            assertThat(leader.propose(bytes(50))).isInstanceOf(ProposeResult.Accepted.class);
            long last = leader.lastIndex();
            ProposeResult r = leader.propose(bytes(50));

            assertThat(r).isInstanceOfSatisfying(ProposeResult.Rejected.class,
                    rej -> assertThat(rej.reason()).isEqualTo(ProposeResult.Reason.UNCOMMITTED_LIMIT));
            assertThat(leader.lastIndex()).isEqualTo(last);
            assertThat(leader.uncommittedBytes()).isEqualTo(50 + Entry.OVERHEAD_BYTES);
        }

        @Test
        @DisplayName("Back-pressure: uncommittedBytes counts exactly the leader's uncommitted proposals after its NOOP commits with a proposal")
        void uncommittedBytesAccounting() {
            CoreTestCluster c = new CoreTestCluster(3);
            RaftNode leader = c.node(1);
            leader.campaignNow();
            for (int round = 0; round < 2; round++) { // pre-vote round, then vote round
                c.drain(1);
                c.flush();
                c.drain(2);
                c.drain(3);
                c.flush();
            }
            assertThat(leader.role()).isEqualTo(Role.LEADER);
            assertThat(leader.uncommittedBytes()).isZero();
            leader.propose(bytes(10)); // A, index 2, goes out with the NOOP in the first probe
            c.drain(1);
            leader.propose(bytes(10)); // B, index 3, waits for the probe's answer

            c.runUntil(() -> leader.commitIndex() >= 2);

            assertThat(leader.commitIndex()).isEqualTo(2);
            assertThat(leader.uncommittedBytes()).isEqualTo(10 + Entry.OVERHEAD_BYTES);
        }
    }

    // =================================================================== Bad input, API misuse

    @Nested
    @DisplayName("Bad input and API contract")
    class BadInput {

        @Test
        @DisplayName("A message addressed to another node is dropped and counted, no state change")
        void misaddressedDropped() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, V, s);
            n.step(new AppendEntries(2, 3, 5, 0, 0, List.of(e(1, 5)), 1, 0));
            assertThat(n.droppedMessages()).isEqualTo(1);
            assertThat(n.currentTerm()).isZero();
            assertThat(n.lastIndex()).isZero();
            assertThat(n.leaderId()).isEqualTo(NONE);
            assertThat(n.hasReady()).isFalse();
        }

        @Test
        @DisplayName("A message from the node itself is dropped and counted; a request from a non-member is "
                + "processed (thesis §4.1: servers do not consult their configuration to answer requests)")
        void selfDroppedNonMemberAnswered() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(1, V, s);
            n.step(new AppendEntries(1, 1, 5, 0, 0, List.of(), 0, 0));
            assertThat(n.droppedMessages()).isEqualTo(1);
            assertThat(n.currentTerm()).isZero();
            assertThat(n.hasReady()).isFalse();
            n.step(new RequestVote(9, 1, 5, 0, 0, false));
            assertThat(n.droppedMessages()).isEqualTo(1);
            assertThat(n.ready().messages()).containsExactly(new RequestVoteResponse(1, 9, 5, true, false));
        }

        @Test
        @DisplayName("Message records reject malformed fields with IllegalArgumentException")
        void malformedMessagesRejected() {
            assertThatThrownBy(() -> new RequestVote(1, 2, -1, 0, 0, false)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new RequestVote(0, 2, 1, 0, 0, false)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new RequestVoteResponse(1, 2, -3, true, false)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new AppendEntries(1, 2, 1, 0, 0, List.of(e(2, 1)), 0, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("contiguous");
            assertThatThrownBy(() -> new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 1), e(3, 1)), 0, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("contiguous");
            assertThatThrownBy(() -> new AppendEntries(1, 2, 1, 0, 0, List.of(e(1, 2)), 0, 0))
                    .as("entry term above the message term").isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new AppendEntries(1, 2, 3, 1, 2, List.of(e(2, 1)), 0, 0))
                    .as("entry term below prevLogTerm").isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new AppendEntries(1, 2, 1, -1, 0, List.of(), 0, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new AppendEntriesResponse(1, 2, 1, true, -1, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new ReadIndexResponse(1, 2, 1, 0, -1, true)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new HardState(-1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Entry.normal(0, 1, null)).isInstanceOf(IllegalArgumentException.class);
        }

        @Test
        @DisplayName("Ready/advance contract: ready() twice without advance() throws IllegalStateException")
        void readyTwiceThrows() {
            RaftNode n = node(1, V, new MemoryStorage());
            Ready rd = n.ready();
            assertThatThrownBy(n::ready).isInstanceOf(IllegalStateException.class);
            n.advance(rd);
            n.advance(n.ready());
        }

        @Test
        @DisplayName("Ready/advance contract: advance() of a Ready that is not the pending one throws IllegalStateException")
        void advanceForeignReadyThrows() {
            RaftNode n = node(1, V, new MemoryStorage());
            RaftNode other = node(2, V, new MemoryStorage());
            n.ready();
            Ready foreign = other.ready();
            assertThatThrownBy(() -> n.advance(foreign)).isInstanceOf(IllegalStateException.class);
        }

        @Test
        @DisplayName("Determinism: the same inputs and seed give the same Readys")
        void deterministic() {
            List<String> a = electionTrace();
            List<String> b = electionTrace();
            assertThat(a).isEqualTo(b).isNotEmpty();
        }

        private List<String> electionTrace() {
            CoreTestCluster c = new CoreTestCluster(3);
            for (int i = 0; i < 4 * ET; i++) c.tickAll();
            return c.delivered.stream().map(Object::toString).toList();
        }
    }

    // =================================================================== robustness against a corrupt peer

    @Nested
    @DisplayName("Bad input that is well-formed but inconsistent")
    class InconsistentInput {

        @Test
        @DisplayName("RaftNode contract: a success AppendEntriesResponse claiming a match beyond the leader's log is dropped and counted, never thrown")
        void matchBeyondLeaderLogDropped() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            RaftNode leader = c.node(1);

            leader.step(new AppendEntriesResponse(2, 1, 1, true, 100, 0, 0, 0));

            assertThat(leader.droppedMessages()).isEqualTo(1);
            assertThat(leader.progressOf(2)).contains("match=1 ");
            leader.tick();
            c.stabilize();
            assertThat(leader.role()).isEqualTo(Role.LEADER);
        }

        @Test
        @DisplayName("A leader receiving AppendEntries for its own term (a second leader: impossible unless corrupt) drops and counts it")
        void secondLeaderSameTermDropped() {
            CoreTestCluster c = new CoreTestCluster(3);
            c.elect(1);
            c.stabilize();
            c.node(1).step(new AppendEntries(2, 1, 1, 1, 1, List.of(), 1, 0));
            assertThat(c.node(1).droppedMessages()).isEqualTo(1);
            assertThat(c.node(1).role()).isEqualTo(Role.LEADER);
        }
    }

    // =================================================================== the tests bite

    @Nested
    @DisplayName("Sanity: the scenarios above catch the core's deliberate TestMutations")
    class MutationsAreCaught {

        @Test
        @DisplayName("FOLLOWER_COMMIT_WITHOUT_MIN (commitIndex := leaderCommit) is caught by the always-on invariant")
        void followerCommitWithoutMin() {
            MemoryStorage s = storage(hs(1, NONE, 0), 1, 1, 1);
            RaftNode n = node(RaftConfig.builder(2, V).mutation(TestMutation.FOLLOWER_COMMIT_WITHOUT_MIN).build(), s);
            // commitIndex := leaderCommit (10) runs past the log (3 entries): the core's always-on
            // invariant catches it at once.
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> n.step(new AppendEntries(1, 2, 2, 1, 1, List.of(e(2, 1)), 10, 0)))
                    .isInstanceOf(InvariantViolation.class)
                    .hasMessageContaining("commitIndex 10 > lastIndex 3");
        }

        @Test
        @DisplayName("GRANT_SECOND_VOTE grants a second candidate in the same term")
        void grantSecondVote() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(RaftConfig.builder(1, V).mutation(TestMutation.GRANT_SECOND_VOTE).build(), s);
            n.step(new RequestVote(2, 1, 1, 0, 0, false));
            n.step(new RequestVote(3, 1, 1, 0, 0, false));
            assertThat(n.ready().messages()).contains(new RequestVoteResponse(1, 3, 1, true, false));
        }

        @Test
        @DisplayName("FORGET_PERSIST_VOTE leaves votedFor out of the Ready that carries the grant")
        void forgetPersistVote() {
            MemoryStorage s = new MemoryStorage();
            RaftNode n = node(RaftConfig.builder(2, V).mutation(TestMutation.FORGET_PERSIST_VOTE).build(), s);
            n.step(new RequestVote(1, 2, 1, 0, 0, false));
            Ready rd = n.ready();
            assertThat(rd.messages()).containsExactly(new RequestVoteResponse(2, 1, 1, true, false));
            assertThat(rd.hardState().votedFor()).isEqualTo(NONE);
        }
    }
}
