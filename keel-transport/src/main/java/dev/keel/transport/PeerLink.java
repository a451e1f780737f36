package dev.keel.transport;

import dev.keel.core.Message;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound side of one peer: a bounded queue, and at most one connection that drains it.
 *
 * <p>Threading: {@link #offer} runs on any thread. Everything else, and every field marked
 * "loop only", belongs to {@link #loop}, the one event loop this link's connections are registered
 * on, so the connection state machine needs no locks.
 *
 * <p>States: IDLE (no connection, none wanted until something is queued) → CONNECTING →
 * CONNECTED → (connection lost or attempt failed) BACKOFF → after the jittered wait, CONNECTING if
 * messages are queued, else IDLE. CLOSED is final.
 */
final class PeerLink {
    private static final Logger log = LoggerFactory.getLogger(PeerTransport.class);

    /**
     * Netty's own outbound buffer stops taking our frames above 1 MiB and resumes below 256 KiB;
     * frames wait in our bounded queue meanwhile. Without this a peer that stops reading would
     * grow Netty's unbounded buffer instead.
     */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(256 * 1024, 1024 * 1024);

    private enum State { IDLE, CONNECTING, CONNECTED, BACKOFF, CLOSED }

    final int peerId;
    private final int nodeId;
    private final TransportConfig config;
    private final MessageCodec codec;
    private final byte[] hello;
    /** The client side of mutual TLS, or null for plaintext. */
    private final SslContext tls;
    private volatile InetSocketAddress address;
    private volatile EventLoop loop;

    // Invariant: queue.size() <= outboundQueueMessagesMax, queuedBytes == sum of frameBytes over the queue
    // (between a thread's reservation and its offer, queuedBytes may briefly count a message not yet queued).
    private final ArrayBlockingQueue<Message> queue;
    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicBoolean flushScheduled = new AtomicBoolean();
    private final Runnable flushTask = this::onFlushTask;

    private final LongAdder dropped = new LongAdder();
    private final LongAdder sent = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final AtomicBoolean warnedOversized = new AtomicBoolean();
    private volatile boolean connected;
    /** Set once by {@link #close}; callbacks check it as well as {@code state == CLOSED}. */
    private volatile boolean closed;
    /**
     * Where messages discarded because the link was closed are counted, set by {@link #close}
     * before {@link #closed}; null: not counted (the whole transport is closing).
     */
    private volatile LongAdder discardedTo;

    // Loop only.
    private State state = State.IDLE;
    private Channel channel;
    /** The address {@link #channel} was dialed at. */
    private InetSocketAddress channelTarget;
    private boolean dialedBefore;
    private int consecutiveFailures;
    private long connectedAtNanos;
    /** A failure has been reported at INFO since the last connection: further ones go to DEBUG. */
    private boolean downReported;

    PeerLink(int peerId, InetSocketAddress address, TransportConfig config, MessageCodec codec, byte[] hello, SslContext tls) {
        this.peerId = peerId;
        this.nodeId = config.nodeId();
        this.address = address;
        this.config = config;
        this.codec = codec;
        this.hello = hello;
        this.tls = tls;
        this.queue = new ArrayBlockingQueue<>(config.outboundQueueMessagesMax());
    }

    /** Called once, by {@link PeerTransport#start()} or, for a peer added later, before the link is published. */
    void attach(EventLoop eventLoop) {
        this.loop = eventLoop;
    }

    /**
     * Points the link at a new address (any thread). If it differs from the old one, an open
     * connection to the old address is closed, so the next message dials the new one (a pending
     * attempt to the old one is abandoned when it completes), and the backoff is reset.
     */
    void address(InetSocketAddress newAddress) {
        InetSocketAddress old = this.address;
        this.address = newAddress;
        if (newAddress.equals(old)) return;
        EventLoop l = loop;
        if (l == null) return; // not started: nothing is connected yet
        try {
            l.execute(this::onAddressChanged);
        } catch (RejectedExecutionException e) {
            // shutting down
        }
    }

    InetSocketAddress address() {
        return address;
    }

    private void onAddressChanged() {
        if (closed) return;
        consecutiveFailures = 0;
        Channel ch = channel;
        InetSocketAddress now = address;
        if (state == State.CONNECTED && ch != null && !now.equals(channelTarget)) {
            log.info("node={} peer={} address changed from {} to {}; closing the old connection", nodeId, peerId,
                    channelTarget, now);
            ch.close(); // -> onChannelClosed -> BACKOFF -> dials the new address if messages are queued
        }
    }

    /**
     * Queues {@code m} (any thread, never blocks). Drop policy: drop-newest. A message that finds
     * the queue full by count or by bytes is refused and counted; what is queued stays, in order.
     *
     * @return whether it was queued
     */
    boolean offer(Message m) {
        if (closed) { // the peer was removed (or the transport closed) after the caller looked it up
            LongAdder to = discardedTo;
            (to != null ? to : dropped).increment();
            return false;
        }
        long frameBytes = codec.frameBytes(m);
        if (frameBytes - MessageCodec.LENGTH_PREFIX_BYTES > codec.maxFrameBytes()) {
            dropped.increment();
            if (warnedOversized.compareAndSet(false, true)) {
                log.warn("node={} peer={} dropped {} of {} bytes: over maxFrameBytes {} (the core's message limits must be "
                        + "below the transport's; further drops of this kind are logged at DEBUG)",
                        nodeId, peerId, m.getClass().getSimpleName(), frameBytes, codec.maxFrameBytes());
            } else {
                log.debug("node={} peer={} dropped oversized {} of {} bytes", nodeId, peerId, m.getClass().getSimpleName(),
                        frameBytes);
            }
            return false;
        }
        long bytesMax = config.outboundQueueBytesMax();
        long cur;
        do {
            cur = queuedBytes.get();
            if (cur + frameBytes > bytesMax) {
                dropped.increment();
                return false;
            }
        } while (!queuedBytes.compareAndSet(cur, cur + frameBytes));
        if (!queue.offer(m)) {
            queuedBytes.addAndGet(-frameBytes);
            dropped.increment();
            return false;
        }
        // One flush task per burst: every message queued before the task runs goes out in its one
        // batch, with one flush (one syscall) for all of them.
        if (flushScheduled.compareAndSet(false, true)) {
            try {
                loop.execute(flushTask);
            } catch (RejectedExecutionException e) {
                flushScheduled.set(false); // shutting down; what is queued is discarded with the link
            }
        }
        return true;
    }

    /** Runs the flush now instead of as a task, if one is due and this is the link's loop. */
    void flushIfInLoop() {
        EventLoop l = loop;
        if (l != null && flushScheduled.get() && l.inEventLoop()) onFlushTask();
    }

    private void onFlushTask() {
        flushScheduled.set(false); // before draining: a message queued from now on schedules a new task
        if (closed) { // a message that raced close() into the queue
            discardQueued();
            return;
        }
        switch (state) {
            case IDLE -> connect();
            case CONNECTED -> drain(false);
            case CONNECTING, BACKOFF, CLOSED -> { } // drained on connect; nothing to do when closed
        }
    }

    /** Writes queued frames while the channel takes them, then flushes once. Loop only. */
    private void drain(boolean forceFlush) {
        Channel ch = channel;
        if (state != State.CONNECTED || ch == null) return;
        int messages = 0;
        long bytes = 0;
        while (ch.isWritable()) {
            Message m = queue.poll();
            if (m == null) break;
            int size = (int) codec.frameBytes(m); // fits: checked in offer
            long left = queuedBytes.addAndGet(-size);
            if (left < 0) throw new IllegalStateException("queuedBytes " + left + " < 0 after taking a frame of " + size);
            ByteBuf buf = ch.alloc().ioBuffer(size, size);
            try {
                codec.encode(m, buf.nioBuffer(0, size));
                buf.writerIndex(size);
            } catch (RuntimeException e) {
                buf.release();
                throw e;
            }
            ch.write(buf, ch.voidPromise());
            messages++;
            bytes += size;
            if (log.isDebugEnabled()) log.debug("node={} peer={} send {}", nodeId, peerId, m);
        }
        if (messages > 0) {
            sent.add(messages);
            bytesOut.add(bytes);
        }
        if (messages > 0 || forceFlush) ch.flush();
    }

    /** Dials the peer. Loop only. */
    private void connect() {
        if (dialedBefore) reconnects.increment();
        dialedBefore = true;
        state = State.CONNECTING;
        InetSocketAddress target = address;
        ChannelFuture f = new Bootstrap()
                .group(loop) // register on this link's loop: connection events and link state share one thread
                .channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
                .option(ChannelOption.TCP_NODELAY, true) // we batch ourselves; Nagle would only add delay
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .handler(tls == null ? new OutboundHandler() : new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        SslHandler ssl = tls.newHandler(ch.alloc(), target.getHostString(), target.getPort());
                        ssl.setHandshakeTimeout(config.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
                        ch.pipeline().addLast(ssl, new OutboundHandler());
                    }
                })
                .connect(target);
        f.addListener((ChannelFuture done) -> onConnectDone(done, target));
    }

    private void onConnectDone(ChannelFuture f, InetSocketAddress target) {
        if (!f.isSuccess()) {
            if (closed) return;
            Throwable cause = f.cause();
            if (!downReported) {
                downReported = true;
                log.info("node={} peer={} cannot connect addr={} reason=\"{}\"; retrying with backoff (further failures at DEBUG)",
                        nodeId, peerId, target, String.valueOf(cause));
            } else {
                log.debug("node={} peer={} cannot connect addr={} reason=\"{}\"", nodeId, peerId, target, String.valueOf(cause));
            }
            state = State.BACKOFF;
            scheduleReconnect();
            return;
        }
        Channel ch = f.channel();
        if (connectedToItself(ch)) {
            // Nothing listened at the target, and the kernel gave this dial the target's own port as
            // its source, so the socket connected to itself (TCP simultaneous open). Kept, it would
            // swallow every message and hold the port the peer needs to listen on again.
            ch.close();
            if (closed) return;
            log.info("node={} peer={} dial to addr={} connected to itself (nothing listens there); retrying with backoff",
                    nodeId, peerId, target);
            downReported = true;
            state = State.BACKOFF;
            scheduleReconnect();
            return;
        }
        if (tls == null || closed) {
            onReady(ch, target);
            return;
        }
        // Nothing, not even the hello, is written before the peer has proved which node it is.
        ch.pipeline().get(SslHandler.class).handshakeFuture().addListener(hs -> {
            String refused = hs.isSuccess() ? serverIdentityMismatch(ch) : "TLS handshake failed: " + InboundHandler.tlsReason(hs.cause());
            if (refused == null) {
                onReady(ch, target);
                return;
            }
            ch.close();
            if (closed) return;
            if (!downReported) {
                downReported = true;
                log.info("node={} peer={} refused addr={}: {}; retrying with backoff (further failures at DEBUG)",
                        nodeId, peerId, target, refused);
            } else {
                log.debug("node={} peer={} refused addr={}: {}", nodeId, peerId, target, refused);
            }
            state = State.BACKOFF;
            scheduleReconnect();
        });
    }

    /** Whether the connection's two ends are one socket: the same address and port. */
    static boolean connectedToItself(Channel ch) {
        SocketAddress local = ch.localAddress();
        return local != null && local.equals(ch.remoteAddress());
    }

    /**
     * Why the TLS server at the other end is not the peer this link dials, or null: a stale address
     * (another node now listens there) or a node with a wrong certificate must not be sent this
     * peer's messages.
     */
    private String serverIdentityMismatch(Channel ch) {
        return TlsFiles.identityMismatch(ch, peerId, "expected node " + peerId, "server");
    }

    /** The connection is up (and, with TLS, the peer proved to be {@link #peerId}): send the hello and drain. Loop only. */
    private void onReady(Channel ch, InetSocketAddress target) {
        if (closed) {
            ch.close();
            return;
        }
        if (!target.equals(address)) { // the address changed while dialing: this connection goes to the old one
            log.info("node={} peer={} address changed to {} while connecting to {}; redialing", nodeId, peerId, address,
                    target);
            ch.close();
            connect();
            return;
        }
        channel = ch;
        channelTarget = target;
        state = State.CONNECTED;
        connected = true;
        downReported = false;
        connectedAtNanos = System.nanoTime();
        log.info("node={} peer={} connected addr={}", nodeId, peerId, target);
        // The hello goes first; the acceptor checks it before it reads any frame.
        ch.write(ch.alloc().ioBuffer(hello.length).writeBytes(hello), ch.voidPromise());
        drain(true);
        // Last: if the channel is already closed, this runs at once and moves us to BACKOFF.
        ch.closeFuture().addListener(closed -> onChannelClosed(ch));
    }

    private void onChannelClosed(Channel ch) {
        if (ch != channel) return;
        channel = null;
        connected = false;
        if (closed) return;
        long upNanos = System.nanoTime() - connectedAtNanos;
        // A connection that lasted resets the backoff; one closed at once (the peer refused our hello,
        // or is crash-looping) keeps growing it, so a misconfigured node does not redial 20 times a second.
        if (upNanos >= config.reconnectBackoffMax().toNanos()) consecutiveFailures = 0;
        log.info("node={} peer={} disconnected addr={} upMs={} queued={}", nodeId, peerId, ch.remoteAddress(),
                TimeUnit.NANOSECONDS.toMillis(upNanos), queue.size());
        downReported = true;
        state = State.BACKOFF;
        scheduleReconnect();
    }

    private void scheduleReconnect() {
        long delayNanos = Backoff.delayNanos(consecutiveFailures, config.reconnectBackoffMin().toNanos(),
                config.reconnectBackoffMax().toNanos(), ThreadLocalRandom.current());
        if (consecutiveFailures < Integer.MAX_VALUE) consecutiveFailures++;
        try {
            loop.schedule(this::onBackoffElapsed, delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            state = State.CLOSED; // the event loop is shutting down
        }
    }

    private void onBackoffElapsed() {
        if (closed || state != State.BACKOFF) return;
        // Lazy: dial again only if there is something to send.
        if (queue.isEmpty()) state = State.IDLE;
        else connect();
    }

    /**
     * Stops dialing and closes the connection (any thread). Queued messages are discarded, and so
     * are later offers (a sender that looked the link up before it was closed).
     *
     * @param discardedTo counts each discarded message, or null not to count them
     * @return completes when the link's loop has closed it, or null if it never started
     */
    Future<?> close(LongAdder discardedTo) {
        this.discardedTo = discardedTo; // before closed: whoever sees closed sees the counter
        closed = true; // seen at once by every callback on the loop, even if the task below never runs
        EventLoop l = loop;
        if (l == null) {
            discardQueued();
            return null;
        }
        try {
            return l.submit(() -> {
                state = State.CLOSED;
                connected = false;
                Channel ch = channel;
                if (ch != null) ch.close();
                discardQueued();
            });
        } catch (RejectedExecutionException e) {
            discardQueued();
            return null; // already shutting down: the loop closes its channels itself
        }
    }

    /**
     * Empties the queue, counting what it held in {@link #discardedTo} if set. Any thread: each
     * message is taken by one poll, and its bytes are released with it.
     */
    private void discardQueued() {
        int n = 0;
        for (Message m; (m = queue.poll()) != null; n++) queuedBytes.addAndGet(-codec.frameBytes(m));
        LongAdder to = discardedTo;
        if (to != null && n > 0) to.add(n);
    }

    TransportStats.Peer stats() {
        return new TransportStats.Peer(peerId, sent.sum(), dropped.sum(), bytesOut.sum(), reconnects.sum(), queue.size(),
                queuedBytes.get(), connected);
    }

    /** On outbound connections: the acceptor never writes, so anything read is discarded. */
    private final class OutboundHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) drain(false);
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A reset or broken pipe is how a peer's crash looks from here: routine, so DEBUG. A TLS
            // failure is reported by the handshake's listener (connect) instead.
            if (cause instanceof IOException || InboundHandler.isTlsFailure(cause)) {
                log.debug("node={} peer={} outbound connection error: {}", nodeId, peerId, cause.toString());
            } else {
                log.warn("node={} peer={} outbound connection error", nodeId, peerId, cause);
            }
            ctx.close();
        }
    }
}
