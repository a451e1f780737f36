package dev.keel.server;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.MemoryStorage;
import dev.keel.core.RaftStorage;
import dev.keel.core.SnapshotMeta;
import dev.keel.storage.DurableLog;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * {@link LogStore} in this process's memory: the log and hard state in the core's
 * {@link MemoryStorage}, snapshots as byte arrays. Nothing is written to disk, so nothing survives
 * the process: see {@link RaftServer#startInMemory} for what that allows.
 *
 * <p>Threads: the log and hard state are touched by the event loop only (as with the durable
 * store); committed snapshots are shared with the snapshot thread, which commits them, and the
 * apply thread, which restores from them, under this object's lock.
 */
final class MemoryLogStore implements LogStore {
    private final MemoryStorage log = new MemoryStorage();
    /**
     * Committed snapshots (this node's own or received from the leader) not older than the log's,
     * by index: a newer one may be committed before the loop compacts to an older one.
     */
    private final TreeMap<Long, Kept> kept = new TreeMap<>();

    private record Kept(SnapshotMeta meta, byte[] data) {}

    @Override
    public void persist(HardState hs, List<Entry> entries) {
        log.append(entries); // drops a conflicting suffix first (Figure 2, AppendEntries step 3)
        if (hs != null) log.setHardState(hs);
    }

    @Override
    public DurableLog.PendingForce writeUnforced(HardState hs, List<Entry> entries) {
        throw new UnsupportedOperationException("nothing to force in memory: RaftServer.startInMemory refuses parallelLeaderSync");
    }

    @Override
    public void forced(DurableLog.PendingForce f) {
        throw new UnsupportedOperationException("nothing is forced in memory");
    }

    @Override
    public RuntimeException forceFailed(DurableLog.PendingForce f, IOException cause) {
        throw new UnsupportedOperationException("nothing is forced in memory");
    }

    @Override
    public void compact(SnapshotMeta meta) {
        if (meta.index() <= log.snapshot().index()) return; // a newer snapshot already covers it
        log.compact(meta, dataOf(meta)); // entries up to the snapshot go (thesis chapter 5)
        dropOlderThan(meta.index());
    }

    @Override
    public void installSnapshot(SnapshotMeta meta) {
        if (meta.index() <= log.snapshot().index()) return;
        log.installSnapshot(meta, dataOf(meta));
        dropOlderThan(meta.index());
    }

    private synchronized byte[] dataOf(SnapshotMeta meta) {
        Kept k = kept.get(meta.index());
        if (k == null || !k.meta().equals(meta)) throw new IllegalStateException(meta + " is not a committed snapshot; commit it first");
        return k.data();
    }

    private synchronized SnapshotMeta keep(SnapshotMeta meta, byte[] data) {
        kept.put(meta.index(), new Kept(meta, data));
        return meta;
    }

    private synchronized void dropOlderThan(long index) {
        kept.headMap(index).clear();
    }

    @Override
    public SnapshotSink beginSnapshot(long index, long term, Membership membership) {
        return new Sink(index, term, membership, null);
    }

    @Override
    public SnapshotSink beginReceive(SnapshotMeta expected) {
        return new Sink(expected.index(), expected.term(), expected.membership(), expected);
    }

    /** A snapshot being written: to a byte array, its size and CRC32C computed at commit. */
    private final class Sink implements SnapshotSink {
        private final long index;
        private final long term;
        private final Membership membership;
        private final SnapshotMeta expected;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private boolean done;

        Sink(long index, long term, Membership membership, SnapshotMeta expected) {
            this.index = index;
            this.term = term;
            this.membership = membership;
            this.expected = expected;
        }

        @Override
        public OutputStream stream() {
            if (expected != null) throw new IllegalStateException("a received snapshot is written through write(offset, chunk)");
            return bytes;
        }

        @Override
        public void write(long offset, byte[] chunk) {
            if (expected == null) throw new IllegalStateException("the node's own snapshot is written through stream()");
            if (done) throw new IllegalStateException("snapshot " + index + " already committed or aborted");
            if (offset == 0) bytes.reset(); // the leader started the transfer again
            if (offset != bytes.size()) {
                throw new IllegalArgumentException("snapshot chunk at offset " + offset + ", expected offset " + bytes.size()
                        + " (or 0 to restart)");
            }
            if (offset + chunk.length > expected.sizeBytes()) {
                throw new IllegalArgumentException("snapshot chunk at offset " + offset + " of " + chunk.length
                        + " bytes runs past the snapshot's " + expected.sizeBytes() + " bytes");
            }
            bytes.write(chunk, 0, chunk.length);
        }

        @Override
        public SnapshotMeta commit() {
            if (done) throw new IllegalStateException("snapshot " + index + " already committed or aborted");
            done = true;
            byte[] data = bytes.toByteArray();
            CRC32C crc = new CRC32C();
            crc.update(data);
            SnapshotMeta meta = new SnapshotMeta(index, term, membership, data.length, (int) crc.getValue());
            if (expected != null && (meta.sizeBytes() != expected.sizeBytes() || meta.crc32c() != expected.crc32c())) {
                throw new IllegalStateException("received snapshot " + index + ": " + meta.sizeBytes() + " bytes with CRC32C "
                        + Integer.toHexString(meta.crc32c()) + ", expected " + expected.sizeBytes() + " bytes with CRC32C "
                        + Integer.toHexString(expected.crc32c()));
            }
            return keep(meta, data);
        }

        @Override
        public void abort() {
            done = true;
        }
    }

    @Override
    public synchronized InputStream openSnapshot(SnapshotMeta meta) throws IOException {
        Kept k = kept.get(meta.index());
        if (k == null || !k.meta().equals(meta)) throw new IOException(meta + " is no longer kept in memory");
        return new ByteArrayInputStream(k.data());
    }

    @Override
    public RaftStorage reads() {
        return log;
    }

    @Override
    public void close() {
        // nothing to release: the memory goes with this object
    }
}
