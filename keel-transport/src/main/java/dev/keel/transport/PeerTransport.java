package dev.keel.transport;

import dev.keel.core.Message;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TCP transport between Keel nodes, on Netty (NIO).
 *
 * <h2>Connections</h2>
 * This node listens on {@link TransportConfig#listenAddress()} for its peers, and dials each peer
 * itself, lazily, when the first message for it is sent. So each pair of nodes has two
 * connections, one per direction: a node <em>sends</em> only on the connection it dialed and only
 * <em>receives</em> on the ones it accepted. The dialer sends a {@link Handshake hello} first; the
 * acceptor checks magic, protocol version, cluster id and that the node is a current peer before
 * it reads a single frame, and then requires every message's {@code from()} to be that node and
 * {@code to()} to be itself. Frames are {@link MessageCodec}'s.
 *
 * <h2>TLS</h2>
 * With {@link TransportConfig#tls()} every connection is mutual TLS 1.3 ({@link PeerTls}): the
 * acceptor's first handler is an {@code SslHandler} requiring a client certificate from the cluster
 * CA, so a stranger's or a plaintext dialer's bytes never reach the hello check (its failed
 * handshake is counted in {@link TransportStats.Inbound#handshakeFailures()}). The hello's node id must
 * then be the one the certificate names ({@code keel://node/N}), or the connection is closed before
 * any frame is read. The dialer writes nothing, not even the hello, until the acceptor's
 * certificate has been verified and names the peer it dialed.
 *
 * <h2>Peers change at runtime</h2>
 * The peer set starts as {@link TransportConfig#peers()} and changes with {@link #addPeer} and
 * {@link #removePeer}, from any thread, before or after {@link #start()}; {@link #peers()} is the
 * current set. The handshake consults the live set: a node added after start may connect in at
 * once, and a removed node's new connections are refused at the handshake. Removing a peer also
 * closes the connections it had already opened to this node, so nothing from it is delivered
 * after {@code removePeer} returns plus the time to close them (messages already decoded may still
 * be in the {@code inbound} callback). Re-adding a removed peer starts afresh: new counters, an
 * empty queue.
 *
 * <h2>Sending: bounded, lossy, batched</h2>
 * {@link #send} never blocks and is safe from any thread. Each peer has a bounded queue
 * ({@code outboundQueueMessagesMax} messages and {@code outboundQueueBytesMax} bytes). <b>Drop
 * policy: drop-newest.</b> A message that finds its peer's queue full, whose peer is unknown, that
 * is too large for {@code maxFrameBytes}, or that is sent after {@link #close()} is dropped and
 * counted in {@link #stats()}; messages already queued keep their place and order. Messages queued
 * while the peer is unreachable wait there, up to the bounds, and go out when it is reached again.
 * Raft tolerates the loss: heartbeats and retries resend what matters. The first message queued
 * after the queue drained schedules one flush task on the peer's event loop; that task writes every
 * queued frame and flushes once, so a burst of sends costs one syscall. A peer that stops reading
 * fills Netty's buffer to 1 MiB, then its queue, then messages are dropped: memory per peer stays
 * below {@code outboundQueueBytesMax} + 1 MiB + one frame.
 *
 * <h2>Receiving</h2>
 * {@code inbound} is called on a Netty IO thread, once per decoded message, in the order the
 * messages were sent on that connection. Calls for different connections (different peers) may
 * run at the same time on different IO threads, so {@code inbound} must be thread-safe, and it must
 * be quick: it holds up every connection that shares its thread. Hand the message to your own
 * queue and return. An exception it throws is logged and counted; the connection stays up.
 *
 * <h2>Reconnects</h2>
 * A failed attempt or lost connection is retried after a jittered exponential backoff
 * ({@code reconnectBackoffMin} doubling to {@code reconnectBackoffMax}); a connection that stayed
 * up for {@code reconnectBackoffMax} resets it. After the wait it dials only if messages are queued.
 * A message written to a connection that then dies is lost, not resent.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} once, then {@link #send} from any thread, then {@link #close()} (idempotent).
 */
public final class PeerTransport implements Transport {
    private static final Logger log = LoggerFactory.getLogger(PeerTransport.class);

    private enum Lifecycle { NEW, STARTED, CLOSED }

    private final TransportConfig config;
    private final Consumer<Message> inbound;
    private final MessageCodec codec;
    private final byte[] clusterIdUtf8;
    private final byte[] hello;
    /** With {@link TransportConfig#tls()}: the contexts of accepted and of dialed connections; else null. */
    private final SslContext serverTls;
    private final SslContext clientTls;
    /**
     * The current peers. Read without locking (send, the handshake's first check, stats); changed
     * only under {@link #peersLock}, together with {@link #inboundByPeer}.
     */
    private final ConcurrentHashMap<Integer, PeerLink> links = new ConcurrentHashMap<>();
    /**
     * Guards changes to the peer set and the fields below. Held only briefly and never while
     * waiting, so it may be taken on IO threads (and {@link #addPeer} may be called from them).
     */
    private final Object peersLock = new Object();
    /** Accepted connections that passed the handshake, by the peer they came from. Guarded by peersLock. */
    private final Map<Integer, Set<Channel>> inboundByPeer = new HashMap<>();
    /** Set by start(): links added from then on are attached at once. Guarded by peersLock. */
    private EventLoopGroup linkLoops;
    /** Set by close(): links added from then on are closed at once. Guarded by peersLock. */
    private boolean linksClosed;
    private final InboundHandler.Counters inboundCounters = new InboundHandler.Counters();
    private final LongAdder droppedUnknownPeer = new LongAdder();
    private final LongAdder droppedRemovedPeer = new LongAdder();
    private final LongAdder droppedClosed = new LongAdder();
    private final Set<Channel> inboundChannels = ConcurrentHashMap.newKeySet();

    private volatile Lifecycle lifecycle = Lifecycle.NEW;
    private EventLoopGroup group; // guarded by this
    /** A group given by the caller (not shut down by close()), or null: start() makes its own. */
    private final EventLoopGroup externalGroup;
    private volatile Channel serverChannel;

    /**
     * @param inbound receives every message from peers; called on Netty IO threads, possibly
     *     concurrently for different connections; must be quick and thread-safe (see the class doc)
     */
    public PeerTransport(TransportConfig config, Consumer<Message> inbound) {
        this(config, inbound, null);
    }

    /**
     * As {@link #PeerTransport(TransportConfig, Consumer)}, running on {@code group} (the caller's,
     * which it keeps: close() does not shut it down) instead of {@link TransportConfig#ioThreads()}
     * threads of its own. A Raft server passes its one-thread event loop, so that messages are read
     * and written on the thread that steps the core, with no hand-over between threads.
     */
    public PeerTransport(TransportConfig config, Consumer<Message> inbound, EventLoopGroup group) {
        this.externalGroup = group;
        this.config = Objects.requireNonNull(config, "config");
        this.inbound = Objects.requireNonNull(inbound, "inbound");
        this.codec = new MessageCodec(config.maxFrameBytes());
        this.clusterIdUtf8 = Handshake.clusterIdBytes(config.clusterId());
        this.hello = Handshake.encodeHello(config.clusterId(), config.nodeId());
        // Read the PEM files now, so that a bad one fails the node's start rather than every handshake.
        PeerTls.Contexts tls = config.tls() == null ? null : config.tls().contexts(config.nodeId());
        this.serverTls = tls == null ? null : tls.server();
        this.clientTls = tls == null ? null : tls.client();
        config.peers().forEach((id, addr) -> links.put(id, new PeerLink(id, addr, config, codec, hello, clientTls)));
    }

    /**
     * Binds the listening socket and makes {@link #send} usable. Peers are dialed later, on first send.
     *
     * @return the bound address (with the real port when the config asked for port 0)
     * @throws UncheckedIOException if the address cannot be bound (the transport is then closed)
     * @throws IllegalStateException if called twice or after close
     */
    @Override
    public synchronized InetSocketAddress start() {
        if (lifecycle != Lifecycle.NEW) throw new IllegalStateException("start() on a transport that is " + lifecycle);
        group = externalGroup != null ? externalGroup : new MultiThreadIoEventLoopGroup(config.ioThreads(),
                new DefaultThreadFactory("keel-transport-" + config.nodeId()), NioIoHandler.newFactory());
        synchronized (peersLock) {
            linkLoops = group;
            for (PeerLink link : links.values()) link.attach(group.next());
        }
        long handshakeTimeoutNanos = config.handshakeTimeout().toNanos();
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true) // rebind at once after a restart despite TIME_WAIT
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (lifecycle == Lifecycle.CLOSED) {
                            ch.close();
                            return;
                        }
                        inboundChannels.add(ch);
                        ch.closeFuture().addListener(f -> inboundChannels.remove(ch));
                        if (serverTls != null) {
                            // First in the pipeline: nothing the peer sends reaches the hello check
                            // until its certificate has been verified against the cluster CA.
                            SslHandler ssl = serverTls.newHandler(ch.alloc());
                            ssl.setHandshakeTimeout(handshakeTimeoutNanos, TimeUnit.NANOSECONDS);
                            ch.pipeline().addLast(ssl);
                        }
                        ch.pipeline().addLast(new InboundHandler(config.nodeId(), clusterIdUtf8, links::containsKey,
                                PeerTransport.this::admitInbound, codec, handshakeTimeoutNanos, inbound,
                                inboundCounters, serverTls != null));
                    }
                });
        ChannelFuture bound = b.bind(config.listenAddress()).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            lifecycle = Lifecycle.CLOSED;
            shutdownGroup();
            String msg = "node=" + config.nodeId() + " cannot listen on " + config.listenAddress() + ": " + cause;
            if (cause instanceof IOException io) throw new UncheckedIOException(msg, io);
            throw new IllegalStateException(msg, cause);
        }
        serverChannel = bound.channel();
        lifecycle = Lifecycle.STARTED;
        log.info("node={} transport listening addr={} cluster={} tls={} peers={}", config.nodeId(), localAddress(),
                config.clusterId(), serverTls != null ? "mutual (" + config.tls().certFile() + ")" : "off", peerAddresses());
        return localAddress();
    }

    /** The bound listening address, or null before {@link #start()}. */
    public InetSocketAddress localAddress() {
        Channel ch = serverChannel;
        return ch == null ? null : (InetSocketAddress) ch.localAddress();
    }

    /** This transport's configuration; its {@code peers()} is the initial peer set, see {@link #peers()}. */
    public TransportConfig config() {
        return config;
    }

    /**
     * Queues {@code m} for {@code m.to()} and returns at once (any thread). See the class doc for
     * the drop policy.
     *
     * @return true if queued; false if dropped (and counted)
     * @throws IllegalStateException if called before {@link #start()}
     * @throws IllegalArgumentException if {@code m.from()} is not this node (the receiver would drop it)
     */
    @Override
    public boolean send(Message m) {
        if (m.from() != config.nodeId()) {
            throw new IllegalArgumentException("node " + config.nodeId() + " cannot send a message from node " + m.from()
                    + ": " + m);
        }
        Lifecycle l = lifecycle;
        if (l != Lifecycle.STARTED) {
            if (l == Lifecycle.NEW) throw new IllegalStateException("send() before start()");
            droppedClosed.increment();
            return false;
        }
        PeerLink link = links.get(m.to());
        if (link == null) {
            droppedUnknownPeer.increment();
            log.debug("node={} dropped message to unknown peer {}: {}", config.nodeId(), m.to(), m);
            return false;
        }
        return link.offer(m);
    }

    @Override
    public void flush() {
        for (PeerLink link : links.values()) link.flushIfInLoop();
    }

    /**
     * Adds peer {@code id} at {@code address}, or, if it is already a peer, points it at
     * {@code address} (as {@link #setPeerAddress}). Any thread, before or after {@link #start()};
     * never blocks. A new peer can be sent to at once (it is dialed on the first message) and may
     * connect in at once.
     *
     * <p>A changed address takes effect at once: an open connection to the old address is closed
     * (messages already written to it may be lost; Raft retries) and the next message dials the new
     * one. The same address again changes nothing.
     *
     * @throws IllegalArgumentException if {@code id} is this node's own id or not positive
     */
    @Override
    public void addPeer(int id, InetSocketAddress address) {
        Objects.requireNonNull(address, "address");
        if (id == config.nodeId()) {
            throw new IllegalArgumentException("cannot add this node's own id " + id + " as a peer");
        }
        if (id <= 0) throw new IllegalArgumentException("peer id (" + id + ") must be positive");
        synchronized (peersLock) {
            PeerLink existing = links.get(id);
            if (existing != null) {
                InetSocketAddress old = existing.address();
                existing.address(address); // never blocks: any reconnect runs on the link's loop
                if (!old.equals(address)) log.info("node={} peer={} address {} -> {}", config.nodeId(), id, old, address);
                return;
            }
            PeerLink link = new PeerLink(id, address, config, codec, hello, clientTls);
            if (linkLoops != null) link.attach(linkLoops.next());
            if (linksClosed) link.close(null);
            links.put(id, link); // published attached: send() may offer to it from now on
        }
        log.info("node={} peer={} added addr={}", config.nodeId(), id, address);
    }

    /**
     * Removes peer {@code id}: its outbound connection is closed and the messages queued for it are
     * discarded and counted in {@link TransportStats#droppedRemovedPeer()} (as are sends that raced
     * the removal); later sends to it are dropped as to an unknown peer
     * ({@link TransportStats#droppedUnknownPeer()}); its per-peer counters leave {@link #stats()}.
     * Inbound, its new connections are refused at the handshake, and the connections it already
     * had open to this node are closed too (asynchronously), so a removed node stops being heard
     * rather than lingering until its connection happens to break.
     *
     * <p>Any thread, before or after {@link #start()}; never blocks. Removing an id that is not a
     * peer (including this node's own) does nothing.
     */
    @Override
    public void removePeer(int id) {
        PeerLink removed;
        List<Channel> inboundFromIt;
        synchronized (peersLock) {
            removed = links.remove(id);
            Set<Channel> chs = inboundByPeer.remove(id);
            inboundFromIt = chs == null ? List.of() : List.copyOf(chs);
        }
        if (removed == null) return;
        removed.close(droppedRemovedPeer);
        for (Channel ch : inboundFromIt) ch.close();
        log.info("node={} peer={} removed (closing {} inbound connection(s))", config.nodeId(), id, inboundFromIt.size());
    }

    /** The current peer ids, sorted; a snapshot (any thread). */
    public Set<Integer> peers() {
        return Collections.unmodifiableSortedSet(new TreeSet<>(links.keySet()));
    }

    /**
     * Points a current peer at a new address: {@link #addPeer} for a known peer (a changed address
     * closes the open connection to the old one; the next message dials the new one). Unlike
     * {@code addPeer} it refuses an unknown id, so a typo does not silently create a peer.
     *
     * @throws IllegalArgumentException if {@code peerId} is not a current peer
     */
    public void setPeerAddress(int peerId, InetSocketAddress address) {
        Objects.requireNonNull(address, "address");
        synchronized (peersLock) { // so the peer cannot be removed between the check and the update
            if (!links.containsKey(peerId)) {
                throw new IllegalArgumentException("peer " + peerId + " is not configured; peers are " + peers());
            }
            addPeer(peerId, address);
        }
    }

    /** The current counters (any thread, cheap: no locks beyond each queue's size). */
    @Override
    public TransportStats stats() {
        Map<Integer, TransportStats.Peer> peers = new TreeMap<>();
        for (PeerLink link : links.values()) peers.put(link.peerId, link.stats());
        return new TransportStats(peers, inboundCounters.snapshot(), droppedUnknownPeer.sum(), droppedClosed.sum(),
                droppedRemovedPeer.sum());
    }

    private Map<Integer, InetSocketAddress> peerAddresses() {
        Map<Integer, InetSocketAddress> m = new TreeMap<>();
        links.forEach((id, link) -> m.put(id, link.address()));
        return m;
    }

    /**
     * The handshake's final check, on an IO thread: atomically with removePeer, the node must still
     * be a peer; its connection is then registered so that removing it closes the connection.
     */
    private boolean admitInbound(int peerId, Channel ch) {
        synchronized (peersLock) {
            if (linksClosed || !links.containsKey(peerId)) return false;
            inboundByPeer.computeIfAbsent(peerId, k -> new HashSet<>()).add(ch);
        }
        // Outside the lock: runs at once if the channel is already closed.
        ch.closeFuture().addListener(f -> {
            synchronized (peersLock) {
                Set<Channel> chs = inboundByPeer.get(peerId);
                if (chs != null && chs.remove(ch) && chs.isEmpty()) inboundByPeer.remove(peerId);
            }
        });
        return true;
    }

    /**
     * Closes the listening socket and every connection, discards queued messages and stops the IO
     * threads; returns when they have stopped (or after 10 s). Idempotent; later sends are dropped.
     * Must not be called from an IO thread (from the inbound callback).
     */
    @Override
    public synchronized void close() {
        if (lifecycle == Lifecycle.CLOSED) return;
        boolean wasStarted = lifecycle == Lifecycle.STARTED;
        lifecycle = Lifecycle.CLOSED;
        if (!wasStarted) return;
        log.info("node={} transport closing", config.nodeId());
        Channel server = serverChannel;
        if (server != null) server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        List<Future<?>> closing = new ArrayList<>();
        List<PeerLink> toClose;
        synchronized (peersLock) {
            linksClosed = true;
            toClose = List.copyOf(links.values());
        }
        for (PeerLink link : toClose) {
            Future<?> f = link.close(null);
            if (f != null) closing.add(f);
        }
        for (Channel ch : inboundChannels) closing.add(ch.close());
        // Let each loop close its links before the loops stop (a stopping loop closes channels
        // before running the tasks still queued).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Future<?> f : closing) {
            try {
                f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (ExecutionException | TimeoutException e) {
                log.debug("node={} close did not finish cleanly: {}", config.nodeId(), e.toString());
            }
        }
        shutdownGroup();
        log.info("node={} transport closed", config.nodeId());
    }

    private void shutdownGroup() {
        EventLoopGroup g = group;
        if (g == null || g == externalGroup) return;
        // No quiet period: nothing is worth waiting for once we are closing.
        if (!g.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS)) {
            log.warn("node={} transport IO threads did not stop within 10 s", config.nodeId());
        }
    }
}
