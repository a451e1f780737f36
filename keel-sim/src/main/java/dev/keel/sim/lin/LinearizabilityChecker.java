package dev.keel.sim.lin;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

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
 * already explored are cached and never explored twice. Operations with an unknown outcome get extra
 * pruning so that they do not multiply the search (see the nested search class). The search is
 * iterative, so long histories cannot overflow the stack.
 *
 * <p>For an ILLEGAL partition the explanation shows the dead end that got furthest through the
 * history (longest prefix among those): that prefix, the state it leads to, the operation whose
 * return event stopped it and the concurrent operations that were tried instead.
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
     * Memo key: the set of linearized completed operations (a bit set over the first {@code len} words
     * of {@code words}) and the model state. Stored keys own a private copy of the words; the search
     * probes with one mutable instance over its live bit set to avoid allocating per candidate.
     */
    private static final class ConfigKey {
        final long[] words;
        final int len;
        Object state;
        int hash;

        ConfigKey(long[] words, int len, Object state, int hash) {
            this.words = words;
            this.len = len;
            this.state = state;
            this.hash = hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ConfigKey k && k.hash == hash && Objects.equals(k.state, state)
                    && Arrays.equals(k.words, 0, len, words, 0, len);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /**
     * The search over one partition. Single use.
     *
     * <p>Three refinements over the plain algorithm keep pending operations from blowing up the search
     * (an unlinearized pending operation stays a candidate forever, so naively every subset of them
     * is explored):
     * <ul>
     *   <li>Linearizing a pending operation is pointless if the state stays the same, or if the next
     *       operation would reach the same state without it (a pending write overwritten before
     *       anyone read it); such branches are skipped.</li>
     *   <li>A configuration that failed also rules out every configuration with the same state, the
     *       same completed operations and a superset of its pending operations: pending operations
     *       are optional, so any way to finish from the bigger set would finish from the smaller one.
     *       Only configurations whose search has finished are used this way, never ones still on the
     *       stack, which keeps the argument non-circular. With no pending operations this is exactly
     *       the usual memoization.</li>
     *   <li>At each configuration completed candidates are tried before pending ones, so the
     *       configurations without the optional operations fail first and then dominate the rest.</li>
     * </ul>
     * Why the prunings are sound together: if some visited configuration can be completed, take one
     * whose shortest completion is shortest. Its first step is either explored (a shorter one is
     * visited), or pruned because a visited configuration with fewer optional operations and the
     * same future covers it (walking up the stack for the overwrite rule); either way there is a
     * visited configuration with a strictly shorter completion, until length 0, which is success.
     * So a failed search really means no linearization, even though individual memo entries may
     * rest on branches that are explored elsewhere.
     */
    private static final class PartitionSearch<S> {
        private static final int HEAD = 0;
        private static final long[] NO_WORDS = new long[0];

        private final Model<S> model;
        private final Object key;
        /** Completed operations first (indices below {@code completed}), then pending ones. */
        private final Operation[] ops;
        private final int completed;
        private final boolean hasPending;

        // Bit layout: completed operations in words [0, completedWords), pending ones after them,
        // so the memo key is a prefix of the live bit set and the pending part a suffix.
        private final int completedWords;
        private final int pendingWords;
        private final int[] bitWord;
        private final long[] bitMask;
        /** Random per-operation values whose XOR over the linearized completed set is its hash. */
        private final long[] zobrist;

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
            List<Operation> ordered = new ArrayList<>(partitionOps.size());
            for (Operation op : partitionOps) {
                if (!op.isPending()) {
                    ordered.add(op);
                }
            }
            this.completed = ordered.size();
            for (Operation op : partitionOps) {
                if (op.isPending()) {
                    ordered.add(op);
                }
            }
            this.ops = ordered.toArray(new Operation[0]);
            int n = ops.length;
            this.hasPending = n > completed;
            this.completedWords = (completed + 63) >>> 6;
            this.pendingWords = (n - completed + 63) >>> 6;
            this.bitWord = new int[n];
            this.bitMask = new long[n];
            this.zobrist = new long[n];
            SplittableRandom random = new SplittableRandom(0x6b65656cL); // fixed: reproducible
            for (int i = 0; i < n; i++) {
                int bit = i < completed ? i : completedWords * 64 + (i - completed);
                bitWord[i] = bit >>> 6;
                bitMask[i] = 1L << bit;
                zobrist[i] = random.nextLong();
            }
            int events = n + completed;

            // Event id = 2 * op + (0 for call, 1 for return). Sorting by (time, kind, op) puts calls
            // before returns at equal times, so such operations count as concurrent.
            Integer[] order = new Integer[events];
            int e = 0;
            for (int i = 0; i < n; i++) {
                order[e++] = 2 * i;
                if (i < completed) {
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

        private static int mix(long completedHash, Object state) {
            long x = completedHash * 0x9E3779B97F4A7C15L + Objects.hashCode(state);
            return (int) (x ^ (x >>> 32));
        }

        /**
         * Whether the last linearized operation is pending and {@code o} would reach the same state
         * {@code next} from the state before it. That pending operation was then useless: the sibling
         * branch that applies {@code o} without it reaches the same state with one fewer optional
         * operation consumed, so every way to finish from here also finishes from there, and that
         * sibling is explored (or itself covered the same way by one closer to the root).
         */
        private boolean overwritesPendingPredecessor(int depth, int[] stackNode, S[] stackState, Operation o,
                S next) {
            if (depth == 0 || nodeOp[stackNode[depth - 1]] < completed) {
                return false;
            }
            StepResult<S> without = Objects.requireNonNull(
                    model.step(stackState[depth - 1], o.input(), o.output()), "Model.step returned null");
            return without.legal() && Objects.equals(without.next(), next);
        }

        /** Whether a finished (failed) configuration rules out the one described by the probe. */
        private boolean dominated(Map<ConfigKey, List<long[]>> failed, ConfigKey probe, long[] linearized) {
            List<long[]> pendingSets = failed.get(probe);
            if (pendingSets == null) {
                return false;
            }
            for (long[] pendingSet : pendingSets) {
                if (isSubset(pendingSet, linearized)) {
                    return true;
                }
            }
            return false;
        }

        /** Whether {@code pendingSet} is contained in the pending part of {@code linearized}. */
        private boolean isSubset(long[] pendingSet, long[] linearized) {
            for (int i = 0; i < pendingSet.length; i++) {
                if ((pendingSet[i] & ~linearized[completedWords + i]) != 0) {
                    return false;
                }
            }
            return true;
        }

        private void recordFailure(Map<ConfigKey, List<long[]>> failed, long[] linearized, long completedHash,
                Object state) {
            ConfigKey stored = new ConfigKey(Arrays.copyOf(linearized, completedWords), completedWords, state,
                    mix(completedHash, state));
            long[] pendingSet = pendingWords == 0 ? NO_WORDS
                    : Arrays.copyOfRange(linearized, completedWords, completedWords + pendingWords);
            List<long[]> pendingSets = failed.computeIfAbsent(stored, k -> new ArrayList<>(1));
            // Keep only minimal sets: one that contains the new set is now redundant.
            pendingSets.removeIf(other -> {
                for (int i = 0; i < other.length; i++) {
                    if ((pendingSet[i] & ~other[i]) != 0) {
                        return false;
                    }
                }
                return true;
            });
            pendingSets.add(pendingSet);
        }

        CheckResult run(Budget budget) {
            int n = ops.length;
            long[] linearized = new long[completedWords + pendingWords];
            long completedHash = 0;
            Map<ConfigKey, List<long[]>> failed = new HashMap<>();
            ConfigKey probe = new ConfigKey(linearized, completedWords, null, 0);
            int[] stackNode = new int[n];
            boolean[] stackPendingPhase = new boolean[n];
            @SuppressWarnings("unchecked")
            S[] stackState = (S[]) new Object[n];
            int depth = 0;
            S state = model.init();
            int node = next[HEAD];
            // Each configuration scans its candidates twice: completed calls first, then (only if
            // there are pending operations) pending calls. Both scans stop at the first return event.
            boolean pendingPhase = false;
            while (node != tail) {
                // Reaching the tail (always in the completed phase: the pending phase only starts
                // after a return event was seen) means every return event is lifted, i.e. every
                // completed operation is linearized. Pending calls never block the end of the list.
                int op = nodeOp[node];
                if (nodeIsCall[node]) {
                    boolean opPending = op >= completed;
                    if (opPending != pendingPhase) {
                        node = next[node];
                        continue;
                    }
                    if (!budget.take()) {
                        return unknown(budget, depth);
                    }
                    Operation o = ops[op];
                    StepResult<S> step = Objects.requireNonNull(model.step(state, o.input(), o.output()),
                            "Model.step returned null");
                    // Linearizing a pending operation that leaves the state unchanged can never help:
                    // whatever works after it also works with it left out, so skip that branch.
                    if (step.legal() && !(opPending && Objects.equals(step.next(), state))
                            && !overwritesPendingPredecessor(depth, stackNode, stackState, o, step.next())) {
                        linearized[bitWord[op]] |= bitMask[op];
                        long hash = opPending ? completedHash : completedHash ^ zobrist[op];
                        probe.state = step.next();
                        probe.hash = mix(hash, step.next());
                        if (!dominated(failed, probe, linearized)) {
                            stackNode[depth] = node;
                            stackPendingPhase[depth] = pendingPhase;
                            stackState[depth] = state;
                            depth++;
                            state = step.next();
                            completedHash = hash;
                            lift(node);
                            node = next[HEAD];
                            pendingPhase = false;
                            continue;
                        }
                        linearized[bitWord[op]] &= ~bitMask[op];
                    }
                    node = next[node];
                } else if (hasPending && !pendingPhase) {
                    pendingPhase = true;
                    node = next[HEAD];
                } else {
                    // A return event: its operation must precede everything after it, yet no
                    // candidate before it led anywhere. This configuration fails; undo the last choice.
                    if (!budget.take()) {
                        return unknown(budget, depth);
                    }
                    recordFailure(failed, linearized, completedHash, state);
                    // Rank dead ends by how far into the history they got (the blocking return's
                    // position), then by depth. An operation that can never be linearized blocks
                    // every path at its own return, so this reliably names it as the culprit.
                    if (node > bestNode || (node == bestNode && depth > bestDepth)) {
                        remember(node, depth, state, stackNode);
                    }
                    if (depth == 0) {
                        return illegal(budget);
                    }
                    depth--;
                    int call = stackNode[depth];
                    state = stackState[depth];
                    stackState[depth] = null;
                    pendingPhase = stackPendingPhase[depth];
                    int undone = nodeOp[call];
                    linearized[bitWord[undone]] &= ~bitMask[undone];
                    if (undone < completed) {
                        completedHash ^= zobrist[undone];
                    }
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

        private CheckResult illegal(Budget budget) {
            StringBuilder sb = new StringBuilder();
            sb.append("key ").append(key).append(": no linearization exists for its ").append(ops.length)
                    .append(" operations (").append(ops.length - completed).append(" pending; ")
                    .append(budget.used()).append(" search steps in total)\n");
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
                sb.append("concurrent operations not yet linearized (each was tried here and led nowhere):\n");
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
