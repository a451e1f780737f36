package dev.keel.core;

import java.util.Arrays;

/**
 * Describes a state machine snapshot (Figure 13 of the Raft paper, chapter 5 of the thesis): it
 * replaces every log entry up to and including {@code index}.
 *
 * @param index the last included index
 * @param term the term of the last included entry
 * @param voters the cluster membership as of {@code index}
 * @param sizeBytes the length of the snapshot data
 * @param crc32c the CRC32C of the whole snapshot data, checked by a follower after a transfer
 */
public record SnapshotMeta(long index, long term, int[] voters, long sizeBytes, int crc32c) {
    /** "No snapshot": the log starts at index 1. */
    public static final SnapshotMeta NONE = new SnapshotMeta(0, 0, new int[0], 0, 0);

    public SnapshotMeta {
        Checks.nonNegative("snapshot index", index);
        Checks.nonNegative("snapshot term", term);
        Checks.nonNegative("snapshot sizeBytes", sizeBytes);
        voters = voters.clone();
        for (int v : voters) Checks.node("snapshot voter", v);
        if ((index == 0) != (term == 0)) {
            throw new IllegalArgumentException("snapshot index " + index + " and term " + term + " must both be 0 or both positive");
        }
    }

    @Override
    public int[] voters() {
        return voters.clone();
    }

    public boolean isNone() {
        return index == 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SnapshotMeta m && m.index == index && m.term == term && Arrays.equals(m.voters, voters)
                && m.sizeBytes == sizeBytes && m.crc32c == crc32c;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(index) * 31 + Long.hashCode(term) * 7 + Arrays.hashCode(voters) + crc32c;
    }

    @Override
    public String toString() {
        return "snapshot " + index + "/" + term + " voters=" + Arrays.toString(voters) + " size=" + sizeBytes
                + " crc=" + Integer.toHexString(crc32c);
    }
}
