package dev.keel.sim.lin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LinearizabilityCheckerTest {

    private static final RegisterModel MODEL = new RegisterModel();

    // Shorthands: c = client, [s, e] = interval.
    private static Operation write(int c, long s, long e, String key, long value) {
        return Operation.completed(c, s, e, new RegisterOp.Write(key, value), null);
    }

    private static Operation read(int c, long s, long e, String key, Long seen) {
        return Operation.completed(c, s, e, new RegisterOp.Read(key), seen);
    }

    private static Operation cas(int c, long s, long e, String key, long expected, long value, boolean ok) {
        return Operation.completed(c, s, e, new RegisterOp.Cas(key, expected, value), ok);
    }

    private static CheckResult check(Operation... ops) {
        return LinearizabilityChecker.check(MODEL, List.of(ops));
    }

    // ---- known-good histories

    @Test
    void emptyHistoryIsLinearizable() {
        assertThat(check().verdict()).isEqualTo(Verdict.OK);
        assertThat(check().failingKey()).isNull();
    }

    @Test
    void sequentialHistoryIsLinearizable() {
        CheckResult r = check(
                read(0, 0, 1, "x", null),
                write(0, 2, 3, "x", 1),
                read(1, 4, 5, "x", 1L),
                write(1, 6, 7, "x", 2),
                cas(0, 8, 9, "x", 2, 3, true),
                read(0, 10, 11, "x", 3L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
        assertThat(r.isOk()).isTrue();
    }

    @Test
    void readOverlappingWriteMaySeeEitherValue() {
        for (Long seen : new Long[] {1L, 2L}) {
            CheckResult r = check(
                    write(0, 0, 10, "x", 1),
                    write(1, 20, 40, "x", 2),
                    read(2, 25, 35, "x", seen));
            assertThat(r.verdict()).as("read seeing %s", seen).isEqualTo(Verdict.OK);
        }
        // A read overlapping the very first write may also see the key absent.
        assertThat(check(write(0, 0, 10, "x", 1), read(1, 5, 6, "x", null)).verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void concurrentReadsMayObserveConcurrentWritesInEitherOrder() {
        // Two overlapping writes; later readers agree on an order of them: 2 then 1.
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                write(1, 0, 10, "x", 2),
                read(2, 5, 20, "x", 2L),
                read(3, 30, 40, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void pendingWriteMayTakeEffectLongAfterItsCall() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                Operation.pending(1, 20, new RegisterOp.Write("x", 2)),
                read(2, 100, 110, "x", 1L),
                read(2, 200, 210, "x", 2L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void pendingWriteThatNeverTookEffectIsFine() {
        CheckResult r = check(
                Operation.pending(1, 0, new RegisterOp.Write("x", 5)),
                read(2, 10, 20, "x", null),
                read(2, 30, 40, "x", null));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void pendingWriteCannotTakeEffectBeforeItsCall() {
        CheckResult r = check(
                read(2, 0, 10, "x", 5L),
                Operation.pending(1, 20, new RegisterOp.Write("x", 5)));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void pendingWriteTakesEffectAtMostOnce() {
        // Once 2 is overwritten by 3, the pending write of 2 cannot reappear.
        CheckResult r = check(
                Operation.pending(1, 0, new RegisterOp.Write("x", 2)),
                read(2, 10, 20, "x", 2L),
                write(0, 30, 40, "x", 3),
                read(2, 50, 60, "x", 2L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void pendingWriteMayTakeEffectAfterALaterCompletedWrite() {
        // The pending write of 1 lands after the write of 2; the search must not discard it as
        // "overwritten" just because 2 came after it in one ordering.
        CheckResult r = check(
                Operation.pending(0, 0, new RegisterOp.Write("x", 1)),
                write(1, 10, 20, "x", 2),
                read(2, 30, 40, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void chainOfPendingOperationsCanBeNeeded() {
        // Only "pending write 1, then pending cas 1 => 2" explains the read of 2.
        CheckResult r = check(
                Operation.pending(0, 0, new RegisterOp.Write("x", 1)),
                Operation.pending(1, 0, new RegisterOp.Cas("x", 1, 2)),
                read(2, 10, 20, "x", 2L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void pendingWriteCannotBeUsedTwice() {
        CheckResult r = check(
                Operation.pending(0, 0, new RegisterOp.Write("x", 5)),
                write(1, 10, 20, "x", 6),
                read(2, 30, 40, "x", 5L),
                read(2, 50, 60, "x", 6L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void pendingReadIsNeverAConstraint() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                Operation.pending(1, 20, new RegisterOp.Read("x")),
                read(2, 30, 40, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void casSuccessAndFailure() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                cas(1, 20, 30, "x", 1, 2, true),
                cas(2, 40, 50, "x", 1, 3, false),
                read(0, 60, 70, "x", 2L),
                cas(0, 80, 90, "y", 0, 1, false)); // absent key: CAS fails
        assertThat(r.verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void pendingCasMayOrMayNotHaveTakenEffect() {
        Operation w = write(0, 0, 10, "x", 1);
        Operation pendingCas = Operation.pending(1, 20, new RegisterOp.Cas("x", 1, 2));
        assertThat(check(w, pendingCas, read(2, 100, 110, "x", 2L)).verdict()).isEqualTo(Verdict.OK);
        assertThat(check(w, pendingCas, read(2, 100, 110, "x", 1L)).verdict()).isEqualTo(Verdict.OK);
        // But it cannot succeed when the register never held its expected value.
        Operation doomed = Operation.pending(1, 20, new RegisterOp.Cas("x", 7, 2));
        assertThat(check(w, doomed, read(2, 100, 110, "x", 2L)).verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void operationsTouchingAtTheSameInstantAreConcurrent() {
        // Write returns at 10 and the read is called at 10: they may be ordered either way.
        assertThat(check(write(0, 0, 10, "x", 1), read(1, 10, 20, "x", null)).verdict()).isEqualTo(Verdict.OK);
        // One tick apart the write strictly precedes the read.
        assertThat(check(write(0, 0, 9, "x", 1), read(1, 10, 20, "x", null)).verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void historyOrderDoesNotMatter() {
        List<Operation> ops = new ArrayList<>(List.of(
                write(0, 0, 10, "x", 1),
                write(1, 20, 40, "x", 2),
                read(2, 25, 35, "x", 1L),
                read(2, 50, 60, "x", 2L),
                write(3, 0, 5, "y", 9),
                read(3, 6, 7, "y", 9L)));
        for (long seed = 0; seed < 20; seed++) {
            Collections.shuffle(ops, new Random(seed));
            assertThat(LinearizabilityChecker.check(MODEL, ops).verdict()).isEqualTo(Verdict.OK);
        }
    }

    // ---- known-bad histories

    @Test
    void staleReadAfterCompletedWriteIsIllegal() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                write(1, 20, 30, "x", 2),
                read(2, 40, 50, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("x");
        assertThat(r.explanation())
                .contains("client 2 [40, 50] read(x) -> 1")
                .contains("state after that prefix: 2")
                .contains("not legal from state 2");
    }

    @Test
    void readOfValueNeverWrittenIsIllegal() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                read(1, 5, 15, "x", 42L),
                write(2, 5, 25, "x", 2));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("x");
        assertThat(r.explanation()).contains("read(x) -> 42");
    }

    @Test
    void readsObservingAnImpossibleOrderAreIllegal() {
        // Single writes of 1 and 2 (concurrent with each other), then sequential reads 1, 2, 1:
        // the register would have to go back to 1, which needs a second write of 1.
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                write(1, 0, 10, "x", 2),
                read(2, 20, 30, "x", 1L),
                read(2, 40, 50, "x", 2L),
                read(2, 60, 70, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("x");
        // Whichever order the writes take, a read is contradicted; the search gets furthest by
        // ordering 2 before 1, and is then stuck at the read of 2.
        assertThat(r.explanation())
                .contains("client 2 [20, 30] read(x) -> 1")
                .contains("first operation that cannot be linearized after it:\n    client 2 [40, 50] read(x) -> 2");
    }

    @Test
    void casSucceedingWhenItShouldFailIsIllegal() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                cas(1, 20, 30, "x", 5, 6, true));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("x");
        assertThat(r.explanation()).contains("cas(x, 5 => 6) -> true");
    }

    @Test
    void casFailingWhenItShouldSucceedIsIllegal() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                cas(1, 20, 30, "x", 1, 6, false));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
    }

    @Test
    void twoSuccessfulCasFromTheSameValueAreIllegal() {
        // Both swaps claim to have replaced 1, concurrently; only one of them can have.
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                cas(1, 20, 30, "x", 1, 2, true),
                cas(2, 20, 30, "x", 1, 3, true));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.explanation()).contains("cas(x, 1 => 3) -> true").contains("not legal from state 2");
    }

    @Test
    void explanationListsConcurrentOperationsThatCouldNotGoFirstEither() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                read(1, 20, 30, "x", 7L),
                read(2, 20, 30, "x", 8L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.explanation())
                .contains("first operation that cannot be linearized after it:\n    client 1 [20, 30] read(x) -> 7")
                .contains("concurrent operations not yet linearized (each was tried here and led nowhere):\n"
                        + "    client 2 [20, 30] read(x) -> 8");
    }

    @Test
    void badKeyIsReportedEvenWhenOtherKeysAreFine() {
        List<Operation> ops = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ops.add(write(0, 100L * i, 100L * i + 10, "a", i));
            ops.add(read(1, 100L * i + 5, 100L * i + 20, "a", (long) i));
        }
        ops.add(write(2, 0, 10, "b", 1));
        ops.add(write(2, 20, 30, "b", 2));
        ops.add(read(3, 40, 50, "b", 1L));
        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("b");
        assertThat(r.explanation()).contains("key b").contains("read(b) -> 1").doesNotContain("(a,");
    }

    @Test
    void explanationListsTheLongestPrefixInLinearizationOrder() {
        CheckResult r = check(
                write(0, 0, 10, "x", 1),
                read(1, 20, 30, "x", 1L),
                write(0, 40, 50, "x", 2),
                read(1, 60, 70, "x", 1L));
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        String text = r.explanation();
        assertThat(text).contains("longest linearizable prefix found: 3 operations");
        int w1 = text.indexOf("write(x, 1)");
        int r1 = text.indexOf("client 1 [20, 30] read(x) -> 1");
        int w2 = text.indexOf("write(x, 2)");
        int bad = text.indexOf("client 1 [60, 70] read(x) -> 1");
        assertThat(w1).isPositive().isLessThan(r1);
        assertThat(r1).isLessThan(w2);
        assertThat(w2).isLessThan(bad);
    }

    /** A fetch-and-increment counter: input "inc" returns the new value, "get" the current one. */
    private static final Model<Long> COUNTER = new Model<>() {
        @Override
        public Long init() {
            return 0L;
        }

        @Override
        public StepResult<Long> step(Long state, Object input, Object output) {
            long after = input.equals("inc") ? state + 1 : state;
            return output == null || output.equals(after) ? StepResult.accept(after) : StepResult.reject();
        }

        @Override
        public Object partitionKey(Object input) {
            return "counter";
        }
    };

    @Test
    void worksWithAnyModel() {
        List<Operation> good = List.of(
                Operation.completed(0, 0, 10, "inc", 2L),
                Operation.completed(1, 0, 10, "inc", 1L),
                Operation.pending(2, 5, "inc"),
                Operation.completed(3, 20, 30, "get", 3L));
        assertThat(LinearizabilityChecker.check(COUNTER, good).verdict()).isEqualTo(Verdict.OK);
        List<Operation> bad = List.of(
                Operation.completed(0, 0, 10, "inc", 1L),
                Operation.completed(1, 0, 10, "inc", 1L));
        CheckResult r = LinearizabilityChecker.check(COUNTER, bad);
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.failingKey()).isEqualTo("counter");
        assertThat(r.explanation()).contains("inc -> 1"); // the default describe()
    }

    // ---- budget, scale and validation

    @Test
    void exhaustedBudgetGivesUnknown() {
        List<Operation> ops = Histories.concurrentClients(new Random(7), 200, 5, 1, 3);
        CheckResult r = LinearizabilityChecker.check(MODEL, ops, 10);
        assertThat(r.verdict()).isEqualTo(Verdict.UNKNOWN);
        assertThat(r.failingKey()).isEqualTo("k0");
        assertThat(r.explanation()).contains("budget of 10");
        assertThat(LinearizabilityChecker.check(MODEL, ops, 10_000_000).verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void zeroBudgetOnEmptyHistoryIsStillOk() {
        assertThat(LinearizabilityChecker.check(MODEL, List.of(), 0).verdict()).isEqualTo(Verdict.OK);
    }

    @Test
    void longHistoriesDoNotOverflowTheStack() {
        List<Operation> ops = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            ops.add(write(0, 10L * i, 10L * i + 15, "x", i)); // each write overlaps the next
        }
        ops.add(read(1, 10L * 20_000 + 100, 10L * 20_000 + 110, "x", 19_999L));
        assertThat(LinearizabilityChecker.check(MODEL, ops).verdict()).isEqualTo(Verdict.OK);
        // And the failing case backtracks through the whole depth.
        ops.set(ops.size() - 1, read(1, 10L * 20_000 + 100, 10L * 20_000 + 110, "x", 3L));
        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).isEqualTo(Verdict.ILLEGAL);
        assertThat(r.explanation()).contains("earlier operations omitted");
    }

    @Test
    void twoThousandOperationsOnFiveKeysCheckQuickly() {
        long[] millis = new long[10];
        for (int seed = 0; seed < millis.length; seed++) {
            List<Operation> ops = Histories.concurrentClients(new Random(seed), 2_000, 5, 5, 0);
            long start = System.nanoTime();
            CheckResult r = LinearizabilityChecker.check(MODEL, ops);
            millis[seed] = (System.nanoTime() - start) / 1_000_000;
            assertThat(r.verdict()).as("seed %d: %s", seed, r).isEqualTo(Verdict.OK);
        }
        long[] small = new long[10];
        for (int seed = 0; seed < small.length; seed++) {
            // Values from a domain of 3 make reads ambiguous: the hard case for the search.
            List<Operation> ops = Histories.concurrentClients(new Random(seed), 2_000, 5, 5, 3);
            long start = System.nanoTime();
            CheckResult r = LinearizabilityChecker.check(MODEL, ops);
            small[seed] = (System.nanoTime() - start) / 1_000_000;
            assertThat(r.verdict()).as("seed %d: %s", seed, r).isEqualTo(Verdict.OK);
        }
        System.out.println("2000-op checks (ms), unique values: " + Arrays.toString(millis)
                + ", values in 0..2: " + Arrays.toString(small));
        // Generous bound: the machine is shared; typical runs are a few milliseconds to tens of them.
        long[] sorted = millis.clone();
        Arrays.sort(sorted);
        assertThat(sorted[sorted.length / 2]).isLessThan(1_000);
    }

    @Test
    void operationValidatesItsInterval() {
        assertThatThrownBy(() -> Operation.completed(0, 10, 5, new RegisterOp.Read("x"), null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Operation.completed(0, 10, Operation.PENDING, new RegisterOp.Read("x"), null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Operation(0, 1, 2, null, null)).isInstanceOf(NullPointerException.class);
        assertThat(Operation.pending(0, 10, new RegisterOp.Read("x")).isPending()).isTrue();
        assertThat(Operation.completed(0, 10, 10, new RegisterOp.Read("x"), null).isPending()).isFalse();
    }

    @Test
    void registerModelRejectsMistypedOutputs() {
        assertThatThrownBy(() -> check(read(0, 0, 1, "x", null),
                Operation.completed(0, 2, 3, new RegisterOp.Read("x"), 5)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LinearizabilityChecker.check(MODEL,
                List.of(Operation.completed(0, 2, 3, "not an op", null))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LinearizabilityChecker.check(MODEL, List.of(), -1))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
