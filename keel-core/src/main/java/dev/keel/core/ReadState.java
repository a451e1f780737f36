package dev.keel.core;

/**
 * A confirmed linearizable read (thesis §6.4): once the state machine has applied up to
 * {@code readIndex}, the read with this {@code context} may be served from it.
 */
public record ReadState(long context, long readIndex) {}
