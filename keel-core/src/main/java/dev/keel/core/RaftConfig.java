package dev.keel.core;

import java.util.Arrays;
import java.util.List;

/**
 * Settings of one node's protocol core. All times are in ticks: the driver decides how long a
 * tick is (the server uses 10 ms by default, so the default election timeout is 100-200 ms).
 *
 * <p>Build with {@link #builder(int, List)}; {@link Builder#build()} validates every field and
 * names both values when two disagree.
 */
public record RaftConfig(
        int id,
        int[] voters,
        /* An election starts after a random timeout in [electionTimeoutTicks, 2*electionTimeoutTicks)
         * without hearing from a leader (§5.2). Shorter detects a dead leader sooner, longer survives
         * slow disks and GC pauses: at 10 ms ticks, 10 ticks gives 100-200 ms. */
        int electionTimeoutTicks,
        /* The leader sends a heartbeat this often; must be well under electionTimeoutTicks (§5.6:
         * broadcastTime << electionTimeout). */
        int heartbeatIntervalTicks,
        /* Bounds on one AppendEntries: at most this many entries and about this many bytes (one entry is
         * always allowed). 1 MiB per message and 4 messages in flight caps one follower at ~4 GiB/s at 1 ms RTT. */
        int maxEntriesPerAppend,
        long maxBytesPerAppend,
        /* AppendEntries messages in flight per follower in the replicate state (pipelining). */
        int maxInflightAppends,
        /* The leader refuses new proposals while this many bytes are uncommitted (back-pressure).
         * 64 MiB holds about 1 s of writes at 64 MB/s. */
        long maxUncommittedBytes,
        /* Bytes of committed entries handed out per Ready for applying. */
        long maxApplyBytesPerReady,
        /* InstallSnapshot chunk size and chunks in flight per follower: 1 MiB x 4 caps a snapshot
         * transfer at about 4 GiB/s at 1 ms RTT while bounding memory to 4 MiB per follower. */
        int snapshotChunkBytes,
        int maxInflightSnapshotChunks,
        /* Thesis §9.6: probe with a Pre-Vote before raising the term, so a node returning from a
         * partition does not disrupt a working leader. */
        boolean preVote,
        /* Thesis §6.2: a leader that has not heard from a majority for an election timeout steps down.
         * Also makes followers ignore votes while they hear from a leader (§4.2.3). */
        boolean checkQuorum,
        /* Thesis §6.4.1: serve reads from a leader lease without a heartbeat round. Needs checkQuorum and
         * bounded clock drift: the lease is electionTimeoutTicks - clockDriftTicks long. */
        boolean leaseReads,
        int clockDriftTicks,
        /* A learner is promoted to voter only when at most this many entries behind the leader
         * (thesis §4.2.1), so adding a slow node never stalls commits. */
        long maxLearnerLagEntries,
        /* For checker tests only: deliberately break one protocol rule. Never set by the CLI or server. */
        TestMutation mutation) {

    public static final int DEFAULT_ELECTION_TIMEOUT_TICKS = 10;

    public RaftConfig {
        voters = voters.clone();
        Checks.node("id", id);
        if (voters.length == 0) throw new IllegalArgumentException("voters must not be empty");
        for (int v : voters) Checks.node("voter", v);
        if (Arrays.stream(voters).distinct().count() != voters.length) {
            throw new IllegalArgumentException("voters " + Arrays.toString(voters) + " repeat a node id");
        }
        Checks.positive("electionTimeoutTicks", electionTimeoutTicks);
        Checks.positive("heartbeatIntervalTicks", heartbeatIntervalTicks);
        if (electionTimeoutTicks <= heartbeatIntervalTicks) {
            throw new IllegalArgumentException("electionTimeoutTicks (" + electionTimeoutTicks
                    + ") must exceed heartbeatIntervalTicks (" + heartbeatIntervalTicks + ")");
        }
        Checks.positive("maxEntriesPerAppend", maxEntriesPerAppend);
        Checks.positive("maxBytesPerAppend", maxBytesPerAppend);
        Checks.positive("maxInflightAppends", maxInflightAppends);
        Checks.positive("maxUncommittedBytes", maxUncommittedBytes);
        Checks.positive("maxApplyBytesPerReady", maxApplyBytesPerReady);
        Checks.positive("snapshotChunkBytes", snapshotChunkBytes);
        Checks.positive("maxInflightSnapshotChunks", maxInflightSnapshotChunks);
        Checks.nonNegative("clockDriftTicks", clockDriftTicks);
        Checks.nonNegative("maxLearnerLagEntries", maxLearnerLagEntries);
        if (leaseReads && !checkQuorum) {
            throw new IllegalArgumentException("leaseReads requires checkQuorum (thesis §6.4.1)");
        }
        if (leaseReads && clockDriftTicks >= electionTimeoutTicks) {
            throw new IllegalArgumentException("clockDriftTicks (" + clockDriftTicks
                    + ") must be less than electionTimeoutTicks (" + electionTimeoutTicks + ") for leaseReads");
        }
        if (mutation == null) mutation = TestMutation.NONE;
    }

    @Override
    public int[] voters() {
        return voters.clone();
    }

    boolean isVoter(int node) {
        for (int v : voters) if (v == node) return true;
        return false;
    }

    public static Builder builder(int id, List<Integer> voters) {
        return new Builder(id, voters.stream().mapToInt(Integer::intValue).toArray());
    }

    public Builder toBuilder() {
        return toBuilder(id);
    }

    /** The same settings for another node of the same cluster (a simulator or test builds one per node). */
    public Builder toBuilder(int nodeId) {
        Builder b = new Builder(nodeId, voters);
        b.electionTimeoutTicks = electionTimeoutTicks;
        b.heartbeatIntervalTicks = heartbeatIntervalTicks;
        b.maxEntriesPerAppend = maxEntriesPerAppend;
        b.maxBytesPerAppend = maxBytesPerAppend;
        b.maxInflightAppends = maxInflightAppends;
        b.maxUncommittedBytes = maxUncommittedBytes;
        b.maxApplyBytesPerReady = maxApplyBytesPerReady;
        b.snapshotChunkBytes = snapshotChunkBytes;
        b.maxInflightSnapshotChunks = maxInflightSnapshotChunks;
        b.preVote = preVote;
        b.checkQuorum = checkQuorum;
        b.leaseReads = leaseReads;
        b.clockDriftTicks = clockDriftTicks;
        b.maxLearnerLagEntries = maxLearnerLagEntries;
        b.mutation = mutation;
        return b;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RaftConfig c && c.toString().equals(toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    @Override
    public String toString() {
        return "RaftConfig[id=" + id + ", voters=" + Arrays.toString(voters) + ", electionTimeoutTicks="
                + electionTimeoutTicks + ", heartbeatIntervalTicks=" + heartbeatIntervalTicks
                + ", maxEntriesPerAppend=" + maxEntriesPerAppend + ", maxBytesPerAppend=" + maxBytesPerAppend
                + ", maxInflightAppends=" + maxInflightAppends + ", maxUncommittedBytes=" + maxUncommittedBytes
                + ", maxApplyBytesPerReady=" + maxApplyBytesPerReady + ", snapshotChunkBytes=" + snapshotChunkBytes
                + ", maxInflightSnapshotChunks=" + maxInflightSnapshotChunks + ", preVote=" + preVote
                + ", checkQuorum=" + checkQuorum + ", leaseReads=" + leaseReads
                + ", clockDriftTicks=" + clockDriftTicks + ", maxLearnerLagEntries=" + maxLearnerLagEntries
                + ", mutation=" + mutation + "]";
    }

    /** Mutable builder with Keel's defaults. */
    public static final class Builder {
        private final int id;
        private final int[] voters;
        private int electionTimeoutTicks = DEFAULT_ELECTION_TIMEOUT_TICKS;
        private int heartbeatIntervalTicks = 1;
        private int maxEntriesPerAppend = 1024;
        private long maxBytesPerAppend = 1 << 20;
        private int maxInflightAppends = 8;
        private long maxUncommittedBytes = 64L << 20;
        private long maxApplyBytesPerReady = 16L << 20;
        private int snapshotChunkBytes = 1 << 20;
        private int maxInflightSnapshotChunks = 4;
        private boolean preVote = true;
        private boolean checkQuorum = true;
        private boolean leaseReads = false;
        private int clockDriftTicks = 2;
        private long maxLearnerLagEntries = 1000;
        private TestMutation mutation = TestMutation.NONE;

        private Builder(int id, int[] voters) {
            this.id = id;
            this.voters = voters;
        }

        public Builder electionTimeoutTicks(int v) { electionTimeoutTicks = v; return this; }
        public Builder heartbeatIntervalTicks(int v) { heartbeatIntervalTicks = v; return this; }
        public Builder maxEntriesPerAppend(int v) { maxEntriesPerAppend = v; return this; }
        public Builder maxBytesPerAppend(long v) { maxBytesPerAppend = v; return this; }
        public Builder maxInflightAppends(int v) { maxInflightAppends = v; return this; }
        public Builder maxUncommittedBytes(long v) { maxUncommittedBytes = v; return this; }
        public Builder maxApplyBytesPerReady(long v) { maxApplyBytesPerReady = v; return this; }
        public Builder snapshotChunkBytes(int v) { snapshotChunkBytes = v; return this; }
        public Builder maxInflightSnapshotChunks(int v) { maxInflightSnapshotChunks = v; return this; }
        public Builder preVote(boolean v) { preVote = v; return this; }
        public Builder checkQuorum(boolean v) { checkQuorum = v; return this; }
        public Builder leaseReads(boolean v) { leaseReads = v; return this; }
        public Builder clockDriftTicks(int v) { clockDriftTicks = v; return this; }
        public Builder maxLearnerLagEntries(long v) { maxLearnerLagEntries = v; return this; }
        /** For checker tests only. */
        public Builder mutation(TestMutation v) { mutation = v; return this; }

        public RaftConfig build() {
            return new RaftConfig(id, voters, electionTimeoutTicks, heartbeatIntervalTicks, maxEntriesPerAppend,
                    maxBytesPerAppend, maxInflightAppends, maxUncommittedBytes, maxApplyBytesPerReady,
                    snapshotChunkBytes, maxInflightSnapshotChunks, preVote,
                    checkQuorum, leaseReads, clockDriftTicks, maxLearnerLagEntries, mutation);
        }
    }
}
