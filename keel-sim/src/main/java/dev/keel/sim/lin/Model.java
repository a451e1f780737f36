package dev.keel.sim.lin;

/**
 * A sequential specification of the object whose history is being checked.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #step} is a pure, deterministic function: same state, input and output give an equal
 *       result. It must never return null.</li>
 *   <li>States are immutable values with proper {@code equals}/{@code hashCode}: the checker memoizes
 *       (set of linearized operations, state) pairs and would prune wrongly otherwise. {@code toString}
 *       is used in failure explanations.</li>
 *   <li>{@link #partitionKey} splits the object into independent parts (for example the keys of a
 *       map). Operations with different partition keys must never influence each other, so that the
 *       whole history is linearizable iff every partition is (linearizability is compositional).
 *       {@link #init} is the initial state of one partition. Keys need proper equals/hashCode.</li>
 * </ul>
 *
 * @param <S> the state of one partition
 */
public interface Model<S> {

    /** The state of a partition before any operation. */
    S init();

    /**
     * Whether an operation with {@code input} could have been applied in {@code state} and returned
     * {@code output}, and the resulting state.
     *
     * <p>For pending operations {@code output} is the "unknown" value the history carries (usually
     * null); the model should then accept whatever the operation would do from {@code state}.
     */
    StepResult<S> step(S state, Object input, Object output);

    /** The partition an input belongs to; never null. */
    Object partitionKey(Object input);

    /** A short human-readable form of an operation, for failure explanations. */
    default String describe(Object input, Object output) {
        return input + " -> " + output;
    }
}
