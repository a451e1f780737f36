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
 * Histories built from a real sequential execution, with intervals widened around the true
 * linearization points, are linearizable; corrupting one read makes them illegal.
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
            @ForAll @IntRange(min = 1, max = 300) int count,
            @ForAll @IntRange(min = 1, max = 5) int keys,
            @ForAll @IntRange(min = 1, max = 6) int valueRange,
            @ForAll @LongRange(min = 0, max = 60) long maxWiden,
            @ForAll @IntRange(min = 0, max = 10) int pendingPercent) {
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
        assertThat(r.explanation()).contains("read(" + key + ") -> " + bogus);
    }

    @Property(tries = 50)
    void realisticConcurrentClientsAreLinearizable(
            @ForAll long seed,
            @ForAll @IntRange(min = 0, max = 500) int count,
            @ForAll @IntRange(min = 1, max = 8) int clients,
            @ForAll @IntRange(min = 1, max = 5) int keys,
            @ForAll @IntRange(min = 0, max = 4) int valueRange) {
        List<Operation> ops = Histories.concurrentClients(new Random(seed), count, clients, keys, valueRange);
        CheckResult r = LinearizabilityChecker.check(MODEL, ops);
        assertThat(r.verdict()).as("%s", r).isEqualTo(Verdict.OK);
    }
}
