package dev.keel.core;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link RaftStorage} held in memory: for tests, the simulator and in-memory benchmarks. Not
 * durable across processes. Not thread-safe.
 */
public final class MemoryStorage implements RaftStorage {
    private final ArrayList<Entry> entries = new ArrayList<>();
    private HardState hardState = HardState.EMPTY;

    @Override
    public HardState hardState() {
        return hardState;
    }

    public void setHardState(HardState hs) {
        hardState = hs;
    }

    @Override
    public long firstIndex() {
        return 1;
    }

    @Override
    public long lastIndex() {
        return entries.size();
    }

    @Override
    public long term(long index) {
        if (index == 0) return 0;
        if (index < 0 || index > entries.size()) {
            throw new IndexOutOfBoundsException("index " + index + " outside [0, " + entries.size() + "]");
        }
        return entries.get((int) index - 1).term();
    }

    @Override
    public List<Entry> entries(long lo, long hi, long maxBytes) {
        if (lo < 1 || hi > entries.size() + 1 || lo > hi) {
            throw new IndexOutOfBoundsException("range [" + lo + ", " + hi + ") outside [1, " + (entries.size() + 1) + ")");
        }
        List<Entry> out = new ArrayList<>((int) Math.min(hi - lo, 1024));
        long bytes = 0;
        for (long i = lo; i < hi; i++) {
            Entry e = entries.get((int) i - 1);
            bytes += e.sizeBytes();
            if (!out.isEmpty() && bytes > maxBytes) break;
            out.add(e);
        }
        return out;
    }

    public Entry entry(long index) {
        return entries.get((int) index - 1);
    }

    /**
     * Appends entries, first dropping any persisted entry at or after the first new index (a new
     * leader overwrote a conflicting suffix, Figure 2 AppendEntries receiver step 3).
     */
    public void append(List<Entry> newEntries) {
        if (newEntries.isEmpty()) return;
        long first = newEntries.get(0).index();
        if (first > entries.size() + 1) {
            throw new IllegalArgumentException("gap: appending at " + first + " after last index " + entries.size());
        }
        while (entries.size() >= first) entries.remove(entries.size() - 1);
        entries.addAll(newEntries);
    }

    /** A copy of this storage, as a crash would find it. */
    public MemoryStorage copy() {
        MemoryStorage c = new MemoryStorage();
        c.entries.addAll(entries);
        c.hardState = hardState;
        return c;
    }
}
