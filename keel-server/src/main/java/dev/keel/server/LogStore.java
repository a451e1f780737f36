package dev.keel.server;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.RaftStorage;
import dev.keel.core.SnapshotMeta;
import dev.keel.storage.DurableLog;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/**
 * What the server needs from storage: the core's read view plus writes, sync and snapshots.
 * Writes are called from the event loop only; snapshot writing may run on another thread.
 */
interface LogStore extends RaftStorage, AutoCloseable {
    /** The store's read view, which the {@link RaftStorage} methods forward to. */
    RaftStorage reads();

    @Override
    default HardState hardState() {
        return reads().hardState();
    }

    @Override
    default long firstIndex() {
        return reads().firstIndex();
    }

    @Override
    default long lastIndex() {
        return reads().lastIndex();
    }

    @Override
    default long term(long index) {
        return reads().term(index);
    }

    @Override
    default List<Entry> entries(long lo, long hi, long maxBytes) {
        return reads().entries(lo, hi, maxBytes);
    }

    @Override
    default SnapshotMeta snapshot() {
        return reads().snapshot();
    }

    @Override
    default byte[] snapshotChunk(long snapshotIndex, long offset, int maxBytes) {
        return reads().snapshotChunk(snapshotIndex, offset, maxBytes);
    }

    /**
     * Makes a Ready's hard state (null: unchanged) and entries durable, one sync for the batch:
     * the term and vote no later than the entries, the commit index no earlier.
     */
    void persist(HardState hs, List<Entry> entries);

    /**
     * A leader's write that does not wait for the disk (thesis §10.2.1; see
     * {@link DurableLog#writeUnforced}): the returned force runs on another thread, its outcome is
     * reported with {@link #forced} or {@link #forceFailed}, and it must finish before any other
     * write, compaction, snapshot install or close.
     *
     * @return the force, or null if nothing needs forcing
     */
    DurableLog.PendingForce writeUnforced(HardState hs, List<Entry> entries);

    /** {@code f}'s force returned. */
    void forced(DurableLog.PendingForce f);

    /** {@code f}'s force failed: the store is failed from now on; returns the error to throw. */
    RuntimeException forceFailed(DurableLog.PendingForce f, IOException cause);

    void compact(SnapshotMeta meta);

    void installSnapshot(SnapshotMeta meta);

    /** Starts a snapshot of this node's state machine at (index, term), whose configuration there is {@code membership}. */
    SnapshotSink beginSnapshot(long index, long term, Membership membership) throws IOException;

    /** Starts receiving the snapshot {@code expected} from the leader. */
    SnapshotSink beginReceive(SnapshotMeta expected);

    InputStream openSnapshot(SnapshotMeta meta) throws IOException;

    @Override
    void close();

    /** A snapshot being written. */
    interface SnapshotSink {
        OutputStream stream();

        void write(long offset, byte[] chunk);

        /** Makes it durable and the newest snapshot; verifies size and checksum when receiving. */
        SnapshotMeta commit();

        void abort();
    }
}
