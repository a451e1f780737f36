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

    /**
     * RequestVote RPC (Figure 2). With {@code preVote} set it is the Pre-Vote probe of thesis §9.6:
     * {@code term} is the term the sender would campaign in, and no one changes term on its account.
     * With {@code leadershipTransfer} set the current leader asked for this election (thesis §3.10),
     * so voters do not refuse it for having heard from that leader recently (§4.2.3).
     */
    record RequestVote(int from, int to, long term, long lastLogIndex, long lastLogTerm, boolean preVote,
                       boolean leadershipTransfer) implements Message {
        public RequestVote {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("lastLogIndex", lastLogIndex);
            Checks.nonNegative("lastLogTerm", lastLogTerm);
        }

        public RequestVote(int from, int to, long term, long lastLogIndex, long lastLogTerm, boolean preVote) {
            this(from, to, term, lastLogIndex, lastLogTerm, preVote, false);
        }
    }

    /**
     * The leader tells its chosen successor, whose log it has brought up to date, to start an
     * election at once (thesis §3.10, leadership transfer).
     */
    record TimeoutNow(int from, int to, long term) implements Message {
        public TimeoutNow {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
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

    /**
     * One chunk of a snapshot (Figure 13 of the paper, thesis §5.3), sent by a leader to a follower
     * whose next entry it has compacted away. Chunks of one snapshot go in offset order; the
     * follower answers each with {@link InstallSnapshotResponse}.
     *
     * @param done this chunk ends the snapshot data
     */
    record InstallSnapshot(int from, int to, long term, SnapshotMeta meta, long offset, byte[] data, boolean done)
            implements Message {
        public InstallSnapshot {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("offset", offset);
            if (meta == null || meta.isNone()) throw new IllegalArgumentException("InstallSnapshot without a snapshot");
            if (data == null) throw new IllegalArgumentException("InstallSnapshot data is null");
            if (offset + data.length > meta.sizeBytes()) {
                throw new IllegalArgumentException("chunk [" + offset + ", " + (offset + data.length)
                        + ") beyond snapshot size " + meta.sizeBytes());
            }
            if (done != (offset + data.length == meta.sizeBytes())) {
                throw new IllegalArgumentException("done=" + done + " but chunk ends at " + (offset + data.length)
                        + " of " + meta.sizeBytes());
            }
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof InstallSnapshot m && m.from == from && m.to == to && m.term == term
                    && m.meta.equals(meta) && m.offset == offset && java.util.Arrays.equals(m.data, data) && m.done == done;
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(from, to, term, meta, offset, java.util.Arrays.hashCode(data), done);
        }

        @Override
        public String toString() {
            return "InstallSnapshot[from=" + from + ", to=" + to + ", term=" + term + ", " + meta + ", offset=" + offset
                    + ", bytes=" + data.length + ", done=" + done + "]";
        }
    }

    /**
     * Reply to {@link InstallSnapshot}.
     *
     * @param snapshotIndex the snapshot this is about
     * @param nextOffset the offset the follower expects next (it has everything before it)
     * @param installed the follower installed the snapshot (or already had everything it covers)
     * @param mismatch the chunk was not at nextOffset (lost or reordered chunk, or a restart): resend from nextOffset
     */
    record InstallSnapshotResponse(int from, int to, long term, long snapshotIndex, long nextOffset, boolean installed,
                                   boolean mismatch) implements Message {
        public InstallSnapshotResponse {
            Checks.node("from", from);
            Checks.node("to", to);
            Checks.nonNegative("term", term);
            Checks.nonNegative("snapshotIndex", snapshotIndex);
            Checks.nonNegative("nextOffset", nextOffset);
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
