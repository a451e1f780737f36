package dev.keel.storage;

import dev.keel.core.Entry;

/**
 * The most recent entries, held in memory up to a byte budget, so that the leader replicating to
 * up-to-date followers and the node applying committed entries never read the disk. Entries are
 * kept by reference (they are immutable once built, see {@link Entry}).
 *
 * <p>Invariant: the cached entries are a contiguous range [first, first + count) ending at the
 * log's last index (or the cache is empty), and bytes == sum of cost(e) <= maxBytes.
 */
final class EntryCache {
    /**
     * Estimated heap bytes of one cached entry besides its data: the Entry object (about 40
     * bytes) and the data array's header (16). The ring's slots (8 bytes each, at most twice the
     * number of cached entries) are reported by {@link #memoryBytes()} on top of the budget.
     */
    static final int ENTRY_OVERHEAD_BYTES = 56;

    private final long maxBytes;
    private Entry[] ring = new Entry[16];
    private int head;
    private int count;
    private long bytes;

    EntryCache(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    static long cost(long dataBytes) {
        return dataBytes + ENTRY_OVERHEAD_BYTES;
    }

    /** Index of the first cached entry, or Long.MAX_VALUE when empty. */
    long firstIndex() {
        return count == 0 ? Long.MAX_VALUE : ring[head].index();
    }

    long bytes() {
        return bytes;
    }

    int count() {
        return count;
    }

    /** Adds the entry after the last cached one, evicting the oldest entries beyond the budget. */
    void add(Entry e) {
        long c = cost(e.data().length);
        if (c > maxBytes) {
            clear(); // it would not fit: keep the invariant that the cache ends at the last index
            return;
        }
        if (count > 0 && e.index() != ring[(head + count - 1) & (ring.length - 1)].index() + 1) clear();
        while (bytes + c > maxBytes) removeFirst();
        if (count == ring.length) grow();
        ring[(head + count) & (ring.length - 1)] = e;
        count++;
        bytes += c;
    }

    Entry get(long index) {
        long first = firstIndex();
        if (index < first || index >= first + count) return null;
        return ring[(head + (int) (index - first)) & (ring.length - 1)];
    }

    /** Drops cached entries at and after {@code index}. */
    void truncateFrom(long index) {
        while (count > 0) {
            int tail = (head + count - 1) & (ring.length - 1);
            if (ring[tail].index() < index) break;
            bytes -= cost(ring[tail].data().length);
            ring[tail] = null;
            count--;
        }
    }

    /** Drops cached entries up to and including {@code index}. */
    void dropThrough(long index) {
        while (count > 0 && ring[head].index() <= index) removeFirst();
    }

    void clear() {
        while (count > 0) removeFirst();
        head = 0;
    }

    private void removeFirst() {
        bytes -= cost(ring[head].data().length);
        ring[head] = null;
        head = (head + 1) & (ring.length - 1);
        count--;
    }

    private void grow() {
        Entry[] grown = new Entry[ring.length * 2];
        for (int i = 0; i < count; i++) grown[i] = ring[(head + i) & (ring.length - 1)];
        ring = grown;
        head = 0;
    }

    /** Budgeted bytes in use (data plus the per-entry overhead estimate) plus the ring array. */
    long memoryBytes() {
        return bytes + 8L * ring.length;
    }
}
