package dev.keel.storage;

import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Constants and codecs of the on-disk format (described in FORMAT.md) shared by the log, the
 * small metadata files and the snapshot store, plus the two file system idioms every durable
 * write here relies on. All integers are big-endian. Decoders check magic, then version, then the
 * checksum, and report expected vs actual.
 */
final class Format {
    private Format() {}

    /** Format version of every file this build writes and the only one it reads. */
    static final int VERSION = 1;

    static final long SEGMENT_MAGIC = magic("KEEL.LOG");
    static final long HARD_STATE_MAGIC = magic("KEEL.HST");
    static final long IDENTITY_MAGIC = magic("KEEL.IDN");
    static final long SNAPSHOT_MAGIC = magic("KEEL.SNP");

    /** magic 8, version 4, base index 8, header CRC32C 4. */
    static final int SEGMENT_HEADER_BYTES = 24;
    /** length 4, CRC32C 4, index 8, term 8, type 1; then {@code length} bytes of entry data. */
    static final int RECORD_HEADER_BYTES = 25;
    /** magic 8, version 4, currentTerm 8, votedFor 4, commitIndex 8, CRC32C 4. */
    static final int HARD_STATE_BYTES = 36;

    static final String IDENTITY_FILE = "keel.id";
    static final String HARD_STATE_FILE = "hardstate";
    static final String LOCK_FILE = "LOCK";
    static final String SNAPSHOT_DIR = "snapshots";
    static final String TEMP_SUFFIX = ".tmp";

    private static long magic(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        if (b.length != 8) throw new IllegalArgumentException(s);
        return ByteBuffer.wrap(b).getLong();
    }

    static String magicText(long magic) {
        byte[] b = ByteBuffer.allocate(8).putLong(magic).array();
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(x >= 0x20 && x < 0x7f ? (char) x : '?');
        return sb.toString();
    }

    static byte typeCode(EntryType type) {
        return switch (type) {
            case NORMAL -> 0;
            case NOOP -> 1;
            case CONFIG -> 2;
        };
    }

    /** The entry type of a record type byte, or null if unknown. */
    static EntryType entryType(byte code) {
        return switch (code) {
            case 0 -> EntryType.NORMAL;
            case 1 -> EntryType.NOOP;
            case 2 -> EntryType.CONFIG;
            default -> null;
        };
    }

    static String segmentName(long baseIndex) {
        return String.format("log-%020d.seg", baseIndex);
    }

    /** Base index from a segment file name, or -1 if the name is not one. */
    static long segmentBase(String name) {
        if (name.length() != 28 || !name.startsWith("log-") || !name.endsWith(".seg")) return -1;
        String digits = name.substring(4, 24);
        for (int i = 0; i < digits.length(); i++) {
            if (!Character.isDigit(digits.charAt(i))) return -1;
        }
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    static byte[] segmentHeader(long baseIndex) {
        ByteBuffer b = ByteBuffer.allocate(SEGMENT_HEADER_BYTES);
        b.putLong(SEGMENT_MAGIC).putInt(VERSION).putLong(baseIndex);
        b.putInt(crc(b.array(), 0, 20));
        return b.array();
    }

    // ---- hard state file ----

    static byte[] encodeHardState(HardState hs) {
        ByteBuffer b = ByteBuffer.allocate(HARD_STATE_BYTES);
        b.putLong(HARD_STATE_MAGIC).putInt(VERSION).putLong(hs.currentTerm()).putInt(hs.votedFor()).putLong(hs.commitIndex());
        b.putInt(crc(b.array(), 0, HARD_STATE_BYTES - 4));
        return b.array();
    }

    static HardState readHardState(Path file) {
        byte[] b = readSmallFile(file, "hard state file", 4096);
        ByteBuffer bb = ByteBuffer.wrap(b);
        if (b.length >= 8 && bb.getLong(0) != HARD_STATE_MAGIC) {
            throw new StorageException("hard state file " + file + " has magic '" + magicText(bb.getLong(0))
                    + "', expected '" + magicText(HARD_STATE_MAGIC) + "'");
        }
        if (b.length >= 12 && bb.getInt(8) != VERSION) {
            throw new StorageException("hard state file " + file + " has format version " + bb.getInt(8)
                    + ", this build reads version " + VERSION);
        }
        if (b.length != HARD_STATE_BYTES) {
            throw new StorageException("hard state file " + file + " is corrupt: " + b.length + " bytes, expected "
                    + HARD_STATE_BYTES);
        }
        int stored = bb.getInt(HARD_STATE_BYTES - 4);
        int computed = crc(b, 0, HARD_STATE_BYTES - 4);
        if (stored != computed) {
            throw new StorageException("hard state file " + file + " is corrupt: checksum mismatch (stored "
                    + Integer.toHexString(stored) + ", computed " + Integer.toHexString(computed) + ")");
        }
        long term = bb.getLong(12);
        int votedFor = bb.getInt(20);
        long commit = bb.getLong(24);
        try {
            return new HardState(term, votedFor, commit);
        } catch (IllegalArgumentException e) {
            throw new StorageException("hard state file " + file + " holds an impossible value: " + e.getMessage());
        }
    }

    // ---- identity file ----

    record Identity(int nodeId, String clusterId) {}

    static byte[] encodeIdentity(int version, int nodeId, String clusterId) {
        byte[] id = clusterId.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + 4 + 2 + id.length + 4);
        b.putLong(IDENTITY_MAGIC).putInt(version).putInt(nodeId).putShort((short) id.length).put(id);
        b.putInt(crc(b.array(), 0, b.capacity() - 4));
        return b.array();
    }

