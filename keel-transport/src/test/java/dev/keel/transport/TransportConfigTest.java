package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TransportConfigTest {
    private static final InetSocketAddress ANY = new InetSocketAddress("127.0.0.1", 0);

    @Test
    void defaults() {
        TransportConfig c = TransportConfig.builder(1, "c", ANY).peer(2, ANY).build();
        assertThat(c.maxFrameBytes()).isEqualTo(16 * 1024 * 1024);
        assertThat(c.outboundQueueMessagesMax()).isEqualTo(4096);
        assertThat(c.outboundQueueBytesMax()).isEqualTo(64L * 1024 * 1024);
        assertThat(c.reconnectBackoffMin()).isEqualTo(Duration.ofMillis(50));
        assertThat(c.reconnectBackoffMax()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.peers()).containsOnlyKeys(2);
    }

    @Test
    void badValuesAreNamedWithTheRule() {
        assertThatThrownBy(() -> TransportConfig.builder(0, "c", ANY).build()).hasMessage("nodeId (0) must be positive");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).peer(1, ANY).build())
                .hasMessage("peers must not contain this node's own id 1; list the other members only");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).peer(-2, ANY).build())
                .hasMessage("peer id (-2) must be positive");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).maxFrameBytes(10).build())
                .hasMessage("maxFrameBytes (10) must be in [1024, 1073741824]");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).outboundQueueBytesMax(1024).build())
                .hasMessage("outboundQueueBytesMax (1024) must be at least maxFrameBytes + 4 (16777220) so the largest "
                        + "frame fits an empty queue");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).outboundQueueMessagesMax(0).build())
                .hasMessage("outboundQueueMessagesMax (0) must be positive");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY)
                .reconnectBackoff(Duration.ofSeconds(2), Duration.ofSeconds(1)).build())
                .hasMessage("reconnectBackoffMax (PT1S) must be at least reconnectBackoffMin (PT2S)");
        assertThatThrownBy(() -> TransportConfig.builder(1, "c", ANY).connectTimeout(Duration.ZERO).build())
                .hasMessage("connectTimeout (PT0S) must be at least 1 ms");
        assertThatThrownBy(() -> TransportConfig.builder(1, "", ANY).build())
                .hasMessage("clusterId '' takes 0 bytes of UTF-8, must be 1..255");
    }
}
