package dev.keel.core;

/**
 * The state that must be on stable storage before the node answers any RPC (Figure 2:
 * {@code currentTerm}, {@code votedFor}), plus the {@code commitIndex}, kept so that a restarted
 * node can apply what it already knew was committed without waiting for a leader.
 *
 * @param votedFor the candidate voted for in {@code currentTerm}, or {@link RaftNode#NONE}
 */
public record HardState(long currentTerm, int votedFor, long commitIndex) {
    public static final HardState EMPTY = new HardState(0, RaftNode.NONE, 0);

    public HardState {
        if (currentTerm < 0) throw new IllegalArgumentException("currentTerm " + currentTerm + " < 0");
        if (votedFor < 0) throw new IllegalArgumentException("votedFor " + votedFor + " < 0");
        if (commitIndex < 0) throw new IllegalArgumentException("commitIndex " + commitIndex + " < 0");
    }
}
