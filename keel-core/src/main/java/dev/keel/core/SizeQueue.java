package dev.keel.core;

/**
 * A FIFO of (index, bytes) pairs for consecutive indexes, as primitive arrays: the leader's
 * uncommitted proposals, so committing them needs no log reads and no allocation per entry.
 */
final class SizeQueue {
    private long[] sizes = new long[64];
    private int head;
    private int count;
    private long firstIndex;

    void add(long index, long bytes) {
        if (count == 0) {
            firstIndex = index;
            head = 0;
        } else if (index != firstIndex + count) {
            throw new InvariantViolation("proposal at " + index + " does not follow " + (firstIndex + count - 1));
        }
        if (count == sizes.length) {
            long[] bigger = new long[sizes.length * 2];
            for (int i = 0; i < count; i++) bigger[i] = sizes[(head + i) % sizes.length];
            sizes = bigger;
            head = 0;
        }
        sizes[(head + count) % sizes.length] = bytes;
        count++;
    }

    /** Removes every entry at or below index and returns their total bytes. */
    long removeTo(long index) {
        long total = 0;
        while (count > 0 && firstIndex <= index) {
            total += sizes[head];
            head = (head + 1) % sizes.length;
            count--;
            firstIndex++;
        }
        return total;
    }

    void clear() {
        count = 0;
        head = 0;
    }
}
