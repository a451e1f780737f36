package dev.keel.storage;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.RaftStorage;
import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;

/**
 * The durable {@link RaftStorage} of one node: a segmented write-ahead log, the hard state file
 * and a {@link SnapshotStore}, in one data directory (format: FORMAT.md in this module).
 *
 * <p><b>Durability.</b> {@link #append} and {@link #setHardState} only record; {@link #sync()}
 * makes everything recorded before it durable with one {@code fdatasync} of the log (group commit)
 * plus, only when {@code currentTerm} or {@code votedFor} changed, an atomic rewrite of the hard
 * state file. When sync() returns, every entry up to {@link #durableIndex()} and the hard state
 * are on disk. The driver carries out a {@link dev.keel.core.Ready} as: setHardState, append,
 * sync, then send its messages (Figure 2: "respond to RPCs only after updating stable storage").
 * Reads ({@link #lastIndex()}, {@link #entries}, {@link #hardState()}, ...) reflect everything
 * recorded, synced or not, exactly like {@link dev.keel.core.MemoryStorage}; the Ready contract
 * makes the difference invisible to the core, which reads only after the sync. Suffix truncation
 * (a new leader overwrote entries) and segment rollover are made durable at once, inside append.
 *
 * <p><b>Failure.</b> An IOException on the write path (disk full, EIO) fails the log: the call
 * throws {@link StorageFailedException}, and so does every later write, sync, compaction and
 * snapshot installation, so that the node stops instead of running on with unknown durability.
 * Nothing synced is truncated or overwritten on that path; reopen after fixing the disk.
 *
 * <p><b>Recovery.</b> {@link #open} verifies the directory's identity, the hard state and the
 * snapshots' headers (and the newest snapshot's data), then reads every segment, checking every
 * record. A torn tail of the newest segment (a record cut or garbled by a crash, with no valid
 * record after it) is cut off and reported in {@link #recoveryReport()}; any other bad record,
 * header, version or missing segment throws before anything is modified.
 *
 * <p><b>Memory.</b> An offset index costs 8 bytes per entry (a long file position, up to twice
 * that with array growth headroom) plus 16 bytes per term change; the cache holds the newest
 * entries up to {@link StorageConfig#cacheBytes()}, counting each entry's data plus
 * {@value EntryCache#ENTRY_OVERHEAD_BYTES} bytes (plus 8 bytes per ring slot).
 * {@link #memoryBytes()} reports the total.
 *
 * <p><b>Threading.</b> Not thread-safe: use from the thread that drives the core. The
 * {@link #snapshots() snapshot store} may be used from other threads (a state machine writing a
 * snapshot in the background).
 */
public final class DurableLog implements RaftStorage, AutoCloseable {
    private static final int WRITE_BUFFER_BYTES = 1 << 20;
    /** A disk read of entries reads at most this much at once (more only for a single larger record). */
    private static final int READ_CHUNK_BYTES = 4 << 20;
    /** Directories open in this JVM: POSIX record locks do not exclude the same process. */
    private static final Set<Path> OPEN_DIRECTORIES = ConcurrentHashMap.newKeySet();

    /** One segment file. Invariant: it holds records [base, lastIndex] in bytes [header, size). */
    private static final class Segment {
        final Path path;
        final long base;
        long lastIndex;
        /** End of the last record, including bytes still in the write buffer for the active segment. */
        long size = Format.SEGMENT_HEADER_BYTES;
        /** Open lazily for reads; read-write for the active segment. */
        FileChannel channel;
        boolean writable;

        Segment(Path path, long base) {
            this.path = path;
            this.base = base;
            this.lastIndex = base - 1;
        }

        long nextIndex() {
            return lastIndex + 1;
        }
    }

    private final Path dir;
    private final Path lockKey;
    private final StorageConfig cfg;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private SnapshotStore store;

    /** Sorted by base; contiguous except for gaps entirely at or below the snapshot index. */
    private final ArrayList<Segment> segments = new ArrayList<>();
    /** The segment the next record goes to, or null when the next append must start one. Invariant: if not null, it is the last segment and active.nextIndex() == lastIndex() + 1. */
    private Segment active;
    /** Bytes of the active segment written to its channel; the channel's position. [activeFlushed, active.size) is in writeBuffer. */
    private long activeFlushed;
    /** The active segment has bytes written since it was last forced. */
    private boolean activeDirty;
    private final ByteBuffer writeBuffer;
    /** {@link #writeBuffer} as the one part of a {@link SegmentPreallocator#write}, made once. */
    private final ByteBuffer[] writeBufferParts;
    /** Writes zeros ahead of the active segment's records when syncing is on; null otherwise. */
    private SegmentPreallocator preallocator;
    private final byte[] recordHeader = new byte[Format.RECORD_HEADER_BYTES];
    private final CRC32C crc = new CRC32C();

    /** Invariant: index.first() == snapshot.index() + 1; index.last() == lastIndex(). */
    private final LogIndex index = new LogIndex();
    private final EntryCache cache;
    private SnapshotMeta snapshot = SnapshotMeta.NONE;
    /** Invariant: durableIndex <= lastIndex(). */
    private long durableIndex;
    private HardState hardState = HardState.EMPTY;
    /** What the hard state file holds. */
    private HardState writtenHardState = HardState.EMPTY;

    private StorageFailedException failure;
    /** Counts suffix truncations and discarded logs: a {@link PendingForce} from before one speaks of other entries. */
    private long truncations;
    private RecoveryReport recoveryReport;
    private boolean closed;

