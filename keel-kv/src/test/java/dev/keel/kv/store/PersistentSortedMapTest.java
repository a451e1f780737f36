package dev.keel.kv.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The persistent AVL map against java.util.TreeMap as the reference. */
class PersistentSortedMapTest {

    record Op(boolean put, int key, int value) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Arbitraries.integers().between(0, 3).flatMap(kind -> Arbitraries.integers().between(0, 200)
                .flatMap(k -> Arbitraries.integers().map(v -> new Op(kind != 0, k, v))));
        return op.list().ofMaxSize(400);
    }

    @Property(tries = 300)
    void behavesLikeTreeMap(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 0, max = 210) int from) {
        TreeMap<Integer, Integer> ref = new TreeMap<>();
        PersistentSortedMap<Integer, Integer> map = PersistentSortedMap.empty(Comparator.naturalOrder());
        List<PersistentSortedMap<Integer, Integer>> versions = new ArrayList<>();
        List<TreeMap<Integer, Integer>> refVersions = new ArrayList<>();
        for (Op op : ops) {
            if (op.put()) {
                ref.put(op.key(), op.value());
                map = map.put(op.key(), op.value());
            } else {
                ref.remove(op.key());
                map = map.remove(op.key());
            }
            map.checkInvariants();
            versions.add(map);
            refVersions.add(new TreeMap<>(ref));
        }
        assertThat(map.size()).isEqualTo(ref.size());
        assertThat(toList(map.iterator(from))).isEqualTo(new ArrayList<>(ref.tailMap(from, true).entrySet()).stream()
                .map(e -> Map.entry(e.getKey(), e.getValue())).toList());
        // Old versions are untouched by later updates (persistence).
        for (int i = 0; i < versions.size(); i++) {
            assertThat(toList(versions.get(i).iterator())).isEqualTo(refVersions.get(i).entrySet().stream()
                    .map(e -> Map.entry(e.getKey(), e.getValue())).toList());
        }
    }

    private static List<Map.Entry<Integer, Integer>> toList(Iterator<Map.Entry<Integer, Integer>> it) {
        List<Map.Entry<Integer, Integer>> out = new ArrayList<>();
        it.forEachRemaining(e -> out.add(Map.entry(e.getKey(), e.getValue())));
        return out;
    }

    @Test
    void fromSortedBuildsABalancedTreeAndRejectsDisorder() {
        List<Integer> keys = new ArrayList<>();
        List<Integer> values = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            keys.add(i * 2);
            values.add(i);
        }
        PersistentSortedMap<Integer, Integer> m = PersistentSortedMap.fromSorted(Comparator.naturalOrder(), keys, values);
        m.checkInvariants();
        assertThat(m.size()).isEqualTo(1000);
        assertThat(m.get(500)).isEqualTo(250);
        assertThat(m.get(501)).isNull();
        assertThat(m.first().getKey()).isZero();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PersistentSortedMap.fromSorted(Comparator.<Integer>naturalOrder(),
                List.of(1, 1), List.of(1, 2))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void removeOfAbsentKeyReturnsTheSameMap() {
        PersistentSortedMap<Integer, Integer> m = PersistentSortedMap.<Integer, Integer>empty(Comparator.naturalOrder()).put(1, 1);
        assertThat(m.remove(2)).isSameAs(m);
    }
}
