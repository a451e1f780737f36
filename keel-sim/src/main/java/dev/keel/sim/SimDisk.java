package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import dev.keel.core.MemoryStorage;
import dev.keel.core.RaftStorage;
import dev.keel.core.SnapshotMeta;
import dev.keel.storage.DurableLog;
import dev.keel.storage.SnapshotWriter;
import dev.keel.storage.StorageConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A simulated node's disk. Writes follow the order Raft needs (term and vote before the entries,
 * the commit index after them), and a crash can hit between writing and syncing.
 */
interface SimDisk extends AutoCloseable {
    /** The storage the core reads (valid until the next crash). */
    RaftStorage storage();

    /** Persists a Ready's hard state and entries; returns once durable. */
    void persist(HardState hs, List<Entry> entries);

    /** Power loss during persist: term and vote, and some of the entries' bytes, may reach the disk. */
    void tornPersist(HardState hs, List<Entry> entries, int keptEntries);

    void compact(SnapshotMeta meta, byte[] data);

    void install(SnapshotMeta meta, byte[] data);

    /** The newest snapshot's data (empty if none). */
    byte[] snapshotData();

    /** The process dies: whatever was not made durable may be lost. */
    void crash();

    /** The process starts again on the same disk. */
    void reopen();

    @Override
    void close();

    /** Keel's in-memory storage: a crash keeps exactly what was persisted. */
    final class Memory implements SimDisk {
        private final MemoryStorage storage = new MemoryStorage();

        @Override
        public RaftStorage storage() {
            return storage;
        }

        @Override
        public void persist(HardState hs, List<Entry> entries) {
            if (hs != null) storage.setHardState(new HardState(hs.currentTerm(), hs.votedFor(), storage.hardState().commitIndex()));
            storage.append(entries);
            if (hs != null) storage.setHardState(hs);
        }

        @Override
        public void tornPersist(HardState hs, List<Entry> entries, int keptEntries) {
            if (hs != null) storage.setHardState(new HardState(hs.currentTerm(), hs.votedFor(), storage.hardState().commitIndex()));
            storage.append(entries.subList(0, keptEntries));
        }

        @Override
        public void compact(SnapshotMeta meta, byte[] data) {
            storage.compact(meta, data);
        }

        @Override
        public void install(SnapshotMeta meta, byte[] data) {
            storage.installSnapshot(meta, data);
        }

        @Override
        public byte[] snapshotData() {
            return storage.snapshotData();
        }

        @Override
        public void crash() {}

        @Override
        public void reopen() {}

        @Override
        public void close() {}
    }

    /**
     * The real keel-storage {@link DurableLog} on a temporary directory (fsync off: a simulated
     * crash is a {@link DurableLog#crash()}, which drops buffered writes, not a power cut).
     */
    final class Durable implements SimDisk {
        private final Path dir;
        private final StorageConfig config;
        private DurableLog log;

        Durable(Path dir, int nodeId) {
            this.dir = dir;
            // Small segments and cache, so rollover, disk reads and compaction all happen in short runs.
            this.config = StorageConfig.builder(nodeId, "sim").segmentBytes(8 << 10).cacheBytes(4 << 10)
                    .sync(false).build();
            this.log = DurableLog.open(dir, config);
        }

        @Override
        public RaftStorage storage() {
            return log;
        }

        @Override
        public void persist(HardState hs, List<Entry> entries) {
            log.persist(hs, entries);
        }

        @Override
        public void tornPersist(HardState hs, List<Entry> entries, int keptEntries) {
            HardState durable = log.hardState();
            if (hs != null && (hs.currentTerm() != durable.currentTerm() || hs.votedFor() != durable.votedFor())) {
                log.setHardState(new HardState(hs.currentTerm(), hs.votedFor(), durable.commitIndex()));
                log.sync();
            }
            log.append(entries); // written into the log's buffer, never synced: the crash decides what stays
            log.crash();
        }

        @Override
        public void compact(SnapshotMeta meta, byte[] data) {
            SnapshotWriter w = log.snapshots().begin(meta.index(), meta.term(), meta.membership());
            try {
                w.stream().write(data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            SnapshotMeta stored = w.commit();
            log.compact(stored);
        }

        @Override
        public void install(SnapshotMeta meta, byte[] data) {
            SnapshotWriter w = log.snapshots().beginReceive(meta);
            w.write(0, data);
            w.commit();
            log.installSnapshot(meta);
        }

        @Override
        public byte[] snapshotData() {
            SnapshotMeta m = log.snapshot();
            if (m.isNone()) return new byte[0];
            try (InputStream in = log.snapshots().open(m)) {
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void crash() {
            log.crash();
        }

        @Override
        public void reopen() {
            log.crash(); // no-op if already crashed
            log = DurableLog.open(dir, config);
        }

        @Override
        public void close() {
            log.crash();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // a temporary directory; the OS cleans it eventually
            }
        }
    }
}
