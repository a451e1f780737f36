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

    /**
     * One member, from {@code GET /v1/members}.
     *
     * @param peer its Raft host:port ("" if the answering node does not know it)
     * @param http its HTTP base URI ("" if unknown)
     * @param role {@code voter} or {@code learner}
     */
    public record Member(int id, String peer, String http, String role) {
        public boolean isVoter() {
            return role.equals("voter");
        }
    }

    /**
     * A cluster configuration as one node sees it (the latest in its log), from {@code GET /v1/members}.
     *
     * @param outgoing the old voters while a joint-consensus change is in progress, else empty
     * @param leader the leader that node knows, 0 if none
     */
    public record Members(java.util.List<Integer> voters, java.util.List<Integer> learners, java.util.List<Integer> outgoing,
                          int leader, java.util.List<Member> members) {
        public Members {
            voters = java.util.List.copyOf(voters);
            learners = java.util.List.copyOf(learners);
            outgoing = java.util.List.copyOf(outgoing);
            members = java.util.List.copyOf(members);
        }

        /** The member with this id, if any. */
        public java.util.Optional<Member> member(int id) {
            return members.stream().filter(m -> m.id() == id).findFirst();
        }
    }

    /** One node's view of the cluster, from {@code GET /v1/status}. */
    public record NodeStatus(int id, String role, long term, int leader, long commitIndex, long appliedIndex,
                             long lastIndex, long snapshotIndex, long revision) {}
}
