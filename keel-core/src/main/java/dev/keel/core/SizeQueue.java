package dev.keel.core;

/**
 * A FIFO of (index, bytes) pairs with increasing indexes, as primitive arrays: the leader's
 * uncommitted proposals (configuration entries and no-ops leave gaps), so committing them needs
 * no log reads and no allocation per entry.
 */
final class SizeQueue {
    private long[] indexes = new long[64];
    private long[] sizes = new long[64];
    private int head;
    private int count;

    void add(long index, long bytes) {
        if (count > 0 && index <= indexes[(head + count - 1) % indexes.length]) {
            throw new InvariantViolation("proposal at " + index + " does not follow "
                    + indexes[(head + count - 1) % indexes.length]);
        }
        if (count == indexes.length) {
            long[] bi = new long[indexes.length * 2];
            long[] bs = new long[sizes.length * 2];
            for (int i = 0; i < count; i++) {
                bi[i] = indexes[(head + i) % indexes.length];
                bs[i] = sizes[(head + i) % sizes.length];
            }
            indexes = bi;
            sizes = bs;
            head = 0;
        }
        int slot = (head + count) % indexes.length;
        indexes[slot] = index;
        sizes[slot] = bytes;
        count++;
    }

    /** Removes every entry at or below index and returns their total bytes. */
    long removeTo(long index) {
        long total = 0;
        while (count > 0 && indexes[head] <= index) {
            total += sizes[head];
            head = (head + 1) % indexes.length;
            count--;
        }
        return total;
    }

    void clear() {
        count = 0;
        head = 0;
    }
}
