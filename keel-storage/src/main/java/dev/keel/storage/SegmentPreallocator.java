package dev.keel.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps the active segment's file written with zeros a little ahead of the log's end, from a
 * background thread, so that the appends the log syncs land on blocks the file already owns.
 *
 * <p><b>Why.</b> An {@code fdatasync} after an append that grows a file must also commit the new
 * size and block allocation to the file system's journal; after a write into blocks already
 * written and synced it flushes the data alone. On this project's ext4 machines that is about 275
 * us against 190 us per sync (measured in the same run), and the commit path waits for a sync on
 * the leader and on a follower. Writing zeros ahead and syncing them off the commit path moves the
 * metadata work out of it. Recovery treats a run of zeros reaching the end of a segment as its
 * clean end ({@link SegmentScanner}).
 *
 * <p><b>Safety.</b> The log thread writes its records at {@code [dataEnd, end)}; this thread writes
 * zeros only at or after {@link #zeroEnd}, the end of what is written in the file (records or
 * zeros), and only while holding {@link #lock}. A log write that stays below {@code zeroEnd} needs
 * no lock: zeros are never written there again. A log write reaching past it (the log outran the
 * zeros) takes the lock, so the two never overlap and zeros never overwrite a record. Switching or
 * truncating the target file also happens under the lock.
 *
 * <p>The zeros go through the page cache, so a log sync that overlaps a chunk also flushes it.
 * Writing them with {@code O_DIRECT} instead was tried and measured worse (single-client p50 up
 * from about 470 to 620 us): a direct write that extends the file holds the inode lock until the
 * disk has it, stalling the log thread's own writes.
 *
 * <p><b>Only when the log is slow.</b> The zeros double the bytes written. When the log itself
 * writes fast (above {@link #MAX_RATE_BYTES_PER_SECOND}), many entries share each sync (group
 * commit), so the metadata a sync commits costs little per entry, while the disk's bandwidth is
 * what limits: three colocated nodes writing 1 KiB entries at 256 in flight moved about 500 MB/s
 * with the zeros against 839 MB/s the disk syncs. So above that rate the zeros pause (for
 * {@link #PAUSE_NANOS}, then the rate is measured again) and the log grows its file as it would
 * without them.
 *
 * <p>Costs: each byte of the log is written twice (zeros, then the record), on a background
 * thread and outside any sync the commit path waits for; up to {@link #AHEAD_BYTES} of disk per
 * log beyond its records. A zero write or its sync failing stops preallocation (the log goes on
 * without it, and its own next write or sync reports the disk's failure).
 */
final class SegmentPreallocator implements AutoCloseable {
    /** Zeros are kept at least this far ahead of the log's end. */
    static final long AHEAD_BYTES = 2 << 20;
    /** Above this rate of log writes, preallocation pauses (see the class comment). */
    static final long MAX_RATE_BYTES_PER_SECOND = 32L << 20;
    /** How long a pause lasts; also the shortest interval the rate is measured over. */
    static final long PAUSE_NANOS = 100_000_000L;
    /**
     * One zero write (then one sync) extends the file by this much. Small, because a commit's sync
     * that comes between a zero write and its sync must write those zeros out too (they are dirty
     * pages of the same file): with 1 MiB chunks that added about a millisecond to those commits.
     * Measured, 1 KiB at 16 in flight, 3 rounds each: p99 3.0-3.8 ms with 1 MiB, 2.0-2.5 with
     * 256 KiB, 1.9-2.9 with 128 KiB, for 5-10% less throughput (more syncs of zeros); one client's
     * p50 unchanged.
     */
    static final int CHUNK_BYTES = 128 << 10;

    private final Object lock = new Object();
    /** The file being preallocated, or null. Written under lock. */
    private volatile FileChannel channel;
    /** Never preallocate past this (the segment's size limit). Written under lock. */
    private volatile long limit;
    /** Bytes [0, zeroEnd) of the channel's file are written (records or zeros). Written under lock. */
    private volatile long zeroEnd;
    /** End of the records the log thread has written. */
    private volatile long dataEnd;
    private final AtomicBoolean wanted = new AtomicBoolean();
    private volatile boolean closed;
    private volatile IOException failure;
    /** No zeros before this System.nanoTime(): the log was writing fast. */
    private volatile long pausedUntilNanos;
    /** Start of the current rate measurement, and dataEnd then. Preallocation thread only. */
    private long windowStartNanos = System.nanoTime();
    private long windowStartDataEnd;
    /** True from taking a request until its round of work is done (see {@link #awaitIdle}). */
    private volatile boolean working;
    /** Notified after every round of work, for {@link #awaitIdle}. */
    private final Object idle = new Object();
    private final ByteBuffer zeros = ByteBuffer.allocateDirect(CHUNK_BYTES);
    private final Thread thread;

    SegmentPreallocator(String name) {
        thread = Thread.ofPlatform().daemon().name(name).start(this::run);
    }

    /**
     * Makes {@code ch} the file to preallocate (null: none); its records end at {@code dataEnd} and
     * everything in it up to its current size is written. Called by the log thread when the active
     * segment changes, before it is truncated or closed.
     */
    void attach(FileChannel ch, long dataEnd, long limit) throws IOException {
        synchronized (lock) {
            channel = ch;
            this.limit = limit;
            this.dataEnd = dataEnd;
            zeroEnd = ch == null ? 0 : ch.size();
        }
        wake(dataEnd);
    }

    /** Stops preallocating the current file; from now on nothing is written to it from here. */
    void detach() {
        synchronized (lock) {
            channel = null;
        }
    }

    /**
     * Writes {@code parts} (a record's header and data, or the log's write buffer alone) at the
     * channel's position {@code at} for the log thread, taking the lock only if the write reaches
     * past the zeros.
     */
    void write(FileChannel ch, ByteBuffer[] parts, long at) throws IOException {
        long n = 0;
        for (ByteBuffer b : parts) n += b.remaining();
        long end = at + n;
        if (end <= zeroEnd) {
            writeAll(ch, parts, n);
        } else {
            synchronized (lock) {
                writeAll(ch, parts, n);
                if (ch == channel && end > zeroEnd) zeroEnd = end;
            }
        }
        wake(end);
    }

    private static void writeAll(FileChannel ch, ByteBuffer[] parts, long n) throws IOException {
        long left = n;
        while (left > 0) left -= ch.write(parts);
    }

    private void wake(long end) {
        dataEnd = end;
        if (zeroEnd - end < AHEAD_BYTES && failure == null && System.nanoTime() - pausedUntilNanos >= 0
                && wanted.compareAndSet(false, true)) {
            LockSupport.unpark(thread);
        }
    }

    /**
     * True if the log wrote faster than MAX_RATE_BYTES_PER_SECOND since the last measurement (at
     * least PAUSE_NANOS ago); then preallocation pauses for PAUSE_NANOS. A segment switch makes
     * dataEnd go back: that window counts as slow.
     */
    private boolean writingFast() {
        long now = System.nanoTime();
        long elapsed = now - windowStartNanos;
        if (elapsed < PAUSE_NANOS) return false;
        long written = dataEnd - windowStartDataEnd;
        windowStartNanos = now;
        windowStartDataEnd = dataEnd;
        if (written * 1e9 / elapsed > MAX_RATE_BYTES_PER_SECOND) {
            pausedUntilNanos = now + PAUSE_NANOS;
            return true;
        }
        return false;
    }

    private void run() {
        while (!closed) {
            if (!wanted.get()) {
                LockSupport.park(this);
                continue;
            }
            working = true; // before taking the request, so that one of the two is always visible
            wanted.set(false);
            try {
                extend();
            } catch (IOException e) {
                failure = e;
            }
            working = false;
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /** Writes and syncs chunks of zeros until they reach AHEAD_BYTES past the records or the limit. */
    private void extend() throws IOException {
        if (writingFast()) return;
        while (!closed && failure == null) {
            FileChannel ch;
            synchronized (lock) {
                ch = channel;
                if (ch == null) return;
                long from = zeroEnd;
                long to = Math.min(from + CHUNK_BYTES, limit);
                if (from - dataEnd >= AHEAD_BYTES || to <= from) return;
                zeros.clear().limit((int) (to - from));
                Format.writeFully(ch, zeros, from);
                zeroEnd = to;
            }
            try {
                ch.force(false); // outside the lock: the log thread's writes need not wait for it
            } catch (java.nio.channels.ClosedChannelException e) {
                return; // the log moved on (segment sealed, deleted or the log closed): nothing to do
            }
        }
    }

    /** The first error that stopped preallocation, or null. */
    IOException failure() {
        return failure;
    }

    /** For tests: waits until no work is pending (at most {@code millis}); true if so. */
    boolean awaitIdle(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        synchronized (idle) {
            while (wanted.get() || working || !(zeroEnd - dataEnd >= AHEAD_BYTES || zeroEnd >= limit || channel == null
                    || failure != null || System.nanoTime() - pausedUntilNanos < 0)) {
                long leftMillis = (deadline - System.nanoTime()) / 1_000_000L;
                if (leftMillis <= 0) return false;
                idle.wait(leftMillis); // notified at the end of every round of work
            }
            return true;
        }
    }

    /** Bytes of the current file known written (records or zeros). */
    long zeroEnd() {
        return zeroEnd;
    }

    @Override
    public void close() {
        closed = true;
        detach();
        LockSupport.unpark(thread);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
