package dev.keel.core;

/** What an entry carries. */
public enum EntryType {
    /** A command for the user's state machine. */
    NORMAL,
    /** The empty entry a new leader appends to commit entries of earlier terms (§8, thesis §6.4). */
    NOOP
}
