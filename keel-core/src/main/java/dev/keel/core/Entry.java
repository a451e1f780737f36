package dev.keel.core;

import java.util.Arrays;

/**
 * One log entry. Figure 2: "each entry contains command for state machine, and term when entry
 * was received by leader (first index is 1)".
 *
 * <p>The {@code data} array is owned by the entry once it is built: nobody may change it
 * afterwards (the core, the storage and the network all share the same array without copying).
 */
public record Entry(long index, long term, EntryType type, byte[] data) {
    private static final byte[] EMPTY = new byte[0];

    public Entry {
        if (index < 1) throw new IllegalArgumentException("entry index " + index + " < 1");
        if (term < 1) throw new IllegalArgumentException("entry term " + term + " < 1");
        if (type == null) throw new IllegalArgumentException("entry type is null");
        if (data == null) data = EMPTY;
    }

    public static Entry normal(long index, long term, byte[] data) {
        return new Entry(index, term, EntryType.NORMAL, data);
    }

    public static Entry noop(long index, long term) {
        return new Entry(index, term, EntryType.NOOP, EMPTY);
    }

    /** Bytes this entry counts for in size limits (its command, plus a fixed overhead). */
    public long sizeBytes() {
        return data.length + OVERHEAD_BYTES;
    }

    /** Fixed per-entry cost counted against byte limits: index, term and type on the wire. */
    public static final int OVERHEAD_BYTES = 17;

    @Override
    public boolean equals(Object o) {
        return o instanceof Entry e && e.index == index && e.term == term && e.type == type
                && Arrays.equals(e.data, data);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(index) * 31 + Long.hashCode(term) * 17 + type.ordinal() + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return index + "/" + term + switch (type) {
            case NOOP -> ":noop";
            case CONFIG -> ":config(" + describeConfig() + ")";
            case NORMAL -> ":" + Bytes.preview(data);
        };
    }

    private String describeConfig() {
        try {
            return Membership.decode(data).toString();
        } catch (IllegalArgumentException e) {
            return "malformed";
        }
    }
}