    static Identity readIdentity(Path file) {
        byte[] b = readSmallFile(file, "identity file", 4096);
        ByteBuffer bb = ByteBuffer.wrap(b);
        if (b.length < 8 || bb.getLong(0) != IDENTITY_MAGIC) {
            throw new StorageException("identity file " + file + " is not a Keel identity file (magic '"
                    + (b.length < 8 ? "" : magicText(bb.getLong(0))) + "', expected '" + magicText(IDENTITY_MAGIC) + "')");
        }
        if (b.length < 12 || bb.getInt(8) != VERSION) {
            throw new StorageException("identity file " + file + " has format version "
                    + (b.length < 12 ? "(truncated)" : String.valueOf(bb.getInt(8))) + ", this build reads version " + VERSION);
        }
        int idLength = b.length >= 18 ? bb.getShort(16) : -1;
        if (idLength < 1 || idLength > 64 || b.length != 18 + idLength + 4) {
            throw new StorageException("identity file " + file + " is corrupt: " + b.length + " bytes with cluster id length "
                    + idLength);
        }
        int stored = bb.getInt(b.length - 4);
        int computed = crc(b, 0, b.length - 4);
        if (stored != computed) {
            throw new StorageException("identity file " + file + " is corrupt: checksum mismatch (stored "
                    + Integer.toHexString(stored) + ", computed " + Integer.toHexString(computed) + ")");
        }
        return new Identity(bb.getInt(12), new String(b, 18, idLength, StandardCharsets.US_ASCII));
    }

    private static byte[] readSmallFile(Path file, String what, int maxBytes) {
        try {
            long size = Files.size(file);
            if (size > maxBytes) throw new StorageException(what + " " + file + " is corrupt: " + size + " bytes");
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new StorageException(what + " " + file + " is missing", e);
        } catch (IOException e) {
            throw new StorageException(what + " " + file + " cannot be read: " + e, e);
        }
    }

    // ---- file system idioms ----

    /**
     * Replaces {@code dir/name} with {@code bytes} so that after a crash either the old or the new
     * content is there, never a mix: write a temporary file, force it, rename it over the old one
     * (atomic on POSIX), force the directory so the rename itself is durable.
     */
    static void writeAtomically(Path dir, String name, byte[] bytes, boolean sync) throws IOException {
        Path tmp = dir.resolve(name + TEMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.wrap(bytes), 0);
            if (sync) ch.force(true);
        }
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
        if (sync) forceDirectory(dir);
    }

    /** Makes file creations, renames and deletions in {@code dir} durable (Linux: fsync on the directory). */
    static void forceDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        while (b.hasRemaining()) position += ch.write(b, position);
    }

    /** Reads exactly b.remaining() bytes at position; false if the file ends first. */
    static boolean readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, position);
            if (n < 0) return false;
            position += n;
        }
        return true;
    }
}
