package dev.keel.kv.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvCommand.Op;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Determinism and snapshot fidelity: random command sequences (plain, conditional, in sessions with
 * retries, and garbage) applied to one store straight through and to another that is restored from
 * a snapshot taken midway end in equal states and give equal results; a simple reference model
 * agrees on the data.
 */
class KvStateMachinePropertyTest {

    /** One log entry: a command (or raw garbage), with the index gap before it. */
    record Step(byte[] bytes, int gap) {}

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<byte[]> key = Arbitraries.of("a", "b", "c", "a/1", "a/2", "\u00ff").map(KvStateMachineTest::b);
        Arbitrary<byte[]> value = Arbitraries.of("", "x", "y", "z").map(KvStateMachineTest::b);
        Arbitrary<Condition> cond = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, Arbitraries.just(KvCommand.NONE)),
                net.jqwik.api.Tuple.of(2, Arbitraries.longs().between(0, 60).map(Condition.ModRevision::new)),
                net.jqwik.api.Tuple.of(1, value.map(Condition.Value::new)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new Condition.Exists())));
        Arbitrary<long[]> session = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(2, Arbitraries.just(new long[] {0, 0})),
                net.jqwik.api.Tuple.of(3, Combinators.combine(Arbitraries.longs().between(1, 4), Arbitraries.longs().between(1, 6))
                        .as((c, s) -> new long[] {c, s})));
        Arbitrary<byte[]> command = Combinators.combine(Arbitraries.of(Op.class), key, value, cond, session)
                .as((op, k, v, c, s) -> KvCodec.encode(new KvCommand(op, k, op == Op.PUT ? v : new byte[0], c, s[0], s[1])));
        Arbitrary<byte[]> garbage = Arbitraries.bytes().array(byte[].class).ofMaxSize(12);
        Arbitrary<byte[]> bytes = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(20, command), net.jqwik.api.Tuple.of(1, garbage));
        return Combinators.combine(bytes, Arbitraries.integers().between(1, 3)).as(Step::new).list().ofMaxSize(120);
    }

    @Property(tries = 300)
    void aStoreRestoredMidwayEndsEqual(@ForAll("steps") List<Step> steps, @ForAll @IntRange(min = 0, max = 120) int cut)
            throws IOException {
        int mid = Math.min(cut, steps.size());
        // A short TTL and a small session cap so that expiry and eviction happen in the run.
        KvStateMachine straight = new KvStateMachine(15, 3);
        KvStateMachine restored = new KvStateMachine(15, 3);
        long index = 0;
        for (int i = 0; i < mid; i++) {
            index += steps.get(i).gap();
            straight.apply(index, steps.get(i).bytes());
        }
        restored.restore(new ByteArrayInputStream(KvStateMachineTest.snapshotBytes(straight)));
        for (int i = mid; i < steps.size(); i++) {
            index += steps.get(i).gap();
            byte[] a = straight.apply(index, steps.get(i).bytes());
            byte[] b = restored.apply(index, steps.get(i).bytes());
            assertThat(b).as("result at index %d", index).isEqualTo(a);
        }
        straight.checkInvariants();
        restored.checkInvariants();
        assertThat(KvStateMachineTest.snapshotBytes(restored)).isEqualTo(KvStateMachineTest.snapshotBytes(straight));
    }

    @Property(tries = 300)
    void plainCommandsMatchAReferenceMap(@ForAll("steps") List<Step> steps) {
        KvStateMachine sm = new KvStateMachine();
        TreeMap<byte[], byte[]> ref = new TreeMap<>(KvStateMachine.KEY_ORDER);
        TreeMap<byte[], Long> refMod = new TreeMap<>(KvStateMachine.KEY_ORDER);
        long index = 0;
        for (Step s : steps) {
            KvCommand c;
            try {
                c = KvCodec.decodeCommand(s.bytes());
            } catch (KvCodec.MalformedException e) {
                continue;
            }
            if (c.clientId() != KvCommand.NO_SESSION) continue; // sessions are checked above
            index += s.gap();
            byte[] cur = ref.get(c.key());
            boolean holds = switch (c.condition()) {
                case Condition.None n -> true;
                case Condition.ModRevision m -> m.modRevision() == 0 ? cur == null
                        : cur != null && refMod.get(c.key()) == m.modRevision();
                case Condition.Value v -> cur != null && Arrays.equals(cur, v.value());
                case Condition.Exists e -> cur != null;
            };
            KvResult r = sm.apply(index, c);
            if (!holds) {
                assertThat(r).isInstanceOf(KvResult.ConditionFailed.class);
            } else if (c.op() == Op.PUT) {
                ref.put(c.key(), c.value());
                refMod.put(c.key(), index);
                assertThat(r).isInstanceOf(KvResult.Ok.class);
            } else if (cur == null) {
                assertThat(r).isInstanceOf(KvResult.NotFound.class);
            } else {
                ref.remove(c.key());
                refMod.remove(c.key());
                assertThat(r).isInstanceOf(KvResult.Ok.class);
            }
        }
        List<String> actual = new ArrayList<>();
        for (KeyValue kv : sm.view().scan(new byte[0], 1000).items()) {
            actual.add(Arrays.toString(kv.key()) + "=" + Arrays.toString(kv.entry().value()) + "@" + kv.entry().modRevision());
        }
        List<String> expected = new ArrayList<>();
        for (Map.Entry<byte[], byte[]> e : ref.entrySet()) {
            expected.add(Arrays.toString(e.getKey()) + "=" + Arrays.toString(e.getValue()) + "@" + refMod.get(e.getKey()));
        }
        assertThat(actual).isEqualTo(expected);
    }
}
