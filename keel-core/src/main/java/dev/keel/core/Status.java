package dev.keel.core;

/** A cheap snapshot of a node's state, for status pages, logs and checkers. */
public record Status(int id, Role role, long currentTerm, int votedFor, int leaderId, long commitIndex,
                     long lastApplied, long lastIndex, long lastTerm, long stableIndex) {
    @Override
    public String toString() {
        return "node=" + id + " role=" + role + " term=" + currentTerm + " vote=" + votedFor + " leader=" + leaderId
                + " commit=" + commitIndex + " applied=" + lastApplied + " last=" + lastIndex + "/" + lastTerm;
    }
}
