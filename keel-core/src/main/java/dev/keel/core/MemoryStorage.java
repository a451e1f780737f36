package dev.keel.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link RaftStorage} held in memory: for tests, the simulator and in-memory benchmarks. Not
 * durable across processes. Not thread-safe.
 */
public final class MemoryStorage implements RaftStorage {
    /** entries.get(i) has index snapshot.index() + 1 + i. */
    private final ArrayList<Entry> entries = new ArrayList<>();
    private HardState hardState = HardState.EMPTY;
    private SnapshotMeta snapshot = SnapshotMeta.NONE;
    private byte[] snapshotData = new byte[0];

    @Override
    public HardState hardState() {
        return hardState;
    }

    public void setHardState(HardState hs) {
        hardState = hs;
    }

    @Override
    public long firstIndex() {
        return snapshot.index() + 1;
    }

    @Override
    public long lastIndex() {
        return snapshot.index() + entries.size();
    }

    @Override
    public long term(long index) {
        if (index == snapshot.index()) return snapshot.term();
        if (index < snapshot.index() || index > lastIndex()) {
            throw new IndexOutOfBoundsException("index " + index + " outside [" + snapshot.index() + ", " + lastIndex() + "]");
        }
        return entry(index).term();
    }

    @Override
    public List<Entry> entries(long lo, long hi, long maxBytes) {
        if (lo < firstIndex() || hi > lastIndex() + 1 || lo > hi) {
            throw new IndexOutOfBoundsException("range [" + lo + ", " + hi + ") outside [" + firstIndex() + ", "
                    + (lastIndex() + 1) + ")");
        }
        List<Entry> out = new ArrayList<>((int) Math.min(hi - lo, 1024));
        long bytes = 0;
        for (long i = lo; i < hi; i++) {
            Entry e = entry(i);
            bytes += e.sizeBytes();
            if (!out.isEmpty() && bytes > maxBytes) break;
            out.add(e);
        }
        return out;
    }

    public Entry entry(long index) {
        return entries.get((int) (index - snapshot.index() - 1));
    }

    /**
     * Appends entries, first dropping any persisted entry at or after the first new index (a new
     * leader overwrote a conflicting suffix, Figure 2 AppendEntries receiver step 3).
     */
    public void append(List<Entry> newEntries) {
        if (newEntries.isEmpty()) return;
        long first = newEntries.get(0).index();
        if (first > lastIndex() + 1) {
            throw new IllegalArgumentException("gap: appending at " + first + " after last index " + lastIndex());
        }
        if (first <= snapshot.index()) {
            throw new IllegalArgumentException("appending at " + first + " inside the snapshot up to " + snapshot.index());
        }
        while (lastIndex() >= first) entries.remove(entries.size() - 1);
        entries.addAll(newEntries);
    }

    @Override
    public SnapshotMeta snapshot() {
        return snapshot;
    }

    @Override
    public byte[] snapshotChunk(long snapshotIndex, long offset, int maxBytes) {
        if (snapshotIndex != snapshot.index()) return null;
        int from = (int) Math.min(offset, snapshotData.length);
        return Arrays.copyOfRange(snapshotData, from, (int) Math.min(snapshotData.length, (long) from + maxBytes));
    }

    /** The data of the newest snapshot. */
    public byte[] snapshotData() {
        return snapshotData;
    }

    /**
     * Keeps a snapshot taken by this node's state machine at meta.index() and drops the entries it
     * covers (log compaction, thesis chapter 5).
     */
    public void compact(SnapshotMeta meta, byte[] data) {
        if (meta.index() <= snapshot.index()) return; // older than what we have
        if (meta.index() > lastIndex() || term(meta.index()) != meta.term()) {
            throw new IllegalArgumentException(meta + " does not match the log (last index " + lastIndex() + ")");
        }
        entries.subList(0, (int) (meta.index() - snapshot.index())).clear();
        snapshot = meta;
        snapshotData = data;
    }

    /**
     * Installs a snapshot received from the leader (Figure 13): if the log has the snapshot's last
     * entry, the entries after it are kept; otherwise the whole log is discarded.
     */
    public void installSnapshot(SnapshotMeta meta, byte[] data) {
        if (meta.index() <= snapshot.index()) return;
        if (meta.index() <= lastIndex() && term(meta.index()) == meta.term()) {
            entries.subList(0, (int) (meta.index() - snapshot.index())).clear();
        } else {
            entries.clear();
        }
        snapshot = meta;
        snapshotData = data;
    }
}
