package dev.keel.kv.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLException;

/**
 * {@link HttpTransport} over Netty: HTTP/1.1 keep-alive connections pooled per endpoint, one request at
 * a time on each (no pipelining), all I/O on a small event loop group while each caller waits for its
 * own response.
 *
 * <p>Why not the JDK's {@code HttpClient}: profiles of the KV benchmark (64 threads sharing one client)
 * showed it costing about as much CPU as the leader server, mostly in thread handoffs (caller, selector
 * thread, executor worker through a SynchronousQueue, caller again), the futex park/unpark between them
 * and CompletableFuture chains. Here a request crosses threads twice: the caller queues its write on the
 * event loop, and the event loop unparks the caller once the response is whole.
 *
 * <p>A connection returns to its endpoint's idle pool only after a whole keep-alive response. A request
 * that times out, fails or is interrupted closes its connection, so a late response can never be taken
 * for the answer to the next request. Connecting (and a TLS handshake, for https) completes before the
 * request is written, which is what lets a {@link ConnectException} promise that nothing was sent.
 *
 * <p>A connection the server closed (a restart, an idle timeout) leaves the pool as soon as the event
 * loop sees it close, so a request is never written to it. Public because the KV server forwards
 * followers' writes to the leader through it; applications use {@link KeelClient}.
 */
public final class NettyHttpTransport implements HttpTransport {
    /** Idle connections kept per endpoint; any more are closed as they come back. */
    static final int MAX_IDLE_PER_ENDPOINT = 256;
    private static final int MAX_LINE_BYTES = 8 << 10;
    private static final int MAX_HEADER_BYTES = 64 << 10;
    /** No limit of our own on a response body, as the JDK client had none (the server bounds scans). */
    private static final int MAX_RESPONSE_BYTES = Integer.MAX_VALUE;
    private static final byte[] EMPTY = new byte[0];

    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    private final long connectTimeoutNanos;
    private final SslContext https;
    private final ConcurrentHashMap<URI, Pool> pools = new ConcurrentHashMap<>();
    /** Every open connection, idle or busy, so that {@link #close()} can close them all. */
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * @param ioThreads event loop threads; one serves many busy callers, since each request costs it
     *                  only an encode, a write and a decode
     */
    NettyHttpTransport(Duration connectTimeout, int ioThreads) {
        this(connectTimeout, ioThreads, null);
    }

