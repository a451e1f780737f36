package dev.keel.sim.lin;

import java.util.Objects;

/**
 * One client operation as observed from outside the system under test.
 *
 * <p>The interval {@code [callTime, returnTime]} is when the client invoked the operation and when it
 * saw the response. A linearizable system must apply the operation atomically at some instant inside
 * that interval. Times are abstract, totally ordered longs (simulated ticks, nanos, ...); the checker
 * only compares them.
 *
 * <p>{@code returnTime == }{@link #PENDING} means the client never learned the outcome (it timed out
 * or crashed): the operation may have taken effect at any instant after {@code callTime}, or never.
 * For such operations {@code output} is whatever the model treats as "unknown" (for
 * {@link RegisterModel} that is {@code null}).
 *
 * <p>{@code clientId} is carried for diagnostics only; the checker derives all ordering constraints
 * from the intervals, so it does not require a client's operations to be sequential.
 *
 * @param clientId   the issuing client, for messages
 * @param callTime   when the operation was invoked
 * @param returnTime when the response was observed, or {@link #PENDING}
 * @param input      the operation's input as understood by the {@link Model}; never null
 * @param output     the observed output, model specific; may be null
 */
public record Operation(int clientId, long callTime, long returnTime, Object input, Object output) {

    /** The return time of an operation whose outcome is unknown; it sorts after every real time. */
    public static final long PENDING = Long.MAX_VALUE;

    /**
     * @throws NullPointerException     if {@code input} is null
     * @throws IllegalArgumentException if {@code callTime > returnTime}
     */
    public Operation {
        Objects.requireNonNull(input, "input");
        if (callTime > returnTime) {
            throw new IllegalArgumentException(
                    "callTime " + callTime + " is after returnTime " + returnTime + " for " + input);
        }
    }

    /** An operation whose response was observed at {@code returnTime}. */
    public static Operation completed(int clientId, long callTime, long returnTime, Object input, Object output) {
        if (returnTime == PENDING) {
            // Long.MAX_VALUE is reserved as the "unknown" marker; accepting it here would silently
            // turn a completed operation into an optional one.
            throw new IllegalArgumentException("returnTime must be below Operation.PENDING");
        }
        return new Operation(clientId, callTime, returnTime, input, output);
    }

    /** An operation whose outcome the client never learned; its output is {@code null} (unknown). */
    public static Operation pending(int clientId, long callTime, Object input) {
        return new Operation(clientId, callTime, PENDING, input, null);
    }

    /** Whether the outcome of this operation is unknown. */
    public boolean isPending() {
        return returnTime == PENDING;
    }
}
