package dev.keel.transport;

import static dev.keel.transport.Inbox.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.keel.core.Entry;
import dev.keel.core.Message;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.RequestVote;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Real transports on 127.0.0.1 with ephemeral ports; every wait is on a condition with a deadline. */
class PeerTransportTest {
    private static final String CLUSTER = "test-cluster";
    private static final InetSocketAddress EPHEMERAL = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    /** Peers' real ports are known only after they bind: configured as this, then set before any send. */
    private static final InetSocketAddress NOT_YET_BOUND = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1);
    private static final MessageCodec CODEC = new MessageCodec(MessageCodec.DEFAULT_MAX_FRAME_BYTES);

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
    }

    private static TransportConfig.Builder config(int id, InetSocketAddress listen, int... peers) {
        TransportConfig.Builder b = TransportConfig.builder(id, CLUSTER, listen)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(200));
        for (int p : peers) b.peer(p, NOT_YET_BOUND);
        return b;
    }

    private PeerTransport start(TransportConfig config, Consumer<Message> inbound) {
        PeerTransport t = new PeerTransport(config, inbound);
        toClose.add(t);
        t.start();
        return t;
    }

    /** Nodes 1..inboxes.length, all started, every peer address set. */
    private List<PeerTransport> cluster(UnaryOperator<TransportConfig.Builder> tweak, Inbox... inboxes) {
        int n = inboxes.length;
        List<PeerTransport> nodes = new ArrayList<>();
        for (int id = 1; id <= n; id++) {
            int self = id;
            int[] peers = IntStream.rangeClosed(1, n).filter(p -> p != self).toArray();
            nodes.add(start(tweak.apply(config(id, EPHEMERAL, peers)).build(), inboxes[id - 1]));
        }
        for (PeerTransport t : nodes) {
            for (PeerTransport other : nodes) {
                if (other != t) t.setPeerAddress(other.config().nodeId(), other.localAddress());
            }
        }
        return nodes;
    }

    private static TransportStats.Peer peer(PeerTransport t, int id) {
        return t.stats().peers().get(id);
    }

    // ---------------------------------------------------------------- delivery

    @Test
    void everyMessageTypeIsDeliveredInOrderBothWays() throws Exception {
        Inbox in1 = new Inbox();
        Inbox in2 = new Inbox();
        List<PeerTransport> nodes = cluster(b -> b, in1, in2);
        PeerTransport a = nodes.get(0);
        PeerTransport b = nodes.get(1);

        List<Message> toB = IntStream.range(0, 2000).mapToObj(i -> MessageArbitraries.sample(i, 1, 2, 1 + i)).toList();
        for (Message m : toB) assertThat(a.send(m)).isTrue();
        assertThat(in2.take(toB.size())).containsExactlyElementsOf(toB);

        List<Message> toA = IntStream.range(0, 80).mapToObj(i -> MessageArbitraries.sample(i, 2, 1, 1 + i)).toList();
        for (Message m : toA) assertThat(b.send(m)).isTrue();
        assertThat(in1.take(toA.size())).containsExactlyElementsOf(toA);

        long frameBytes = toB.stream().mapToLong(CODEC::frameBytes).sum();
        TransportStats.Peer out = peer(a, 2);
        assertThat(out.sent()).isEqualTo(toB.size());
        assertThat(out.dropped()).isZero();
        assertThat(out.bytesOut()).isEqualTo(frameBytes);
        assertThat(out.connected()).isTrue();
        assertThat(out.reconnects()).isZero();
        assertThat(out.queuedMessages()).isZero();
        assertThat(out.queuedBytes()).isZero();
        TransportStats.Inbound inB = b.stats().inbound();
        assertThat(inB.received()).isEqualTo(toB.size());
        assertThat(inB.bytesIn()).isEqualTo(frameBytes);
        assertThat(inB.connectionsAccepted()).isEqualTo(1);
        assertThat(inB.decodeErrors() + inB.handshakeFailures() + inB.misrouted() + inB.callbackErrors()).isZero();
    }

    @Test
    void threeNodesSendingConcurrentlyKeepPerConnectionOrder() throws Exception {
        Inbox[] inboxes = {new Inbox(), new Inbox(), new Inbox()};
        List<PeerTransport> nodes = cluster(b -> b, inboxes);
        int perPair = 500;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> senders = new ArrayList<>();
        Map<Integer, List<Message>> expectedFrom = new HashMap<>();
        for (PeerTransport t : nodes) {
            int from = t.config().nodeId();
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < perPair; i++) {
                for (int to = 1; to <= 3; to++) {
                    if (to != from) batch.add(MessageArbitraries.sample(i, from, to, 1 + i));
                }
            }
            expectedFrom.put(from, batch);
            // Two threads per node, one per destination: send() is called concurrently on one transport.
            for (int to = 1; to <= 3; to++) {
                if (to == from) continue;
                int dest = to;
                senders.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (Message m : batch) if (m.to() == dest) t.send(m);
                }));
            }
        }
        go.countDown();
        for (Thread s : senders) s.join(Inbox.TIMEOUT.toMillis());

        for (int to = 1; to <= 3; to++) {
            List<Message> got = inboxes[to - 1].take(2 * perPair);
            for (int from = 1; from <= 3; from++) {
                if (from == to) continue;
                int f = from;
                int t = to;
                assertThat(got.stream().filter(m -> m.from() == f).toList()).as("%d -> %d", f, t)
                        .containsExactlyElementsOf(expectedFrom.get(f).stream().filter(m -> m.to() == t).toList());
            }
        }
        for (PeerTransport t : nodes) {
            for (TransportStats.Peer p : t.stats().peers().values()) assertThat(p.dropped()).isZero();
        }
    }

    @Test
    void restartedPeerIsReconnectedAndGetsLaterMessages() throws Exception {
        Inbox in2 = new Inbox();
        List<PeerTransport> nodes = cluster(b -> b, new Inbox(), in2);
        PeerTransport a = nodes.get(0);
        PeerTransport b = nodes.get(1);
        a.send(MessageArbitraries.sample(0, 1, 2, 1));
        assertThat(in2.take(1)).hasSize(1);

        InetSocketAddress bAddress = b.localAddress();
        b.close();
        await("node 1 to notice node 2 is gone", () -> !peer(a, 2).connected());

        Inbox in2b = new Inbox();
        PeerTransport b2 = start(config(2, bAddress, 1).build(), in2b);
        b2.setPeerAddress(1, a.localAddress());
        assertThat(b2.localAddress()).isEqualTo(bAddress);

        // Probe until the new incarnation hears from node 1 (messages to the old one may be lost: Raft retries).
        long deadline = System.nanoTime() + Inbox.TIMEOUT.toNanos();
        for (int k = 0; in2b.poll(Duration.ofMillis(20)) == null; k++) {
            if (System.nanoTime() > deadline) fail("restarted node 2 never heard from node 1");
            a.send(new RequestVote(1, 2, 1_000 + k, 0, 0, true));
        }
        List<Message> later = IntStream.range(0, 300).mapToObj(i -> MessageArbitraries.sample(i, 1, 2, 5_000 + i)).toList();
        for (Message m : later) a.send(m);
        List<Message> got = new ArrayList<>();
        while (got.size() < later.size()) {
            for (Message m : in2b.take(1)) if (m.term() >= 5_000) got.add(m);
        }
        assertThat(got).containsExactlyElementsOf(later);
        assertThat(peer(a, 2).reconnects()).isGreaterThanOrEqualTo(1);
        assertThat(peer(a, 2).connected()).isTrue();
    }

    // ---------------------------------------------------------------- handshake

    static Stream<Arguments> badHellos() {
        byte[] wrongVersion = Handshake.encodeHello(CLUSTER, 1);
        ByteBuffer.wrap(wrongVersion).putShort(4, (short) (Handshake.PROTOCOL_VERSION + 1));
        return Stream.of(
                Arguments.of("wrong magic", "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
                Arguments.of("wrong version", wrongVersion),
                Arguments.of("wrong cluster id", Handshake.encodeHello("other-cluster", 1)),
                Arguments.of("unknown node id", Handshake.encodeHello(CLUSTER, 99)),
                Arguments.of("its own node id", Handshake.encodeHello(CLUSTER, 2)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHellos")
    void badHelloIsRefusedAndCountedAndHarmsNothing(String what, byte[] hello) throws Exception {
        Inbox in2 = new Inbox();
        List<PeerTransport> nodes = cluster(b -> b, new Inbox(), in2);
        PeerTransport a = nodes.get(0);
        PeerTransport b = nodes.get(1);
        try (Socket s = dial(b)) {
            // A valid frame after the bad hello must not be delivered either.
            s.getOutputStream().write(concat(hello, CODEC.encode(new RequestVote(1, 2, 7, 0, 0, false))));
            assertClosedByPeer(s);
        }
        await("handshake failure to be counted", () -> b.stats().inbound().handshakeFailures() == 1);
        assertThat(b.stats().inbound().received()).isZero();
        assertThat(in2.size()).isZero();

        Message m = MessageArbitraries.sample(2, 1, 2, 3);
        a.send(m);
        assertThat(in2.take(1)).containsExactly(m);
    }

    @Test
    void silentConnectionIsClosedAfterTheHandshakeTimeout() throws Exception {
        PeerTransport b = start(config(2, EPHEMERAL, 1).handshakeTimeout(Duration.ofMillis(100)).build(), new Inbox());
        try (Socket s = dial(b)) {
            assertClosedByPeer(s);
        }
        await("handshake timeout to be counted", () -> b.stats().inbound().handshakeFailures() == 1);
    }

    // ---------------------------------------------------------------- bad input after a good hello

    @Test
    void garbageAfterAGoodHelloClosesOnlyThatConnection() throws Exception {
        Inbox in2 = new Inbox();
        List<PeerTransport> nodes = cluster(b -> b, new Inbox(), in2, new Inbox());
        PeerTransport a = nodes.get(0);
        PeerTransport b = nodes.get(1);
        PeerTransport c = nodes.get(2);
        a.send(MessageArbitraries.sample(1, 1, 2, 1));
        assertThat(in2.take(1)).hasSize(1);

        byte[] unknownType = {0, 0, 0, 5, 99, 1, 2, 3, 4};
        byte[] hugeLength = {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 3, 0, 0, 0};
        byte[] truncatedEntries = ByteBuffer.allocate(4 + 17 + 36).putInt(17 + 36).put(MessageCodec.TYPE_APPEND_ENTRIES)
                .putInt(3).putInt(2).putLong(1).putLong(0).putLong(0).putLong(0).putLong(0).putInt(1_000_000).array();
        int expectedErrors = 0;
        for (byte[] garbage : List.of(unknownType, hugeLength, truncatedEntries)) {
            try (Socket s = dial(b)) {
                // Pretends to be node 3, which is a configured peer, so the hello passes.
                s.getOutputStream().write(concat(Handshake.encodeHello(CLUSTER, 3), garbage));
                assertClosedByPeer(s);
            }
            int errors = ++expectedErrors;
            await("decode error " + errors + " to be counted", () -> b.stats().inbound().decodeErrors() == errors);
        }
        assertThat(b.stats().inbound().handshakeFailures()).isZero();

        // Node 2 is unharmed: the existing connection from 1 and a new one from the real node 3 both work.
        Message fromA = MessageArbitraries.sample(2, 1, 2, 9);
        Message fromC = MessageArbitraries.sample(4, 3, 2, 9);
        a.send(fromA);
        assertThat(in2.take(1)).containsExactly(fromA);
        c.send(fromC);
        assertThat(in2.take(1)).containsExactly(fromC);
        Message toC = MessageArbitraries.sample(6, 2, 3, 9);
        assertThat(b.send(toC)).isTrue();
    }

    @Test
    void messagesClaimingAnotherSenderOrReceiverAreDroppedAndCounted() throws Exception {
        Inbox in2 = new Inbox();
        PeerTransport b = start(config(2, EPHEMERAL, 1, 3).build(), in2);
        try (Socket s = dial(b)) {
            s.getOutputStream().write(concat(Handshake.encodeHello(CLUSTER, 3),
                    CODEC.encode(new RequestVote(1, 2, 5, 0, 0, false)),   // from node 1, but this is node 3's connection
                    CODEC.encode(new RequestVote(3, 9, 5, 0, 0, false)),   // not for this node
                    CODEC.encode(new RequestVote(3, 2, 6, 0, 0, false)))); // good
            assertThat(in2.take(1)).containsExactly(new RequestVote(3, 2, 6, 0, 0, false));
            TransportStats.Inbound stats = b.stats().inbound();
            assertThat(stats.misrouted()).isEqualTo(2);
            assertThat(stats.received()).isEqualTo(1);
            assertThat(stats.decodeErrors()).isZero();
        }
    }

    @Test
    void aThrowingCallbackIsCountedAndTheConnectionStays() throws Exception {
        Inbox in2 = new Inbox();
        Consumer<Message> flaky = m -> {
            if (m.term() == 1) throw new IllegalStateException("test: callback fails");
            in2.accept(m);
        };
        List<PeerTransport> nodes = new ArrayList<>();
        nodes.add(start(config(1, EPHEMERAL, 2).build(), new Inbox()));
        nodes.add(start(config(2, EPHEMERAL, 1).build(), flaky));
        nodes.get(0).setPeerAddress(2, nodes.get(1).localAddress());
        nodes.get(0).send(MessageArbitraries.sample(0, 1, 2, 1));
        Message second = MessageArbitraries.sample(1, 1, 2, 2);
        nodes.get(0).send(second);
        assertThat(in2.take(1)).containsExactly(second);
        assertThat(nodes.get(1).stats().inbound().callbackErrors()).isEqualTo(1);
        assertThat(nodes.get(1).stats().inbound().connectionsAccepted()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- bounds

    @Test
    void queueToADeadPeerStaysBoundedAndDropsNewest() {
        PeerTransport a = start(config(1, EPHEMERAL, 2).build(), new Inbox());
        a.setPeerAddress(2, deadAddress());
        int total = 100_000;
        int maxQueued = 0;
        int accepted = 0;
        for (int i = 0; i < total; i++) {
            if (a.send(heartbeat(i))) accepted++;
            if (i % 1000 == 0) maxQueued = Math.max(maxQueued, peer(a, 2).queuedMessages());
        }
        TransportStats.Peer p = peer(a, 2);
        int bound = TransportConfig.DEFAULT_OUTBOUND_QUEUE_MESSAGES_MAX;
        assertThat(maxQueued).isLessThanOrEqualTo(bound);
        assertThat(p.queuedMessages()).isEqualTo(bound);
        assertThat(accepted).isEqualTo(bound);
        assertThat(p.dropped()).isEqualTo(total - bound);
        assertThat(p.sent()).isZero();
        assertThat(p.queuedBytes()).isEqualTo(bound * CODEC.frameBytes(heartbeat(0)));
        assertThat(p.connected()).isFalse();
        // It keeps trying, with backoff.
        await("reconnect attempts to a dead peer", () -> peer(a, 2).reconnects() >= 2);
    }

    @Test
    void queueBytesAreBoundedToo() {
        int frameMax = 64 * 1024;
        long queueBytesMax = 256 * 1024;
        PeerTransport a = start(config(1, EPHEMERAL, 2).maxFrameBytes(frameMax).outboundQueueBytesMax(queueBytesMax).build(),
                new Inbox());
        a.setPeerAddress(2, deadAddress());
        Message big = entriesOf(1, 2, 16 * 1024);
        long frame = CODEC.frameBytes(big);
        int accepted = 0;
        for (int i = 0; i < 100; i++) if (a.send(big)) accepted++;
        TransportStats.Peer p = peer(a, 2);
        assertThat(accepted).isEqualTo((int) (queueBytesMax / frame));
        assertThat(p.queuedBytes()).isEqualTo(accepted * frame).isLessThanOrEqualTo(queueBytesMax);
        assertThat(p.queuedMessages()).isEqualTo(accepted);
        assertThat(p.dropped()).isEqualTo(100 - accepted);
    }

    @Test
    void aPeerThatStopsReadingCannotGrowMemory() throws Exception {
        // A listener that never accepts or reads: the kernel completes the handshake, then its small
        // receive buffer fills and TCP pushes back.
        try (ServerSocket stuck = new ServerSocket()) {
            stuck.setReceiveBufferSize(64 * 1024);
            stuck.bind(EPHEMERAL, 1);
            long queueBytesMax = 4L * 1024 * 1024;
            PeerTransport a = start(config(1, EPHEMERAL, 2).maxFrameBytes(1024 * 1024).outboundQueueBytesMax(queueBytesMax)
                    .build(), new Inbox());
            a.setPeerAddress(2, (InetSocketAddress) stuck.getLocalSocketAddress());
            Message chunk = entriesOf(1, 2, 64 * 1024);
            a.send(chunk);
            await("connection to the stuck peer", () -> peer(a, 2).connected());
            long offeredBytes = CODEC.frameBytes(chunk);
            // Offer 256 MiB, 1 MiB at a time, each time giving the queue a moment to drain.
            for (int round = 0; round < 256; round++) {
                for (int i = 0; i < 16; i++) {
                    a.send(chunk);
                    offeredBytes += CODEC.frameBytes(chunk);
                }
                Inbox.within(Duration.ofMillis(5), () -> peer(a, 2).queuedMessages() == 0);
            }
            TransportStats.Peer p = peer(a, 2);
            assertThat(p.connected()).isTrue();
            assertThat(p.dropped()).isPositive();
            assertThat(p.queuedBytes()).isLessThanOrEqualTo(queueBytesMax);
            // Written = kernel socket buffers + Netty's 1 MiB high-water mark, far below what was offered.
            assertThat(p.bytesOut()).as("bytes written of %d offered (%d dropped)", offeredBytes, p.dropped())
                    .isLessThan(32L * 1024 * 1024).isLessThan(offeredBytes / 8);
        }
    }

    // ---------------------------------------------------------------- drops and lifecycle

    @Test
    void unknownPeersOversizedMessagesAndClosedTransportsDropAndCount() {
        PeerTransport a = start(config(1, EPHEMERAL, 2).maxFrameBytes(64 * 1024).build(), new Inbox());
        a.setPeerAddress(2, deadAddress());
        assertThat(a.send(new AppendEntries(1, 99, 1, 0, 0, List.of(), 0, 0))).isFalse();
        assertThat(a.send(new AppendEntries(1, 1, 1, 0, 0, List.of(), 0, 0))).isFalse(); // itself: not a peer
        assertThat(a.stats().droppedUnknownPeer()).isEqualTo(2);
        assertThatThrownBy(() -> a.send(new AppendEntries(3, 2, 1, 0, 0, List.of(), 0, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("node 1 cannot send a message from node 3");

        assertThat(a.send(entriesOf(1, 2, 64 * 1024))).isFalse();
        assertThat(peer(a, 2).dropped()).isEqualTo(1);
        assertThat(peer(a, 2).queuedMessages()).isZero();

        a.close();
        a.close(); // idempotent
        assertThat(a.send(heartbeat(1))).isFalse();
        assertThat(a.stats().droppedClosed()).isEqualTo(1);
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void sendBeforeStartIsAProgrammingError() throws Exception {
        try (PeerTransport t = new PeerTransport(config(1, EPHEMERAL, 2).build(), new Inbox())) {
            assertThatThrownBy(() -> t.send(heartbeat(1))).isInstanceOf(IllegalStateException.class)
                    .hasMessage("send() before start()");
            assertThat(t.localAddress()).isNull();
        }
    }

    @Test
    void aTakenPortFailsStartAndReleasesEverything() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            PeerTransport t = new PeerTransport(config(1, (InetSocketAddress) taken.getLocalSocketAddress(), 2).build(),
                    new Inbox());
            assertThatThrownBy(t::start).isInstanceOf(UncheckedIOException.class).hasMessageContaining("cannot listen on");
            assertThat(t.send(heartbeat(1))).isFalse();
            t.close();
        }
    }

    @Test
    void aDialThatConnectsToItselfIsRecognised() throws Exception {
        // The kernel does this to a dial whose source port happens to be the port it dials while
        // nothing listens there; here the test picks that source port itself.
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress target = TestPorts.loopback();
            Bootstrap b = new Bootstrap().group(group).channel(NioSocketChannel.class);
            Channel self = b.clone().handler(new ChannelInboundHandlerAdapter()).localAddress(target).connect(target).sync()
                    .channel();
            Channel other = b.clone().handler(new ChannelInboundHandlerAdapter()).connect(listener.getLocalSocketAddress())
                    .sync().channel();
            try {
                assertThat(self.remoteAddress()).isEqualTo(self.localAddress());
                assertThat(PeerLink.connectedToItself(self)).isTrue();
                assertThat(PeerLink.connectedToItself(other)).isFalse();
            } finally {
                self.close().sync();
                other.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void unknownPeerAddressIsRefused() {
        PeerTransport a = start(config(1, EPHEMERAL, 2).build(), new Inbox());
        assertThatThrownBy(() -> a.setPeerAddress(3, NOT_YET_BOUND)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("peer 3 is not configured; peers are [2]");
    }

    // ---------------------------------------------------------------- helpers

    private static AppendEntries heartbeat(long i) {
        return new AppendEntries(1, 2, 1, 0, 0, List.of(), 0, i);
    }

    private static AppendEntries entriesOf(int from, int to, int bytes) {
        return new AppendEntries(from, to, 1, 0, 0, List.of(Entry.normal(1, 1, new byte[bytes])), 0, 0);
    }

    /** An address nothing listens on (below the ephemeral range, so no dial to it can connect to itself). */
    private static InetSocketAddress deadAddress() {
        return TestPorts.loopback();
    }

    private static Socket dial(PeerTransport t) throws IOException {
        Socket s = new Socket();
        s.connect(t.localAddress(), 5_000);
        s.setSoTimeout((int) Inbox.TIMEOUT.toMillis());
        return s;
    }

    /** Waits until the other side closes (EOF or reset); fails if it is still open after the timeout. */
    private static void assertClosedByPeer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            while (in.read() != -1) {
                // the acceptor never writes; anything here is ignored
            }
        } catch (SocketTimeoutException e) {
            fail("connection still open after " + Inbox.TIMEOUT);
        } catch (SocketException reset) {
            // closed with our bytes unread: the kernel answers with a reset
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }
}
