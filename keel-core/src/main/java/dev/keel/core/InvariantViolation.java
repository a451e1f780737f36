package dev.keel.core;

/**
 * Thrown when one of the core's always-on invariants fails: a bug in Keel, never a reaction to
 * bad input (bad input is dropped and counted). The message carries the values involved.
 */
public final class InvariantViolation extends IllegalStateException {
    public InvariantViolation(String message) {
        super(message);
    }
}
