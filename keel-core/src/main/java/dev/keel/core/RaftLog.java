package dev.keel.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The node's view of its log: the persisted part in {@link RaftStorage}, followed by the
 * "unstable" entries appended since the last {@link Ready} was persisted. Tracks commitIndex and
 * lastApplied (Figure 2, volatile state on all servers).
 *
 * <p>The unstable entries up to {@link #handedOffIndex()} are in the driver's hands, their write
 * under way (a leader that does not wait for its own sync, {@link RaftNode#advanceBeforeDurable});
 * the next {@link Ready} carries only those after it.
 *
 * <p>Invariant: lastApplied <= commitIndex <= lastIndex(); stableIndex() <= handedOffIndex() <=
 * lastIndex(); storage entries below unstableOffset and
 * at or above firstIndex() are current (storage may still hold stale ones beyond, until the driver
 * persists the next Ready).
 */
final class RaftLog {
    static final long TERM_UNKNOWN = -1;

    private final RaftStorage storage;
    /** Entries not yet known durable, starting at unstableOffset. */
    private final ArrayList<Entry> unstable = new ArrayList<>();
    private long unstableOffset;
    /** Last index handed to the driver in a Ready; at least unstableOffset - 1. */
    private long handedOffIndex;
    long commitIndex;
    long lastApplied;
    /** The newest snapshot this log starts after: from storage, or installed but not yet persisted. */
    private long snapshotIndex;
    private long snapshotTerm;
    private Membership snapshotMembership;

    RaftLog(RaftStorage storage, long commitIndex, long lastApplied) {
        this.storage = storage;
        SnapshotMeta snap = storage.snapshot();
        this.snapshotIndex = snap.index();
        this.snapshotTerm = snap.term();
        this.snapshotMembership = snap.membership();
        this.unstableOffset = storage.lastIndex() + 1;
        this.handedOffIndex = unstableOffset - 1;
        // A snapshot holds only committed entries (thesis §5.1), so it is committed. A persisted
        // commitIndex beyond the persisted log (a driver that stored it lazily, or a log tail cut
        // off as torn) is clamped: commitIndex is volatile in Figure 2, so knowing less is safe.
        this.commitIndex = Math.max(Math.min(commitIndex, lastIndex()), snapshotIndex);
        this.lastApplied = lastApplied;
        if (lastApplied < snapshotIndex) {
            throw new IllegalArgumentException("lastApplied " + lastApplied + " is below the snapshot index "
                    + snapshotIndex + ": restore the state machine from the snapshot first");
        }
        if (lastApplied > this.commitIndex) {
            throw new InvariantViolation("lastApplied " + lastApplied + " > commitIndex " + this.commitIndex);
        }
    }

    long firstIndex() {
        return Math.max(storage.firstIndex(), snapshotIndex + 1);
    }

    /**
     * Storage entries at or beyond unstableOffset are stale (about to be replaced), so the last
     * index is where the unstable entries end, never storage's own last index.
     */
    long lastIndex() {
        return unstableOffset + unstable.size() - 1;
    }

    long snapshotIndex() {
        return Math.max(snapshotIndex, storage.firstIndex() - 1);
    }

    /** The configuration of the snapshot the log starts after (null if none). */
    Membership snapshotMembership() {
        SnapshotMeta stored = storage.snapshot();
        return stored.index() > snapshotIndex ? stored.membership() : snapshotMembership;
    }

    long lastTerm() {
        return term(lastIndex());
    }

    /** Last index known durable on this node. */
    long stableIndex() {
        return unstableOffset - 1;
    }

    /** Last index handed to the driver for writing (durable or not yet). */
    long handedOffIndex() {
        return handedOffIndex;
    }

    /** Term of the entry at index, or TERM_UNKNOWN if there is none (too far ahead, or compacted). */
    long term(long index) {
        if (index == 0) return 0;
        if (index < 0) return TERM_UNKNOWN;
        if (index >= unstableOffset) {
            long off = index - unstableOffset;
            return off < unstable.size() ? unstable.get((int) off).term() : TERM_UNKNOWN;
        }
        if (index == snapshotIndex) return snapshotTerm;
        if (index < firstIndex() - 1 || index > storage.lastIndex()) return TERM_UNKNOWN;
        return storage.term(index);
    }

    /**
     * Installs a snapshot received from the leader (Figure 13 steps 6-7): if our log has its last
     * entry, the entries after it are kept; otherwise the whole log is replaced by the snapshot.
     */
    void restore(SnapshotMeta meta) {
        if (meta.index() <= commitIndex) {
            throw new InvariantViolation("restoring " + meta + " at or below commitIndex " + commitIndex);
        }
        if (matchTerm(meta.index(), meta.term())) {
            if (meta.index() >= unstableOffset) {
                // Storage will hold the snapshot in place of these; keep only what follows.
                unstable.subList(0, (int) (meta.index() - unstableOffset + 1)).clear();
                unstableOffset = meta.index() + 1;
            }
        } else {
            unstable.clear();
            unstableOffset = meta.index() + 1;
        }
        handedOffIndex = Math.min(Math.max(handedOffIndex, unstableOffset - 1), lastIndex());
        snapshotIndex = meta.index();
        snapshotTerm = meta.term();
        snapshotMembership = meta.membership();
        commitIndex = meta.index();
        lastApplied = meta.index(); // the state machine is replaced by the snapshot
    }

    byte[] snapshotChunk(long index, long offset, int maxBytes) {
        return storage.snapshotChunk(index, offset, maxBytes);
    }

    SnapshotMeta storageSnapshot() {
        return storage.snapshot();
    }

    boolean matchTerm(long index, long term) {
        return term(index) == term;
    }

    Entry entry(long index) {
        List<Entry> one = entries(index, index + 1, Long.MAX_VALUE, 1);
        return one.get(0);
    }

    /** Entries in [lo, hi), bounded by bytes and count (at least one when lo < hi). */
    List<Entry> entries(long lo, long hi, long maxBytes, int maxCount) {
        if (lo < firstIndex() || hi > lastIndex() + 1 || lo > hi) {
            throw new InvariantViolation("log range [" + lo + ", " + hi + ") outside [" + firstIndex() + ", "
                    + (lastIndex() + 1) + ")");
        }
        hi = Math.min(hi, lo + maxCount);
        if (lo == hi) return List.of();
        if (hi <= unstableOffset) return storage.entries(lo, hi, maxBytes); // all persisted: no second copy
        List<Entry> out = new ArrayList<>((int) Math.min(hi - lo, 1024));
        long bytes = 0;
        if (lo < unstableOffset) {
            List<Entry> stored = storage.entries(lo, Math.min(hi, unstableOffset), maxBytes);
            for (Entry e : stored) bytes += e.sizeBytes();
            out.addAll(stored);
            if (out.size() < Math.min(hi, unstableOffset) - lo) return out; // stopped by maxBytes
            lo = unstableOffset;
        }
        for (long i = lo; i < hi; i++) {
            Entry e = unstable.get((int) (i - unstableOffset));
            bytes += e.sizeBytes();
            if (!out.isEmpty() && bytes > maxBytes) break;
            out.add(e);
        }
        return out;
    }

    /** §5.4.1: the candidate's log is at least as up-to-date as ours. */
    boolean isUpToDate(long candidateLastIndex, long candidateLastTerm) {
        long ourLastTerm = lastTerm();
        return candidateLastTerm > ourLastTerm
                || (candidateLastTerm == ourLastTerm && candidateLastIndex >= lastIndex());
    }

    /**
     * Appends entries that follow a matching prevLogIndex, truncating a conflicting suffix first
     * (Figure 2, AppendEntries receiver steps 3-4). Entries already present are kept: a delayed
     * message must not truncate entries that a later one appended (raft.tla: "already done with request").
     *
     * @return the index of the first entry actually written, or 0 if none were new
     */
    long appendAfterMatch(List<Entry> entries) {
        for (Entry e : entries) {
            long have = term(e.index());
            if (have == e.term()) continue;
            // First conflicting or new entry: everything from here on is replaced.
            if (!(e.index() > commitIndex)) throw new InvariantViolation("would overwrite committed entry " + e.index() + " (commitIndex " + commitIndex + ")");
            int from = (int) (e.index() - entries.get(0).index());
            truncateAndAppend(entries.subList(from, entries.size()));
            return e.index();
        }
        return 0;
    }

    /** Appends entries whose first index is at most lastIndex()+1, dropping what follows it. */
    void truncateAndAppend(List<Entry> entries) {
        if (entries.isEmpty()) return;
        long after = entries.get(0).index();
        if (!(after <= lastIndex() + 1)) throw new InvariantViolation("gap: appending at " + after + " after lastIndex " + lastIndex());
        if (!(after > commitIndex)) throw new InvariantViolation("truncating at " + after + " would drop committed entries (commitIndex " + commitIndex + ")");
        // Replaced entries are handed off again, whatever became of their old write.
        handedOffIndex = Math.min(handedOffIndex, after - 1);
        if (after == unstableOffset + unstable.size()) {
            unstable.addAll(entries);
        } else if (after <= unstableOffset) {
            // Replaces part of the persisted log too; the driver's storage truncates when it persists these.
            unstable.clear();
            unstableOffset = after;
            unstable.addAll(entries);
        } else {
            int keep = (int) (after - unstableOffset);
            unstable.subList(keep, unstable.size()).clear();
            unstable.addAll(entries);
        }
    }

    void append(Entry e) {
        if (!(e.index() == lastIndex() + 1)) throw new InvariantViolation("append at " + e.index() + " but lastIndex is " + lastIndex());
        unstable.add(e);
    }

    /** Entries not yet handed to the driver for persisting (a copy). */
    List<Entry> unstableEntries() {
        int from = (int) (handedOffIndex + 1 - unstableOffset);
        return from >= unstable.size() ? List.of() : List.copyOf(unstable.subList(from, unstable.size()));
    }

    /** The driver has the entries up to index in hand for writing (not yet durable). */
    void handedOffTo(long index) {
        if (index > handedOffIndex) handedOffIndex = index;
    }

    /** The driver made entries up to (index, term) durable. Ignored if the log changed since. */
    void stableTo(long index, long term) {
        if (index < unstableOffset) return;
        if (term(index) != term) return; // truncated and rewritten since that Ready; persist again
        int n = (int) (index - unstableOffset + 1);
        unstable.subList(0, n).clear();
        unstableOffset = index + 1;
        if (handedOffIndex < index) handedOffIndex = index;
    }

    void commitTo(long index) {
        if (index <= commitIndex) return; // commitIndex never moves backwards
        if (!(index <= lastIndex())) throw new InvariantViolation("commitIndex " + index + " > lastIndex " + lastIndex());
        commitIndex = index;
    }

    /** Committed entries not yet handed out for applying, bounded by bytes. */
    List<Entry> nextCommitted(long maxBytes) {
        if (lastApplied >= commitIndex) return List.of();
        return entries(lastApplied + 1, commitIndex + 1, maxBytes, Integer.MAX_VALUE);
    }

    void appliedTo(long index) {
        if (!(index <= commitIndex)) throw new InvariantViolation("applied " + index + " > commitIndex " + commitIndex);
        if (index > lastApplied) lastApplied = index;
    }

    /** Last index in our log whose term is {@code term}, searching down from {@code from}; 0 if none. */
    long lastIndexOfTerm(long term, long from) {
        for (long i = Math.min(from, lastIndex()); i >= firstIndex(); i--) {
            long t = term(i);
            if (t == term) return i;
            if (t < term) return 0; // terms only grow along the log
        }
        return 0;
    }

    /** First index of the run of entries with the same term as the entry at {@code index}. */
    long firstIndexOfTermAt(long index) {
        long t = term(index);
        long i = index;
        while (i - 1 >= firstIndex() && i - 1 > commitIndex && term(i - 1) == t) i--;
        return i;
    }
}
