package dev.keel.core;

/** What an entry carries. */
public enum EntryType {
    /** A command for the user's state machine. */
    NORMAL,
    /** The empty entry a new leader appends to commit entries of earlier terms (§8, thesis §6.4). */
    NOOP,
    /** A new cluster configuration ({@link Membership#encode()}), in effect once in the log (thesis §4.1). */
    CONFIG
}
