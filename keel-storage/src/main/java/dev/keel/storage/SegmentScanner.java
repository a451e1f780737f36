package dev.keel.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Reads a segment's records sequentially for recovery, checking each one: its length fits in the
 * file, its CRC32C matches, its index is the next expected one, its term is at least the previous
 * term and its type is known. Stops at the first record that fails and reports it, leaving the
 * decision (torn tail or corruption) to the caller. Reads through one direct buffer in 4 MiB
 * windows, so a 1 GiB log is read with 256 system calls and checksummed without copying.
 * Not thread-safe; one scanner is used for all segments of one recovery.
 */
final class SegmentScanner {
    private static final int WINDOW_BYTES = 4 << 20;

    /** Called for every valid record, in order. */
    interface Visitor {
        void record(long index, long term, long position, int dataBytes);
    }

    /**
     * The first record that failed.
     *
     * @param complete true when the record is whole and its checksum matches but its content is
     *     impossible (wrong index, lower term, unknown type): a torn write cannot produce that
     */
    record BadRecord(long offset, String reason, boolean complete) {}

    /**
     * @param lastIndex index of the last valid record (base - 1 if none)
     * @param lastTerm term of the last valid record (the minTerm passed in if none)
     * @param validEnd file offset just after the last valid record
     * @param fileSize the file's size when scanned
     * @param bad the first bad record, or null if the records run cleanly to the end of the file
     */
    record Result(long lastIndex, long lastTerm, long validEnd, long fileSize, BadRecord bad) {}

    private ByteBuffer buf = ByteBuffer.allocateDirect(WINDOW_BYTES);
    private long bufStart;
    private int bufLen;
    private FileChannel ch;
    private long fileSize;
    private final CRC32C crc = new CRC32C();

    /** Reads and checks the segment header; returns its base index. Throws CorruptLogException or StorageException. */
    static long readHeader(FileChannel ch, Path file, long nameBase) throws IOException {
        long size = ch.size();
        if (size < Format.SEGMENT_HEADER_BYTES) {
            throw new CorruptLogException(file, 0, "segment header truncated: the file is " + size + " bytes, the header "
                    + Format.SEGMENT_HEADER_BYTES);
        }
        ByteBuffer h = ByteBuffer.allocate(Format.SEGMENT_HEADER_BYTES);
        Format.readFully(ch, h, 0);
        long magic = h.getLong(0);
        if (magic != Format.SEGMENT_MAGIC) {
            throw new CorruptLogException(file, 0, "bad segment magic '" + Format.magicText(magic) + "', expected '"
                    + Format.magicText(Format.SEGMENT_MAGIC) + "'");
        }
        int version = h.getInt(8);
        if (version != Format.VERSION) {
            throw new StorageException("segment " + file + " has format version " + version + ", this build reads version "
                    + Format.VERSION);
        }
        int stored = h.getInt(20);
        int computed = Format.crc(h.array(), 0, 20);
        if (stored != computed) {
            throw new CorruptLogException(file, 0, "segment header checksum mismatch (stored " + Integer.toHexString(stored)
                    + ", computed " + Integer.toHexString(computed) + ")");
        }
        long base = h.getLong(12);
        if (base != nameBase) {
            throw new CorruptLogException(file, 0, "segment header says base index " + base + " but the file name says "
                    + nameBase);
        }
        return base;
    }

    /**
     * Scans the records after the header of a segment whose first record must have index
     * {@code base}, and whose terms must be at least {@code minTerm}.
     */
    Result scan(FileChannel channel, long base, long minTerm, Visitor visitor) throws IOException {
        start(channel);
        long pos = Format.SEGMENT_HEADER_BYTES;
        long expected = base;
        long prevTerm = minTerm;
        while (pos < fileSize) {
            long left = fileSize - pos;
            // Zeros from here to the end of the file are the preallocated space past the newest
            // record (SegmentPreallocator), not a bad record. A record's index is never 0, so a
            // zero index field is the cheap test before looking at the rest.
            ensure(pos, (int) Math.min(left, Format.RECORD_HEADER_BYTES));
            if ((left < Format.RECORD_HEADER_BYTES || buf.getLong((int) (pos - bufStart) + 8) == 0) && zerosFrom(pos)) {
                return new Result(expected - 1, prevTerm, pos, fileSize, null);
            }
            if (left < Format.RECORD_HEADER_BYTES) {
                return bad(expected, prevTerm, pos, "truncated record header (" + left + " bytes before the end of the file)", false);
            }
            ensure(pos, Format.RECORD_HEADER_BYTES);
            int off = (int) (pos - bufStart);
            int length = buf.getInt(off);
            if (length < 0 || length > left - Format.RECORD_HEADER_BYTES) {
                return bad(expected, prevTerm, pos, "record length " + length + " does not fit in the "
                        + (left - Format.RECORD_HEADER_BYTES) + " bytes left in the file", false);
            }
            ensure(pos, Format.RECORD_HEADER_BYTES + length);
            off = (int) (pos - bufStart);
            int stored = buf.getInt(off + 4);
            int computed = recordCrc(off, length);
            if (stored != computed) {
                return bad(expected, prevTerm, pos, "record checksum mismatch (stored " + Integer.toHexString(stored)
                        + ", computed " + Integer.toHexString(computed) + ")", false);
            }
            long index = buf.getLong(off + 8);
            long term = buf.getLong(off + 16);
            byte type = buf.get(off + 24);
            if (index != expected) {
                return bad(expected, prevTerm, pos, "record index " + index + ", expected " + expected, true);
            }
            if (term < 1 || term < prevTerm) {
                return bad(expected, prevTerm, pos, "record term " + term + " at index " + index
                        + " is lower than the previous term " + prevTerm + " (terms never decrease in a log)", true);
            }
            if (Format.entryType(type) == null) {
                return bad(expected, prevTerm, pos, "unknown entry type " + type + " at index " + index, true);
            }
            visitor.record(index, term, pos, length);
            prevTerm = term;
            expected++;
            pos += Format.RECORD_HEADER_BYTES + length;
        }
        return new Result(expected - 1, prevTerm, pos, fileSize, null);
    }

