package dev.keel.storage;

import java.util.Arrays;

/**
 * Where each entry of the log lives, and its term, in primitive arrays: the file position of entry
 * i is {@code positions[head + (i - first)]} (8 bytes per entry, plus up to as much again of growth
 * headroom), and terms are stored as runs ({@code runStart[r]} is the first index with term
 * {@code runTerm[r]}), 16 bytes per term change rather than 8 per entry, because terms change
 * only at elections. Which segment holds an entry is found from the segment list by base index.
 *
 * <p>Invariant: the tracked entries are the contiguous range [first, first + size), and runs cover
 * exactly that range: runs == 0 iff size == 0, runStart[0] <= first, runStart strictly increasing
 * and all below first + size, runTerm strictly increasing.
 */
final class LogIndex {
    private static final int MIN_CAPACITY = 1024;

    private long first = 1;
    private long[] positions = new long[MIN_CAPACITY];
    private int head;
    private int size;

    private long[] runStart = new long[16];
    private long[] runTerm = new long[16];
    private int runs;

    /** Forgets everything: the next entry added must be {@code first}. */
    void reset(long first) {
        this.first = first;
        head = 0;
        size = 0;
        runs = 0;
        if (positions.length > MIN_CAPACITY) positions = new long[MIN_CAPACITY];
    }

    long first() {
        return first;
    }

    /** The last tracked index, first - 1 when empty. */
    long last() {
        return first + size - 1;
    }

    int size() {
        return size;
    }

    void add(long index, long term, long position) {
        if (index != first + size) {
            throw new IllegalStateException("index " + index + " added after last index " + last());
        }
        if (head + size == positions.length) {
            if (head > 0 && size <= positions.length / 2) {
                System.arraycopy(positions, head, positions, 0, size);
            } else {
                long[] grown = new long[Math.max(MIN_CAPACITY, Math.multiplyExact(positions.length, 2))];
                System.arraycopy(positions, head, grown, 0, size);
                positions = grown;
            }
            head = 0;
        }
        positions[head + size] = position;
        size++;
        if (runs == 0 || runTerm[runs - 1] != term) {
            if (runs > 0 && term < runTerm[runs - 1]) {
                throw new IllegalStateException("term " + term + " at index " + index + " < previous term " + runTerm[runs - 1]);
            }
            if (runs == runStart.length) {
                runStart = Arrays.copyOf(runStart, runs * 2);
                runTerm = Arrays.copyOf(runTerm, runs * 2);
            }
            runStart[runs] = index;
            runTerm[runs] = term;
            runs++;
        }
    }

    long position(long index) {
        return positions[slot(index)];
    }

    long term(long index) {
        slot(index);
        // the last run starting at or before index
        int lo = 0;
        int hi = runs - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (runStart[mid] <= index) lo = mid;
            else hi = mid - 1;
        }
        return runTerm[lo];
    }

    private int slot(long index) {
        if (index < first || index > last()) {
            throw new IndexOutOfBoundsException("index " + index + " outside the indexed range [" + first + ", " + last() + "]");
        }
        return head + (int) (index - first);
    }

    /** Forgets the entries at and after {@code index} (suffix truncation). */
    void truncateFrom(long index) {
        if (index > last()) return;
        if (index <= first) {
            reset(first);
            return;
        }
        size = (int) (index - first);
        while (runs > 0 && runStart[runs - 1] >= index) runs--;
    }

    /** Forgets the entries up to and including {@code index} (prefix compaction); the next tracked index is index + 1. */
    void dropThrough(long index) {
        if (index < first) return;
        if (index >= last()) {
            reset(index + 1);
            return;
        }
        int n = (int) (index + 1 - first);
        head += n;
        size -= n;
        first = index + 1;
        int r = 0; // runs that end before first go
        while (r + 1 < runs && runStart[r + 1] <= first) r++;
        if (r > 0) {
            System.arraycopy(runStart, r, runStart, 0, runs - r);
            System.arraycopy(runTerm, r, runTerm, 0, runs - r);
            runs -= r;
        }
        if (positions.length > MIN_CAPACITY && size < positions.length / 4) {
            positions = Arrays.copyOfRange(positions, head, head + Math.max(MIN_CAPACITY, size * 2));
            head = 0;
        }
    }

    /** Bytes held by the arrays (their capacity, not just the used part). */
    long memoryBytes() {
        return 8L * positions.length + 16L * runStart.length;
    }
}
