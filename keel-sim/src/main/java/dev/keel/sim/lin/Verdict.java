package dev.keel.sim.lin;

/** The outcome of a linearizability check. */
public enum Verdict {
    /** Every partition of the history has a linearization. */
    OK,
    /** Some partition has no linearization: the system under test violated linearizability. */
    ILLEGAL,
    /** The step budget ran out before a verdict; nothing is known about the unchecked part. */
    UNKNOWN
}
