package dev.keel.server;

import dev.keel.transport.PeerTls;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * How to run one Keel node. Build with {@link #builder(int, String, Map, Path)}; {@link Builder#build()}
 * validates every field and names both values when two disagree.
 *
 * @param members every voting member's peer (Raft) address, this node's included
 * @param tickMillis the length of one core tick. With the defaults (10 ms, election timeout 50 ticks,
 *     heartbeat 5 ticks) a dead leader is replaced after 0.5-1 s, and a loaded 2-core machine's GC
 *     pauses do not cause needless elections
 * @param proposalTimeoutMillis how long submit() and linearizableRead() wait before failing with
 *     {@link KeelException.Timeout}
 * @param snapshotEveryEntries take a snapshot and compact the log after this many applied entries
 *     (0: never). 10,000 entries of 1 KiB keep about 10 MiB of log behind the snapshot
 * @param joining this node starts outside the cluster, to be added by the leader ({@link RaftServer#addLearner}):
 *     {@code members} then names the cluster's current members to contact (and this node's own address);
 *     it never campaigns until a configuration in its log makes it a voter
 * @param snapshotEveryBytes also snapshot once this many bytes of commands were applied since the
 *     last one (0: no byte trigger); default 64 MiB bounds the log for large values
 * @param peerTls mutual TLS between this node and its peers (see {@link PeerTls}), or null for
 *     plaintext; ignored when the node runs on a {@code LocalNetwork}
 * @param peerMaxFrameBytes the largest frame sent or accepted on the peer port (default 16 MiB, at
 *     least 4 MiB, at most 32 MiB). A peer sending a larger length prefix is refused
 *     before the frame is read: the connection closes and the reason is logged, so no stranger
 *     can make a node allocate more than this per connection. An AppendEntries carries at most
 *     1 MiB of entries (the core's maxBytesPerAppend, which also bounds one command) and a
 *     snapshot chunk 1 MiB, so the minimum of 4 MiB leaves room for every legitimate frame
 * @param busyPollMicros after completing a client request with nothing else in flight, the event
 *     loop polls for the next one for this long instead of sleeping (default 50; 0: never). A client
 *     with one request at a time saves the wake-up of a sleeping thread on each request, tens of
 *     microseconds (see docs/benchmarks); it costs at most this much CPU per request, and only at
 *     low load: with requests in flight the loop never polls
 * @param parallelLeaderSync a leader hands the sync of its own log to a thread of its own and goes
 *     on reading acknowledgements, counting its own copy towards a majority once forced (thesis
 *     §10.2.1); off by default. It frees the loop of the leader's sync under load (1 KiB commands,
 *     256 outstanding, three nodes on one shared disk: ~15% more throughput, medians of 6 runs) at
 *     the price of a hand-over between threads per sync (there: no gain for one client, a worse
 *     p99 at 16 outstanding, ~18% more CPU). Ignored when {@code sync} is off
 */
public record ServerConfig(int nodeId, String clusterId, Map<Integer, InetSocketAddress> members, Path dataDir,
                           int tickMillis, int electionTimeoutTicks, int heartbeatIntervalTicks,
                           long proposalTimeoutMillis, long snapshotEveryEntries, long snapshotEveryBytes,
                           long maxUncommittedBytes,
                           int maxPendingRequests, boolean preVote, boolean checkQuorum, boolean leaseReads,
                           boolean sync, boolean joining, PeerTls peerTls, int peerMaxFrameBytes, int busyPollMicros,
                           boolean parallelLeaderSync) {
    public static final int PEER_MAX_FRAME_BYTES_MIN = 4 << 20;
    public static final int PEER_MAX_FRAME_BYTES_DEFAULT = 16 << 20;
    /** Half the transport's 64 MiB queue per peer, so that two of the largest frames fit it. */
    public static final int PEER_MAX_FRAME_BYTES_MAX = 32 << 20;
    /** Covers the next request of a client that sends one at a time (see {@code busyPollMicros}). */
    public static final int BUSY_POLL_MICROS_DEFAULT = 50;
    /** A poll longer than a commit would only burn CPU. */
    public static final int BUSY_POLL_MICROS_MAX = 1_000;

    public ServerConfig {
        if (nodeId <= 0) throw new IllegalArgumentException("nodeId " + nodeId + " must be positive");
        if (clusterId == null || !clusterId.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("clusterId '" + clusterId + "' must be 1-64 of [A-Za-z0-9._-]");
        }
        members = Map.copyOf(new TreeMap<>(members));
        if (!members.containsKey(nodeId)) {
            throw new IllegalArgumentException("members " + members.keySet() + " do not include this node " + nodeId);
        }
        for (int id : members.keySet()) {
            if (id <= 0) throw new IllegalArgumentException("member id " + id + " must be positive");
        }
        if (dataDir == null) throw new IllegalArgumentException("dataDir is required");
        if (tickMillis <= 0) throw new IllegalArgumentException("tickMillis " + tickMillis + " must be positive");
        if (electionTimeoutTicks <= heartbeatIntervalTicks) {
            throw new IllegalArgumentException("electionTimeoutTicks (" + electionTimeoutTicks
                    + ") must exceed heartbeatIntervalTicks (" + heartbeatIntervalTicks + ")");
        }
        if (heartbeatIntervalTicks <= 0) throw new IllegalArgumentException("heartbeatIntervalTicks must be positive");
        if (proposalTimeoutMillis <= 0) throw new IllegalArgumentException("proposalTimeoutMillis must be positive");
        if (snapshotEveryEntries < 0) throw new IllegalArgumentException("snapshotEveryEntries must not be negative");
        if (snapshotEveryBytes < 0) throw new IllegalArgumentException("snapshotEveryBytes must not be negative");
        if (maxUncommittedBytes <= 0) throw new IllegalArgumentException("maxUncommittedBytes must be positive");
        if (maxPendingRequests <= 0) throw new IllegalArgumentException("maxPendingRequests must be positive");
        if (leaseReads && !checkQuorum) throw new IllegalArgumentException("leaseReads requires checkQuorum");
        if (peerMaxFrameBytes < PEER_MAX_FRAME_BYTES_MIN || peerMaxFrameBytes > PEER_MAX_FRAME_BYTES_MAX) {
            throw new IllegalArgumentException("peerMaxFrameBytes (" + peerMaxFrameBytes + ") must be in [" + PEER_MAX_FRAME_BYTES_MIN
                    + ", " + PEER_MAX_FRAME_BYTES_MAX + "]: an AppendEntries carries up to 1 MiB of entries, a snapshot chunk 1 MiB");
        }
        if (busyPollMicros < 0 || busyPollMicros > BUSY_POLL_MICROS_MAX) {
            throw new IllegalArgumentException("busyPollMicros (" + busyPollMicros + ") must be in [0, " + BUSY_POLL_MICROS_MAX + "]");
        }
    }

    /** The bootstrap voters: every member, or every member but this node when joining. */
    public java.util.List<Integer> bootstrapVoters() {
        return members.keySet().stream().filter(id -> !joining || id != nodeId).sorted().toList();
    }

    public InetSocketAddress address() {
        return members.get(nodeId);
    }

    public static Builder builder(int nodeId, String clusterId, Map<Integer, InetSocketAddress> members, Path dataDir) {
        return new Builder(nodeId, clusterId, members, dataDir);
    }

    /** Mutable builder with Keel's defaults. */
    public static final class Builder {
        private final int nodeId;
        private final String clusterId;
        private final Map<Integer, InetSocketAddress> members;
        private final Path dataDir;
        private int tickMillis = 10;
        private int electionTimeoutTicks = 50;
        private int heartbeatIntervalTicks = 5;
        private long proposalTimeoutMillis = 5_000;
        private long snapshotEveryEntries = 10_000;
        private long snapshotEveryBytes = 64L << 20;
        private long maxUncommittedBytes = 64L << 20;
        private int maxPendingRequests = 65_536;
        private boolean preVote = true;
        private boolean checkQuorum = true;
        private boolean leaseReads = false;
        private boolean sync = true;
        private boolean joining = false;
        private PeerTls peerTls;
        private int peerMaxFrameBytes = PEER_MAX_FRAME_BYTES_DEFAULT;
        private int busyPollMicros = BUSY_POLL_MICROS_DEFAULT;
        private boolean parallelLeaderSync = false;

        private Builder(int nodeId, String clusterId, Map<Integer, InetSocketAddress> members, Path dataDir) {
            this.nodeId = nodeId;
            this.clusterId = clusterId;
            this.members = members;
            this.dataDir = dataDir;
        }

        public Builder tickMillis(int v) { tickMillis = v; return this; }
        public Builder electionTimeoutTicks(int v) { electionTimeoutTicks = v; return this; }
        public Builder heartbeatIntervalTicks(int v) { heartbeatIntervalTicks = v; return this; }
        public Builder proposalTimeoutMillis(long v) { proposalTimeoutMillis = v; return this; }
        public Builder snapshotEveryEntries(long v) { snapshotEveryEntries = v; return this; }
        public Builder snapshotEveryBytes(long v) { snapshotEveryBytes = v; return this; }
        public Builder maxUncommittedBytes(long v) { maxUncommittedBytes = v; return this; }
        public Builder maxPendingRequests(int v) { maxPendingRequests = v; return this; }
        public Builder preVote(boolean v) { preVote = v; return this; }
        public Builder checkQuorum(boolean v) { checkQuorum = v; return this; }
        public Builder leaseReads(boolean v) { leaseReads = v; return this; }
        /** Turn fsync off: for benchmarks and tests only; a crash can then lose acknowledged writes. */
        public Builder sync(boolean v) { sync = v; return this; }
        /** Start outside the cluster and wait to be added (see {@code joining}). */
        public Builder joining(boolean v) { joining = v; return this; }
        /** Mutual TLS between peers (null, the default: plaintext). */
        public Builder peerTls(PeerTls v) { peerTls = v; return this; }
        /** The largest frame on the peer port (see {@code peerMaxFrameBytes}). */
        public Builder peerMaxFrameBytes(int v) { peerMaxFrameBytes = v; return this; }
        /** How long the loop polls for the next request at low load (see {@code busyPollMicros}; 0: never). */
        public Builder busyPollMicros(int v) { busyPollMicros = v; return this; }
        /** Force the leader's own log on a thread of its own (see {@code parallelLeaderSync}). */
        public Builder parallelLeaderSync(boolean v) { parallelLeaderSync = v; return this; }

        public ServerConfig build() {
            return new ServerConfig(nodeId, clusterId, members, dataDir, tickMillis, electionTimeoutTicks,
                    heartbeatIntervalTicks, proposalTimeoutMillis, snapshotEveryEntries, snapshotEveryBytes,
                    maxUncommittedBytes,
                    maxPendingRequests, preVote, checkQuorum, leaseReads, sync, joining, peerTls, peerMaxFrameBytes,
                    busyPollMicros, parallelLeaderSync);
        }
    }
}