    /** True if every byte of the file from {@code from} to its end is zero. */
    private boolean zerosFrom(long from) throws IOException {
        long p = from;
        while (p < fileSize) {
            int n = (int) Math.min(buf.capacity(), fileSize - p);
            ensure(p, n);
            int off = (int) (p - bufStart);
            int i = 0;
            for (; i + 8 <= n; i += 8) if (buf.getLong(off + i) != 0) return false;
            for (; i < n; i++) if (buf.get(off + i) != 0) return false;
            p += n;
        }
        return true;
    }

    /** Offset just after the last non-zero byte of the file (0 if it is all zeros). */
    private long nonZeroEnd() throws IOException {
        long end = fileSize;
        while (end > 0) {
            int n = (int) Math.min(buf.capacity(), end);
            long p = end - n;
            ensure(p, n);
            int off = (int) (p - bufStart);
            for (int i = n - 1; i >= 0; i--) if (buf.get(off + i) != 0) return p + i + 1;
            end = p;
        }
        return 0;
    }

    private Result bad(long expected, long prevTerm, long pos, String reason, boolean complete) {
        return new Result(expected - 1, prevTerm, pos, fileSize, new BadRecord(pos, reason, complete));
    }

    /**
     * Looks at every byte offset after {@code from} for a whole record with a valid checksum whose
     * index could belong to this log at that place (at least {@code expectedIndex}, at most one per
     * 25 bytes further) and whose term is at least {@code minTerm}. Returns its offset, or -1 if
     * there is none. Cheap checks on the 25-byte header come first; the checksum is computed only
     * for plausible candidates.
     */
    long findValidRecordAfter(FileChannel channel, long from, long expectedIndex, long minTerm) throws IOException {
        start(channel);
        long maxIndex = expectedIndex + (fileSize - from) / Format.RECORD_HEADER_BYTES + 1;
        // A valid record's header holds its non-zero index, so none starts at or after the last
        // non-zero byte: preallocated zeros at the end need not be searched byte by byte.
        long searchEnd = nonZeroEnd();
        for (long q = from + 1; q < searchEnd && q + Format.RECORD_HEADER_BYTES <= fileSize; q++) {
            ensure(q, Format.RECORD_HEADER_BYTES);
            int off = (int) (q - bufStart);
            long index = buf.getLong(off + 8);
            if (index < expectedIndex || index > maxIndex) continue;
            long term = buf.getLong(off + 16);
            if (term < Math.max(1, minTerm)) continue;
            if (Format.entryType(buf.get(off + 24)) == null) continue;
            int length = buf.getInt(off);
            if (length < 0 || length > fileSize - q - Format.RECORD_HEADER_BYTES) continue;
            ensure(q, Format.RECORD_HEADER_BYTES + length);
            off = (int) (q - bufStart);
            if (buf.getInt(off + 4) == recordCrc(off, length)) return q;
        }
        return -1;
    }

    private void start(FileChannel channel) throws IOException {
        ch = channel;
        fileSize = channel.size();
        bufStart = 0;
        bufLen = 0;
    }

    /** CRC32C over the record's length field, then index, term and type, then its data. */
    private int recordCrc(int off, int length) {
        crc.reset();
        update(off, off + 4);
        update(off + 8, off + Format.RECORD_HEADER_BYTES + length);
        return (int) crc.getValue();
    }

    private void update(int from, int to) {
        buf.limit(to).position(from);
        crc.update(buf);
        buf.limit(buf.capacity()).position(0);
    }

    /** Makes file bytes [pos, pos + n) available in the buffer. The caller checked they are inside the file. */
    private void ensure(long pos, int n) throws IOException {
        if (pos >= bufStart && pos + n <= bufStart + bufLen) return;
        if (n > buf.capacity()) buf = ByteBuffer.allocateDirect(Math.max(n, WINDOW_BYTES));
        buf.clear();
        bufStart = pos;
        long want = Math.min(buf.capacity(), fileSize - pos);
        while (buf.position() < want) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) break;
        }
        bufLen = buf.position();
        buf.clear();
        if (bufLen < n) throw new IOException("file " + ch + " ended at " + (pos + bufLen) + " while reading " + n + " bytes at " + pos);
    }
}
