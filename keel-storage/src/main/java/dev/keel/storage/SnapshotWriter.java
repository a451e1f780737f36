package dev.keel.storage;

import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * One snapshot being written to a temporary file of a {@link SnapshotStore}: either the node's own
 * (from {@link SnapshotStore#begin}, data through {@link #stream()}) or one received from the
 * leader (from {@link SnapshotStore#beginReceive}, data through {@link #write(long, byte[])}).
 * Size and CRC32C are computed while writing; nothing is held in memory beyond a 64 KiB buffer.
 * End with {@link #commit()} or {@link #abort()}; {@link #close()} aborts an uncommitted writer.
 * Use from one thread at a time.
 */
public final class SnapshotWriter implements AutoCloseable {
    private static final int BUFFER_BYTES = 64 << 10;

    private final SnapshotStore store;
    private final SnapshotMeta shape;
    /** The leader's description when receiving; null for the node's own snapshot. */
    private final SnapshotMeta expected;
    private final Path tmp;
    private final FileChannel ch;
    private final int headerBytes;
    private final CRC32C crc = new CRC32C();
    private final byte[] buffer = new byte[BUFFER_BYTES];
    private int buffered;
    /** Data bytes written to the file (after the header), not counting the buffer. */
    private long flushed;
    private OutputStream stream;
    private boolean done;

    SnapshotWriter(SnapshotStore store, SnapshotMeta shape, SnapshotMeta expected) {
        this.store = store;
        this.shape = shape;
        this.expected = expected;
        this.headerBytes = SnapshotStore.headerBytes(shape.membership());
        try {
            this.tmp = store.tempFile(shape.index(), shape.term());
            this.ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new StorageException("cannot create a temporary snapshot file in " + store.directory() + ": " + e, e);
        }
    }

    /** The temporary file being written. */
    public Path tempFile() {
        return tmp;
    }

    /** Bytes of snapshot data written so far. */
    public long bytesWritten() {
        return flushed + buffered;
    }

    /**
     * The stream to write the node's own snapshot data to. Its {@code close()} does not commit.
     *
     * @throws IllegalStateException for a received snapshot (use {@link #write(long, byte[])})
     */
    public OutputStream stream() {
        if (expected != null) throw new IllegalStateException("a received snapshot is written with write(offset, chunk)");
        checkOpen();
        if (stream == null) {
            stream = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    SnapshotWriter.this.append(b, off, len);
                }

                @Override
                public void flush() throws IOException {
                    SnapshotWriter.this.flushBuffer();
                }
            };
        }
        return stream;
    }

    /**
     * Writes a chunk of a received snapshot at {@code offset} of its data. Offsets must follow
     * each other ({@code offset == bytesWritten()}); offset 0 restarts the transfer, dropping what
     * was received before (the leader restarted it).
     *
     * @throws IllegalStateException for the node's own snapshot (use {@link #stream()})
     * @throws IllegalArgumentException when a chunk does not follow the previous one
     */
    public void write(long offset, byte[] chunk) {
        if (expected == null) throw new IllegalStateException("the node's own snapshot is written through stream()");
        checkOpen();
        try {
            if (offset == 0 && bytesWritten() > 0) {
                buffered = 0;
                flushed = 0;
                crc.reset();
                ch.truncate(headerBytes);
            }
            if (offset != bytesWritten()) {
                throw new IllegalArgumentException("snapshot chunk at offset " + offset + ", expected offset " + bytesWritten()
                        + " (or 0 to restart)");
            }
            if (bytesWritten() + chunk.length > expected.sizeBytes()) {
                throw new IllegalArgumentException("snapshot chunk at offset " + offset + " of " + chunk.length
                        + " bytes goes past the snapshot size " + expected.sizeBytes());
            }
            append(chunk, 0, chunk.length);
        } catch (IOException e) {
            throw new StorageException("cannot write snapshot " + tmp + ": " + e, e);
        }
    }

    private void append(byte[] b, int off, int len) throws IOException {
        checkOpen();
        crc.update(b, off, len);
        if (len >= BUFFER_BYTES) {
            flushBuffer();
            Format.writeFully(ch, ByteBuffer.wrap(b, off, len), headerBytes + flushed);
            flushed += len;
            return;
        }
        if (buffered + len > BUFFER_BYTES) flushBuffer();
        System.arraycopy(b, off, buffer, buffered, len);
        buffered += len;
    }

    private void flushBuffer() throws IOException {
        if (buffered == 0) return;
        Format.writeFully(ch, ByteBuffer.wrap(buffer, 0, buffered), headerBytes + flushed);
        flushed += buffered;
        buffered = 0;
    }

    /**
     * Makes the snapshot durable and visible: writes the header, forces the file, renames it to
     * its final name, forces the directory, then deletes snapshots beyond the retention. For a
     * received snapshot, first checks size and CRC32C against the leader's description.
     *
     * @return the committed snapshot's metadata
     * @throws CorruptSnapshotException if a received snapshot does not match (the temporary file is
     *     deleted, kept snapshots are untouched)
     */
    public SnapshotMeta commit() {
        checkOpen();
        try {
            flushBuffer();
            SnapshotMeta meta = new SnapshotMeta(shape.index(), shape.term(), shape.membership(), flushed, (int) crc.getValue());
            if (expected != null && (meta.sizeBytes() != expected.sizeBytes() || meta.crc32c() != expected.crc32c())) {
                abort();
                throw new CorruptSnapshotException(tmp, "received " + meta.sizeBytes() + " bytes with CRC32C "
                        + Integer.toHexString(meta.crc32c()) + ", expected " + expected.sizeBytes() + " bytes with CRC32C "
                        + Integer.toHexString(expected.crc32c()));
            }
            Format.writeFully(ch, ByteBuffer.wrap(SnapshotStore.encodeHeader(meta)), 0);
            if (store.sync()) ch.force(true);
            ch.close();
            SnapshotMeta committed = store.install(tmp, meta, headerBytes);
            done = true;
            return committed;
        } catch (IOException e) {
            abort();
            throw new StorageException("cannot commit snapshot " + tmp + ": " + e, e);
        }
    }

    /** Drops the snapshot: closes and deletes the temporary file. Idempotent. */
    public void abort() {
        if (done) return;
        done = true;
        try {
            ch.close();
        } catch (IOException ignored) {
            // deleting matters more
        }
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // left for the next open to clean
        }
    }

    /** Aborts unless committed. */
    @Override
    public void close() {
        abort();
    }

    private void checkOpen() {
        if (done) throw new IllegalStateException("snapshot writer for " + shape + " is already committed or aborted");
    }
}
