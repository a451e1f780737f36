package dev.keel.transport;

import dev.keel.core.Message;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.IntPredicate;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one accepted connection: the hello first, then frames. One instance per connection, used by
 * that connection's event loop alone.
 *
 * <p>With TLS, an {@code SslHandler} precedes this handler: only bytes from a peer whose certificate
 * chains to the cluster CA get here, and the hello's node id must be the one its certificate names.
 *
 * <p>Everything read here is external input: a bad hello or a bad frame is counted, logged at INFO
 * with the reason, and closes this connection only. A well-formed message that claims the wrong
 * sender or receiver is dropped and counted, and the connection stays.
 */
final class InboundHandler extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(PeerTransport.class);

    /** Counters shared by all inbound connections of one transport. */
    static final class Counters {
        final LongAdder connectionsAccepted = new LongAdder();
        final LongAdder received = new LongAdder();
        final LongAdder bytesIn = new LongAdder();
        final LongAdder decodeErrors = new LongAdder();
        final LongAdder handshakeFailures = new LongAdder();
        final LongAdder misrouted = new LongAdder();
        final LongAdder callbackErrors = new LongAdder();

        TransportStats.Inbound snapshot() {
            return new TransportStats.Inbound(connectionsAccepted.sum(), received.sum(), bytesIn.sum(), decodeErrors.sum(),
                    handshakeFailures.sum(), misrouted.sum(), callbackErrors.sum());
        }
    }

    /**
     * Decides, atomically with the peer set, whether a connection whose hello named {@code peerId}
     * may proceed, and if so registers it so that removing that peer can close it.
     */
    @FunctionalInterface
    interface Admission {
        boolean admit(int peerId, Channel channel);
    }

    private enum Phase { HELLO, FRAMES, FAILED }

    private final int nodeId;
    private final byte[] clusterIdUtf8;
    private final IntPredicate isPeer;
    private final Admission admission;
    private final MessageCodec codec;
    private final long handshakeTimeoutNanos;
    private final Consumer<Message> inbound;
    private final Counters counters;
    /** Whether an SslHandler precedes this one: then the hello's node id must match the peer's certificate. */
    private final boolean tls;

    private Phase phase = Phase.HELLO;
    /** The node the hello named; meaningful once phase is FRAMES. */
    private int peerId;
    private ScheduledFuture<?> handshakeTimer;
    private boolean misroutedReported;

    /**
     * @param isPeer whether a node id is a peer now (the live peer set), checked as the hello arrives
     * @param admission checked once the hello is good; refuses a peer removed since {@code isPeer} said yes
     */
    InboundHandler(int nodeId, byte[] clusterIdUtf8, IntPredicate isPeer, Admission admission, MessageCodec codec,
                   long handshakeTimeoutNanos, Consumer<Message> inbound, Counters counters, boolean tls) {
        this.nodeId = nodeId;
        this.clusterIdUtf8 = clusterIdUtf8;
        this.isPeer = isPeer;
        this.admission = admission;
        this.codec = codec;
        this.handshakeTimeoutNanos = handshakeTimeoutNanos;
        this.inbound = inbound;
        this.counters = counters;
        this.tls = tls;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        counters.connectionsAccepted.increment();
        log.debug("node={} accepted connection from {}", nodeId, ctx.channel().remoteAddress());
        handshakeTimer = ctx.executor().schedule(() -> {
            if (phase == Phase.HELLO) {
                fail(ctx, null, counters.handshakeFailures, "handshake refused",
                        "no hello within " + TimeUnit.NANOSECONDS.toMillis(handshakeTimeoutNanos) + " ms");
            }
        }, handshakeTimeoutNanos, TimeUnit.NANOSECONDS);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (handshakeTimer != null) handshakeTimer.cancel(false);
        if (phase == Phase.FRAMES) {
            log.info("node={} peer={} inbound connection closed addr={}", nodeId, peerId, ctx.channel().remoteAddress());
        }
        super.channelInactive(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.isReadable()) {
            switch (phase) {
                case FAILED -> {
                    in.skipBytes(in.readableBytes()); // closing: ignore whatever else arrives
                    return;
                }
                case HELLO -> {
                    switch (Handshake.check(in.nioBuffer(), clusterIdUtf8, isPeer)) {
                        case Handshake.NeedMore n -> {
                            return;
                        }
                        case Handshake.Rejected r -> {
                            fail(ctx, in, counters.handshakeFailures, "handshake refused", r.reason());
                            return;
                        }
                        case Handshake.Accepted a -> {
                            String mismatch = tls ? TlsFiles.identityMismatch(ctx.channel(), a.nodeId(), "hello claims node " + a.nodeId(), "peer")
                                    : null;
                            if (mismatch != null) {
                                fail(ctx, in, counters.handshakeFailures, "handshake refused", mismatch);
                                return;
                            }
                            if (!admission.admit(a.nodeId(), ctx.channel())) {
                                fail(ctx, in, counters.handshakeFailures, "handshake refused",
                                        "node id " + a.nodeId() + " was removed from the peers during the handshake");
                                return;
                            }
                            in.skipBytes(a.helloBytes());
                            peerId = a.nodeId();
                            phase = Phase.FRAMES;
                            handshakeTimer.cancel(false);
                            log.info("node={} peer={} inbound connection accepted addr={}", nodeId, peerId,
                                    ctx.channel().remoteAddress());
                        }
                    }
                }
                case FRAMES -> {
                    if (!readFrame(ctx, in)) return;
                }
            }
        }
    }

    /**
     * A failed TLS handshake (a certificate not from the cluster CA, a plaintext dialer, a timeout):
     * counted and logged like a bad hello. The event comes with an exception too (see
     * {@link #exceptionCaught}); whichever arrives first counts, once.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess() && phase == Phase.HELLO) {
            fail(ctx, null, counters.handshakeFailures, "TLS handshake refused", tlsReason(e.cause()));
        }
        super.userEventTriggered(ctx, evt);
    }

    /** The innermost message of a TLS failure, which is the one that says what was wrong. */
    static String tlsReason(Throwable cause) {
        Throwable t = cause;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
        if (t instanceof NotSslRecordException) m = "not TLS (a plaintext dialer?)";
        if (t instanceof java.nio.channels.ClosedChannelException) m = "connection closed during the TLS handshake";
        return m;
    }

    static boolean isTlsFailure(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SSLException) return true;
        }
        return false;
    }

    /** Reads one frame if it has fully arrived; false if more bytes are needed or the connection failed. */
    private boolean readFrame(ChannelHandlerContext ctx, ByteBuf in) {
        if (in.readableBytes() < MessageCodec.LENGTH_PREFIX_BYTES) return false;
        int length = in.getInt(in.readerIndex());
        Message m;
        try {
            // The length is checked before waiting for (and so buffering) that many bytes.
            codec.checkFrameLength(length);
            if (in.readableBytes() < MessageCodec.LENGTH_PREFIX_BYTES + length) return false;
            ByteBuffer body = in.nioBuffer(in.readerIndex() + MessageCodec.LENGTH_PREFIX_BYTES, length);
            m = codec.decodeBody(body);
        } catch (CodecException e) {
            fail(ctx, in, counters.decodeErrors, "bad frame", e.getMessage());
            return false;
        }
        in.skipBytes(MessageCodec.LENGTH_PREFIX_BYTES + length);
        counters.bytesIn.add(MessageCodec.LENGTH_PREFIX_BYTES + length);
        if (m.from() != peerId || m.to() != nodeId) {
            counters.misrouted.increment();
            // Once per connection at INFO: a peer that sends these sends many.
            if (!misroutedReported) {
                misroutedReported = true;
                log.info("node={} peer={} dropped misrouted message (connection is from {} to {}): {}; further ones at DEBUG",
                        nodeId, peerId, peerId, nodeId, m);
            } else {
                log.debug("node={} peer={} dropped misrouted {}", nodeId, peerId, m);
            }
            return true;
        }
        counters.received.increment();
        if (log.isDebugEnabled()) log.debug("node={} peer={} recv {}", nodeId, peerId, m);
        try {
            inbound.accept(m);
        } catch (RuntimeException e) {
            counters.callbackErrors.increment();
            log.warn("node={} peer={} inbound callback threw on {}", nodeId, peerId, m, e);
        }
        return true;
    }

    private void fail(ChannelHandlerContext ctx, ByteBuf in, LongAdder counter, String what, String reason) {
        phase = Phase.FAILED;
        counter.increment();
        if (in != null) in.skipBytes(in.readableBytes());
        log.info("node={} {} from addr={}{}: {}; closing connection", nodeId, what, ctx.channel().remoteAddress(),
                peerId == 0 ? "" : " peer=" + peerId, reason);
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (isTlsFailure(cause)) {
            if (phase == Phase.HELLO) {
                fail(ctx, null, counters.handshakeFailures, "TLS handshake refused", tlsReason(cause));
            } else {
                log.debug("node={} inbound TLS error addr={}: {}", nodeId, ctx.channel().remoteAddress(), cause.toString());
                ctx.close();
            }
            return;
        }
        if (cause instanceof IOException) {
            log.debug("node={} inbound connection error addr={}: {}", nodeId, ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("node={} inbound connection error addr={}", nodeId, ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
