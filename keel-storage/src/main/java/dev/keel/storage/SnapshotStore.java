package dev.keel.storage;

import dev.keel.core.Membership;
import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The state machine snapshots of one node, in the {@code snapshots/} subdirectory of its data
 * directory, each in its own file {@code snap-<index>-<term>.snap} (both 20 digits) made of a
 * header (magic, version, index, term, size, CRC32C of the data, the membership as three counted id
 * lists: voters, outgoing voters, learners; the header's own CRC32C) and the data.
 *
 * <p>Writing: {@link #begin} (the node's own state machine, streaming through
 * {@link SnapshotWriter#stream()}) or {@link #beginReceive} (InstallSnapshot chunks from the
 * leader, through {@link SnapshotWriter#write(long, byte[])}) write to a temporary file, computing
 * size and checksum on the way, never holding the snapshot in memory. {@link SnapshotWriter#commit()}
 * forces the file, renames it to its final name atomically and forces the directory, and only
 * then deletes the snapshots beyond the newest {@code keepSnapshots}. A crash at any point leaves
 * the earlier snapshots usable; temporary files are ignored and deleted when the store is opened.
 *
 * <p>Thread-safety: all methods may be called from any thread (a state machine writes its
 * snapshot on its own thread while the driver keeps using the log); one {@link SnapshotWriter}
 * must be used by one thread at a time.
 */
public final class SnapshotStore {
    /** magic 8, version 4, index 8, term 8, sizeBytes 8, crc32c 4; then the membership, then the header CRC32C. */
    static final int FIXED_HEADER_BYTES = 40;
    /**
     * Bytes of a header beyond its member ids: the fixed part, three counts (voters, outgoing,
     * learners) and the header CRC32C.
     */
    static final int HEADER_OVERHEAD_BYTES = FIXED_HEADER_BYTES + 3 * 4 + 4;
    /** Bound on the member ids (voters + outgoing + learners) a header may hold. */
    static final int MAX_MEMBERS = 4096;
    private static final String[] MEMBER_LISTS = {"voter", "outgoing voter", "learner"};
    private static final Comparator<Stored> ORDER =
            Comparator.comparingLong((Stored s) -> s.meta.index()).thenComparingLong(s -> s.meta.term());

    /** A committed snapshot file. */
    record Stored(SnapshotMeta meta, Path file, int headerBytes) {}

    private final Path dir;
    private final int keepSnapshots;
    private final boolean sync;
    /** Committed snapshots, oldest first. Guarded by this. */
    private final ArrayList<Stored> stored = new ArrayList<>();

    private SnapshotStore(Path dir, int keepSnapshots, boolean sync) {
        this.dir = dir;
        this.keepSnapshots = keepSnapshots;
        this.sync = sync;
    }

    /**
     * Opens the store in {@code dir} (created if missing), checking every snapshot file's header.
     * Modifies nothing: temporary files are deleted only by {@link #deleteTempFiles()}.
     *
     * @throws CorruptSnapshotException naming the file whose header is bad
     */
    static SnapshotStore open(Path dir, int keepSnapshots, boolean sync) {
        SnapshotStore store = new SnapshotStore(dir, keepSnapshots, sync);
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "snap-*.snap")) {
                for (Path f : ds) store.stored.add(readHeader(f));
            }
        } catch (IOException e) {
            throw new StorageException("cannot read snapshot directory " + dir + ": " + e, e);
        }
        store.stored.sort(ORDER);
        return store;
    }

    /** Deletes temporary files left by writes that never committed; returns them. */
    synchronized List<Path> deleteTempFiles() throws IOException {
        List<Path> deleted = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + Format.TEMP_SUFFIX)) {
            for (Path f : ds) deleted.add(f);
        }
        for (Path f : deleted) Files.deleteIfExists(f);
        return deleted;
    }

    Path directory() {
        return dir;
    }

    static String fileName(long index, long term) {
        return String.format("snap-%020d-%020d.snap", index, term);
    }

    static byte[] encodeHeader(SnapshotMeta meta) {
        int[][] lists = memberLists(meta.membership());
        ByteBuffer b = ByteBuffer.allocate(headerBytes(meta.membership()));
        b.putLong(Format.SNAPSHOT_MAGIC).putInt(Format.VERSION).putLong(meta.index()).putLong(meta.term())
                .putLong(meta.sizeBytes()).putInt(meta.crc32c());
        for (int[] ids : lists) {
            b.putInt(ids.length);
            for (int id : ids) b.putInt(id);
        }
        b.putInt(Format.crc(b.array(), 0, b.capacity() - 4));
        return b.array();
    }

    /** The header's size for a snapshot of this membership. */
    static int headerBytes(Membership membership) {
        int members = 0;
        for (int[] ids : memberLists(membership)) members += ids.length;
        return headerBytes(members);
    }

    /** The header's size when its three lists hold {@code members} ids in all. */
    static int headerBytes(int members) {
        return HEADER_OVERHEAD_BYTES + 4 * members;
    }

    /** Voters, outgoing voters, learners: the header's three lists, in order (sorted, as Membership keeps them). */
    private static int[][] memberLists(Membership m) {
        if (m == null) throw new IllegalArgumentException("a snapshot file needs a membership");
        return new int[][] {m.voters(), m.outgoing(), m.learners()};
    }

    /** Reads and checks a snapshot file's header and size. */
    static Stored readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            ByteBuffer fixed = ByteBuffer.allocate(FIXED_HEADER_BYTES);
            if (!Format.readFully(ch, fixed, 0)) {
                throw new CorruptSnapshotException(file, "header truncated: the file is " + fileSize + " bytes");
            }
            long magic = fixed.getLong(0);
            if (magic != Format.SNAPSHOT_MAGIC) {
                throw new CorruptSnapshotException(file, "bad magic '" + Format.magicText(magic) + "', expected '"
                        + Format.magicText(Format.SNAPSHOT_MAGIC) + "'");
            }
            int version = fixed.getInt(8);
            if (version != Format.VERSION) {
                throw new StorageException("snapshot " + file + " has format version " + version + ", this build reads version "
                        + Format.VERSION);
            }
            // The three counts, each read where the previous list ends and bounded before anything is sized by it.
            int[] counts = new int[MEMBER_LISTS.length];
            int members = 0;
            long pos = FIXED_HEADER_BYTES;
            ByteBuffer count = ByteBuffer.allocate(4);
            for (int p = 0; p < counts.length; p++) {
                count.clear();
                if (!Format.readFully(ch, count, pos)) {
                    throw new CorruptSnapshotException(file, "header truncated: the file is " + fileSize + " bytes");
                }
                int n = count.getInt(0);
                if (n < 0 || n > MAX_MEMBERS - members) {
                    throw new CorruptSnapshotException(file, "header holds an impossible " + MEMBER_LISTS[p] + " count " + n);
                }
                counts[p] = n;
                members += n;
                pos += 4 + 4L * n;
            }
            ByteBuffer h = ByteBuffer.allocate(headerBytes(members));
            if (!Format.readFully(ch, h, 0)) {
                throw new CorruptSnapshotException(file, "header truncated: the file is " + fileSize + " bytes");
            }
            int stored = h.getInt(h.capacity() - 4);
            int computed = Format.crc(h.array(), 0, h.capacity() - 4);
            if (stored != computed) {
                throw new CorruptSnapshotException(file, "header checksum mismatch (stored " + Integer.toHexString(stored)
                        + ", computed " + Integer.toHexString(computed) + ")");
            }
            h.position(FIXED_HEADER_BYTES);
            int[][] lists = new int[counts.length][];
            for (int p = 0; p < counts.length; p++) {
                h.getInt(); // the count, read above
                lists[p] = new int[counts[p]];
                for (int i = 0; i < counts[p]; i++) {
                    lists[p][i] = h.getInt();
                    // Written sorted: anything else is not a header this store wrote.
                    if (i > 0 && lists[p][i] <= lists[p][i - 1]) {
                        throw new CorruptSnapshotException(file, "header holds " + MEMBER_LISTS[p] + " ids out of order: "
                                + lists[p][i - 1] + " then " + lists[p][i]);
                    }
                }
            }
            SnapshotMeta meta;
            try {
                meta = new SnapshotMeta(h.getLong(12), h.getLong(20), new Membership(lists[0], lists[1], lists[2]),
                        h.getLong(28), h.getInt(36));
            } catch (IllegalArgumentException e) {
                throw new CorruptSnapshotException(file, "header holds an impossible value: " + e.getMessage());
            }
            if (meta.isNone()) throw new CorruptSnapshotException(file, "header holds snapshot index 0");
            if (!file.getFileName().toString().equals(fileName(meta.index(), meta.term()))) {
                throw new CorruptSnapshotException(file, "header says index " + meta.index() + " term " + meta.term()
                        + ", which does not match the file name");
            }
            if (fileSize != h.capacity() + meta.sizeBytes()) {
                throw new CorruptSnapshotException(file, "the file is " + fileSize + " bytes but its header says "
                        + h.capacity() + " + " + meta.sizeBytes());
            }
            return new Stored(meta, file, h.capacity());
        }
    }

    /**
     * Starts writing a snapshot of the state machine's state as of applied index {@code index}
     * (whose entry has term {@code term}), with the cluster configuration {@code membership} as of
     * that index (stored whole in the header: voters, outgoing voters, learners). Write the data to
     * {@link SnapshotWriter#stream()}, then {@link SnapshotWriter#commit()}.
     */
    public SnapshotWriter begin(long index, long term, Membership membership) {
        if (index < 1) throw new IllegalArgumentException("snapshot index must be positive");
        if (membership == null) throw new IllegalArgumentException("snapshot " + index + " without a membership");
        SnapshotMeta shape = new SnapshotMeta(index, term, membership, 0, 0); // validates
        return new SnapshotWriter(this, shape, null);
    }

    /** {@link #begin(long, long, Membership)} with a configuration of just these voters. */
    public SnapshotWriter begin(long index, long term, int[] voters) {
        return begin(index, term, Membership.of(voters));
    }

    /**
     * Starts receiving the snapshot the leader described as {@code expected}
     * (InstallSnapshot, Figure 13), chunk by chunk through {@link SnapshotWriter#write(long, byte[])}.
     * {@link SnapshotWriter#commit()} checks the received size and CRC32C against it.
     */
    public SnapshotWriter beginReceive(SnapshotMeta expected) {
        if (expected.isNone()) throw new IllegalArgumentException("cannot receive " + expected);
        return new SnapshotWriter(this, expected, expected);
    }

    /** The newest committed snapshot (highest index, then term), or {@link SnapshotMeta#NONE}. */
    public synchronized SnapshotMeta latest() {
        return stored.isEmpty() ? SnapshotMeta.NONE : stored.get(stored.size() - 1).meta;
    }

    /** All kept snapshots, oldest first. */
    public synchronized List<SnapshotMeta> list() {
        return stored.stream().map(Stored::meta).toList();
    }

    synchronized Stored find(long index, long term) {
        for (int i = stored.size() - 1; i >= 0; i--) {
            Stored s = stored.get(i);
            if (s.meta.index() == index && s.meta.term() == term) return s;
        }
        return null;
    }

    /**
     * The data of a kept snapshot, checked as it is read: when the last byte has been read the
     * CRC32C and size are compared with {@code meta} and a mismatch throws
     * {@link CorruptSnapshotException} (from that final read). The header is checked on opening.
     *
     * @throws StorageException if that snapshot is not kept (any more)
     */
    public InputStream open(SnapshotMeta meta) {
        Stored s = find(meta.index(), meta.term());
        if (s == null || !s.meta.equals(meta)) throw new StorageException("snapshot " + meta + " is not kept in " + dir);
        try {
            Stored now = readHeader(s.file);
            if (!now.meta.equals(meta)) {
                throw new CorruptSnapshotException(s.file, "header now says " + now.meta + ", expected " + meta);
            }
            return new CheckedInput(s.file, FileChannel.open(s.file, StandardOpenOption.READ), s.headerBytes, meta);
        } catch (NoSuchFileException e) {
            throw new StorageException("snapshot " + meta + " is not kept in " + dir + " (deleted)", e);
        } catch (IOException e) {
            throw new StorageException("cannot read snapshot " + s.file + ": " + e, e);
        }
    }

    /** Reads a whole snapshot and checks it against its header; throws CorruptSnapshotException. */
    void verify(SnapshotMeta meta) {
        byte[] buf = new byte[1 << 20];
        try (InputStream in = open(meta)) {
            while (in.read(buf) >= 0) {
                // CheckedInput verifies at the end
            }
        } catch (IOException e) {
            throw new StorageException("cannot read snapshot " + meta + ": " + e, e);
        }
    }

    /**
     * Up to {@code maxBytes} of the data of the kept snapshot with last included index
     * {@code index}, from {@code offset}; an empty array at (or past) the end; null if no such
     * snapshot is kept. Chunks are not checked here: the receiver checks the whole transfer.
     */
    public byte[] readChunk(long index, long offset, int maxBytes) {
        Stored s;
        synchronized (this) {
            s = null;
            for (int i = stored.size() - 1; i >= 0 && s == null; i--) {
                if (stored.get(i).meta.index() == index) s = stored.get(i);
            }
        }
        return s == null ? null : readChunk(s, offset, maxBytes);
    }

    byte[] readChunk(SnapshotMeta meta, long offset, int maxBytes) {
        Stored s = find(meta.index(), meta.term());
        return s == null ? null : readChunk(s, offset, maxBytes);
    }

    private static byte[] readChunk(Stored s, long offset, int maxBytes) {
        if (offset < 0 || maxBytes < 0) throw new IllegalArgumentException("offset " + offset + ", maxBytes " + maxBytes);
        long from = Math.min(offset, s.meta.sizeBytes());
        int n = (int) Math.min(maxBytes, s.meta.sizeBytes() - from);
        byte[] out = new byte[n];
        try (FileChannel ch = FileChannel.open(s.file, StandardOpenOption.READ)) {
            if (!Format.readFully(ch, ByteBuffer.wrap(out), s.headerBytes + from)) {
                throw new CorruptSnapshotException(s.file, "the file ends before offset " + (from + n) + " of the data");
            }
            return out;
        } catch (NoSuchFileException e) {
            return null; // replaced by a newer snapshot meanwhile
        } catch (IOException e) {
            throw new StorageException("cannot read snapshot " + s.file + ": " + e, e);
        }
    }

    /** Moves a finished temporary file to its final name and applies the retention. Called by SnapshotWriter. */
    synchronized SnapshotMeta install(Path tmp, SnapshotMeta meta, int headerBytes) throws IOException {
        Path target = dir.resolve(fileName(meta.index(), meta.term()));
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE); // replaces a file of the same index and term
        if (sync) Format.forceDirectory(dir);
        stored.removeIf(s -> s.file.equals(target));
        stored.add(new Stored(meta, target, headerBytes));
        stored.sort(ORDER);
        // Only after the new snapshot is durable: delete the oldest beyond the retention.
        while (stored.size() > keepSnapshots) {
            Stored old = stored.remove(0);
            Files.deleteIfExists(old.file);
        }
        return meta;
    }

    Path tempFile(long index, long term) throws IOException {
        return Files.createTempFile(dir, "snap-" + index + "-" + term + "-", Format.TEMP_SUFFIX);
    }

    boolean sync() {
        return sync;
    }

    /** Streams a snapshot's data, verifying size and CRC32C when the end is reached. */
    private static final class CheckedInput extends InputStream {
        private final Path file;
        private final FileChannel ch;
        private final SnapshotMeta meta;
        private final CRC32C crc = new CRC32C();
        private long position;
        private long remaining;
        private boolean verified;

        CheckedInput(Path file, FileChannel ch, int headerBytes, SnapshotMeta meta) {
            this.file = file;
            this.ch = ch;
            this.meta = meta;
            this.position = headerBytes;
            this.remaining = meta.sizeBytes();
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (remaining == 0) {
                verify();
                return -1;
            }
            int want = (int) Math.min(len, remaining);
            int n = ch.read(ByteBuffer.wrap(b, off, want), position);
            if (n < 0) {
                throw new CorruptSnapshotException(file, "the file ends " + remaining + " bytes before the size in its header");
            }
            crc.update(b, off, n);
            position += n;
            remaining -= n;
            if (remaining == 0) verify(); // before the caller sees the last bytes
            return n;
        }

        private void verify() {
            if (verified) return;
            int computed = (int) crc.getValue();
            if (computed != meta.crc32c()) {
                throw new CorruptSnapshotException(file, "data checksum mismatch (header " + Integer.toHexString(meta.crc32c())
                        + ", computed " + Integer.toHexString(computed) + ")");
            }
            verified = true;
        }

        @Override
        public long skip(long n) throws IOException {
            // Skipping would bypass the checksum: read through instead.
            return super.skip(n);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
