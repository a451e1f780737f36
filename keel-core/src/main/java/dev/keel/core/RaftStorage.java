package dev.keel.core;

import java.util.List;

/**
 * The durable state a node reads back: what was persisted from earlier {@link Ready}s. The core
 * only reads through this interface; the driver writes (persisting each Ready) through the
 * implementation's own methods.
 *
 * <p>Contract: everything returned reflects only data that is durable. Called from the thread
 * that drives the core.
 */
public interface RaftStorage {
    /** The last persisted hard state, {@link HardState#EMPTY} for a new node. */
    HardState hardState();

    /** Index of the first entry available (1 when nothing was compacted). */
    long firstIndex();

    /** Index of the last persisted entry, or firstIndex() - 1 if there is none. */
    long lastIndex();

    /** Term of the entry at {@code index}, for firstIndex()-1 <= index <= lastIndex(); term(0) is 0. */
    long term(long index);

    /** Entries in [lo, hi), stopping once maxBytes is reached but always returning at least one when lo < hi. */
    List<Entry> entries(long lo, long hi, long maxBytes);

    /**
     * The newest snapshot, or {@link SnapshotMeta#NONE}. Entries up to its index may be gone
     * (compacted): then firstIndex() == snapshot().index() + 1 and term(snapshot().index()) is its term.
     */
    SnapshotMeta snapshot();

    /**
     * Up to maxBytes of the data of the snapshot whose last included index is {@code snapshotIndex},
     * from {@code offset}; an empty array at the end. Returns null when that snapshot is no longer
     * kept (a newer one replaced it), so the leader starts again with the newest one. Used by the
     * leader to send InstallSnapshot chunks.
     */
    byte[] snapshotChunk(long snapshotIndex, long offset, int maxBytes);
}
