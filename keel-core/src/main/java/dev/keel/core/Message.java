package dev.keel.core;

import java.util.List;

/**
 * Every message Keel nodes exchange. Each record checks its own fields, so a message that exists
 * is well-formed; whether it makes sense for the receiver is decided by {@link RaftNode#step}.
 *
 * <p>Node ids are positive; {@link RaftNode#NONE} (0) means "no node".
 */
public sealed interface Message {
    int from();

    int to();

    long term();

    /** RequestVote RPC (Figure 2). With {@code preVote} set it is the Pre-Vote probe of thesis §9.6:
     * {@code term} is the term the sender would campaign in, and no one changes term on its account. */
    record RequestVote(int from, int to, long term, long lastLogIndex, long lastLogTerm, boolean preVote)
            implements Message {
        public RequestVote {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("lastLogIndex", lastLogIndex);
            Checks.nonNegative("lastLogTerm", lastLogTerm);
        }
    }

    /** Reply to {@link RequestVote}; sent for refusals too (the seed sent none). */
    record RequestVoteResponse(int from, int to, long term, boolean voteGranted, boolean preVote)
            implements Message {
        public RequestVoteResponse {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
        }
    }

    /**
     * AppendEntries RPC (Figure 2), carrying zero or more entries (zero: a heartbeat).
     *
     * @param readSeq the leader's heartbeat round, echoed by the response; it confirms leadership
     *     for ReadIndex (thesis §6.4) and leases (§6.4.1)
     */
    record AppendEntries(int from, int to, long term, long prevLogIndex, long prevLogTerm,
                         List<Entry> entries, long leaderCommit, long readSeq) implements Message {
        public AppendEntries {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("prevLogIndex", prevLogIndex);
            Checks.nonNegative("prevLogTerm", prevLogTerm);
            Checks.nonNegative("leaderCommit", leaderCommit);
            Checks.nonNegative("readSeq", readSeq);
            entries = List.copyOf(entries);
            long expect = prevLogIndex + 1;
            long lastTerm = prevLogTerm;
            for (Entry e : entries) {
                if (e.index() != expect) {
                    throw new IllegalArgumentException("entries not contiguous: expected index " + expect
                            + ", got " + e.index());
                }
                if (e.term() < lastTerm || e.term() > term) {
                    throw new IllegalArgumentException("entry " + e.index() + " has term " + e.term()
                            + " outside [" + lastTerm + ", " + term + "]");
                }
                lastTerm = e.term();
                expect++;
            }
        }
    }

    /**
     * Reply to {@link AppendEntries}.
     *
     * @param index on success the index of the last entry now known to match the leader's log; on
     *     refusal the {@code prevLogIndex} that was refused
     * @param conflictTerm on refusal, the term of the receiver's entry at {@code index} (0 if it has
     *     none); the leader skips back a whole term at a time (§5.3, the optimization at the end)
     * @param conflictIndex on refusal, the first index the receiver holds with {@code conflictTerm},
     *     or its last index + 1 when its log is too short
     */
    record AppendEntriesResponse(int from, int to, long term, boolean success, long index,
                                 long conflictTerm, long conflictIndex, long readSeq) implements Message {
        public AppendEntriesResponse {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("index", index);
            Checks.nonNegative("conflictTerm", conflictTerm);
            Checks.nonNegative("conflictIndex", conflictIndex);
            Checks.nonNegative("readSeq", readSeq);
        }
    }

    /** A follower asks its leader for a read index on behalf of a local read (thesis §6.4). */
    record ReadIndexRequest(int from, int to, long term, long context) implements Message {
        public ReadIndexRequest {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
        }
    }

    /** The leader's answer to {@link ReadIndexRequest}: the read index, or {@code ok=false}. */
    record ReadIndexResponse(int from, int to, long term, long context, long readIndex, boolean ok)
            implements Message {
        public ReadIndexResponse {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("readIndex", readIndex);
        }
    }
}
