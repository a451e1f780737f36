package dev.keel.core;

/**
 * The leader's view of one follower (Figure 2, volatile state on leaders: nextIndex[] and
 * matchIndex[]), plus flow control.
 *
 * <p>Invariant: 0 <= matchIndex < nextIndex.
 */
final class Progress {
    enum State {
        /** Unsure where the follower's log matches ours: one AppendEntries at a time until one succeeds. */
        PROBE,
        /** Logs match at matchIndex: stream entries optimistically, up to maxInflightAppends at once. */
        REPLICATE,
        /** The entries the follower needs were compacted: stream it a snapshot (Figure 13). */
        SNAPSHOT
    }

    final int id;
    long matchIndex;
    long nextIndex;
    State state = State.PROBE;
    /** In PROBE: an AppendEntries is out and unanswered, so send no other until a reply or heartbeat. */
    boolean probeSent;
    /** Heard from since the last check-quorum round (thesis §6.2). */
    boolean recentActive;
    /** Highest readSeq the follower echoed back in this term. */
    long ackedReadSeq;
    /** The leader's tick when it sent the heartbeat round ackedReadSeq (for leases, thesis §6.4.1). */
    long ackedReadSeqSentTick = Long.MIN_VALUE;
    /** Leader ticks with AppendEntries in flight and no matchIndex progress. */
    int ticksWithoutProgress;
    /** commitIndex last sent to this follower. */
    long sentCommit;

    /** In SNAPSHOT: the snapshot being sent, the next offset to send, and the offset the follower has. */
    SnapshotMeta snapshot;
    long snapshotSentOffset;
    long snapshotAckedOffset;
    boolean snapshotDoneSent;

    /** Last index of each in-flight AppendEntries, a ring buffer. */
    private final long[] inflight;
    private int inflightStart;
    private int inflightCount;

    Progress(int id, long nextIndex, int maxInflight) {
        this.id = id;
        this.nextIndex = nextIndex;
        this.inflight = new long[maxInflight];
    }

    boolean inflightFull() {
        return inflightCount == inflight.length;
    }

    void addInflight(long lastIndex) {
        if (inflightFull()) throw new InvariantViolation("inflight window of " + id + " full");
        inflight[(inflightStart + inflightCount) % inflight.length] = lastIndex;
        inflightCount++;
    }

    /** Frees every in-flight message whose entries are all at or below index. */
    void freeInflightTo(long index) {
        while (inflightCount > 0 && inflight[inflightStart] <= index) {
            inflightStart = (inflightStart + 1) % inflight.length;
            inflightCount--;
        }
    }

    void becomeProbe() {
        state = State.PROBE;
        snapshot = null;
        ticksWithoutProgress = 0;
        probeSent = false;
        inflightStart = 0;
        inflightCount = 0;
        nextIndex = matchIndex + 1;
    }

    void becomeSnapshot(SnapshotMeta meta) {
        state = State.SNAPSHOT;
        ticksWithoutProgress = 0;
        probeSent = false;
        inflightStart = 0;
        inflightCount = 0;
        snapshot = meta;
        snapshotSentOffset = 0;
        snapshotAckedOffset = 0;
        snapshotDoneSent = false;
    }

    void becomeReplicate() {
        state = State.REPLICATE;
        ticksWithoutProgress = 0;
        probeSent = false;
        nextIndex = matchIndex + 1;
        inflightStart = 0;
        inflightCount = 0;
    }

    int inflightCount() {
        return inflightCount;
    }

    @Override
    public String toString() {
        return "Progress[id=" + id + " match=" + matchIndex + " next=" + nextIndex + " " + state
                + (probeSent ? " probeSent" : "") + " inflight=" + inflightCount + "]";
    }
}
