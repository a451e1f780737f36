package dev.keel.core;

/** Argument checks for external input (messages, config): they throw IllegalArgumentException. */
final class Checks {
    private Checks() {}

    static void node(String name, int id) {
        if (id <= 0) throw new IllegalArgumentException(name + " node id " + id + " must be positive");
    }

    static void nonNegative(String name, long v) {
        if (v < 0) throw new IllegalArgumentException(name + " " + v + " must not be negative");
    }

    static void positive(String name, long v) {
        if (v <= 0) throw new IllegalArgumentException(name + " " + v + " must be positive");
    }
}
