package dev.keel.transport;

import dev.keel.core.Message;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * In-process links between the nodes of one JVM: {@link Link#send} hands the message object itself
 * to the receiver's inbound callback, on the sender's thread, with no encoding, copy or socket. For
 * running several nodes in one process (tests, embedded clusters, and the benchmark's in-memory
 * table, where the library it is compared with hands objects over in the same way). Every node of a
 * cluster joins the same network. Sharing is safe because messages are immutable records and
 * nothing writes into an entry's data once it is proposed.
 *
 * <p>It keeps {@link PeerTransport}'s rules that matter to Raft: a node hears only its current
 * peers (a removed node is no longer heard), and a message to a node that is not running, or not a
 * peer, is dropped and counted rather than queued.
 */
public final class LocalNetwork {

    private final ConcurrentHashMap<Integer, Link> running = new ConcurrentHashMap<>();

    /**
     * A transport for node {@code nodeId} on this network; it starts receiving at {@link Link#start()}.
     *
     * @param inbound receives every message from its peers, on the senders' threads: must be quick,
     *     thread-safe and never block (a Raft server offers to its bounded inbox)
     */
    public Transport join(int nodeId, Map<Integer, InetSocketAddress> peers, Consumer<Message> inbound) {
        if (nodeId <= 0) throw new IllegalArgumentException("node id (" + nodeId + ") must be positive");
        Link link = new Link(nodeId, Objects.requireNonNull(inbound, "inbound"));
        peers.keySet().forEach(id -> link.addPeer(id, peers.get(id)));
        return link;
    }

    /** One node's end of the network. */
    private final class Link implements Transport {
        private final int nodeId;
        private final Consumer<Message> inbound;
        /** Current peers, with their outbound counters. */
        private final ConcurrentHashMap<Integer, Counters> peers = new ConcurrentHashMap<>();
        private final LongAdder received = new LongAdder();
        private final LongAdder misrouted = new LongAdder();
        private final LongAdder callbackErrors = new LongAdder();
        private final LongAdder droppedUnknownPeer = new LongAdder();
        private final LongAdder droppedClosed = new LongAdder();
        private volatile boolean started;
        private volatile boolean closed;

        Link(int nodeId, Consumer<Message> inbound) {
            this.nodeId = nodeId;
            this.inbound = inbound;
        }

        @Override
        public synchronized InetSocketAddress start() {
            if (started || closed) throw new IllegalStateException("node " + nodeId + ": start() twice or after close()");
            if (running.putIfAbsent(nodeId, this) != null) {
                throw new IllegalStateException("node " + nodeId + " is already running on this network");
            }
            started = true;
            return null;
        }

        @Override
        public boolean send(Message m) {
            if (m.from() != nodeId) {
                throw new IllegalArgumentException("node " + nodeId + " cannot send a message from node " + m.from() + ": " + m);
            }
            if (!started) throw new IllegalStateException("send() before start()");
            if (closed) {
                droppedClosed.increment();
                return false;
            }
            Counters out = peers.get(m.to());
            if (out == null) {
                droppedUnknownPeer.increment();
                return false;
            }
            Link to = running.get(m.to());
            if (to == null || !to.deliver(m)) {
                out.dropped.increment(); // not running (a crashed or stopped node), or it does not know us
                return false;
            }
            out.sent.increment();
            return true;
        }

        /** Receives {@code m} if its sender is a current peer (as PeerTransport's handshake would). */
        private boolean deliver(Message m) {
            if (closed || m.to() != nodeId || !peers.containsKey(m.from())) {
                misrouted.increment();
                return false;
            }
            try {
                inbound.accept(m);
            } catch (RuntimeException e) {
                callbackErrors.increment(); // the sender's thread must not pay for the receiver's bug
                return false;
            }
            received.increment();
            return true;
        }

        @Override
        public void addPeer(int id, InetSocketAddress address) {
            if (id == nodeId) throw new IllegalArgumentException("cannot add this node's own id " + id + " as a peer");
            if (id <= 0) throw new IllegalArgumentException("peer id (" + id + ") must be positive");
            peers.putIfAbsent(id, new Counters()); // addresses mean nothing in-process
        }

        @Override
        public void removePeer(int id) {
            peers.remove(id);
        }

        @Override
        public TransportStats stats() {
            Map<Integer, TransportStats.Peer> out = new HashMap<>();
            peers.forEach((id, c) -> out.put(id, new TransportStats.Peer(id, c.sent.sum(), c.dropped.sum(), 0, 0, 0, 0,
                    running.containsKey(id))));
            return new TransportStats(out, new TransportStats.Inbound(0, received.sum(), 0, 0, 0, misrouted.sum(),
                    callbackErrors.sum()), droppedUnknownPeer.sum(), droppedClosed.sum(), 0);
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            running.remove(nodeId, this);
        }
    }

    private static final class Counters {
        final LongAdder sent = new LongAdder();
        final LongAdder dropped = new LongAdder();
    }
}
