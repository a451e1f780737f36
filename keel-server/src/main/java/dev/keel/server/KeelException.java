package dev.keel.server;

/**
 * Why a request to a {@link RaftServer} failed. Each subclass says whether retrying is safe.
 */
public abstract sealed class KeelException extends RuntimeException
        permits KeelException.NotLeader, KeelException.Timeout, KeelException.NotCommitted,
        KeelException.Rejected, KeelException.ShuttingDown {

    KeelException(String message) {
        super(message, null, false, false);
    }

    /** This node is not the leader. Nothing was appended: retry at {@link #leaderHint()} (0 if unknown). */
    public static final class NotLeader extends KeelException {
        private final int leaderHint;

        public NotLeader(int leaderHint) {
            super(leaderHint == 0 ? "no leader known" : "not the leader; node " + leaderHint + " is");
            this.leaderHint = leaderHint;
        }

        public int leaderHint() {
            return leaderHint;
        }
    }

    /**
     * No answer in time: the command may or may not commit later (indeterminate). Retry only with
     * an idempotent command or a client session (thesis §6.3).
     */
    public static final class Timeout extends KeelException {
        public Timeout(String message) {
            super(message);
        }
    }

    /** The command was appended but another leader's entry took its place: it never applies. Safe to retry. */
    public static final class NotCommitted extends KeelException {
        public NotCommitted(String message) {
            super(message);
        }
    }

    /** Refused without being appended (back-pressure or too large). Safe to retry later (or smaller). */
    public static final class Rejected extends KeelException {
        public Rejected(String message) {
            super(message);
        }
    }

    /** The server is stopping. Whether an in-flight command committed is unknown (as for Timeout). */
    public static final class ShuttingDown extends KeelException {
        public ShuttingDown() {
            super("server is shutting down");
        }
    }
}
