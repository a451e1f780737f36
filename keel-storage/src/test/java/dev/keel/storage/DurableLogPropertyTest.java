package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.MemoryStorage;
import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link DurableLog} behaves exactly like the reference {@link MemoryStorage} under random
 * sequences of appends (with suffix truncation), compactions, snapshot installations, hard state
 * changes and reopens, with small segments so that rollover, whole-segment deletion and disk
 * reads (cache off or tiny) are exercised. The only intended difference is in the hard state after
 * a reopen: a commitIndex change alone is not written, and commitIndex is clamped to the last index.
 */
class DurableLogPropertyTest {

    sealed interface Op permits Append, Compact, Install, SetHardState, Reopen, Crash {}

    /** Append count entries starting {@code back} entries before the end (truncating them), term raised by termBump. */
    record Append(int back, int count, int termBump, int maxData) implements Op {}

    /** Compact at lastIndex - back. */
    record Compact(int back) implements Op {}

    /** Install a snapshot at lastIndex + offset, matching the log's term there or not. */
    record Install(int offset, boolean matching) implements Op {}

    record SetHardState(int vote, int commitBack) implements Op {}

    record Reopen() implements Op {}

    /**
     * The process dies (kill -9) without a sync: a copy of the files as the OS has them is opened
     * beside the running log. It must hold at least every synced entry and be a prefix of the
     * model's log. The running log then goes on.
     */
    record Crash() implements Op {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> append = Combinators.combine(Arbitraries.integers().between(0, 6), Arbitraries.integers().between(1, 25),
                Arbitraries.integers().between(0, 2), Arbitraries.of(0, 10, 300, 1500)).as(Append::new);
        Arbitrary<Op> compact = Arbitraries.integers().between(0, 40).map(Compact::new);
        Arbitrary<Op> install = Combinators.combine(Arbitraries.integers().between(-15, 10), Arbitraries.of(true, false))
                .as(Install::new);
        Arbitrary<Op> hardState = Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 20))
                .as(SetHardState::new);
        Arbitrary<Op> reopen = Arbitraries.just(new Reopen());
        Arbitrary<Op> crash = Arbitraries.just(new Crash());
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(8, append),
                net.jqwik.api.Tuple.of(2, compact),
                net.jqwik.api.Tuple.of(2, install),
                net.jqwik.api.Tuple.of(1, hardState),
                net.jqwik.api.Tuple.of(2, reopen),
                net.jqwik.api.Tuple.of(1, crash)).list().ofMinSize(1).ofMaxSize(50);
    }

    @Property(tries = 300)
    void behavesLikeMemoryStorage(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 0, max = 2) int cacheMode,
                                  @ForAll boolean smallSegments, @ForAll long seed) throws IOException {
        Path dir = Files.createTempDirectory("keel-prop");
        StorageConfig cfg = TestFiles.cfg().sync(false)
                .segmentBytes(smallSegments ? 4096 : 64 << 10)
                .cacheBytes(new long[] {0, 3000, 1 << 20}[cacheMode])
                .build();
        Random rnd = new Random(seed);
        MemoryStorage mem = new MemoryStorage();
        DurableLog log = DurableLog.open(dir, cfg);
        long currentTerm = 1;
        // What the hard state file holds: it is rewritten only when currentTerm or votedFor change.
        HardState written = HardState.EMPTY;
        try {
            for (Op op : ops) {
                switch (op) {
                    case Append a -> {
                        long first = Math.max(mem.firstIndex(), mem.lastIndex() + 1 - a.back());
                        // Any term from the previous entry's up to a new one: a new leader may replace
                        // a follower's entries with entries of a lower term (from its own older log).
                        long lowest = Math.max(1, mem.term(first - 1));
                        long highest = Math.max(lowest, currentTerm + a.termBump());
                        long term = lowest + (long) rnd.nextInt((int) (highest - lowest + 1));
                        List<Entry> batch = new ArrayList<>();
                        for (int i = 0; i < a.count(); i++) {
                            long index = first + i;
                            if (rnd.nextInt(8) == 0) term++; // terms may also rise inside a batch
                            batch.add(i % 5 == 4 ? Entry.noop(index, term)
                                    : i % 7 == 6 ? new Entry(index, term, EntryType.CONFIG, Membership.of(1, 2, 3).encode())
                                    : Entry.normal(index, term, TestFiles.data(rnd, rnd.nextInt(a.maxData() + 1))));
                        }
                        currentTerm = Math.max(currentTerm, term);
                        log.append(batch);
                        mem.append(batch);
                        if (rnd.nextBoolean()) {
                            log.sync();
                            assertThat(log.durableIndex()).isEqualTo(log.lastIndex());
                        }
                    }
                    case Compact c -> {
                        long index = mem.lastIndex() - c.back();
                        if (index <= mem.snapshot().index()) continue;
                        byte[] data = TestFiles.data(rnd, rnd.nextInt(200));
                        SnapshotMeta meta = TestFiles.commitSnapshot(log, index, mem.term(index), data);
                        log.compact(meta);
                        mem.compact(meta, data);
                    }
                    case Install in -> {
                        long index = mem.lastIndex() + in.offset();
                        if (index <= mem.snapshot().index()) continue;
                        long term;
                        if (in.matching() && index <= mem.lastIndex()) {
                            term = mem.term(index);
                        } else {
                            term = ++currentTerm; // a leader of a newer term with a different history
                        }
                        byte[] data = TestFiles.data(rnd, rnd.nextInt(300));
                        SnapshotMeta meta = TestFiles.receiveSnapshot(log, index, term, data);
                        log.installSnapshot(meta);
                        mem.installSnapshot(meta, data);
                    }
                    case SetHardState h -> {
                        HardState hs = new HardState(currentTerm, h.vote(), Math.max(0, mem.lastIndex() - h.commitBack()));
                        log.setHardState(hs);
                        mem.setHardState(hs);
                        log.sync();
                        if (hs.currentTerm() != written.currentTerm() || hs.votedFor() != written.votedFor()) written = hs;
                    }
                    case Reopen r -> {
                        log.close();
                        log = DurableLog.open(dir, cfg);
                        // a commitIndex change alone is not written; on open it is clamped to the last index
                        HardState expect = new HardState(written.currentTerm(), written.votedFor(),
                                Math.min(written.commitIndex(), mem.lastIndex()));
                        assertThat(log.hardState()).isEqualTo(expect);
                        mem.setHardState(expect);
                        assertThat(log.recoveryReport().cutTornTail()).isFalse();
                        assertThat(log.durableIndex()).isEqualTo(log.lastIndex());
                    }
                    case Crash c -> {
                        Path copy = Files.createTempDirectory("keel-crash");
                        try {
                            TestFiles.copyDir(dir, copy);
                            try (DurableLog crashed = DurableLog.open(copy, cfg)) {
                                assertThat(crashed.snapshot()).isEqualTo(mem.snapshot());
                                assertThat(crashed.lastIndex()).isBetween(log.durableIndex(), mem.lastIndex());
                                long hi = crashed.lastIndex() + 1;
                                assertThat(crashed.entries(mem.firstIndex(), hi, Long.MAX_VALUE))
                                        .isEqualTo(mem.entries(mem.firstIndex(), hi, Long.MAX_VALUE));
                            }
                        } finally {
                            TestFiles.deleteDir(copy);
                        }
                    }
                }
                compare(log, mem, rnd, op);
            }
        } finally {
            log.close();
            TestFiles.deleteDir(dir);
        }
    }

    private static void compare(DurableLog log, MemoryStorage mem, Random rnd, Op after) {
        String what = "after " + after;
        assertThat(log.firstIndex()).as(what).isEqualTo(mem.firstIndex());
        assertThat(log.lastIndex()).as(what).isEqualTo(mem.lastIndex());
        assertThat(log.snapshot()).as(what).isEqualTo(mem.snapshot());
        for (long i = mem.firstIndex() - 1; i <= mem.lastIndex(); i++) {
            assertThat(log.term(i)).as("%s: term(%s)", what, i).isEqualTo(mem.term(i));
        }
        long lo = mem.firstIndex();
        long hi = mem.lastIndex() + 1;
        assertThat(log.entries(lo, hi, Long.MAX_VALUE)).as(what).isEqualTo(mem.entries(lo, hi, Long.MAX_VALUE));
        if (hi > lo) {
            long a = lo + rnd.nextInt((int) (hi - lo));
            long b = a + rnd.nextInt((int) (hi - a) + 1);
            long max = rnd.nextInt(3000);
            if (rnd.nextBoolean() && b > a) { // exactly the size of a prefix: the boundary of the maxBytes rule
                max = 0;
                for (Entry e : mem.entries(a, a + rnd.nextInt((int) (b - a)) + 1, Long.MAX_VALUE)) max += e.sizeBytes();
            }
            assertThat(log.entries(a, b, max)).as("%s: entries(%s, %s, %s)", what, a, b, max).isEqualTo(mem.entries(a, b, max));
        }
        long s = mem.snapshot().index();
        assertThat(log.snapshotChunk(s, 0, Integer.MAX_VALUE)).as(what).isEqualTo(mem.snapshotChunk(s, 0, Integer.MAX_VALUE));
        assertThat(log.snapshotChunk(s + 1, 0, 10)).isNull();
        assertThat(log.hardState()).as(what).isEqualTo(mem.hardState());
    }
}
