package dev.keel.transport;

import static dev.keel.transport.Inbox.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.keel.core.Message;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.RequestVote;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The peer set changing at runtime: real transports on 127.0.0.1 with ephemeral ports; every wait
 * is on a condition with a deadline.
 */
class PeerMembershipTest {
    private static final String CLUSTER = "test-cluster";
    private static final InetSocketAddress EPHEMERAL = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
    }

    private static TransportConfig.Builder config(int id) {
        return TransportConfig.builder(id, CLUSTER, EPHEMERAL).reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(200));
    }

    private PeerTransport start(TransportConfig config, Consumer<Message> inbound) {
        PeerTransport t = new PeerTransport(config, inbound);
        toClose.add(t);
        t.start();
        return t;
    }

    private static TransportStats.Peer peer(PeerTransport t, int id) {
        return t.stats().peers().get(id);
    }

    private static RequestVote vote(int from, int to, long term) {
        return new RequestVote(from, to, term, 0, 0, false);
    }

    /**
     * Sends probes with terms from {@code termBase} up until one arrives (earlier ones may be lost
     * to a connection being refused or closed); other messages arriving meanwhile are skipped.
     */
    private static void probeUntilDelivered(PeerTransport from, int to, Inbox inbox, long termBase) throws InterruptedException {
        int self = from.config().nodeId();
        long deadline = System.nanoTime() + Inbox.TIMEOUT.toNanos();
        for (int k = 0; ; k++) {
            if (System.nanoTime() > deadline) fail("node " + to + " never heard from node " + self);
            from.send(vote(self, to, termBase + k));
            for (Message got; (got = inbox.poll(Duration.ofMillis(20))) != null; ) {
                if (got.from() == self && got.term() >= termBase) return;
            }
        }
    }

    // ---------------------------------------------------------------- adding

    @Test
    void transportsStartedWithoutPeersTalkOnceTheyAddEachOther() throws Exception {
        Inbox in1 = new Inbox();
        Inbox in2 = new Inbox();
        PeerTransport a = start(config(1).build(), in1);
        PeerTransport b = start(config(2).build(), in2);
        assertThat(a.peers()).isEmpty();
        assertThat(a.send(vote(1, 2, 1))).isFalse();
        assertThat(a.stats().droppedUnknownPeer()).isEqualTo(1);

        // Node 1 learns of node 2 first: node 2 does not know node 1 yet and refuses it at the handshake.
        a.addPeer(2, b.localAddress());
        assertThat(a.peers()).containsExactly(2);
        assertThat(a.send(vote(1, 2, 2))).isTrue();
        await("node 2 to refuse unknown node 1", () -> b.stats().inbound().handshakeFailures() >= 1);
        assertThat(b.stats().inbound().received()).isZero();
        assertThat(in2.size()).isZero();

        // Once node 2 adds node 1, the live peer set lets it in, with no restart.
        b.addPeer(1, a.localAddress());
        assertThat(b.peers()).containsExactly(1);
        probeUntilDelivered(a, 2, in2, 100);
        List<Message> toB = new ArrayList<>();
        for (int i = 0; i < 200; i++) toB.add(MessageArbitraries.sample(i, 1, 2, 1_000 + i));
        for (Message m : toB) assertThat(a.send(m)).isTrue();
        assertThat(in2.take(toB.size())).containsExactlyElementsOf(toB);

        List<Message> toA = new ArrayList<>();
        for (int i = 0; i < 200; i++) toA.add(MessageArbitraries.sample(i, 2, 1, 1_000 + i));
        for (Message m : toA) assertThat(b.send(m)).isTrue();
        assertThat(in1.take(toA.size())).containsExactlyElementsOf(toA);
        assertThat(peer(b, 1).dropped()).isZero();
        assertThat(peer(a, 2).dropped()).isZero();
    }

    @Test
    void peersMayBeAddedAndRemovedBeforeStart() throws Exception {
        Inbox in2 = new Inbox();
        PeerTransport b = start(config(2).build(), in2);
        PeerTransport a = new PeerTransport(config(1).build(), new Inbox());
        toClose.add(a);
        a.addPeer(2, b.localAddress());
        a.addPeer(3, deadAddress());
        a.removePeer(3);
        a.removePeer(3); // not a peer any more: nothing happens
        assertThat(a.peers()).containsExactly(2);
        a.start();
        b.addPeer(1, a.localAddress());
        Message m = vote(1, 2, 5);
        assertThat(a.send(m)).isTrue();
        assertThat(in2.take(1)).containsExactly(m);
        assertThat(a.stats().droppedRemovedPeer()).isZero();
    }

    @Test
    void addingItselfOrABadIdIsRefused() {
        PeerTransport a = start(config(1).peer(2, deadAddress()).build(), new Inbox());
        assertThatThrownBy(() -> a.addPeer(1, deadAddress())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("own id 1");
        assertThatThrownBy(() -> a.addPeer(0, deadAddress())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.addPeer(3, null)).isInstanceOf(NullPointerException.class);
        a.removePeer(1); // its own id is never a peer: nothing happens
        assertThat(a.peers()).containsExactly(2);
        // setPeerAddress still refuses unknown ids; addPeer is how peers are added.
        assertThatThrownBy(() -> a.setPeerAddress(3, deadAddress())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("peer 3 is not configured; peers are [2]");
        assertThat(a.peers()).containsExactly(2);
    }

    @Test
    void addingAKnownPeerMovesItToTheNewAddress() throws Exception {
        Inbox inOld = new Inbox();
        Inbox inNew = new Inbox();
        PeerTransport a = start(config(1).build(), new Inbox());
        // Two incarnations of node 2 on different ports, both up: only the address decides which one hears node 1.
        PeerTransport bOld = start(config(2).peer(1, deadAddress()).build(), inOld);
        PeerTransport bNew = start(config(2).peer(1, deadAddress()).build(), inNew);

        a.addPeer(2, bOld.localAddress());
        Message first = vote(1, 2, 1);
        a.send(first);
        assertThat(inOld.take(1)).containsExactly(first);
        assertThat(peer(a, 2).connected()).isTrue();

        a.addPeer(2, bNew.localAddress());
        assertThat(a.peers()).containsExactly(2);
        List<Message> later = new ArrayList<>();
        for (int i = 0; i < 100; i++) later.add(MessageArbitraries.sample(i, 1, 2, 10 + i));
        for (Message m : later) assertThat(a.send(m)).isTrue();
        assertThat(inNew.take(later.size())).containsExactlyElementsOf(later);
        assertThat(peer(a, 2).reconnects()).isEqualTo(1);
        assertThat(bNew.stats().inbound().connectionsAccepted()).isEqualTo(1);
        assertThat(inOld.size()).isZero();

        // The same address again changes nothing: the connection stays.
        a.addPeer(2, bNew.localAddress());
        a.setPeerAddress(2, bNew.localAddress());
        Message last = vote(1, 2, 999);
        a.send(last);
        assertThat(inNew.take(1)).containsExactly(last);
        assertThat(peer(a, 2).reconnects()).isEqualTo(1);
        assertThat(bNew.stats().inbound().connectionsAccepted()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- removing

    @Test
    void removedPeerIsDroppedCountedAndRefusedAtTheHandshake() throws Exception {
        Inbox in1 = new Inbox();
        Inbox in2 = new Inbox();
        PeerTransport a = start(config(1).build(), in1);
        PeerTransport b = start(config(2).build(), in2);
        a.addPeer(2, b.localAddress());
        b.addPeer(1, a.localAddress());
        Message ab = vote(1, 2, 1);
        Message ba = vote(2, 1, 1);
        a.send(ab);
        b.send(ba);
        assertThat(in2.take(1)).containsExactly(ab);
        assertThat(in1.take(1)).containsExactly(ba);

        // Messages queued for a peer that is down are discarded and counted when it is removed.
        a.addPeer(3, deadAddress());
        for (int i = 0; i < 5; i++) assertThat(a.send(new AppendEntries(1, 3, 1, 0, 0, List.of(), 0, i))).isTrue();
        assertThat(peer(a, 3).queuedMessages()).isEqualTo(5);
        a.removePeer(3);
        assertThat(a.peers()).containsExactly(2);
        assertThat(a.stats().peers()).containsOnlyKeys(2);
        await("queued messages to be counted as dropped", () -> a.stats().droppedRemovedPeer() == 5);
        long unknown = a.stats().droppedUnknownPeer();
        assertThat(a.send(vote(1, 3, 2))).isFalse();
        assertThat(a.stats().droppedUnknownPeer()).isEqualTo(unknown + 1);

        // Node 2 removes node 1: sends to it are dropped, and node 1's open connection to node 2 is closed.
        b.removePeer(1);
        assertThat(b.peers()).isEmpty();
        assertThat(b.send(vote(2, 1, 2))).isFalse();
        assertThat(b.stats().droppedUnknownPeer()).isEqualTo(1);
        await("node 2 to close node 1's connection", () -> !peer(a, 2).connected());
        long refusedBefore = b.stats().inbound().handshakeFailures();
        long receivedBefore = b.stats().inbound().received();
        assertThat(refusedBefore).isZero();

        // Node 1 still has node 2 as a peer and redials, but is refused at the handshake.
        assertThat(a.send(vote(1, 2, 3))).isTrue();
        await("node 2 to refuse removed node 1", () -> b.stats().inbound().handshakeFailures() > refusedBefore);
        try (Socket s = new Socket()) { // and so is anyone claiming to be node 1
            s.connect(b.localAddress(), 5_000);
            s.setSoTimeout((int) Inbox.TIMEOUT.toMillis());
            s.getOutputStream().write(Handshake.encodeHello(CLUSTER, 1));
            s.getOutputStream().write(new MessageCodec(MessageCodec.DEFAULT_MAX_FRAME_BYTES).encode(vote(1, 2, 4)));
            assertClosedByPeer(s);
        }
        assertThat(b.stats().inbound().received()).isEqualTo(receivedBefore);
        assertThat(in2.size()).isZero();

        // Added back, node 1 is heard again.
        b.addPeer(1, a.localAddress());
        probeUntilDelivered(a, 2, in2, 100);
        Message again = vote(2, 1, 50);
        assertThat(b.send(again)).isTrue();
        assertThat(in1.take(1)).containsExactly(again);
    }

    // ---------------------------------------------------------------- concurrency

    @Test
    void addingAndRemovingFromManyThreadsWhileSendingDoesNotThrow() throws Exception {
        Inbox in2 = new Inbox();
        PeerTransport a = start(config(1).build(), new Inbox());
        PeerTransport b = start(config(2).build(), in2);
        PeerTransport c = start(config(3).build(), new Inbox());
        b.addPeer(1, a.localAddress());
        c.addPeer(1, a.localAddress());
        Map<Integer, InetSocketAddress> where = Map.of(2, b.localAddress(), 3, c.localAddress(), 4, deadAddress(),
                5, deadAddress());
        int iterations = 3_000;
        Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicLong sendsRefused = new AtomicLong();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 10; t++) {
            int kind = t % 4;
            long seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                SplittableRandom rnd = new SplittableRandom(seed);
                try {
                    go.await();
                    for (int i = 0; i < iterations; i++) {
                        int id = 2 + rnd.nextInt(4);
                        switch (kind) {
                            case 0 -> { // churn node 1's peers, sometimes at another address
                                if (rnd.nextBoolean()) a.removePeer(id);
                                else a.addPeer(id, rnd.nextInt(4) == 0 ? where.get(2 + rnd.nextInt(4)) : where.get(id));
                            }
                            case 1 -> { // churn node 1 on the receiving sides, while it may be connected
                                PeerTransport r = id % 2 == 0 ? b : c;
                                if (rnd.nextBoolean()) r.removePeer(1);
                                else r.addPeer(1, a.localAddress());
                            }
                            case 2 -> {
                                if (!a.send(MessageArbitraries.sample(i, 1, id, 1 + i))) sendsRefused.incrementAndGet();
                            }
                            default -> {
                                assertThat(a.peers()).allMatch(p -> p >= 2 && p <= 5);
                                for (TransportStats.Peer p : a.stats().peers().values()) {
                                    assertThat(p.queuedMessages()).isNotNegative();
                                }
                            }
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join(Inbox.TIMEOUT.toMillis());
            assertThat(t.isAlive()).as("thread %s finished", t).isFalse();
        }
        assertThat(errors).isEmpty();

        // Consistent afterwards: a settled peer set works, and removing everything empties the queues.
        a.addPeer(2, b.localAddress());
        b.addPeer(1, a.localAddress());
        probeUntilDelivered(a, 2, in2, 1_000_000);
        for (int id = 2; id <= 5; id++) a.removePeer(id);
        assertThat(a.peers()).isEmpty();
        assertThat(a.stats().peers()).isEmpty();
        assertThat(a.send(vote(1, 2, 1))).isFalse();
        TransportStats s = a.stats();
        assertThat(s.droppedUnknownPeer() + s.droppedRemovedPeer()).isPositive();
        assertThat(sendsRefused.get()).isPositive();
    }

    // ---------------------------------------------------------------- helpers

    /** An address nothing listens on (below the ephemeral range, so no dial to it can connect to itself). */
    private static InetSocketAddress deadAddress() {
        return TestPorts.loopback();
    }

    /** Waits until the other side closes (EOF or reset); fails if it is still open after the timeout. */
    private static void assertClosedByPeer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            while (in.read() != -1) {
                // the acceptor never writes
            }
        } catch (SocketTimeoutException e) {
            fail("connection still open after " + Inbox.TIMEOUT);
        } catch (SocketException reset) {
            // closed with our bytes unread: the kernel answers with a reset
        }
    }
}
