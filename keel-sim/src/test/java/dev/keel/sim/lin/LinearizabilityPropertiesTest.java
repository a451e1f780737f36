package dev.keel.sim.lin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * Properties of the checker on generated histories.
 *
 * <p>Size limits are chosen so that the exhaustive search an ILLEGAL verdict needs stays small
 * (measured: at most a few tens of thousands of steps at the corners of these ranges); deciding
 * linearizability is NP-complete, so unbounded sizes with many pending operations on one key
 * would make these tests slow rather than more convincing.
 */
class LinearizabilityPropertiesTest {

    private static final RegisterModel MODEL = new RegisterModel();

    @Property(tries = 300)
    void widenedSequentialExecutionsAreLinearizable(
            @ForAll long seed,
            @ForAll @IntRange(min = 0, max = 300) int count,
            @ForAll @IntRange(min = 1, max = 5) int keys,
            @ForAll @IntRange(min = 1, max = 6) int valueRange,
            @ForAll @LongRange(min = 0, max = 60) long maxWiden,
            @ForAll @IntRange(min = 0, max = 10) int pendingPercent) {
        Histories.Generated h = Histories.widenedSequential(
                new Random(seed), count, keys, valueRange, maxWiden, pendingPercent / 100.0);
        CheckResult r = LinearizabilityChecker.check(MODEL, h.ops());
        assertThat(r.verdict()).as("%s", r).isEqualTo(Verdict.OK);
    }

