package dev.keel.core;

import java.util.List;

/**
 * Everything the driver must do after feeding the core some input, in this order (etcd's
 * Ready/Advance contract):
 * <ol>
 *   <li>write {@link #snapshotChunks()} in order to the snapshot being received (a chunk at offset 0
 *       starts it over); right after writing the chunk that completes {@link #snapshotToInstall()}
 *       (if not null), commit that snapshot (the core verified its size and checksum), install it in
 *       storage (it replaces the log up to its index) and restore the state machine from it;</li>
 *   <li>persist {@link #hardState()} (if not null) and {@link #entries()} (which replace any persisted
 *       entries at or after the first one's index), and make them durable, in this order: the term
 *       and vote no later than the entries (entries of a new term on disk under an older persisted
 *       term would let a restarted node vote twice in that term), and the commit index no earlier
 *       than the entries (it speaks of this Ready's entries, not of stale ones they replace);</li>
 *   <li>only then send {@link #messages()}: they may promise votes and log contents (Figure 2:
 *       "respond to RPCs only after updating stable storage");</li>
 *   <li>apply {@link #committedEntries()} in order;</li>
 *   <li>serve {@link #readStates()} once the state machine has applied up to each read index, and
 *       fail {@link #abortedReads()};</li>
 *   <li>call {@link RaftNode#advance(Ready)}.</li>
 * </ol>
 *
 * <p>A leader ({@link #role()}) may apply {@link #committedEntries()} and serve {@link #readStates()}
 * first, before steps 1-3: an entry is committed only once it is durable on a majority, so neither
 * this Ready's own write nor its sends add anything the apply relies on, and the client need not
 * wait for them. A follower keeps the order: its acknowledgement is what the leader is waiting for.
 *
 * <p>A leader need not wait for its own write at all (thesis §10.2.1): with a Ready that does not
 * change its term or vote, it may send, apply and call {@link RaftNode#advanceBeforeDurable(Ready)}
 * while the write is still under way, and {@link RaftNode#persisted} once it is durable; until then
 * its own copy does not count towards a majority.
 *
 * @param hardState the hard state to persist, or null when unchanged
 * @param role the node's role when the Ready was made, and {@code leaderId} the leader it knows
 */
public record Ready(HardState hardState, List<Entry> entries, List<Message> messages,
                    List<Entry> committedEntries, List<ReadState> readStates, List<Long> abortedReads,
                    List<SnapshotChunk> snapshotChunks, SnapshotMeta snapshotToInstall,
                    Role role, int leaderId, long currentTerm) {

    /** True if this Ready asks for a durable write before its messages may be sent. */
    public boolean mustPersist() {
        return hardState != null || !entries.isEmpty() || !snapshotChunks.isEmpty() || snapshotToInstall != null;
    }
}
