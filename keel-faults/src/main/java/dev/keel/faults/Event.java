package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * One line of a fault run's history (the format is documented in the README, "Fault testing").
 *
 * <p>A client operation appears twice: an {@code invoke} when the client sends it and one completion
 * with the same {@code process}: {@code ok} (it happened, with the values seen), {@code fail} (it
 * certainly did not happen) or {@code info} (the outcome is unknown: a timeout or a broken
 * connection; it may take effect at any later time, or never). A client has at most one operation
 * outstanding, so an invoke's completion is the next line of the same process. Nemesis events have
 * process {@code "nemesis"} and type {@code info}: they mark when a fault started and stopped.
 *
 * @param time    nanoseconds since the run started, from one monotonic clock
 * @param process a client id (a number) or {@code "nemesis"}
 * @param type    invoke, ok, fail or info
 * @param f       the operation: read, write, cas, add, read-all, transfer, read-accounts; for the
 *                nemesis the fault, such as partition or kill
 * @param key     the key operated on, or null
 * @param value   the operation's value(s) as JSON: a number, an array, an object, or null
 * @param node    the node the request was sent to (clients), or null
 * @param error   why an operation failed or is unknown, or a nemesis event's details; may be null
 */
public record Event(long time, Object process, String type, String f, String key, JsonNode value, Integer node,
                    String error) {

    public static final String INVOKE = "invoke";
    public static final String OK = "ok";
    public static final String FAIL = "fail";
    public static final String INFO = "info";
    public static final String NEMESIS = "nemesis";

    public Event {
        Objects.requireNonNull(process, "process");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(f, "f");
        if (!(process instanceof Integer) && !NEMESIS.equals(process)) {
            throw new IllegalArgumentException("process must be a client number or \"nemesis\", got " + process);
        }
        if (!type.equals(INVOKE) && !type.equals(OK) && !type.equals(FAIL) && !type.equals(INFO)) {
            throw new IllegalArgumentException("type must be invoke, ok, fail or info, got " + type);
        }
    }

    /** Whether this line is a nemesis event rather than a client's. */
    public boolean isNemesis() {
        return NEMESIS.equals(process);
    }

    /** The client number; only for client events. */
    public int client() {
        return (Integer) process;
    }
}