    private DurableLog(Path dir, Path lockKey, StorageConfig cfg, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.lockKey = lockKey;
        this.cfg = cfg;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.cache = new EntryCache(cfg.cacheBytes());
        this.writeBuffer = ByteBuffer.allocateDirect((int) Math.min(WRITE_BUFFER_BYTES, cfg.segmentBytes()));
        this.writeBufferParts = new ByteBuffer[] {writeBuffer};
    }

    /**
     * Opens the data directory {@code dir}, creating it on first use, and recovers the log.
     *
     * @throws StorageException if the directory belongs to another node or cluster, has another
     *     format version, is open already (in this or another process), or misses a file
     * @throws CorruptLogException if a record is bad anywhere but in the torn tail of the newest
     *     segment, naming the file and offset
     * @throws CorruptSnapshotException if a snapshot file is bad, naming it
     */
    public static DurableLog open(Path dir, StorageConfig cfg) {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(cfg, "cfg");
        Path key;
        try {
            Files.createDirectories(dir);
            key = dir.toRealPath();
        } catch (IOException e) {
            throw new StorageException("cannot create data directory " + dir + ": " + e, e);
        }
        if (!OPEN_DIRECTORIES.add(key)) {
            throw new StorageException("data directory " + dir + " is already open in this process; close it first");
        }
        FileChannel lockChannel = null;
        try {
            lockChannel = FileChannel.open(dir.resolve(Format.LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new StorageException("data directory " + dir + " is already open in another process (its "
                        + Format.LOCK_FILE + " file is locked)");
            }
            DurableLog log = new DurableLog(dir, key, cfg, lockChannel, lock);
            try {
                log.recover();
            } catch (RuntimeException | Error e) {
                log.releaseResources();
                throw e;
            }
            return log;
        } catch (IOException e) {
            closeQuietly(lockChannel);
            OPEN_DIRECTORIES.remove(key);
            throw new StorageException("cannot lock data directory " + dir + ": " + e, e);
        } catch (StorageException e) {
            if (lockChannel != null && lockChannel.isOpen()) closeQuietly(lockChannel);
            OPEN_DIRECTORIES.remove(key);
            throw e;
        }
    }

    // ------------------------------------------------------------------ recovery

    private record Torn(Path file, long offset, long bytes, String reason) {}

    private void recover() {
        List<String> actions = new ArrayList<>();
        Path idFile = dir.resolve(Format.IDENTITY_FILE);
        Path hsFile = dir.resolve(Format.HARD_STATE_FILE);
        Path snapDir = dir.resolve(Format.SNAPSHOT_DIR);
        TreeMap<Long, Path> segmentFiles = listSegments();

        if (!Files.exists(idFile)) {
            List<String> data = unexpectedFiles(segmentFiles, snapDir, hsFile);
            if (!data.isEmpty()) {
                throw new StorageException("identity file " + idFile + " is missing but " + dir + " is not empty ("
                        + String.join(", ", data) + "): refusing to use it; restore " + Format.IDENTITY_FILE
                        + " or use an empty directory");
            }
            initialize(snapDir);
            actions.add("initialized " + dir + " for node " + cfg.nodeId() + " of cluster '" + cfg.clusterId() + "'");
        } else {
            Format.Identity id = Format.readIdentity(idFile);
            if (id.nodeId() != cfg.nodeId() || !id.clusterId().equals(cfg.clusterId())) {
                throw new StorageException("data directory " + dir + " belongs to node " + id.nodeId() + " of cluster '"
                        + id.clusterId() + "' (" + idFile + "), but this node is node " + cfg.nodeId() + " of cluster '"
                        + cfg.clusterId() + "'");
            }
        }
        HardState hs = Format.readHardState(hsFile);
        store = SnapshotStore.open(snapDir, cfg.keepSnapshots(), cfg.sync());
        SnapshotMeta snap = store.latest();
        if (!snap.isNone()) store.verify(snap); // the state machine will restore from it: refuse now if it is bad
        long s = snap.index();

        // Read everything first; modify nothing until every check has passed.
        index.reset(s + 1);
        SegmentScanner scanner = new SegmentScanner();
        List<Segment> found = new ArrayList<>();
        long prevTerm = 0;
        long[] termAtSnapshot = {-1}; // term of the log's own entry at the snapshot index, -1 if it has none
        Torn torn = null;
        int k = 0;
        for (Map.Entry<Long, Path> e : segmentFiles.entrySet()) {
            boolean newest = ++k == segmentFiles.size();
            long base = e.getKey();
            Path file = e.getValue();
            long minTerm;
            if (found.isEmpty()) {
                if (base > s + 1) {
                    throw new CorruptLogException(file, 0, s == 0
                            ? "the first segment starts at index " + base + ", expected 1: a segment is missing"
                            : "the first segment starts at index " + base + " but the snapshot ends at index " + s
                                    + ": a segment is missing");
                }
                minTerm = 1;
            } else {
                Segment prev = found.get(found.size() - 1);
                if (base == prev.nextIndex()) {
                    minTerm = prevTerm;
                } else if (base > prev.nextIndex() && base <= s + 1) {
                    minTerm = 1; // a gap entirely inside the snapshot, left by compaction: nothing is missing
                } else {
                    throw new CorruptLogException(file, 0, "the segment starts at index " + base + " but the previous segment "
                            + prev.path.getFileName() + " ends at index " + prev.lastIndex
                            + (base > prev.nextIndex() ? ": a segment is missing" : ": segments overlap"));
                }
            }
            Segment seg = new Segment(file, base);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                SegmentScanner.readHeader(ch, file, base);
                SegmentScanner.Result r = scanner.scan(ch, base, minTerm, (idx, term, pos, len) -> {
                    if (idx == s) termAtSnapshot[0] = term;
                    if (idx > s) index.add(idx, term, pos);
                });
                SegmentScanner.BadRecord bad = r.bad();
                if (bad != null) {
                    if (!newest) {
                        throw new CorruptLogException(file, bad.offset(), bad.reason()
                                + " (in a sealed segment: only the newest segment can have a torn tail)");
                    }
                    if (bad.complete()) {
                        throw new CorruptLogException(file, bad.offset(), bad.reason()
                                + " (a whole record with a valid checksum, which a torn write cannot produce)");
                    }
                    long q = scanner.findValidRecordAfter(ch, bad.offset(), r.lastIndex() + 1, r.lastTerm());
                    if (q >= 0) {
                        throw new CorruptLogException(file, bad.offset(), bad.reason() + "; a valid record follows at offset "
                                + q + ", so this is corruption before the tail, not a torn write");
                    }
                    torn = new Torn(file, bad.offset(), r.fileSize() - bad.offset(), bad.reason());
                }
                seg.lastIndex = r.lastIndex();
                seg.size = r.validEnd();
                prevTerm = r.lastTerm();
            } catch (IOException ex) {
                throw new StorageException("cannot read segment " + file + ": " + ex, ex);
            }
            found.add(seg);
        }

        // A log that holds the snapshot's index with another term is what a crash in the middle of
        // installSnapshot leaves (the snapshot was committed, the old log not yet discarded):
        // finish it. Only installSnapshot can produce that: compaction requires matching terms.
        boolean interruptedInstall = s > 0 && termAtSnapshot[0] >= 0 && termAtSnapshot[0] != snap.term();

        try {
            if (torn != null && !interruptedInstall) {
                try (FileChannel ch = FileChannel.open(torn.file, StandardOpenOption.WRITE)) {
                    ch.truncate(torn.offset);
                    if (cfg.sync()) ch.force(true);
                }
                actions.add("cut the torn tail of " + torn.file + ": " + torn.bytes + " bytes at offset " + torn.offset + " ("
                        + torn.reason + ")");
            }
            segments.addAll(found);
            snapshot = snap;
            if (interruptedInstall) {
                int n = segments.size();
                discardAllSegments();
                index.reset(s + 1);
                actions.add("completed an interrupted snapshot installation: the log held term " + termAtSnapshot[0]
                        + " at index " + s + " but " + snap + " has term " + snap.term() + ", so the log's " + n
                        + " segments were discarded");
            } else {
                List<Path> deleted = deleteObsoleteSegments();
                if (!deleted.isEmpty()) {
                    actions.add("deleted " + deleted.size() + " segments entirely inside snapshot " + s + ": " + names(deleted));
                }
            }
            List<Path> temps = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + Format.TEMP_SUFFIX)) {
                for (Path f : ds) temps.add(f);
            }
            for (Path f : temps) Files.deleteIfExists(f);
            temps.addAll(store.deleteTempFiles());
            if (!temps.isEmpty()) actions.add("removed temporary files of interrupted writes: " + names(temps));

