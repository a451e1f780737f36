package dev.keel.core;

/**
 * Describes a state machine snapshot (Figure 13 of the Raft paper, chapter 5 of the thesis): it
 * replaces every log entry up to and including {@code index}.
 *
 * @param index the last included index
 * @param term the term of the last included entry
 * @param membership the cluster configuration as of {@code index} (thesis §5.1: a snapshot carries
 *     the latest configuration so a node restarting from it knows its cluster); null only for
 *     {@link #NONE}
 * @param sizeBytes the length of the snapshot data
 * @param crc32c the CRC32C of the whole snapshot data, checked by a follower after a transfer
 */
public record SnapshotMeta(long index, long term, Membership membership, long sizeBytes, int crc32c) {
    /** "No snapshot": the log starts at index 1. */
    public static final SnapshotMeta NONE = new SnapshotMeta(0, 0, (Membership) null, 0, 0);

    public SnapshotMeta {
        Checks.nonNegative("snapshot index", index);
        Checks.nonNegative("snapshot term", term);
        Checks.nonNegative("snapshot sizeBytes", sizeBytes);
        if ((index == 0) != (term == 0)) {
            throw new IllegalArgumentException("snapshot index " + index + " and term " + term + " must both be 0 or both positive");
        }
        if (index > 0 && membership == null) throw new IllegalArgumentException("snapshot " + index + " without a membership");
    }

    /** A snapshot whose configuration is just these voters. */
    public SnapshotMeta(long index, long term, int[] voters, long sizeBytes, int crc32c) {
        this(index, term, voters.length == 0 ? null : Membership.of(voters), sizeBytes, crc32c);
    }

    /** The voters of the configuration (empty for {@link #NONE}). */
    public int[] voters() {
        return membership == null ? new int[0] : membership.voters();
    }

    public boolean isNone() {
        return index == 0;
    }

    @Override
    public String toString() {
        return "snapshot " + index + "/" + term + " " + (membership == null ? "" : membership + " ") + "size=" + sizeBytes
                + " crc=" + Integer.toHexString(crc32c);
    }
}