    /**
     * @param https the TLS client context for https endpoints (a trusted CA, perhaps a client
     *              certificate; host names verified), or null for the JDK's default trust store
     */
    public NettyHttpTransport(Duration connectTimeout, int ioThreads, SslContext https) {
        this.https = https;
        long connectMillis = Math.clamp(connectTimeout.toMillis(), 1, Integer.MAX_VALUE);
        this.connectTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(connectMillis);
        this.group = new MultiThreadIoEventLoopGroup(ioThreads, Thread.ofPlatform().name("keel-client-io-", 0).daemon().factory(),
                NioIoHandler.newFactory());
        this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectMillis);
    }

    @Override
    public Response send(URI endpoint, String method, String pathAndQuery, byte[] body, Map<String, String> headers,
                         long timeoutNanos) throws IOException {
        long deadline = System.nanoTime() + timeoutNanos;
        if (Thread.currentThread().isInterrupted()) throw new IOException("interrupted");
        Pool pool = pools.get(endpoint);
        if (pool == null) pool = pools.computeIfAbsent(endpoint, Pool::new);
        FullHttpRequest req = request(pool, method, pathAndQuery, body, headers); // before taking a connection: may throw
        Connection conn;
        try {
            conn = pool.take();
            if (conn == null) conn = connect(pool, deadline);
        } catch (IOException | RuntimeException e) {
            req.release();
            throw e;
        }
        return conn.exchange(req, deadline, timeoutNanos);
    }

    private static FullHttpRequest request(Pool pool, String method, String pathAndQuery, byte[] body, Map<String, String> headers) {
        // Wrapped, not copied: the caller keeps the array unchanged while it waits, as with the JDK client.
        ByteBuf content = body == null || body.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method),
                pool.basePath + pathAndQuery, content);
        HttpHeaders h = req.headers();
        h.set(HttpHeaderNames.HOST, pool.hostHeader);
        // As the JDK client: a length for any body, and "0" for methods that normally carry one.
        if (body != null || !(method.equals("GET") || method.equals("HEAD"))) h.setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        for (Map.Entry<String, String> e : headers.entrySet()) h.set(e.getKey(), e.getValue());
        return req;
    }

    /** A new connection to {@code pool}'s endpoint, ready for a request; a ConnectException if none by the deadline. */
    private Connection connect(Pool pool, long deadline) throws IOException {
        if (pool.problem != null) throw new ConnectException(pool.problem);
        if (closed) throw new ConnectException("client closed");
        InetSocketAddress address = new InetSocketAddress(pool.host, pool.port); // resolved here, off the event loop
        if (address.isUnresolved()) throw new ConnectException("cannot resolve " + pool.host);
        // At most the connect timeout, and no later than the request's deadline: if the connection comes
        // up too late for the request, nothing was sent all the same.
        long waitNanos = Math.min(connectTimeoutNanos, deadline - System.nanoTime());
        ChannelFuture f = pool.bootstrap.connect(address);
        Channel ch = f.channel();
        try {
            if (!f.await(Math.max(0, waitNanos), TimeUnit.NANOSECONDS)) {
                ch.close();
                throw new ConnectException("connect to " + pool.endpoint + " timed out after "
                        + TimeUnit.NANOSECONDS.toMillis(waitNanos) + " ms");
            }
            if (!f.isSuccess()) {
                ch.close();
                throw connectFailure(pool, f.cause());
            }
            if (pool.ssl != null) {
                io.netty.util.concurrent.Future<Channel> handshake = ch.pipeline().get(SslHandler.class).handshakeFuture();
                if (!handshake.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS) || !handshake.isSuccess()) {
                    ch.close();
                    throw connectFailure(pool, handshake.cause() != null ? handshake.cause() : new IOException("TLS handshake timed out"));
                }
            }
        } catch (InterruptedException e) {
            ch.close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        Connection conn = ch.pipeline().get(Connection.class);
        if (conn == null || !ch.isActive()) {
            // Closed before any request was written: in TLS 1.3 the server checks a client certificate
            // after the client's side of the handshake is done, and closes when it refuses it.
            ch.close();
            throw new ConnectException("connection to " + pool.endpoint + " closed right after connecting"
                    + (pool.ssl != null ? " (the server may require a client certificate from a CA it trusts)" : ""));
        }
        return conn;
    }

    private static ConnectException connectFailure(Pool pool, Throwable cause) {
        if (cause instanceof ConnectException ce) return ce; // Netty's carry the address already
        ConnectException ce = new ConnectException("cannot connect to " + pool.endpoint + ": " + cause);
        ce.initCause(cause);
        return ce;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Channel ch : channels) ch.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** One endpoint: where to connect, what to send as Host, and its idle connections. */
    private final class Pool {
        final URI endpoint;
        final String host;
        final int port;
        final String hostHeader;
        final String basePath;
        final SslContext ssl;
        /** Why this endpoint cannot be used, or null. */
        final String problem;
        final Bootstrap bootstrap;
        /** Most recently used first, so that a burst's extra connections age at the tail. */
        private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
        private final AtomicInteger idleCount = new AtomicInteger();

        Pool(URI endpoint) {
            this.endpoint = endpoint;
            String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
            String h = endpoint.getHost();
            this.host = h != null && h.startsWith("[") ? h.substring(1, h.length() - 1) : h;
            this.port = endpoint.getPort() != -1 ? endpoint.getPort() : scheme.equals("https") ? 443 : 80;
            this.hostHeader = endpoint.getPort() == -1 ? h : h + ":" + endpoint.getPort();
            this.basePath = endpoint.getRawPath() == null ? "" : endpoint.getRawPath();
            SslContext sslContext = null;
            String why = null;
            if (h == null) {
                why = "no host in " + endpoint;
            } else if (scheme.equals("https")) {
                if (https != null) {
                    sslContext = https; // the client's own trusted CA
                } else {
                    try {
                        // The JDK's TLS with its default trust store, and the host name checked, as the JDK client did.
                        sslContext = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).endpointIdentificationAlgorithm("HTTPS").build();
                    } catch (SSLException e) {
                        why = "TLS unavailable: " + e;
                    }
                }
            } else if (!scheme.equals("http")) {
                why = "unsupported scheme in " + endpoint + " (http or https)";
            }
            this.ssl = sslContext;
            this.problem = why;
            this.bootstrap = NettyHttpTransport.this.bootstrap.clone().handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    channels.add(ch);
                    ch.closeFuture().addListener(f -> channels.remove(ch));
                    ChannelPipeline p = ch.pipeline();
                    if (ssl != null) p.addLast(ssl.newHandler(ch.alloc(), host, port));
                    p.addLast(new HttpClientCodec(MAX_LINE_BYTES, MAX_HEADER_BYTES, 8192), new HttpObjectAggregator(MAX_RESPONSE_BYTES),
                            new Connection(Pool.this, ch));
                }
            });
        }

        /** An idle, open connection, or null. */
        Connection take() {
            for (Connection c; (c = idle.pollFirst()) != null; ) {
                idleCount.decrementAndGet();
                if (c.channel.isActive()) return c;
                c.channel.close();
            }
            return null;
        }

        /** Keeps {@code c}, free for the next request, unless enough are idle already. */
        void release(Connection c) {
            if (closed || idleCount.incrementAndGet() > MAX_IDLE_PER_ENDPOINT) {
                idleCount.decrementAndGet();
                c.channel.close();
                return;
            }
            idle.offerFirst(c);
        }

        void remove(Connection c) {
            if (idle.remove(c)) idleCount.decrementAndGet();
        }
    }

    /** One connection's response handler, and the connection as the pool holds it. */
    private static final class Connection extends SimpleChannelInboundHandler<FullHttpResponse> {
        final Pool pool;
        final Channel channel;
        /** The request in flight, or null; set by the caller, cleared on the event loop. */
        private volatile Exchange exchange;

        Connection(Pool pool, Channel channel) {
            this.pool = pool;
            this.channel = channel;
        }

        /** Called by the caller's thread: writes {@code req} and waits for its response until {@code deadline}. */
        Response exchange(FullHttpRequest req, long deadline, long timeoutNanos) throws IOException {
            Exchange ex = new Exchange(this, Thread.currentThread(), timeoutNanos);
            exchange = ex;
            channel.writeAndFlush(req).addListener(ex);
            return ex.await(deadline);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
            Exchange ex = exchange;
            exchange = null;
            if (ex == null) {
                ctx.close(); // an answer to nothing: the connection cannot be trusted
                return;
            }
            if (!msg.decoderResult().isSuccess()) {
                fail(ex, new IOException("malformed response from " + pool.endpoint, msg.decoderResult().cause()));
                return;
            }
            ByteBuf content = msg.content();
            HttpHeaders nettyHeaders = msg.headers(); // stays valid after the message (its content) is released
            Response r = new Response(msg.status().code(), name -> Optional.ofNullable(nettyHeaders.get(name)),
                    content.isReadable() ? ByteBufUtil.getBytes(content) : EMPTY);
            if (!ex.claim()) {
                ctx.close(); // its caller gave up (and closes the connection too)
                return;
            }
            // Back to the pool before the caller wakes, so that its next request finds this connection.
            if (HttpUtil.isKeepAlive(msg) && ctx.channel().isActive()) pool.release(this);
            else ctx.close();
            ex.complete(r);
        }

        /** Ends {@code ex} with {@code e} unless it has ended already, and closes the connection. */
        void fail(Exchange ex, IOException e) {
            if (exchange == ex) exchange = null;
            channel.close();
            if (ex.claim()) ex.complete(e);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            pool.remove(this);
            Exchange ex = exchange;
            if (ex != null) fail(ex, new IOException("connection to " + pool.endpoint + " closed before the response"));
            super.channelInactive(ctx);
        }

        /**
         * The server's TLS close_notify: it will read nothing more on this connection, so close it now
         * rather than wait for its TCP close, which a server that stops uncleanly may never send.
         */
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslCloseCompletionEvent) ctx.close();
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Exchange ex = exchange;
            if (ex != null) fail(ex, new IOException("connection to " + pool.endpoint + " failed: " + cause, cause));
            else ctx.close();
        }
    }

    /**
     * One request's wait. Whoever moves it out of WAITING owns the ending: the event loop by
     * {@link #claim()} (then sets the outcome and unparks the caller), or the caller by giving up
     * (then closes the connection, so no late response is read).
     */
    private static final class Exchange implements ChannelFutureListener {
        private static final int WAITING = 0, CLAIMED = 1, ABANDONED = 2;
        private static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(Exchange.class, "state", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final Connection conn;
        private final Thread waiter;
        private final long timeoutNanos;
        @SuppressWarnings("unused") // through STATE
        private volatile int state;
        /** A Response or an IOException, set once claimed. */
        private volatile Object outcome;

        Exchange(Connection conn, Thread waiter, long timeoutNanos) {
            this.conn = conn;
            this.waiter = waiter;
            this.timeoutNanos = timeoutNanos;
        }

        boolean claim() {
            return STATE.compareAndSet(this, WAITING, CLAIMED);
        }

        private boolean abandon() {
            return STATE.compareAndSet(this, WAITING, ABANDONED);
        }

        void complete(Object result) {
            outcome = result;
            LockSupport.unpark(waiter);
        }

        /** The write's end: a failed write fails the request (it may have been partly sent). */
        @Override
        public void operationComplete(ChannelFuture f) {
            if (!f.isSuccess()) conn.fail(this, new IOException("cannot send to " + conn.pool.endpoint + ": " + f.cause(), f.cause()));
        }

        Response await(long deadline) throws IOException {
            boolean interrupted = false;
            try {
                while (true) {
                    Object o = outcome;
                    if (o instanceof Response r) return r;
                    if (o != null) throw (IOException) o;
                    if (state != WAITING) {
                        // Claimed: the outcome follows at once, with an unpark.
                        if (Thread.interrupted()) interrupted = true;
                        else LockSupport.park(this);
                        continue;
                    }
                    if (Thread.interrupted()) {
                        interrupted = true;
                        if (abandon()) {
                            conn.channel.close();
                            throw new IOException("interrupted");
                        }
                        continue;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        if (abandon()) {
                            conn.channel.close();
                            throw new HttpTimeoutException("no response from " + conn.pool.endpoint + " within "
                                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
                        }
                        continue;
                    }
                    LockSupport.parkNanos(this, left);
                }
            } finally {
                if (interrupted) Thread.currentThread().interrupt();
            }
        }
    }
}
