package dev.keel.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The user's replicated state machine. Keel calls it in log order, never concurrently, with
 * committed commands only: on the server's apply thread, or, for a small batch while that thread
 * is idle, on the server's event loop (each call happens-before the next, so plain fields are
 * safe; do not block in it); every node applies the same commands in the same order (State Machine
 * Safety), so {@link #apply} must be deterministic: no clocks, randomness or local IO that changes
 * the result.
 */
public interface StateMachine {
    /**
     * Applies the committed command at {@code index} and returns the result handed to whoever
     * submitted it (ignored on other nodes). Must not throw for a bad command: return an error
     * result instead, because every node must reach the same state.
     */
    byte[] apply(long index, byte[] command);

    /**
     * Captures the state as of the last applied index for a snapshot, without blocking applies for
     * long: called between two applies; the returned writer then runs on a
     * background thread while applies continue, so it must write a point-in-time view (a copy, or
     * a persistent/immutable structure), not the live state.
     */
    SnapshotWriter snapshot();

    /** Replaces the whole state with the snapshot's. Called between two applies, before any later one. */
    void restore(InputStream in) throws IOException;

    /** Writes one captured snapshot. */
    @FunctionalInterface
    interface SnapshotWriter {
        void writeTo(OutputStream out) throws IOException;
    }
}
