package dev.keel.kv.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvCommand.Op;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class KvCodecTest {

    @Provide
    Arbitrary<KvCommand> commands() {
        Arbitrary<byte[]> key = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(20);
        Arbitrary<byte[]> value = Arbitraries.bytes().array(byte[].class).ofMaxSize(40);
        Arbitrary<Condition> cond = Arbitraries.oneOf(
                Arbitraries.just(KvCommand.NONE),
                Arbitraries.longs().between(0, Long.MAX_VALUE).map(Condition.ModRevision::new),
                value.map(Condition.Value::new),
                Arbitraries.just(new Condition.Exists()));
        Arbitrary<long[]> session = Arbitraries.oneOf(Arbitraries.just(new long[] {0, 0}),
                Combinators.combine(Arbitraries.longs().filter(l -> l != 0), Arbitraries.longs().between(1, Long.MAX_VALUE))
                        .as((c, s) -> new long[] {c, s}));
        return Combinators.combine(Arbitraries.of(Op.class), key, value, cond, session)
                .as((op, k, v, c, s) -> new KvCommand(op, k, op == Op.PUT ? v : new byte[0], c, s[0], s[1]));
    }

    @Property(tries = 500)
    void commandsRoundTrip(@ForAll("commands") KvCommand c) {
        assertThat(KvCodec.decodeCommand(KvCodec.encode(c))).isEqualTo(c);
    }

    @Property(tries = 500)
    void truncatedOrExtendedCommandsFailCleanly(@ForAll("commands") KvCommand c, @ForAll int cut) {
        byte[] bytes = KvCodec.encode(c);
        int len = Math.floorMod(cut, bytes.length);
        assertThatThrownBy(() -> KvCodec.decodeCommand(Arrays.copyOf(bytes, len))).isInstanceOf(KvCodec.MalformedException.class);
        assertThatThrownBy(() -> KvCodec.decodeCommand(Arrays.copyOf(bytes, bytes.length + 1)))
                .isInstanceOf(KvCodec.MalformedException.class);
    }

    @Property(tries = 1000)
    void garbageNeverThrowsAnythingElse(@ForAll byte[] garbage) {
        try {
            KvCodec.decodeCommand(garbage);
        } catch (KvCodec.MalformedException expected) {
            // fine
        }
        try {
            KvCodec.decodeResult(garbage);
        } catch (KvCodec.MalformedException expected) {
            // fine
        }
    }

    @Test
    void resultsRoundTrip() {
        for (KvResult r : new KvResult[] {new KvResult.Ok(7, 3, 2), new KvResult.ConditionFailed(5), new KvResult.NotFound(),
                new KvResult.Error(KvResult.ErrorCode.SESSION_EXPIRED, "gone ü")}) {
            assertThat(KvCodec.decodeResult(KvCodec.encode(r))).isEqualTo(r);
        }
    }

    @Test
    void wrongVersionNamesBothValues() {
        byte[] b = KvCodec.encode(KvCommand.put(new byte[] {1}, new byte[] {2}));
        b[0] = 9;
        assertThatThrownBy(() -> KvCodec.decodeCommand(b)).hasMessage("command format 9, expected 1");
    }
}
