package dev.keel.sim.lin;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Decides whether a concurrent history is linearizable with respect to a {@link Model}.
 *
 * <p>The history is first split by {@link Model#partitionKey}; each partition is checked on its own,
 * which is sound because linearizability is compositional and keeps every search small. Within a
 * partition the search is the Wing &amp; Gong algorithm with Lowe's memoization: the call and return
 * events are kept in a time-ordered doubly-linked list; a depth-first search repeatedly picks an
 * operation whose call precedes every outstanding return, applies it to the model, and "lifts" its
 * events out of the list; hitting a return event means the operation owning it had to be linearized
 * already, so the search backtracks. Pairs (set of linearized operations, model state) that were
 * already explored are cached and never explored twice. The search is iterative, so long histories
 * cannot overflow the stack.
 *
 * <p>Time semantics: operation A precedes B in real time only if {@code A.returnTime < B.callTime}
 * strictly. Operations whose return and call happen at the same instant are treated as concurrent
 * (calls are ordered before returns at equal times), the permissive reading of ambiguous timestamps.
 *
 * <p>Pending operations ({@link Operation#PENDING}) have no return event: they may be linearized
 * anywhere after their call or not at all, and a partition is linearizable as soon as every
 * completed operation is.
 *
 * <p>The checker is stateless and thread-safe; the model must satisfy the {@link Model} contract.
 */
public final class LinearizabilityChecker {

    /** How many operations of each list an explanation prints before eliding the rest. */
    private static final int SHOWN_OPS = 20;

    private LinearizabilityChecker() {
    }

    /** Checks {@code history} with no step limit; may take exponential time on adversarial input. */
    public static <S> CheckResult check(Model<S> model, List<Operation> history) {
        return check(model, history, Long.MAX_VALUE);
    }

    /**
     * Checks {@code history}, giving up with {@link Verdict#UNKNOWN} after {@code maxSteps} search
     * steps in total over all partitions (one step is one candidate tried or one backtrack).
     * Partitions are checked in order of their first operation in {@code history}; the first ILLEGAL
     * partition ends the check.
     *
     * @throws IllegalArgumentException if {@code maxSteps} is negative, or the model rejects an input
     */
    public static <S> CheckResult check(Model<S> model, List<Operation> history, long maxSteps) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(history, "history");
        if (maxSteps < 0) {
            throw new IllegalArgumentException("maxSteps must be >= 0, got " + maxSteps);
        }
        Map<Object, List<Operation>> partitions = new LinkedHashMap<>();
        for (Operation op : history) {
            Objects.requireNonNull(op, "history contains a null operation");
            Object key = Objects.requireNonNull(model.partitionKey(op.input()),
                    () -> "model returned a null partition key for " + op.input());
            partitions.computeIfAbsent(key, k -> new ArrayList<>()).add(op);
        }
        Budget budget = new Budget(maxSteps);
        for (Map.Entry<Object, List<Operation>> partition : partitions.entrySet()) {
            CheckResult result = new PartitionSearch<>(model, partition.getKey(), partition.getValue()).run(budget);
            if (result.verdict() != Verdict.OK) {
                return result;
            }
        }
        return new CheckResult(Verdict.OK, null, "linearizable: " + history.size() + " operations on "
                + partitions.size() + " keys, " + budget.used() + " search steps");
    }

    /** Search steps left, shared by all partitions of one check. */
    private static final class Budget {
        private final long max;
        private long remaining;

        Budget(long max) {
            this.max = max;
            this.remaining = max;
        }

        boolean take() {
            if (remaining == 0) {
                return false;
            }
            remaining--;
            return true;
        }

        long used() {
            return max - remaining;
        }

        long max() {
            return max;
        }
    }

    /**
     * Memo entry: which operations are linearized and the state they lead to. The bit set is a
     * private copy that is never mutated after construction, since it lives in a hash set.
     */
    private record Explored(long[] linearized, Object state, int hash) {
        Explored(long[] linearized, Object state) {
            this(linearized, state, 31 * Arrays.hashCode(linearized) + Objects.hashCode(state));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Explored e && e.hash == hash && Arrays.equals(e.linearized, linearized)
                    && Objects.equals(e.state, state);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The search over one partition. Single use. */
    private static final class PartitionSearch<S> {
        private static final int HEAD = 0;

        private final Model<S> model;
        private final Object key;
        private final Operation[] ops;
        private final int completed;

        // The event list as a dancing-links structure over nodes 1..tail-1 between two sentinels.
        // Arrays instead of node objects keep it compact and cache friendly for thousands of events.
        private final int tail;
        private final int[] next;
        private final int[] prev;
        private final int[] nodeOp;
        private final boolean[] nodeIsCall;
        private final int[] returnNodeOfOp; // -1 for pending operations

        // The dead end the search got furthest to, for the explanation.
        private int bestNode = -1;
        private int bestDepth = -1;
        private int[] bestPrefix;
        private Object bestState;
        private int bestBlocker;
        private int[] bestConcurrent;

        PartitionSearch(Model<S> model, Object key, List<Operation> partitionOps) {
            this.model = model;
            this.key = key;
            this.ops = partitionOps.toArray(new Operation[0]);
            int n = ops.length;
            int pendingCount = 0;
            for (Operation op : ops) {
                if (op.isPending()) {
                    pendingCount++;
                }
            }
            this.completed = n - pendingCount;
            int events = n + completed;

            // Event id = 2 * op + (0 for call, 1 for return). Sorting by (time, kind, op) puts calls
            // before returns at equal times, so such operations count as concurrent.
            Integer[] order = new Integer[events];
            int e = 0;
            for (int i = 0; i < n; i++) {
                order[e++] = 2 * i;
                if (!ops[i].isPending()) {
                    order[e++] = 2 * i + 1;
                }
            }
            Arrays.sort(order, (a, b) -> {
                int c = Long.compare(eventTime(a), eventTime(b));
                if (c != 0) {
                    return c;
                }
                c = Integer.compare(a & 1, b & 1);
                return c != 0 ? c : Integer.compare(a >>> 1, b >>> 1);
            });

            this.tail = events + 1;
            this.next = new int[events + 2];
            this.prev = new int[events + 2];
            this.nodeOp = new int[events + 2];
            this.nodeIsCall = new boolean[events + 2];
            this.returnNodeOfOp = new int[n];
            Arrays.fill(returnNodeOfOp, -1);
            for (int node = 1; node <= events; node++) {
                int event = order[node - 1];
                int op = event >>> 1;
                nodeOp[node] = op;
                nodeIsCall[node] = (event & 1) == 0;
                if (!nodeIsCall[node]) {
                    returnNodeOfOp[op] = node;
                }
            }
            for (int node = 0; node <= tail; node++) {
                next[node] = node == tail ? tail : node + 1;
                prev[node] = node == HEAD ? HEAD : node - 1;
            }
        }

        private long eventTime(int event) {
            Operation op = ops[event >>> 1];
            return (event & 1) == 0 ? op.callTime() : op.returnTime();
        }

        private void unlink(int node) {
            next[prev[node]] = next[node];
            prev[next[node]] = prev[node];
        }

        /** Undoes {@link #unlink}; valid because unlinks are undone in exactly reverse order. */
        private void relink(int node) {
            next[prev[node]] = node;
            prev[next[node]] = node;
        }

        /** Removes a call event and its return event: the operation is now linearized. */
        private void lift(int callNode) {
            unlink(callNode);
            int ret = returnNodeOfOp[nodeOp[callNode]];
            if (ret >= 0) {
                unlink(ret);
            }
        }

        private void unlift(int callNode) {
            int ret = returnNodeOfOp[nodeOp[callNode]];
            if (ret >= 0) {
                relink(ret);
            }
            relink(callNode);
        }

        CheckResult run(Budget budget) {
            int n = ops.length;
            long[] linearized = new long[(n + 63) >>> 6];
            Set<Explored> explored = new HashSet<>();
            int[] stackNode = new int[n];
            @SuppressWarnings("unchecked")
            S[] stackState = (S[]) new Object[n];
            int depth = 0;
            S state = model.init();
            int node = next[HEAD];
            while (node != tail) {
                // Reaching the tail means every return event is lifted, i.e. every completed operation
                // is linearized; calls of pending operations never block the end of the list.
                if (!budget.take()) {
                    return unknown(budget, depth);
                }
                int op = nodeOp[node];
                if (nodeIsCall[node]) {
                    Operation o = ops[op];
                    StepResult<S> step = Objects.requireNonNull(model.step(state, o.input(), o.output()),
                            "Model.step returned null");
                    // Linearizing a pending operation that leaves the state unchanged can never help:
                    // whatever works after it also works with it left out, so skip that branch.
                    if (step.legal() && !(o.isPending() && Objects.equals(step.next(), state))) {
                        long[] withOp = linearized.clone();
                        withOp[op >>> 6] |= 1L << op;
                        if (explored.add(new Explored(withOp, step.next()))) {
                            stackNode[depth] = node;
                            stackState[depth] = state;
                            depth++;
                            state = step.next();
                            linearized[op >>> 6] |= 1L << op;
                            lift(node);
                            node = next[HEAD];
                            continue;
                        }
                    }
                    node = next[node];
                } else {
                    // A return event: its operation must precede everything after it, yet none of
                    // the candidates before it led anywhere. Undo the last choice.
                    // Rank dead ends by how far into the history they got (the blocking return's
                    // position), then by depth. An operation that can never be linearized blocks
                    // every path at its own return, so this reliably names it as the culprit.
                    if (node > bestNode || (node == bestNode && depth > bestDepth)) {
                        remember(node, depth, state, stackNode);
                    }
                    if (depth == 0) {
                        return illegal();
                    }
                    depth--;
                    int call = stackNode[depth];
                    state = stackState[depth];
                    stackState[depth] = null;
                    int undone = nodeOp[call];
                    linearized[undone >>> 6] &= ~(1L << undone);
                    unlift(call);
                    node = next[call];
                }
            }
            return new CheckResult(Verdict.OK, null, "linearizable");
        }

        /** Snapshots a dead end: the prefix, its state, the blocked operation and its rivals. */
        private void remember(int returnNode, int depth, S state, int[] stackNode) {
            bestNode = returnNode;
            bestDepth = depth;
            bestPrefix = new int[depth];
            for (int i = 0; i < depth; i++) {
                bestPrefix[i] = nodeOp[stackNode[i]];
            }
            bestState = state;
            bestBlocker = nodeOp[returnNode];
            // Every call still in the list before this return is concurrent with the blocked operation
            // and was tried (and failed or was already explored) at this point.
            List<Integer> rivals = new ArrayList<>();
            for (int n = next[HEAD]; n != returnNode; n = next[n]) {
                if (nodeIsCall[n] && nodeOp[n] != bestBlocker) {
                    rivals.add(nodeOp[n]);
                }
            }
            bestConcurrent = rivals.stream().mapToInt(Integer::intValue).toArray();
        }

        private CheckResult illegal() {
            StringBuilder sb = new StringBuilder();
            sb.append("key ").append(key).append(": no linearization exists for its ").append(ops.length)
                    .append(" operations (").append(ops.length - completed).append(" pending)\n");
            sb.append("longest linearizable prefix found: ").append(bestDepth).append(" operations")
                    .append(bestDepth == 0 ? "" : ", in linearization order:").append('\n');
            int from = Math.max(0, bestDepth - SHOWN_OPS);
            if (from > 0) {
                sb.append("    ... ").append(from).append(" earlier operations omitted\n");
            }
            for (int i = from; i < bestDepth; i++) {
                sb.append("    ").append(format(bestPrefix[i])).append('\n');
            }
            sb.append("state after that prefix: ").append(bestState).append('\n');
            sb.append("first operation that cannot be linearized after it:\n");
            sb.append("    ").append(format(bestBlocker)).append('\n');
            Operation blocker = ops[bestBlocker];
            @SuppressWarnings("unchecked")
            StepResult<S> step = model.step((S) bestState, blocker.input(), blocker.output());
            if (step.legal()) {
                sb.append("    (legal from state ").append(bestState).append(", leading to ").append(step.next())
                        .append(", but no way to linearize the remaining operations after it)\n");
            } else {
                sb.append("    (not legal from state ").append(bestState).append(")\n");
            }
            if (bestConcurrent.length == 0) {
                sb.append("no other unlinearized operation is concurrent with it");
            } else {
                sb.append("concurrent operations not yet linearized (none can go first either):\n");
                int shown = Math.min(SHOWN_OPS, bestConcurrent.length);
                for (int i = 0; i < shown; i++) {
                    sb.append("    ").append(format(bestConcurrent[i])).append('\n');
                }
                if (shown < bestConcurrent.length) {
                    sb.append("    ... ").append(bestConcurrent.length - shown).append(" more\n");
                }
                sb.setLength(sb.length() - 1);
            }
            return new CheckResult(Verdict.ILLEGAL, key, sb.toString());
        }

        private CheckResult unknown(Budget budget, int depth) {
            return new CheckResult(Verdict.UNKNOWN, key, "step budget of " + budget.max()
                    + " exhausted while checking key " + key + " (" + ops.length + " operations, "
                    + Math.max(depth, bestDepth) + " linearized at the deepest point so far)");
        }

        private String format(int op) {
            Operation o = ops[op];
            String ret = o.isPending() ? "pending" : Long.toString(o.returnTime());
            return "client " + o.clientId() + " [" + o.callTime() + ", " + ret + "] "
                    + model.describe(o.input(), o.output());
        }
    }
}
