package dev.keel.kv.store;

import java.util.Arrays;

/**
 * A write the log carries: put or delete one key, optionally conditional, optionally in a client
 * session. Reads (get, scan) never go through the log: the HTTP layer serves them from
 * {@link KvStateMachine#view()} after a ReadIndex.
 *
 * @param value the new value for PUT; empty (and ignored) for DELETE
 * @param clientId the session's client id, or {@link #NO_SESSION}
 * @param sequence the request's number in the session (1, 2, ...), 0 without a session
 */
public record KvCommand(Op op, byte[] key, byte[] value, Condition condition, long clientId, long sequence) {
    /** Client id meaning "no session": the command is applied each time it is committed. */
    public static final long NO_SESSION = 0;

    public enum Op {
        PUT,
        DELETE
    }

    /** When the write applies; a failed condition leaves the state unchanged. */
    public sealed interface Condition {
        /** Always. */
        record None() implements Condition {}

        /** The key's modRevision equals {@code modRevision}; 0 means "the key must not exist" (create only). */
        record ModRevision(long modRevision) implements Condition {
            public ModRevision {
                if (modRevision < 0) throw new IllegalArgumentException("modRevision " + modRevision + " < 0");
            }
        }

        /** The key exists and its value equals {@code value} byte for byte. */
        record Value(byte[] value) implements Condition {
            public Value {
                if (value == null) throw new IllegalArgumentException("value is null");
            }

            @Override
            public boolean equals(Object o) {
                return o instanceof Value v && Arrays.equals(value, v.value);
            }

            @Override
            public int hashCode() {
                return Arrays.hashCode(value);
            }

            @Override
            public String toString() {
                return "Value[" + value.length + " bytes]";
            }
        }

        /** The key exists (HTTP {@code If-Match: *}). */
        record Exists() implements Condition {}
    }

    public static final Condition NONE = new Condition.None();

    public KvCommand {
        if (op == null || key == null || value == null || condition == null) {
            throw new IllegalArgumentException("null field in " + op + " command");
        }
        if (key.length == 0) throw new IllegalArgumentException("empty key");
        if (op == Op.DELETE && value.length != 0) throw new IllegalArgumentException("DELETE with a value");
        if (clientId == NO_SESSION ? sequence != 0 : sequence <= 0) {
            throw new IllegalArgumentException("clientId " + clientId + " with sequence " + sequence
                    + ": a session needs sequence >= 1, no session needs 0");
        }
    }

    public static KvCommand put(byte[] key, byte[] value) {
        return new KvCommand(Op.PUT, key, value, NONE, NO_SESSION, 0);
    }

    public static KvCommand delete(byte[] key) {
        return new KvCommand(Op.DELETE, key, new byte[0], NONE, NO_SESSION, 0);
    }

    public KvCommand withCondition(Condition c) {
        return new KvCommand(op, key, value, c, clientId, sequence);
    }

    public KvCommand inSession(long clientId, long sequence) {
        return new KvCommand(op, key, value, condition, clientId, sequence);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KvCommand c && op == c.op && Arrays.equals(key, c.key) && Arrays.equals(value, c.value)
                && condition.equals(c.condition) && clientId == c.clientId && sequence == c.sequence;
    }

    @Override
    public int hashCode() {
        return ((op.hashCode() * 31 + Arrays.hashCode(key)) * 31 + Arrays.hashCode(value)) * 31
                + Long.hashCode(clientId ^ sequence);
    }

    @Override
    public String toString() {
        return op + "[key=" + key.length + "B value=" + value.length + "B " + condition + " client=" + clientId
                + " seq=" + sequence + "]";
    }
}
