package dev.keel.kv.client;

/** Result types of {@link KeelClient}. */
public final class Results {
    private Results() {}

    /**
     * A write applied.
     *
     * @param revision the write's revision (the log index that made it)
     * @param createRevision the key's createRevision (for a delete, the deleted key's)
     * @param version the key's version after a put (for a delete, the deleted key's last)
     */
    public record WriteResult(long revision, long createRevision, long version) {}

    /** A key's value and counters. {@code value} is the client's own copy. */
    public record GetResult(byte[] key, byte[] value, long createRevision, long modRevision, long version) {
        public String valueAsString() {
            return new String(value, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** A scan's items in unsigned key order; {@code more} when the limit cut it short. */
    public record ScanResult(java.util.List<GetResult> items, boolean more, long revision) {}

    /** One node's view of the cluster, from {@code GET /v1/status}. */
    public record NodeStatus(int id, String role, long term, int leader, long commitIndex, long appliedIndex,
                             long lastIndex, long snapshotIndex, long revision) {}
}
