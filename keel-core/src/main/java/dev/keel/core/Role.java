package dev.keel.core;

/** A node's role. PRE_CANDIDATE is the Pre-Vote phase of thesis §9.6. */
public enum Role {
    FOLLOWER,
    PRE_CANDIDATE,
    CANDIDATE,
    LEADER
}
