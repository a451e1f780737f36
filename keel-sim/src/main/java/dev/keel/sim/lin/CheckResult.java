package dev.keel.sim.lin;

import java.util.Objects;

/**
 * The verdict of {@link LinearizabilityChecker#check}.
 *
 * @param verdict     OK, ILLEGAL or UNKNOWN (budget exhausted)
 * @param failingKey  for ILLEGAL the partition key with no linearization; for UNKNOWN the key being
 *                    checked when the budget ran out; null for OK
 * @param explanation human-readable multi-line detail; for ILLEGAL the failing window: the
 *                    linearizable prefix that got furthest into the history (the longest such one),
 *                    the state after it, the operation whose return blocked it (it cannot be
 *                    linearized next) and the unlinearized operations concurrent with that one
 */
public record CheckResult(Verdict verdict, Object failingKey, String explanation) {

    public CheckResult {
        Objects.requireNonNull(verdict, "verdict");
        Objects.requireNonNull(explanation, "explanation");
        if (verdict == Verdict.OK && failingKey != null) {
            throw new IllegalArgumentException("an OK result has no failing key");
        }
    }

    /** Whether the history was proven linearizable. */
    public boolean isOk() {
        return verdict == Verdict.OK;
    }

    @Override
    public String toString() {
        return verdict + (failingKey == null ? "" : " (key " + failingKey + ")") + ": " + explanation;
    }
}