            long last = index.last();
            if (!segments.isEmpty()) {
                Segment newest = segments.get(segments.size() - 1);
                if (newest.nextIndex() == last + 1) {
                    newest.channel = FileChannel.open(newest.path, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    newest.writable = true;
                    newest.channel.position(newest.size);
                    active = newest;
                    activeFlushed = newest.size;
                    // What was read may have been only in the page cache (the process died before
                    // its sync): make it durable before anything is acknowledged on its basis.
                    if (cfg.sync()) newest.channel.force(false);
                }
            }
            if (cfg.sync()) {
                Format.forceDirectory(dir); // a rename or deletion whose directory sync was cut short
                Format.forceDirectory(snapDir);
                preallocator = new SegmentPreallocator("keel-log-preallocate-" + cfg.nodeId());
                if (active != null) preallocator.attach(active.channel, active.size, cfg.segmentBytes());
            }
            durableIndex = last;
            writtenHardState = hs;
            hardState = new HardState(hs.currentTerm(), hs.votedFor(), Math.min(hs.commitIndex(), last));
        } catch (IOException e) {
            throw new StorageException("recovery of " + dir + " failed: " + e, e);
        }
        warmCache();
        recoveryReport = torn != null && !interruptedInstall
                ? new RecoveryReport(torn.file, torn.offset, torn.bytes, actions)
                : new RecoveryReport(null, -1, 0, actions);
        checkInvariants();
    }

    private static String names(List<Path> files) {
        return String.join(", ", files.stream().map(p -> p.getFileName().toString()).toList());
    }

    private TreeMap<Long, Path> listSegments() {
        TreeMap<Long, Path> out = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "log-*.seg")) {
            for (Path f : ds) {
                long base = Format.segmentBase(f.getFileName().toString());
                if (base >= 1) out.put(base, f);
            }
        } catch (IOException e) {
            throw new StorageException("cannot list data directory " + dir + ": " + e, e);
        }
        return out;
    }

    /** Files that show the directory holds data or belongs to something else; empty if it may be initialized. */
    private List<String> unexpectedFiles(TreeMap<Long, Path> segmentFiles, Path snapDir, Path hsFile) {
        List<String> found = new ArrayList<>();
        if (!segmentFiles.isEmpty()) found.add(segmentFiles.size() + " log segments");
        if (Files.exists(hsFile) && !Format.readHardState(hsFile).equals(HardState.EMPTY)) found.add("a hard state with a term or vote");
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                String name = f.getFileName().toString();
                if (name.equals(Format.LOCK_FILE) || name.equals(Format.HARD_STATE_FILE) || name.endsWith(Format.TEMP_SUFFIX)
                        || Format.segmentBase(name) >= 1) {
                    continue;
                }
                if (name.equals(Format.SNAPSHOT_DIR) && Files.isDirectory(f)) {
                    try (DirectoryStream<Path> snaps = Files.newDirectoryStream(f, "snap-*.snap")) {
                        if (snaps.iterator().hasNext()) found.add("snapshots");
                    }
                    continue;
                }
                found.add(name);
            }
        } catch (IOException e) {
            throw new StorageException("cannot list data directory " + dir + ": " + e, e);
        }
        return found;
    }

    /** First use of a directory: the hard state first, the identity last, so a directory with an identity always has a hard state. */
    private void initialize(Path snapDir) {
        try {
            Files.createDirectories(snapDir);
            Format.writeAtomically(dir, Format.HARD_STATE_FILE, Format.encodeHardState(HardState.EMPTY), cfg.sync());
            Format.writeAtomically(dir, Format.IDENTITY_FILE, Format.encodeIdentity(Format.VERSION, cfg.nodeId(),
                    cfg.clusterId()), cfg.sync());
        } catch (IOException e) {
            throw new StorageException("cannot initialize data directory " + dir + ": " + e, e);
        }
    }

    /** Loads the newest entries that fit in the cache budget, reading the disk once. */
    private void warmCache() {
        if (cfg.cacheBytes() == 0 || index.size() == 0) return;
        long last = index.last();
        long from = last + 1;
        long used = 0;
        for (long i = last; i >= index.first(); i--) {
            long c = EntryCache.cost(recordEnd(i) - index.position(i) - Format.RECORD_HEADER_BYTES);
            if (used + c > cfg.cacheBytes()) break;
            used += c;
            from = i;
        }
        if (from > last) return;
        for (Entry e : entries(from, last + 1, Long.MAX_VALUE)) cache.add(e);
    }

    // ------------------------------------------------------------------ writes

    /**
     * Records entries after the log, first dropping every entry at or after the first new index
     * if there are any (a new leader overwrote a conflicting suffix, Figure 2 AppendEntries
     * receiver step 3). The truncation is made durable before this returns (it truncates the
     * segment holding that index and deletes the later segments; files are never rewritten); the
     * new entries are durable after the next {@link #sync()}.
     *
     * @throws IllegalArgumentException on a gap after the last index, an index inside the
     *     snapshot, entries not in index order, decreasing terms, or an entry too large for a segment
     * @throws StorageFailedException on an IO error, now or earlier
     */
    public void append(List<Entry> entries) {
        checkWritable("append");
        if (entries.isEmpty()) return;
        long first = entries.get(0).index();
        if (first > lastIndex() + 1) {
            throw new IllegalArgumentException("gap: appending at " + first + " after last index " + lastIndex());
        }
        if (first <= snapshot.index()) {
            throw new IllegalArgumentException("appending at " + first + " inside the snapshot up to " + snapshot.index());
        }
        long prevTerm = term(first - 1);
        long maxData = cfg.maxEntryDataBytes();
        for (int k = 0; k < entries.size(); k++) {
            Entry e = entries.get(k);
            if (e.index() != first + k) {
                throw new IllegalArgumentException("entries out of order: index " + e.index() + " at position " + k
                        + ", expected " + (first + k));
            }
            if (e.term() < prevTerm) {
                throw new IllegalArgumentException("term " + e.term() + " of entry " + e.index() + " is lower than term "
                        + prevTerm + " of entry " + (e.index() - 1) + " (terms never decrease in a Raft log)");
            }
            if (e.data().length > maxData) {
                throw new IllegalArgumentException("entry " + e.index() + " has " + e.data().length + " bytes of data, more than "
                        + maxData + " that fit in a segment of segmentBytes " + cfg.segmentBytes());
            }
            prevTerm = e.term();
        }
        Path path = active != null ? active.path : dir;
        try {
            if (first <= lastIndex()) truncateFrom(first);
            for (Entry e : entries) {
                path = active != null ? active.path : dir;
                writeRecord(e);
            }
        } catch (IOException e) {
            throw fail("append at index " + first, path, e);
        }
        checkInvariants();
    }

    /**
     * Records the hard state; it is made durable by the next {@link #sync()} (rewriting the file
     * only if currentTerm or votedFor changed: commitIndex is not needed for safety).
     */
    public void setHardState(HardState hs) {
        checkWritable("setHardState");
        hardState = Objects.requireNonNull(hs, "hs");
    }

    /**
     * Makes everything recorded so far durable: one {@code force(false)} (fdatasync) of the
     * active segment for all the entries appended since the last sync (group commit), then, if
     * currentTerm or votedFor changed, the hard state file is replaced atomically (temporary file,
     * force, rename, directory force). When this returns, {@link #durableIndex()} ==
     * {@link #lastIndex()} and the hard state is on disk.
     *
     * @throws StorageFailedException on an IO error, now or earlier
     */
    public void sync() {
        checkWritable("sync");
        Path path = active != null ? active.path : dir.resolve(Format.HARD_STATE_FILE);
        try {
            if (active != null) {
                flushWriteBuffer();
                if (activeDirty) {
                    if (cfg.sync()) active.channel.force(false);
                    activeDirty = false;
                }
            }
            durableIndex = lastIndex();
            if (hardState.currentTerm() != writtenHardState.currentTerm() || hardState.votedFor() != writtenHardState.votedFor()) {
                path = dir.resolve(Format.HARD_STATE_FILE);
                Format.writeAtomically(dir, Format.HARD_STATE_FILE, Format.encodeHardState(hardState), cfg.sync());
                writtenHardState = hardState;
            }
        } catch (IOException e) {
            throw fail("sync", path, e);
        }
    }

    /**
     * Persists one Ready's hard state and entries in the order Raft needs, then returns once all is
     * durable: a new term or vote first (with the commit index already on disk), so entries of a
     * term are never on disk while the term is not (a restarted node could otherwise vote twice in
     * it); then the entries, in one sync; the new commit index last, since it speaks of them.
     *
     * @param hs the hard state to persist, or null when unchanged
     */
    public void persist(HardState hs, List<Entry> entries) {
        if (hs != null && (hs.currentTerm() != writtenHardState.currentTerm() || hs.votedFor() != writtenHardState.votedFor())) {
            setHardState(new HardState(hs.currentTerm(), hs.votedFor(), writtenHardState.commitIndex()));
            sync();
        }
        append(entries);
        if (hs != null) setHardState(hs);
        sync();
    }

    /**
     * Writes one Ready's entries and hard state to the operating system without waiting for the
     * disk, and returns the force that makes them durable, to run on another thread: a leader
     * writes its own log in parallel with its followers' writes and goes on reading their
     * acknowledgements meanwhile (thesis §10.2.1). Report the force's outcome with {@link #forced}
     * or {@link #forceFailed}. Until then the entries are in the log as appended, and a later
     * {@link #sync()} (or {@link #persist}) forces them as well.
     *
     * <p>Only for a hard state whose term and vote are already on disk (a leader's, whose commit
     * index changed): a new term or vote must be durable before anything is sent, so it goes
     * through {@link #persist}. The caller must let the force finish before it truncates, compacts,
     * installs a snapshot or closes the log (those may close the segment being forced).
     *
     * @param hs the hard state to record, or null when unchanged
     * @return the force, or null if there was nothing to force (no entries)
     * @throws IllegalArgumentException if {@code hs} changes the term or vote
     * @throws StorageFailedException on an IO error, now or earlier
     */
    public PendingForce writeUnforced(HardState hs, List<Entry> entries) {
        if (hs != null && (hs.currentTerm() != writtenHardState.currentTerm() || hs.votedFor() != writtenHardState.votedFor())) {
            throw new IllegalArgumentException("term " + hs.currentTerm() + " and vote " + hs.votedFor()
                    + " are not on disk yet; persist() them before anything is sent");
        }
        append(entries);
        if (hs != null) setHardState(hs);
        if (entries.isEmpty() || active == null) return null;
        try {
            flushWriteBuffer();
        } catch (IOException e) {
            throw fail("write", active.path, e);
        }
        return new PendingForce(cfg.sync() ? active.channel : null, active.path, lastIndex(), truncations);
    }

    /**
     * Entries written by {@link #writeUnforced} and the force that makes them (and everything written
     * before them) durable.
     */
    public static final class PendingForce {
        private final FileChannel channel;
        private final Path path;
        private final long index;
        private final long truncations;

        private PendingForce(FileChannel channel, Path path, long index, long truncations) {
            this.channel = channel;
            this.path = path;
            this.index = index;
            this.truncations = truncations;
        }

        /** The last index written. */
        public long index() {
            return index;
        }

        /** Forces the segment (fdatasync); may run on any one thread. */
        public void force() throws IOException {
            if (channel != null) channel.force(false);
        }
    }

    /** {@code f}'s force returned: its entries are durable (unless the log was truncated since). */
    public void forced(PendingForce f) {
        if (f.truncations == truncations && f.index <= lastIndex() && f.index > durableIndex) durableIndex = f.index;
    }

    /** {@code f}'s force failed: the log fails as a failed {@link #sync()} does, and the error says so. */
    public StorageFailedException forceFailed(PendingForce f, IOException cause) {
        return fail("sync", f.path, cause);
    }

    /** Index of the last entry known durable: everything up to it survives a crash (or is covered by the snapshot). */
    public long durableIndex() {
        return durableIndex;
    }

    /**
     * Drops the entries up to {@code meta.index()}, which the state machine's snapshot (already
     * committed to {@link #snapshots()}) covers, and deletes the segments entirely below it
     * (thesis chapter 5). Ignored if {@code meta} is not newer than {@link #snapshot()}. Same
     * semantics as {@link dev.keel.core.MemoryStorage#compact}.
     *
     * @throws IllegalArgumentException if the log has no entry at meta.index() with meta.term()
     * @throws IllegalStateException if the snapshot was not committed to the snapshot store
     */
    public void compact(SnapshotMeta meta) {
        checkWritable("compact");
        if (meta.index() <= snapshot.index()) return; // older than what we have
        if (meta.index() > lastIndex() || term(meta.index()) != meta.term()) {
            throw new IllegalArgumentException(meta + " does not match the log (last index " + lastIndex() + ")");
        }
        requireStored(meta, "compact");
        index.dropThrough(meta.index());
        cache.dropThrough(meta.index());
        snapshot = meta;
        durableIndex = Math.max(durableIndex, meta.index());
        try {
            deleteObsoleteSegments();
        } catch (IOException e) {
            throw fail("compact to " + meta, dir, e);
        }
        checkInvariants();
    }

    /**
     * Installs a snapshot received from the leader, already committed to {@link #snapshots()}
     * (Figure 13): if the log has the snapshot's last entry (same index and term) the entries
     * after it are kept, otherwise the whole log is discarded and the next entry is
     * meta.index() + 1. Ignored if not newer than {@link #snapshot()}. Same semantics as
     * {@link dev.keel.core.MemoryStorage#installSnapshot}. Discarding the log is durable when this
     * returns; a crash in the middle is finished by the next open.
     *
     * @throws IllegalStateException if the snapshot was not committed to the snapshot store
     */
    public void installSnapshot(SnapshotMeta meta) {
        checkWritable("installSnapshot");
        if (meta.index() <= snapshot.index()) return;
        requireStored(meta, "installSnapshot");
        try {
            if (meta.index() <= lastIndex() && term(meta.index()) == meta.term()) {
                index.dropThrough(meta.index());
                cache.dropThrough(meta.index());
                snapshot = meta;
                durableIndex = Math.max(durableIndex, meta.index());
                deleteObsoleteSegments();
            } else {
                discardAllSegments();
                truncations++;
                index.reset(meta.index() + 1);
                cache.clear();
                snapshot = meta;
                durableIndex = meta.index();
            }
        } catch (IOException e) {
            throw fail("installSnapshot " + meta, dir, e);
        }
        checkInvariants();
    }

    private void requireStored(SnapshotMeta meta, String op) {
        SnapshotStore.Stored s = store.find(meta.index(), meta.term());
        if (s == null || !s.meta().equals(meta)) {
            throw new IllegalStateException(op + "(" + meta + "): that snapshot is not committed to snapshots() "
                    + (s == null ? "" : "(the store has " + s.meta() + ")") + "; commit it first");
        }
    }

    private void writeRecord(Entry e) throws IOException {
        byte[] data = e.data();
        int recordBytes = Format.RECORD_HEADER_BYTES + data.length;
        if (active == null || active.nextIndex() != e.index() || active.size + recordBytes > cfg.segmentBytes()) {
            roll(e.index());
        }
        ByteBuffer h = ByteBuffer.wrap(recordHeader);
        h.putInt(0, data.length).putLong(8, e.index()).putLong(16, e.term()).put(24, Format.typeCode(e.type()));
        crc.reset();
        crc.update(recordHeader, 0, 4);
        crc.update(recordHeader, 8, Format.RECORD_HEADER_BYTES - 8);
        crc.update(data, 0, data.length);
        h.putInt(4, (int) crc.getValue());

        long position = active.size;
        if (writeBuffer.remaining() < recordBytes) flushWriteBuffer();
        if (writeBuffer.remaining() >= recordBytes) {
            writeBuffer.put(recordHeader).put(data);
        } else { // larger than the whole buffer: write it directly
            ByteBuffer[] parts = {ByteBuffer.wrap(recordHeader), ByteBuffer.wrap(data)};
            if (preallocator != null) {
                preallocator.write(active.channel, parts, activeFlushed);
            } else {
                long left = recordBytes;
                while (left > 0) left -= active.channel.write(parts);
            }
            activeFlushed += recordBytes;
        }
        active.size += recordBytes;
        active.lastIndex = e.index();
        activeDirty = true;
        index.add(e.index(), e.term(), position);
        cache.add(e);
    }

    private void flushWriteBuffer() throws IOException {
        if (writeBuffer.position() == 0) return;
        writeBuffer.flip();
        int n = writeBuffer.remaining();
        if (preallocator != null) {
            preallocator.write(active.channel, writeBufferParts, activeFlushed);
        } else {
            while (writeBuffer.hasRemaining()) active.channel.write(writeBuffer);
        }
        activeFlushed += n;
        writeBuffer.clear();
    }

    /**
     * Starts a new segment whose first record will be {@code base}. The previous one is forced
     * first, so that a sealed segment never has a torn tail; the new one is created complete
     * (header written and forced under a temporary name, renamed, directory forced), so that a
     * segment file never has a torn header. The sealed segment loses the zeros preallocated past
     * its records, so that only the newest segment can end in zeros.
     */
    private void roll(long base) throws IOException {
        if (preallocator != null) preallocator.detach();
        if (active != null) {
            flushWriteBuffer();
            if (active.channel.size() > active.size) {
                active.channel.truncate(active.size);
                activeDirty = true;
            }
            if (activeDirty && cfg.sync()) active.channel.force(false);
            activeDirty = false;
            durableIndex = Math.max(durableIndex, active.lastIndex);
            active = null;
        }
        Path file = dir.resolve(Format.segmentName(base));
        if (Files.exists(file)) throw new IllegalStateException("segment " + file + " exists already");
        Path tmp = dir.resolve(file.getFileName() + Format.TEMP_SUFFIX);
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            Format.writeFully(ch, ByteBuffer.wrap(Format.segmentHeader(base)), 0);
            if (cfg.sync()) ch.force(true);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            if (cfg.sync()) Format.forceDirectory(dir);
            ch.position(Format.SEGMENT_HEADER_BYTES);
        } catch (IOException e) {
            closeQuietly(ch);
            throw e;
        }
        Segment seg = new Segment(file, base);
        seg.channel = ch;
        seg.writable = true;
        segments.add(seg);
        active = seg;
        activeFlushed = Format.SEGMENT_HEADER_BYTES;
        activeDirty = false;
        if (preallocator != null) preallocator.attach(ch, activeFlushed, cfg.segmentBytes());
    }

    /**
     * Drops entries at and after {@code first} (first <= lastIndex()), durably: later segments are
     * deleted newest first and the directory forced, then the segment holding {@code first} is
     * truncated there and forced. In that order a crash leaves either the old log or a prefix of
     * it, never a hole, and old records can never reappear after new ones.
     */
    private void truncateFrom(long first) throws IOException {
        if (active != null) flushWriteBuffer();
        if (preallocator != null) preallocator.detach();
        int k = segmentSlot(first);
        Segment seg = segments.get(k);
        long position = index.position(first);
        boolean deleted = false;
        for (int j = segments.size() - 1; j > k; j--) {
            Segment later = segments.remove(j);
            closeQuietly(later.channel);
            Files.deleteIfExists(later.path);
            deleted = true;
        }
        if (deleted && cfg.sync()) Format.forceDirectory(dir);
        if (!seg.writable) {
            closeQuietly(seg.channel);
            seg.channel = FileChannel.open(seg.path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            seg.writable = true;
        }
        seg.channel.truncate(position);
        if (cfg.sync()) seg.channel.force(true);
        seg.channel.position(position);
        seg.size = position;
        seg.lastIndex = first - 1;
        active = seg;
        activeFlushed = position;
        activeDirty = false;
        index.truncateFrom(first);
        cache.truncateFrom(first);
        durableIndex = Math.min(durableIndex, first - 1);
        truncations++;
        if (preallocator != null) preallocator.attach(seg.channel, position, cfg.segmentBytes());
    }

    /** Deletes segments whose entries are all covered by the snapshot (keeping the newest if it ends exactly there). */
    private List<Path> deleteObsoleteSegments() throws IOException {
        long s = snapshot.index();
        List<Path> deleted = new ArrayList<>();
        while (!segments.isEmpty()) {
            Segment seg = segments.get(0);
            boolean newest = segments.size() == 1;
            if (!(seg.lastIndex < s || (seg.lastIndex == s && !newest))) break;
            if (seg == active) {
                if (preallocator != null) preallocator.detach();
                active = null;
                writeBuffer.clear();
                activeDirty = false;
            }
            closeQuietly(seg.channel);
            Files.deleteIfExists(seg.path);
            segments.remove(0);
            deleted.add(seg.path);
        }
        return deleted;
    }

    /** Deletes every segment, newest first, so that a crash leaves a prefix of the log; then forces the directory. */
    private void discardAllSegments() throws IOException {
        if (preallocator != null) preallocator.detach();
        writeBuffer.clear();
        active = null;
        activeDirty = false;
        for (int j = segments.size() - 1; j >= 0; j--) {
            Segment seg = segments.remove(j);
            closeQuietly(seg.channel);
            Files.deleteIfExists(seg.path);
        }
        if (cfg.sync()) Format.forceDirectory(dir);
    }

    private StorageFailedException fail(String op, Path path, IOException cause) {
        failure = new StorageFailedException("storage " + dir + " failed during " + op + " on " + path + ": " + cause
                + "; stop the node (entries up to index " + durableIndex + " were synced and are intact)", path, cause);
        return failure;
    }

    private void checkWritable(String op) {
        if (closed) throw new IllegalStateException("DurableLog " + dir + " is closed");
        if (failure != null) {
            throw new StorageFailedException("refusing " + op + ": storage " + dir + " failed earlier: " + failure.getMessage(),
                    failure.path(), failure.getCause());
        }
    }

    // ------------------------------------------------------------------ reads

    @Override
    public HardState hardState() {
        return hardState;
    }

    @Override
    public long firstIndex() {
        return snapshot.index() + 1;
    }

    @Override
    public long lastIndex() {
        return index.last();
    }

    @Override
    public long term(long i) {
        if (i == snapshot.index()) return snapshot.term();
        if (i < snapshot.index() || i > lastIndex()) {
            throw new IndexOutOfBoundsException("index " + i + " outside [" + snapshot.index() + ", " + lastIndex() + "]");
        }
        return index.term(i);
    }

    /**
     * Entries in [lo, hi), stopping once maxBytes ({@link Entry#sizeBytes()}) is reached but
     * always at least one when lo < hi. Recent entries come from the cache; older ones are read
     * from their segment (located by the offset index) and checked against their checksum.
     *
     * @throws CorruptLogException if a record read from disk does not match its checksum
     */
    @Override
    public List<Entry> entries(long lo, long hi, long maxBytes) {
        if (closed) throw new IllegalStateException("DurableLog " + dir + " is closed");
        if (lo < firstIndex() || hi > lastIndex() + 1 || lo > hi) {
            throw new IndexOutOfBoundsException("range [" + lo + ", " + hi + ") outside [" + firstIndex() + ", "
                    + (lastIndex() + 1) + ")");
        }
        List<Entry> out = new ArrayList<>((int) Math.min(hi - lo, 1024));
        long bytes = 0;
        long i = lo;
        long diskHi = Math.min(hi, cache.firstIndex());
        while (i < diskHi) {
            Segment seg = segments.get(segmentSlot(i));
            long segHi = Math.min(diskHi, seg.lastIndex + 1);
            long start = index.position(i);
            long end = start;
            long j = i;
            boolean full = false;
            while (j < segHi) {
                long recordEnd = recordEnd(j, seg);
                long entryBytes = recordEnd - index.position(j) - Format.RECORD_HEADER_BYTES + Entry.OVERHEAD_BYTES;
                if ((!out.isEmpty() || j > i) && bytes + entryBytes > maxBytes) {
                    full = true;
                    break;
                }
                if (j > i && recordEnd - start > READ_CHUNK_BYTES) break;
                bytes += entryBytes;
                end = recordEnd;
                j++;
            }
            readRecords(seg, i, j, start, end, out);
            i = j;
            if (full) return out;
        }
        for (; i < hi; i++) {
            Entry e = cache.get(i);
            bytes += e.sizeBytes();
            if (!out.isEmpty() && bytes > maxBytes) break;
            out.add(e);
        }
        return out;
    }

    private long recordEnd(long i) {
        return recordEnd(i, segments.get(segmentSlot(i)));
    }

    private long recordEnd(long i, Segment seg) {
        return i == seg.lastIndex ? seg.size : index.position(i + 1);
    }

    /** Reads records [i, j) of a segment, stored in bytes [start, end), into out, checking each. */
    private void readRecords(Segment seg, long i, long j, long start, long end, List<Entry> out) {
        if (i == j) return;
        try {
            if (seg == active && end > activeFlushed) {
                try {
                    flushWriteBuffer();
                } catch (IOException e) {
                    throw fail("write before a read", seg.path, e);
                }
            }
            if (seg.channel == null) seg.channel = FileChannel.open(seg.path, StandardOpenOption.READ);
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(end - start));
            if (!Format.readFully(seg.channel, b, start)) {
                throw new CorruptLogException(seg.path, start + b.position(), "the file ends before the indexed records");
            }
            byte[] a = b.array();
            int off = 0;
            for (long k = i; k < j; k++) {
                long recordStart = start + off;
                int length = b.getInt(off);
                long expectedLength = recordEnd(k, seg) - recordStart - Format.RECORD_HEADER_BYTES;
                if (length != expectedLength) {
                    throw new CorruptLogException(seg.path, recordStart, "record length " + length + " read back, "
                            + expectedLength + " when written");
                }
                crc.reset();
                crc.update(a, off, 4);
                crc.update(a, off + 8, Format.RECORD_HEADER_BYTES - 8 + length);
                int computed = (int) crc.getValue();
                int stored = b.getInt(off + 4);
                long idx = b.getLong(off + 8);
                long term = b.getLong(off + 16);
                EntryType type = Format.entryType(b.get(off + 24));
                if (stored != computed || idx != k || term != index.term(k) || type == null) {
                    throw new CorruptLogException(seg.path, recordStart, "record read back does not match (checksum stored "
                            + Integer.toHexString(stored) + " computed " + Integer.toHexString(computed) + ", index " + idx
                            + " expected " + k + ", term " + term + " expected " + index.term(k) + ")");
                }
                byte[] data = Arrays.copyOfRange(a, off + Format.RECORD_HEADER_BYTES, off + Format.RECORD_HEADER_BYTES + length);
                out.add(new Entry(k, term, type, data));
                off += Format.RECORD_HEADER_BYTES + length;
            }
        } catch (IOException e) {
            throw new StorageException("cannot read " + seg.path + " at offset " + start + ": " + e, e);
        }
    }

    /** Position in {@code segments} of the segment holding index i (the last one with base <= i). */
    private int segmentSlot(long i) {
        int lo = 0;
        int hi = segments.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (segments.get(mid).base <= i) lo = mid;
            else hi = mid - 1;
        }
        Segment seg = segments.get(lo);
        if (i < seg.base || i > seg.lastIndex) throw new IllegalStateException("no segment holds index " + i);
        return lo;
    }

    @Override
    public SnapshotMeta snapshot() {
        return snapshot;
    }

    /**
     * A chunk of the current snapshot's data (as {@link dev.keel.core.MemoryStorage}: only the
     * snapshot returned by {@link #snapshot()} is served), read from the snapshot store; null if
     * {@code snapshotIndex} is not the current snapshot or its file is gone.
     */
    @Override
    public byte[] snapshotChunk(long snapshotIndex, long offset, int maxBytes) {
        if (snapshotIndex != snapshot.index()) return null;
        if (snapshot.isNone()) return new byte[0];
        return store.readChunk(snapshot, offset, maxBytes);
    }

    /** The snapshot store in this log's directory. */
    public SnapshotStore snapshots() {
        return store;
    }

    /** What {@link #open} changed while recovering (a torn tail cut, temporary files removed, ...). */
    public RecoveryReport recoveryReport() {
        return recoveryReport;
    }

    /**
     * Heap bytes used by the offset index (8 bytes per entry plus growth headroom, 16 per term
     * change) and the entry cache (at most {@link StorageConfig#cacheBytes()} plus 8 bytes per
     * ring slot).
     */
    public long memoryBytes() {
        return index.memoryBytes() + cache.memoryBytes();
    }

    /** For tests: the background writer of zeros ahead of the active segment, or null when sync is off. */
    SegmentPreallocator preallocator() {
        return preallocator;
    }

    /** The data directory. */
    public Path directory() {
        return dir;
    }

    /** True once a write-path IO error has failed this log (see {@link StorageFailedException}). */
    public boolean failed() {
        return failure != null;
    }

    /**
     * For tests and the simulator: stops as a killed process would, releasing the files and the
     * lock without flushing buffered writes or syncing. What was written but not synced may or may
     * not be there when the directory is opened again (here: whatever reached the file).
     */
    public void crash() {
        if (closed) return;
        closed = true;
        releaseResources();
    }

    /**
     * Syncs (unless failed) and releases the files and the directory lock. Entries appended
     * since the last sync are made durable here too.
     */
    @Override
    public void close() {
        if (closed) return;
        try {
            if (failure == null) sync();
        } finally {
            closed = true;
            releaseResources();
        }
    }

    private void releaseResources() {
        if (preallocator != null) preallocator.close(); // before the channels: it may be writing zeros
        for (Segment seg : segments) closeQuietly(seg.channel);
        try {
            if (lock.isValid()) lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockChannel);
        OPEN_DIRECTORIES.remove(lockKey);
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do: the data was synced or is abandoned
        }
    }

    /** The invariants written on the fields; cheap, checked after every structural change. */
    private void checkInvariants() {
        if (index.first() != snapshot.index() + 1) {
            throw new IllegalStateException("index first " + index.first() + " != snapshot index " + snapshot.index() + " + 1");
        }
        if (durableIndex > lastIndex()) {
            throw new IllegalStateException("durableIndex " + durableIndex + " > lastIndex " + lastIndex());
        }
        if (active != null && (active != segments.get(segments.size() - 1) || active.nextIndex() != lastIndex() + 1)) {
            throw new IllegalStateException("active segment " + active.path + " ends at " + active.lastIndex + ", lastIndex "
                    + lastIndex());
        }
    }
}
