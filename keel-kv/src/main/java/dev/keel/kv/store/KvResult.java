package dev.keel.kv.store;

/** What a {@link KvCommand} did; {@link KvCodec} encodes it as the state machine's result bytes. */
public sealed interface KvResult {
    /**
     * The write applied.
     *
     * @param revision the new revision: the log index of the command
     * @param createRevision for a put, the key's createRevision; for a delete, the deleted key's
     * @param version for a put, the key's new version; for a delete, the deleted key's last version
     */
    record Ok(long revision, long createRevision, long version) implements KvResult {}

    /** The condition failed; nothing changed. {@code modRevision} is the key's current one, 0 if absent. */
    record ConditionFailed(long modRevision) implements KvResult {}

    /** A delete found no such key; nothing changed. */
    record NotFound() implements KvResult {}

    /** The command was refused; nothing changed. */
    record Error(ErrorCode code, String message) implements KvResult {
        public Error {
            if (code == null || message == null) throw new IllegalArgumentException("null code or message");
        }
    }

    enum ErrorCode {
        /** The command bytes did not decode (wrong version, truncated, bad field). */
        BAD_COMMAND,
        /** The client's session is unknown: expired, or never started (a session starts with sequence 1). */
        SESSION_EXPIRED,
        /** The sequence is older than the session's last one, whose result alone is kept. */
        STALE_SEQUENCE
    }
}
