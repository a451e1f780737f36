package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;
import java.util.function.IntPredicate;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class HandshakeTest {
    private static final byte[] CLUSTER = "prod-eu".getBytes(StandardCharsets.UTF_8);
    private static final IntPredicate PEERS = Set.of(2, 3)::contains;

    @Test
    void helloLayoutIsStable() {
        assertThat(HexFormat.of().formatHex(Handshake.encodeHello("ab", 3)))
                .isEqualTo("4b45454c" + "0002" + "0002" + "6162" + "00000003");
    }

    @Test
    void goodHelloIsAcceptedOnlyOnceComplete() {
        byte[] hello = Handshake.encodeHello("prod-eu", 3);
        for (int n = 0; n < hello.length; n++) {
            assertThat(Handshake.check(ByteBuffer.wrap(hello, 0, n), CLUSTER, PEERS)).as("prefix %d", n)
                    .isInstanceOf(Handshake.NeedMore.class);
        }
        byte[] withFrames = Arrays.copyOf(hello, hello.length + 10);
        ByteBuffer in = ByteBuffer.wrap(withFrames);
        assertThat(Handshake.check(in, CLUSTER, PEERS)).isEqualTo(new Handshake.Accepted(3, hello.length));
        assertThat(in.position()).isZero();
    }

    @Test
    void badHellosAreRejectedWithExpectedAndActual() {
        assertThat(reason("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo("bad magic: expected 0x4b45454c (KEEL), got 0x47455420 (GET )");
        byte[] v1 = Handshake.encodeHello("prod-eu", 3);
        ByteBuffer.wrap(v1).putShort(4, (short) 1); // a peer of the previous protocol (voters-only snapshots, no CONFIG)
        assertThat(reason(v1)).isEqualTo("protocol version mismatch: expected 2, got 1");
        assertThat(reason(Handshake.encodeHello("prod-us", 3)))
                .isEqualTo("cluster id mismatch: expected 'prod-eu', got 'prod-us'");
        assertThat(reason(Handshake.encodeHello("bad\nid", 3)))
                .isEqualTo("cluster id mismatch: expected 'prod-eu', got 'bad\\u000aid'");
        assertThat(reason(Handshake.encodeHello("prod-eu", 9))).isEqualTo("unknown node id 9: not a configured peer");
        byte[] zeroLength = ByteBuffer.allocate(8).putInt(Handshake.MAGIC).putShort(Handshake.PROTOCOL_VERSION).putShort((short) 0).array();
        assertThat(reason(zeroLength)).isEqualTo("cluster id length 0 outside 1..255 (expected 'prod-eu')");
        byte[] tooLong = ByteBuffer.allocate(8).putInt(Handshake.MAGIC).putShort(Handshake.PROTOCOL_VERSION).putShort((short) 0xffff).array();
        assertThat(reason(tooLong)).startsWith("cluster id length 65535 outside 1..255");
    }

    @Test
    void magicIsCheckedBeforeTheRestArrives() {
        // Four bytes of another protocol are enough to refuse it.
        assertThat(Handshake.check(ByteBuffer.wrap(new byte[] {'P', 'R', 'I', ' '}), CLUSTER, PEERS))
                .isInstanceOf(Handshake.Rejected.class);
    }

    @Test
    void clusterIdsAreBounded() {
        assertThatThrownBy(() -> Handshake.encodeHello("", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("clusterId '' takes 0 bytes of UTF-8, must be 1..255");
        assertThatThrownBy(() -> Handshake.encodeHello("x".repeat(256), 1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(Handshake.encodeHello("x".repeat(255), 1)).hasSize(12 + 255);
    }

    @Property(tries = 2000)
    void garbageNeverThrows(@ForAll @Size(max = 300) byte[] garbage) {
        Handshake.Outcome o = Handshake.check(ByteBuffer.wrap(garbage), CLUSTER, PEERS);
        assertThat(o).isNotInstanceOf(Handshake.Accepted.class);
    }

    private static String reason(byte[] hello) {
        Handshake.Outcome o = Handshake.check(ByteBuffer.wrap(hello), CLUSTER, PEERS);
        assertThat(o).isInstanceOf(Handshake.Rejected.class);
        return ((Handshake.Rejected) o).reason();
    }
}
