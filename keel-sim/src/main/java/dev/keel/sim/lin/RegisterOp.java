package dev.keel.sim.lin;

import java.util.Objects;

/**
 * Inputs understood by {@link RegisterModel}: operations on one key of a map of {@code long} registers.
 */
public sealed interface RegisterOp {

    /** The register (partition) this operation touches. */
    String key();

    /** Set {@code key} to {@code value}. Output ignored. */
    record Write(String key, long value) implements RegisterOp {
        public Write {
            Objects.requireNonNull(key, "key");
        }
    }

    /** Read {@code key}. Output: the {@code Long} value seen, or null if the key was absent. */
    record Read(String key) implements RegisterOp {
        public Read {
            Objects.requireNonNull(key, "key");
        }
    }

    /**
     * Set {@code key} to {@code value} iff it currently holds {@code expected} (an absent key holds no
     * value, so the swap fails). Output: {@code Boolean} success, or null if unknown.
     */
    record Cas(String key, long expected, long value) implements RegisterOp {
        public Cas {
            Objects.requireNonNull(key, "key");
        }
    }
}
