package dev.keel.server;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.RaftStorage;
import dev.keel.core.SnapshotMeta;
import dev.keel.storage.DurableLog;
import dev.keel.storage.SnapshotWriter;
import dev.keel.storage.StorageConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/** {@link LogStore} on keel-storage's {@link DurableLog} (which orders term, entries and commit). */
final class DurableLogStore implements LogStore {
    private final DurableLog log;

    private DurableLogStore(DurableLog log) {
        this.log = log;
    }

    static DurableLogStore open(ServerConfig c) {
        StorageConfig sc = StorageConfig.builder(c.nodeId(), c.clusterId()).sync(c.sync()).build();
        return new DurableLogStore(DurableLog.open(c.dataDir(), sc));
    }

    @Override
    public void persist(HardState hs, List<Entry> entries) {
        log.persist(hs, entries);
    }

    @Override
    public DurableLog.PendingForce writeUnforced(HardState hs, List<Entry> entries) {
        return log.writeUnforced(hs, entries);
    }

    @Override
    public void forced(DurableLog.PendingForce f) {
        log.forced(f);
    }

    @Override
    public RuntimeException forceFailed(DurableLog.PendingForce f, IOException cause) {
        return log.forceFailed(f, cause);
    }

    @Override
    public void compact(SnapshotMeta meta) {
        log.compact(meta);
    }

    @Override
    public void installSnapshot(SnapshotMeta meta) {
        log.installSnapshot(meta);
    }

    @Override
    public SnapshotSink beginSnapshot(long index, long term, Membership membership) {
        return sink(log.snapshots().begin(index, term, membership));
    }

    @Override
    public SnapshotSink beginReceive(SnapshotMeta expected) {
        return sink(log.snapshots().beginReceive(expected));
    }

    private static SnapshotSink sink(SnapshotWriter w) {
        return new SnapshotSink() {
            @Override
            public OutputStream stream() {
                return w.stream();
            }

            @Override
            public void write(long offset, byte[] chunk) {
                w.write(offset, chunk);
            }

            @Override
            public SnapshotMeta commit() {
                return w.commit();
            }

            @Override
            public void abort() {
                w.abort();
            }
        };
    }

    @Override
    public InputStream openSnapshot(SnapshotMeta meta) {
        return log.snapshots().open(meta);
    }

    @Override
    public RaftStorage reads() {
        return log;
    }

    @Override
    public void close() {
        log.close();
    }
}
