package dev.keel.sim;

/** A broken Raft safety property or a failed liveness bound, found by the simulator's checkers. */
public final class SafetyViolation extends RuntimeException {
    private final String property;

    public SafetyViolation(String property, String detail) {
        super(property + ": " + detail);
        this.property = property;
    }

    /** Which property failed, e.g. "ElectionSafety". */
    public String property() {
        return property;
    }
}
