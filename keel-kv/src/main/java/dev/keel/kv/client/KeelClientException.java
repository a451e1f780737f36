package dev.keel.kv.client;

/**
 * Why a {@link KeelClient} call failed. Each subclass says whether the write may have applied.
 */
public abstract sealed class KeelClientException extends RuntimeException
        permits KeelClientException.ConditionFailed, KeelClientException.NotFound, KeelClientException.Unavailable,
        KeelClientException.Timeout, KeelClientException.SessionExpired, KeelClientException.BadRequest {

    private final String code;

    KeelClientException(String code, String message) {
        super(message);
        this.code = code;
    }

    /** The server's error code, such as {@code CONDITION_FAILED}. */
    public String code() {
        return code;
    }

    /** A conditional write's condition did not hold; nothing changed. */
    public static final class ConditionFailed extends KeelClientException {
        private final long currentRevision;

        public ConditionFailed(String message, long currentRevision) {
            super("CONDITION_FAILED", message);
            this.currentRevision = currentRevision;
        }

        /** The key's modRevision when the condition was checked; 0 if it was absent. */
        public long currentRevision() {
            return currentRevision;
        }
    }

    /** The key does not exist (a get, or a delete that changed nothing). */
    public static final class NotFound extends KeelClientException {
        public NotFound(String message) {
            super("NOT_FOUND", message);
        }
    }

    /** No node could serve the request before the deadline (no leader, nodes down); a write did not apply. */
    public static final class Unavailable extends KeelClientException {
        public Unavailable(String code, String message) {
            super(code, message);
        }
    }

    /**
     * No definite answer before the deadline: the write may or may not have applied. The client
     * already retried within its session; call again only if applying twice is acceptable, or read first.
     */
    public static final class Timeout extends KeelClientException {
        public Timeout(String message) {
            super("TIMEOUT", message);
        }
    }

    /**
     * The session expired while an earlier attempt of this write had an unknown outcome, so it may
     * or may not have applied. The client starts a fresh session for later writes.
     */
    public static final class SessionExpired extends KeelClientException {
        public SessionExpired(String message) {
            super("SESSION_EXPIRED", message);
        }
    }

    /** The server refused the request as malformed or too large (400, 413, ...); nothing applied. */
    public static final class BadRequest extends KeelClientException {
        private final int status;

        public BadRequest(int status, String code, String message) {
            super(code, message);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }
}
