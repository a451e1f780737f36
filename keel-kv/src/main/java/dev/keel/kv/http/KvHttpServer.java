package dev.keel.kv.http;

import com.sun.net.httpserver.Headers;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP server of one {@link KvHttpApi}: Netty's HTTP/1.1 codec on a small event loop group. The
 * API serves a key's reads and writes on the event loop itself and everything else on a virtual
 * thread per request (see {@link KvHttpApi#dispatch}).
 *
 * <p>Why Netty rather than the JDK's {@code com.sun.net.httpserver}: profiles of the KV benchmark
 * showed the JDK server's per-exchange work (header normalization, a formatted Date header,
 * exchange set-up) as the largest share of the leader's CPU per write. One request at a time per
 * connection: the channel stops reading until the response is written, so responses can never be
 * reordered for a client that pipelines. {@link #close()} stops accepting, gives in-flight
 * exchanges up to a second to finish, then stops.
 */
public final class KvHttpServer implements AutoCloseable {
    static final int MAX_LINE_BYTES = 64 << 10;
    static final int MAX_HEADER_BYTES = 64 << 10;
    static final int TLS_HANDSHAKE_TIMEOUT_SECONDS = 10;
    private final EventLoopGroup group;
    private final Channel server;
    private final ChannelGroup connections;
    private final ExecutorService executor;
    private final KvHttpApi api;

    private KvHttpServer(EventLoopGroup group, Channel server, ChannelGroup connections, ExecutorService executor, KvHttpApi api) {
        this.group = group;
        this.server = server;
        this.connections = connections;
        this.executor = executor;
        this.api = api;
    }

    /** {@link #start(InetSocketAddress, KvHttpApi, KvLimits, SslContext)} with the default limits and plain HTTP. */
    public static KvHttpServer start(InetSocketAddress address, KvHttpApi api) throws IOException {
        return start(address, api, KvLimits.DEFAULT, null);
    }

    /**
     * Binds {@code address} (port 0 picks a free port; see {@link #address()}) and starts serving;
     * bodies over {@code bodyMaxBytes} are refused with 413 before they reach the API.
     */
    public static KvHttpServer start(InetSocketAddress address, KvHttpApi api, int bodyMaxBytes) throws IOException {
        return start(address, api, bodyMaxBytes, null);
    }

    /**
     * As {@link #start(InetSocketAddress, KvHttpApi, int)}, serving HTTPS with {@code tls} (a server
     * context), or plain HTTP if it is null. With TLS the port speaks nothing else.
     */
    public static KvHttpServer start(InetSocketAddress address, KvHttpApi api, int bodyMaxBytes, SslContext tls)
            throws IOException {
        return start(address, api, KvLimits.DEFAULT.bodyMaxBytes() >= bodyMaxBytes
                ? KvLimits.DEFAULT.withValueMaxBytes(bodyMaxBytes).withBodyMaxBytes(bodyMaxBytes)
                : KvLimits.DEFAULT.withBodyMaxBytes(bodyMaxBytes), tls);
    }

    /**
     * Binds {@code address} and serves {@code api} over HTTPS with {@code tls} (a server context), or
     * plain HTTP if it is null. Before a request reaches the API the server enforces, from
     * {@code limits}: the body size (413 BODY_TOO_LARGE, then the connection closes), the open
     * connections (a connection beyond {@code connectionsMax} gets 429 TOO_MANY_CONNECTIONS to its
     * first request and closes) and the requests in flight per client address (429
     * TOO_MANY_REQUESTS, the connection stays). A request line over 64 KiB gets 414, headers over
     * 64 KiB get 431. Each refusal is counted in {@code keel.http.rejected{reason}}.
     */
    public static KvHttpServer start(InetSocketAddress address, KvHttpApi api, KvLimits limits, SslContext tls)
            throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("keel-http-", 0).daemon().factory(),
                NioIoHandler.newFactory());
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        // Every accepted connection, so that close() closes them: shutting the event loop group down
        // does not, and a client would keep sending on a connection nobody reads (see close()).
        ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        AtomicInteger open = new AtomicInteger();
        KvMetrics metrics = api.metrics();
        InflightPerClient inflight = new InflightPerClient(limits.inflightPerClientMax());
        try {
            Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            connections.add(c);
                            boolean overLimit = open.incrementAndGet() > limits.connectionsMax();
                            c.closeFuture().addListener(f -> open.decrementAndGet());
                            if (tls != null) {
                                SslHandler ssl = tls.newHandler(c.alloc());
                                // A client that never finishes its handshake is dropped like an idle stranger.
                                ssl.setHandshakeTimeout(TLS_HANDSHAKE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                                c.pipeline().addLast(ssl, new TlsWatch(metrics));
                            }
                            // A request line can carry a key of the largest allowed size percent-encoded (3
                            // bytes a byte) plus a query: room enough that the API, not the codec, refuses
                            // oversized keys with its 413.
                            c.pipeline().addLast(new HttpServerCodec(MAX_LINE_BYTES, MAX_HEADER_BYTES, 8192));
                            if (overLimit) {
                                // Answered, not dropped, so that the client learns why; it gets a few seconds to ask.
                                metrics.rejected("connections");
                                c.pipeline().addLast(new ReadTimeoutHandler(TLS_HANDSHAKE_TIMEOUT_SECONDS),
                                        new RefuseConnection(limits.connectionsMax()));
                                return;
                            }
                            c.pipeline().addLast(new HttpServerKeepAliveHandler(),
                                    new Aggregator(limits.bodyMaxBytes(), metrics), new Dispatch(api, executor, inflight, metrics));
                        }
                    })
                    .bind(address).syncUninterruptibly().channel();
            return new KvHttpServer(group, ch, connections, executor, api);
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            executor.shutdownNow();
            throw new IOException("cannot serve HTTP on " + address + ": " + e.getMessage(), e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /**
     * Stops accepting, gives requests on virtual threads up to a second to finish, closes every
     * connection (with TLS, after its close_notify) and stops the event loop.
     *
     * <p>Why the connections are closed here: the event loop group's shutdown left accepted
     * connections open at the TCP level with nobody reading them. A client that pooled one (a
     * follower forwarding writes to this leader) then wrote its next request into it after this
     * server had restarted on the same port, and waited out its whole timeout for an answer.
     */
    @Override
    public void close() {
        server.close().syncUninterruptibly();
        api.statusStream().closeAll();
        executor.shutdown();
        try {
            executor.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * An error in the API's JSON form ({@code message} is ours, never the client's, so it needs no
     * escaping), then the connection closes: what follows on it cannot be trusted to be framed.
     */
    private static void errorAndClose(Channel ch, HttpResponseStatus status, String code, String message) {
        ch.writeAndFlush(error(status, code, message, true)).addListener(ChannelFutureListener.CLOSE);
    }

    private static FullHttpResponse error(HttpResponseStatus status, String code, String message, boolean close) {
        byte[] json = ("{\"error\":\"" + message + "\",\"code\":\"" + code + "\"}").getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(json));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
        if (close) r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return r;
    }

    /** Counts failed TLS handshakes (a client with the wrong CA, or a stranger speaking something else). */
    private static final class TlsWatch extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final KvMetrics metrics;

        TlsWatch(KvMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) metrics.rejected("tls_handshake");
            super.userEventTriggered(ctx, evt);
        }
    }

    /** A connection over the server's limit: its first request gets 429 and the connection closes. */
    private static final class RefuseConnection extends SimpleChannelInboundHandler<HttpObject> {
        private final int connectionsMax;

        RefuseConnection(int connectionsMax) {
            this.connectionsMax = connectionsMax;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest && ctx.channel().isActive()) {
                ctx.channel().config().setAutoRead(false);
                FullHttpResponse r = error(HttpResponseStatus.TOO_MANY_REQUESTS, "TOO_MANY_CONNECTIONS",
                        "this node already has " + connectionsMax + " open connections; retry later or reuse a connection", true);
                r.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
                ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * Requests in flight per client address, bounded. Acquired on the event loop, released wherever
     * the response is written (a virtual thread, or the loop).
     */
    static final class InflightPerClient {
        private final int max;
        private final ConcurrentHashMap<Object, Integer> counts = new ConcurrentHashMap<>();

        InflightPerClient(int max) {
            this.max = max;
        }

        /** True if {@code client} may start one more request (then {@link #release} it once answered). */
        boolean tryAcquire(Object client) {
            boolean[] ok = {false};
            counts.compute(client, (k, n) -> {
                int c = n == null ? 0 : n;
                if (c >= max) return n;
                ok[0] = true;
                return c + 1;
            });
            return ok[0];
        }

        void release(Object client) {
            counts.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
        }

        int max() {
            return max;
        }
    }

    /** A body over the limit gets the API's JSON 413 (not Netty's bare one), and the connection closes. */
    private static final class Aggregator extends HttpObjectAggregator {
        private final int bodyMaxBytes;
        private final KvMetrics metrics;

        Aggregator(int bodyMaxBytes, KvMetrics metrics) {
            super(bodyMaxBytes);
            this.bodyMaxBytes = bodyMaxBytes;
            this.metrics = metrics;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            metrics.rejected("body_too_large");
            errorAndClose(ctx.channel(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "BODY_TOO_LARGE",
                    "body exceeds the limit of " + bodyMaxBytes + " bytes");
        }
    }

    /** Marks a connection given over to {@code /v1/status/stream}. */
    private static final io.netty.util.AttributeKey<Boolean> STREAMING = io.netty.util.AttributeKey.valueOf("keel.statusStream");

    /** Hands each whole request to the API; reads the next one only after answering. */
    private static final class Dispatch extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final KvHttpApi api;
        private final ExecutorService executor;
        private final InflightPerClient inflight;
        private final KvMetrics metrics;

        Dispatch(KvHttpApi api, ExecutorService executor, InflightPerClient inflight, KvMetrics metrics) {
            this.api = api;
            this.executor = executor;
            this.inflight = inflight;
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            Channel ch = ctx.channel();
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.decoderResult().isSuccess()) {
                Throwable cause = req.decoderResult().cause();
                if (cause instanceof TooLongHttpHeaderException) {
                    metrics.rejected("headers_too_large");
                    errorAndClose(ch, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE",
                            "request headers longer than " + MAX_HEADER_BYTES + " bytes");
                } else if (cause instanceof TooLongHttpLineException) {
                    metrics.rejected("line_too_long");
                    errorAndClose(ch, HttpResponseStatus.REQUEST_URI_TOO_LONG, "URI_TOO_LONG",
                            "request line longer than " + MAX_LINE_BYTES + " bytes");
                } else {
                    metrics.rejected("malformed");
                    badRequest(ch, "malformed HTTP request");
                }
                return;
            }
            URI uri;
            try {
                uri = new URI(req.uri());
            } catch (java.net.URISyntaxException e) {
                metrics.rejected("malformed");
                badRequest(ch, "bad request target");
                return;
            }
            if (ch.hasAttr(STREAMING)) {
                ch.close(); // a request on a connection that carries an event stream: nothing to answer it with
                return;
            }
            if (req.method() == io.netty.handler.codec.http.HttpMethod.GET && StatusStream.PATH.equals(uri.getPath())) {
                // Server-sent events: the response never ends, so it is written to the channel
                // directly rather than through an exchange. Reading stays on to notice the close.
                String refusal = api.statusStreamRefusal(req.headers().get(HttpHeaderNames.AUTHORIZATION),
                        queryParameter(uri, "access_token"), NettyExchange.peerCertificate(ch));
                if (refusal != null) {
                    metrics.rejected("unauthenticated");
                    errorAndClose(ch, HttpResponseStatus.UNAUTHORIZED, "UNAUTHENTICATED", refusal);
                    return;
                }
                ch.attr(STREAMING).set(Boolean.TRUE);
                api.statusStream().serve(ch);
                return;
            }
            // Per remote address: every connection of one client host shares its allowance.
            Object client = ch.remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : ch.remoteAddress();
            if (client == null || !inflight.tryAcquire(client)) {
                metrics.rejected("inflight");
                FullHttpResponse r = error(HttpResponseStatus.TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS",
                        "this client already has " + inflight.max() + " requests in flight; wait for their answers", !keepAlive);
                r.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
                var written = ch.writeAndFlush(r);
                if (!keepAlive) written.addListener(ChannelFutureListener.CLOSE);
                return;
            }
            Headers headers = new Headers();
            for (Map.Entry<String, String> h : req.headers()) headers.add(h.getKey(), h.getValue());
            byte[] body = ByteBufUtil.getBytes(req.content());
            ch.config().setAutoRead(false);
            NettyExchange ex = new NettyExchange(ch, req.method().name(), uri, headers, body, keepAlive, () -> {
                inflight.release(client);
                ch.config().setAutoRead(true);
            });
            try {
                api.dispatch(ex, ch.eventLoop(), executor);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                inflight.release(client);
                ch.close(); // shutting down
            }
        }

        /** The first value of a query parameter, percent-decoded, or null (also when the query is malformed). */
        private static String queryParameter(URI uri, String name) {
            try {
                byte[] value = UrlBytes.parseQuery(uri.getRawQuery()).get(name);
                return value == null ? null : new String(value, StandardCharsets.UTF_8);
            } catch (UrlBytes.BadEncodingException e) {
                return null;
            }
        }

        private static void badRequest(Channel ch, String message) {
            errorAndClose(ch, HttpResponseStatus.BAD_REQUEST, "BAD_REQUEST", message);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a broken connection: nothing to answer
        }
    }
}