    @Property(tries = 300)
    void readOfAValueNeverWrittenMakesTheHistoryIllegal(
            @ForAll long seed,
            @ForAll @IntRange(min = 1, max = 200) int count,
            @ForAll @IntRange(min = 1, max = 5) int keys,
            @ForAll @IntRange(min = 1, max = 6) int valueRange,
            @ForAll @LongRange(min = 0, max = 30) long maxWiden,
            @ForAll @IntRange(min = 0, max = 3) int pendingPercent) {
        Random rnd = new Random(seed);
        Histories.Generated h = Histories.widenedSequential(
                rnd, count, keys, valueRange, maxWiden, pendingPercent / 100.0);
        Assume.that(!h.completedReads().isEmpty());
        List<Operation> ops = new ArrayList<>(h.ops());
        int victim = h.completedReads().get(rnd.nextInt(h.completedReads().size()));
        Operation read = ops.get(victim);
        long bogus = -1 - rnd.nextInt(1_000); // generated values are never negative
        ops.set(victim, new Operation(read.clientId(), read.callTime(), read.returnTime(), read.input(), bogus));
        // The list order must not matter to the checker.
        Collections.shuffle(ops, rnd);

        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).as("%s", r).isEqualTo(Verdict.ILLEGAL);
        String key = ((RegisterOp.Read) read.input()).key();
        assertThat(r.failingKey()).isEqualTo(key);
        // The corrupted read can never be linearized, so it is the one the explanation blames.
        assertThat(r.explanation())
                .contains("first operation that cannot be linearized after it:\n    client " + read.clientId()
                        + " [" + read.callTime() + ", " + read.returnTime() + "] read(" + key + ") -> " + bogus);
    }

    @Property(tries = 50)
    void realisticClientHistoriesAreLinearizableAndACorruptedReadIsCaught(
            @ForAll long seed,
            @ForAll @IntRange(min = 1, max = 1000) int count,
            @ForAll @IntRange(min = 1, max = 8) int clients,
            @ForAll @IntRange(min = 1, max = 5) int keys,
            @ForAll @IntRange(min = 0, max = 4) int valueRange) {
        Random rnd = new Random(seed);
        List<Operation> ops = Histories.concurrentClients(rnd, count, clients, keys, valueRange);
        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).as("%s", r).isEqualTo(Verdict.OK);

        List<Integer> reads = new ArrayList<>();
        for (int i = 0; i < ops.size(); i++) {
            if (ops.get(i).input() instanceof RegisterOp.Read && !ops.get(i).isPending()) {
                reads.add(i);
            }
        }
        Assume.that(!reads.isEmpty());
        List<Operation> bad = new ArrayList<>(ops);
        int victim = reads.get(rnd.nextInt(reads.size()));
        Operation read = bad.get(victim);
        bad.set(victim, new Operation(read.clientId(), read.callTime(), read.returnTime(), read.input(), -7L));
        CheckResult b = LinearizabilityChecker.check(MODEL, bad);
        assertThat(b.verdict()).as("%s", b).isEqualTo(Verdict.ILLEGAL);
        assertThat(b.failingKey()).isEqualTo(((RegisterOp.Read) read.input()).key());
    }

    /**
     * On tiny random histories (linearizable or not) the checker agrees with a brute-force search over
     * all orders and all subsets of pending operations. This is what guards the pruning rules.
     */
    @Property(tries = 2000)
    void agreesWithBruteForceOnTinyHistories(
            @ForAll long seed,
            @ForAll @IntRange(min = 0, max = 7) int count,
            @ForAll @IntRange(min = 1, max = 2) int keys,
            @ForAll @IntRange(min = 1, max = 3) int valueRange) {
        Random rnd = new Random(seed);
        List<Operation> ops = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String key = "k" + rnd.nextInt(keys);
            long call = rnd.nextInt(20);
            long ret = call + rnd.nextInt(10);
            boolean pending = rnd.nextInt(4) == 0;
            RegisterOp input;
            Object output;
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    input = new RegisterOp.Write(key, rnd.nextInt(valueRange));
                    output = null;
                }
                case 1 -> {
                    input = new RegisterOp.Read(key);
                    output = rnd.nextInt(4) == 0 ? null : (Long) (long) rnd.nextInt(valueRange);
                }
                default -> {
                    input = new RegisterOp.Cas(key, rnd.nextInt(valueRange), rnd.nextInt(valueRange));
                    output = rnd.nextBoolean();
                }
            }
            ops.add(pending ? Operation.pending(i, call, input) : Operation.completed(i, call, ret, input, output));
        }
        boolean expected = bruteForce(ops);
        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).as("%s for %s", r, ops).isEqualTo(expected ? Verdict.OK : Verdict.ILLEGAL);
    }

    /** Tries every sequence that respects real time; pending operations may be left out. No pruning. */
    private static boolean bruteForce(List<Operation> ops) {
        // Whole-map states: the model is per key, so run it on each key's own state.
        return extend(ops, new boolean[ops.size()], new java.util.HashMap<>());
    }

    private static boolean extend(List<Operation> ops, boolean[] used,
            java.util.Map<Object, RegisterModel.State> states) {
        boolean allCompletedUsed = true;
        for (int i = 0; i < ops.size(); i++) {
            if (!used[i] && !ops.get(i).isPending()) {
                allCompletedUsed = false;
            }
        }
        if (allCompletedUsed) {
            return true;
        }
        for (int i = 0; i < ops.size(); i++) {
            if (used[i]) {
                continue;
            }
            Operation o = ops.get(i);
            boolean mustWait = false;
            for (int j = 0; j < ops.size(); j++) {
                // An unused completed operation that returned strictly before o was called must go first.
                if (!used[j] && j != i && ops.get(j).returnTime() < o.callTime()) {
                    mustWait = true;
                    break;
                }
            }
            if (mustWait) {
                continue;
            }
            Object key = MODEL.partitionKey(o.input());
            RegisterModel.State before = states.getOrDefault(key, MODEL.init());
            StepResult<RegisterModel.State> step = MODEL.step(before, o.input(), o.output());
            if (!step.legal()) {
                continue;
            }
            used[i] = true;
            states.put(key, step.next());
            boolean ok = extend(ops, used, states);
            states.put(key, before);
            used[i] = false;
            if (ok) {
                return true;
            }
        }
        return false;
    }
}
