package dev.keel.sim.lin;

/**
 * The answer of {@link Model#step}: whether an operation is legal from a state, and the state after it.
 *
 * @param legal whether the operation with its observed output could have happened in the given state
 * @param next  the state after the operation; meaningful only when {@code legal} (null otherwise)
 * @param <S>   the model's state type
 */
public record StepResult<S>(boolean legal, S next) {

    private static final StepResult<?> REJECTED = new StepResult<>(false, null);

    /** The operation is legal and leads to {@code next}. */
    public static <S> StepResult<S> accept(S next) {
        return new StepResult<>(true, next);
    }

    /** The operation cannot have produced its output from the given state. */
    @SuppressWarnings("unchecked")
    public static <S> StepResult<S> reject() {
        return (StepResult<S>) REJECTED;
    }
}
