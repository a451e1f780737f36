package dev.keel.sim.lin;

/**
 * Sequential specification of a map of {@code long} registers, partitioned per key.
 *
 * <p>Inputs are {@link RegisterOp}s. Every key starts absent. Outputs:
 * <ul>
 *   <li>{@link RegisterOp.Write}: ignored (any value, usually null).</li>
 *   <li>{@link RegisterOp.Read}: the {@code Long} read, or null for "absent". A pending read also
 *       carries null; that is harmless because a read never changes the state, so the checker can
 *       always leave a pending read out of the linearization.</li>
 *   <li>{@link RegisterOp.Cas}: {@code Boolean} success, or null when unknown (pending). An unknown
 *       CAS is still deterministic given the state: it succeeds iff the register holds
 *       {@code expected}.</li>
 * </ul>
 * Any other output type is a bug in the history and raises {@link IllegalArgumentException}.
 */
public final class RegisterModel implements Model<RegisterModel.State> {

    /**
     * The value of one register.
     *
     * @param present whether the key has ever been written
     * @param value   the value; 0 when absent, so that equal states are equal records
     */
    public record State(boolean present, long value) {

        /** The state of a key that was never written. */
        public static final State ABSENT = new State(false, 0);

        public static State of(long value) {
            return new State(true, value);
        }

        public State {
            if (!present && value != 0) {
                throw new IllegalArgumentException("absent state must have value 0");
            }
        }

        @Override
        public String toString() {
            return present ? Long.toString(value) : "absent";
        }
    }

    @Override
    public State init() {
        return State.ABSENT;
    }

    @Override
    public StepResult<State> step(State state, Object input, Object output) {
        return switch (asOp(input)) {
            case RegisterOp.Write w -> StepResult.accept(State.of(w.value()));
            case RegisterOp.Read r -> {
                if (output != null && !(output instanceof Long)) {
                    throw new IllegalArgumentException("read output must be a Long or null, got " + output.getClass());
                }
                Long seen = (Long) output;
                boolean matches = seen == null ? !state.present() : state.present() && state.value() == seen;
                yield matches ? StepResult.accept(state) : StepResult.reject();
            }
            case RegisterOp.Cas c -> {
                if (output != null && !(output instanceof Boolean)) {
                    throw new IllegalArgumentException("cas output must be a Boolean or null, got " + output.getClass());
                }
                boolean wouldSucceed = state.present() && state.value() == c.expected();
                if (output != null && (Boolean) output != wouldSucceed) {
                    yield StepResult.reject();
                }
                yield StepResult.accept(wouldSucceed ? State.of(c.value()) : state);
            }
        };
    }

    @Override
    public Object partitionKey(Object input) {
        return asOp(input).key();
    }

    @Override
    public String describe(Object input, Object output) {
        return switch (asOp(input)) {
            case RegisterOp.Write w -> "write(" + w.key() + ", " + w.value() + ")";
            case RegisterOp.Read r -> "read(" + r.key() + ") -> " + (output == null ? "absent" : output);
            case RegisterOp.Cas c -> "cas(" + c.key() + ", " + c.expected() + " => " + c.value() + ") -> "
                    + (output == null ? "unknown" : output);
        };
    }

    private static RegisterOp asOp(Object input) {
        if (input instanceof RegisterOp op) {
            return op;
        }
        throw new IllegalArgumentException("not a RegisterOp: " + input);
    }
}
