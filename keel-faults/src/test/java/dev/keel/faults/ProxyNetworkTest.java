package dev.keel.faults;

import static dev.keel.faults.FaultProxyTest.assertClosedByPeer;
import static dev.keel.faults.FaultProxyTest.assertRefused;
import static dev.keel.faults.FaultProxyTest.awaitTrue;
import static dev.keel.faults.FaultProxyTest.bytes;
import static dev.keel.faults.FaultProxyTest.connect;
import static dev.keel.faults.FaultProxyTest.roundTrip;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.faults.FaultProxyTest.EchoServer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ProxyNetworkTest {

    private final Closer resources = new Closer();

    @AfterEach
    void closeResources() throws Exception {
        resources.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return resources.track(resource);
    }

    @Test
    void addressesAreWiredThroughOneProxyPerDirectedLink() throws Exception {
        List<Integer> ids = List.of(1, 2, 3);
        ProxyNetwork net = track(ProxyNetwork.create(ids));

        assertThat(net.ids()).isEqualTo(ids);
        Set<Integer> ports = new HashSet<>();
        for (int id : ids) {
            InetSocketAddress peer = net.peerListen(id);
            InetSocketAddress http = net.httpListen(id);
            assertThat(peer.getHostString()).isEqualTo("127.0.0.1");
            assertThat(http.getHostString()).isEqualTo("127.0.0.1");
            ports.add(peer.getPort());
            ports.add(http.getPort());
            assertThat(net.clientUri(id)).isEqualTo(URI.create("http://127.0.0.1:" + http.getPort()));
            assertThat(net.launchPrefix(id)).isEmpty();
            assertThat(net.peerAddressSeenBy(id, id)).isEqualTo(peer);
            for (int to : ids) {
                assertThat(net.httpAddressSeenBy(id, to)).isEqualTo(net.httpListen(to));
                if (to != id) {
                    FaultProxy proxy = net.proxy(id, to);
                    assertThat(net.peerAddressSeenBy(id, to))
                            .isEqualTo(new InetSocketAddress("127.0.0.1", proxy.port()));
                    assertThat(proxy.target()).isEqualTo(net.peerListen(to));
                    ports.add(proxy.port());
                }
            }
        }
        assertThat(ports).as("3 peer + 3 HTTP + 6 proxy ports, all distinct").hasSize(12);
        assertThat(net.canSlow()).isTrue();
        assertThat(net.describe())
                .contains("proxy per directed peer link")
                .contains("close connections")
                .contains("no packet loss")
                .contains("HTTP between nodes is direct");
    }

    @Test
    void unknownNodesAndDuplicateIdsAreRejected() throws Exception {
        assertThatThrownBy(() -> ProxyNetwork.create(List.of(1, 1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ProxyNetwork.create(List.of())).isInstanceOf(IllegalArgumentException.class);

        ProxyNetwork net = track(ProxyNetwork.create(List.of(1, 2)));
        assertThatThrownBy(() -> net.peerListen(3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.peerAddressSeenBy(1, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.cut(1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.slow(Set.of(7))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void cutStopsOnlyThatDirectionAndHealRestoresIt() throws Exception {
        ProxyNetwork net = track(ProxyNetwork.create(List.of(1, 2, 3)));
        // Stand-ins for the nodes' peer listeners, on the ports the network gave them.
        for (int id : List.of(1, 2, 3)) {
            track(EchoServer.start(net.peerListen(id), false));
        }
        Socket oneToTwo = track(connect(net.peerAddressSeenBy(1, 2)));
        Socket twoToOne = track(connect(net.peerAddressSeenBy(2, 1)));
        Socket threeToTwo = track(connect(net.peerAddressSeenBy(3, 2)));
        for (Socket s : List.of(oneToTwo, twoToOne, threeToTwo)) {
            assertThat(roundTrip(s, bytes("ping"))).isEqualTo(bytes("ping"));
        }

        net.cut(1, 2);

        assertThat(net.proxy(1, 2).isBlocked()).isTrue();
        assertClosedByPeer(oneToTwo);
        assertThat(roundTrip(twoToOne, bytes("reverse"))).isEqualTo(bytes("reverse"));
        assertThat(roundTrip(threeToTwo, bytes("other"))).isEqualTo(bytes("other"));
        for (int from : List.of(1, 2, 3)) {
            for (int to : List.of(1, 2, 3)) {
                if (from != to && !(from == 1 && to == 2)) {
                    assertThat(net.proxy(from, to).isBlocked()).as("%d -> %d", from, to).isFalse();
                }
            }
        }
        assertRefused(net.peerAddressSeenBy(1, 2));
        awaitTrue(() -> net.proxy(1, 2).connectionsRefused() == 1, "the retry was refused");

        net.heal();

        assertThat(net.proxy(1, 2).isBlocked()).isFalse();
        Socket healed = track(connect(net.peerAddressSeenBy(1, 2)));
        assertThat(roundTrip(healed, bytes("back"))).isEqualTo(bytes("back"));
    }

    @Test
    void slowDelaysEveryLinkTouchingTheNodesAndFastUndoesIt() throws Exception {
        ProxyNetwork net = track(ProxyNetwork.create(List.of(1, 2, 3, 4)));

        String applied = net.slow(Set.of(2, 1));

        assertThat(applied).isEqualTo("proxy delay 20-80 ms on links of nodes [1, 2] (no packet loss on loopback)");
        for (int from : net.ids()) {
            for (int to : net.ids()) {
                if (from == to) {
                    continue;
                }
                FaultProxy proxy = net.proxy(from, to);
                boolean touched = from <= 2 || to <= 2;
                assertThat(proxy.minDelayMillis()).as("%d -> %d", from, to).isEqualTo(touched ? 20 : 0);
                assertThat(proxy.maxDelayMillis()).as("%d -> %d", from, to).isEqualTo(touched ? 80 : 0);
            }
        }

        // A slowed link really is slow: at least 20 ms each way (bound kept loose).
        track(EchoServer.start(net.peerListen(3), false));
        Socket slowLink = track(connect(net.peerAddressSeenBy(1, 3)));
        long start = System.nanoTime();
        assertThat(roundTrip(slowLink, bytes("slow"))).isEqualTo(bytes("slow"));
        assertThat(Duration.ofNanos(System.nanoTime() - start).toMillis()).isGreaterThanOrEqualTo(30);

        net.fast();

        for (int from : net.ids()) {
            for (int to : net.ids()) {
                if (from != to) {
                    assertThat(net.proxy(from, to).maxDelayMillis()).isZero();
                }
            }
        }
    }

    @Test
    void closeClosesEveryProxyAndIsIdempotent() throws Exception {
        ProxyNetwork net = ProxyNetwork.create(List.of(1, 2, 3));
        List<FaultProxy> proxies = List.of(
                net.proxy(1, 2), net.proxy(1, 3), net.proxy(2, 1), net.proxy(2, 3), net.proxy(3, 1), net.proxy(3, 2));

        net.close();

        for (FaultProxy proxy : proxies) {
            assertThat(proxy.isClosed()).isTrue();
            assertThat(proxy.liveThreads()).isZero();
        }
        assertThatCode(net::close).doesNotThrowAnyException();
    }
}
