package dev.keel.storage;

import java.util.regex.Pattern;

/**
 * Settings of a {@link DurableLog}. Build with {@link #builder(int, String)}; every value is
 * checked when built and a bad one is refused with a message naming the field and the value.
 *
 * @param nodeId the node this data directory belongs to (> 0); stored in the identity file and
 *     checked on every open, so a directory is never used by another node by mistake
 * @param clusterId the cluster the node belongs to, 1 to 64 characters of {@code [A-Za-z0-9._-]};
 *     checked like {@code nodeId}
 * @param segmentBytes the maximum size of one log segment file (at least 4 KiB, at most 1 GiB,
 *     default 64 MiB). Compaction deletes whole segments only, so up to one segment of compacted
 *     entries stays on disk; recovery reads every segment once; a new segment costs three extra
 *     syncs (old segment, new segment header, directory). At 64 MiB and 100 MB/s of appends that is
 *     one segment roll every 0.64 s. An entry must fit in one segment (segmentBytes - 49 bytes).
 * @param cacheBytes bytes of the most recent entries kept in memory (default 64 MiB, 0 disables the
 *     cache). A follower lagging by less than this is served without reading the disk: at 10 MB/s of
 *     appends the default covers the last 6 s. Each cached entry counts its data plus
 *     {@value EntryCache#ENTRY_OVERHEAD_BYTES} bytes of estimated object overhead.
 * @param keepSnapshots how many snapshots the {@link SnapshotStore} keeps (at least 1, default 2);
 *     keeping 2 lets a leader finish sending the previous snapshot while a new one is committed,
 *     at the cost of the disk space of one more snapshot
 * @param sync whether to call {@code force} (fsync/fdatasync) at all (default true). False makes
 *     nothing durable across a power loss or OS crash: for benchmarks and tests only
 */
public record StorageConfig(int nodeId, String clusterId, long segmentBytes, long cacheBytes, int keepSnapshots,
                            boolean sync) {
    public static final long MIN_SEGMENT_BYTES = 4 << 10;
    /** Positions inside a segment are kept in longs, but one read buffer must be able to hold a whole record. */
    public static final long MAX_SEGMENT_BYTES = 1 << 30;
    public static final long DEFAULT_SEGMENT_BYTES = 64 << 20;
    public static final long DEFAULT_CACHE_BYTES = 64 << 20;
    public static final int DEFAULT_KEEP_SNAPSHOTS = 2;

    private static final Pattern CLUSTER_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    public StorageConfig {
        if (nodeId <= 0) throw new IllegalArgumentException("nodeId (" + nodeId + ") must be positive");
        if (clusterId == null || !CLUSTER_ID.matcher(clusterId).matches()) {
            throw new IllegalArgumentException("clusterId (" + (clusterId == null ? "null" : "'" + clusterId + "'")
                    + ") must be 1 to 64 characters of [A-Za-z0-9._-]");
        }
        if (segmentBytes < MIN_SEGMENT_BYTES || segmentBytes > MAX_SEGMENT_BYTES) {
            throw new IllegalArgumentException("segmentBytes (" + segmentBytes + ") must be between " + MIN_SEGMENT_BYTES
                    + " and " + MAX_SEGMENT_BYTES);
        }
        if (cacheBytes < 0) throw new IllegalArgumentException("cacheBytes (" + cacheBytes + ") must not be negative");
        if (keepSnapshots < 1) throw new IllegalArgumentException("keepSnapshots (" + keepSnapshots + ") must be at least 1");
    }

    public static Builder builder(int nodeId, String clusterId) {
        return new Builder(nodeId, clusterId);
    }

    /** The largest entry data that fits in one segment with its record and segment headers. */
    public long maxEntryDataBytes() {
        return segmentBytes - Format.SEGMENT_HEADER_BYTES - Format.RECORD_HEADER_BYTES;
    }

    public static final class Builder {
        private final int nodeId;
        private final String clusterId;
        private long segmentBytes = DEFAULT_SEGMENT_BYTES;
        private long cacheBytes = DEFAULT_CACHE_BYTES;
        private int keepSnapshots = DEFAULT_KEEP_SNAPSHOTS;
        private boolean sync = true;

        private Builder(int nodeId, String clusterId) {
            this.nodeId = nodeId;
            this.clusterId = clusterId;
        }

        public Builder segmentBytes(long v) {
            segmentBytes = v;
            return this;
        }

        public Builder cacheBytes(long v) {
            cacheBytes = v;
            return this;
        }

        public Builder keepSnapshots(int v) {
            keepSnapshots = v;
            return this;
        }

        public Builder sync(boolean v) {
            sync = v;
            return this;
        }

        public StorageConfig build() {
            return new StorageConfig(nodeId, clusterId, segmentBytes, cacheBytes, keepSnapshots, sync);
        }
    }
}
