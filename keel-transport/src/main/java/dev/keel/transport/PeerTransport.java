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
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
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
 * acceptor checks magic, protocol version, cluster id and that the node is a configured peer before
 * it reads a single frame, and then requires every message's {@code from()} to be that node and
 * {@code to()} to be itself. Frames are {@link MessageCodec}'s.
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
public final class PeerTransport implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PeerTransport.class);

    private enum Lifecycle { NEW, STARTED, CLOSED }

    private final TransportConfig config;
    private final Consumer<Message> inbound;
    private final MessageCodec codec;
    private final byte[] clusterIdUtf8;
    /** Fixed at construction: peers are the configured members. */
    private final Map<Integer, PeerLink> links;
    private final InboundHandler.Counters inboundCounters = new InboundHandler.Counters();
    private final LongAdder droppedUnknownPeer = new LongAdder();
    private final LongAdder droppedClosed = new LongAdder();
    private final Set<Channel> inboundChannels = ConcurrentHashMap.newKeySet();

    private volatile Lifecycle lifecycle = Lifecycle.NEW;
    private EventLoopGroup group; // guarded by this
    private volatile Channel serverChannel;

    /**
     * @param inbound receives every message from peers; called on Netty IO threads, possibly
     *     concurrently for different connections; must be quick and thread-safe (see the class doc)
     */
    public PeerTransport(TransportConfig config, Consumer<Message> inbound) {
        this.config = Objects.requireNonNull(config, "config");
        this.inbound = Objects.requireNonNull(inbound, "inbound");
        this.codec = new MessageCodec(config.maxFrameBytes());
        this.clusterIdUtf8 = Handshake.clusterIdBytes(config.clusterId());
        byte[] hello = Handshake.encodeHello(config.clusterId(), config.nodeId());
        Map<Integer, PeerLink> m = new TreeMap<>();
        config.peers().forEach((id, addr) -> m.put(id, new PeerLink(id, addr, config, codec, hello)));
        this.links = Map.copyOf(m);
    }

    /**
     * Binds the listening socket and makes {@link #send} usable. Peers are dialed later, on first send.
     *
     * @return the bound address (with the real port when the config asked for port 0)
     * @throws UncheckedIOException if the address cannot be bound (the transport is then closed)
     * @throws IllegalStateException if called twice or after close
     */
    public synchronized InetSocketAddress start() {
        if (lifecycle != Lifecycle.NEW) throw new IllegalStateException("start() on a transport that is " + lifecycle);
        group = new MultiThreadIoEventLoopGroup(config.ioThreads(),
                new DefaultThreadFactory("keel-transport-" + config.nodeId()), NioIoHandler.newFactory());
        for (PeerLink link : links.values()) link.attach(group.next());
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
                        ch.pipeline().addLast(new InboundHandler(config.nodeId(), clusterIdUtf8, links::containsKey,
                                codec, handshakeTimeoutNanos, inbound, inboundCounters));
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
        log.info("node={} transport listening addr={} cluster={} peers={}", config.nodeId(), localAddress(),
                config.clusterId(), new TreeMap<>(config.peers()));
        return localAddress();
    }

    /** The bound listening address, or null before {@link #start()}. */
    public InetSocketAddress localAddress() {
        Channel ch = serverChannel;
        return ch == null ? null : (InetSocketAddress) ch.localAddress();
    }

    /** This transport's configuration. */
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

    /**
     * Points a configured peer at a new address; the next connection attempt uses it (an open
     * connection stays until it breaks). For a peer that moved, and for tests that learn ports
     * only after binding port 0.
     *
     * @throws IllegalArgumentException if {@code peerId} is not a configured peer
     */
    public void setPeerAddress(int peerId, InetSocketAddress address) {
        Objects.requireNonNull(address, "address");
        PeerLink link = links.get(peerId);
        if (link == null) {
            throw new IllegalArgumentException("peer " + peerId + " is not configured; peers are " + links.keySet());
        }
        link.address(address);
    }

    /** The current counters (any thread, cheap: no locks beyond each queue's size). */
    public TransportStats stats() {
        Map<Integer, TransportStats.Peer> peers = new TreeMap<>();
        for (PeerLink link : links.values()) peers.put(link.peerId, link.stats());
        return new TransportStats(peers, inboundCounters.snapshot(), droppedUnknownPeer.sum(), droppedClosed.sum());
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
        for (PeerLink link : links.values()) {
            Future<?> f = link.close();
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
        if (g == null) return;
        // No quiet period: nothing is worth waiting for once we are closing.
        if (!g.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS)) {
            log.warn("node={} transport IO threads did not stop within 10 s", config.nodeId());
        }
    }
}
