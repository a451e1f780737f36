package dev.keel.kv.client;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.client.HttpTransport.Response;
import dev.keel.kv.http.KvHttpApiTest;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Netty transport against a tiny Netty server that counts its connections. */
class NettyHttpTransportTest {
    private static final long TIMEOUT = TimeUnit.SECONDS.toNanos(5);

    private EventLoopGroup serverGroup;
    private Channel server;
    private URI base;
    private final AtomicInteger accepted = new AtomicInteger();
    private final Semaphore closedConnections = new Semaphore(0);
    /** Released when the server holds a request to /hang (which it never answers). */
    private final Semaphore hanging = new Semaphore(0);
    private NettyHttpTransport transport;

    @BeforeEach
    void start() {
        serverGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(serverGroup).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        ch.closeFuture().addListener(f -> closedConnections.release());
                        ch.pipeline().addLast(new HttpServerCodec(), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                // The aggregator adds a Content-Length: note what came on the wire.
                                if (msg instanceof HttpRequest req) {
                                    req.headers().set("X-Raw-Length", String.valueOf(req.headers().get(HttpHeaderNames.CONTENT_LENGTH)));
                                }
                                ctx.fireChannelRead(msg);
                            }
                        }, new HttpObjectAggregator(16 << 20), new TestHandler());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        base = URI.create("http://127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort());
        transport = new NettyHttpTransport(Duration.ofSeconds(1), 1);
    }

    @AfterEach
    void stop() {
        transport.close();
        server.close().syncUninterruptibly();
        serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** /echo answers with the request's body and some of its headers; /close also closes; /hang never answers. */
    private final class TestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (req.uri().startsWith("/hang")) {
                hanging.release();
                return;
            }
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(req.content()));
            r.headers().set("X-Method", req.method().name());
            r.headers().set("X-Uri", req.uri());
            r.headers().set("X-Host", String.valueOf(req.headers().get(HttpHeaderNames.HOST)));
            r.headers().set("X-Request-Length", req.headers().get("X-Raw-Length"));
            r.headers().set("X-Test", String.valueOf(req.headers().get("X-Test")));
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
            boolean close = req.uri().startsWith("/close");
            if (close) r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            var written = ctx.writeAndFlush(r);
            if (close) written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private Response send(String method, String path, byte[] body) throws IOException {
        return transport.send(base, method, path, body, Map.of("X-Test", "t"), TIMEOUT);
    }

    @Test
    void sequentialRequestsReuseOneConnection() throws IOException {
        Response get = send("GET", "/echo?a=%2F", null);
        assertThat(get.statusCode()).isEqualTo(200);
        assertThat(get.body()).isEmpty();
        assertThat(get.headers().firstValue("x-method")).contains("GET"); // names are case-insensitive
        assertThat(get.headers().firstValue("X-Uri")).contains("/echo?a=%2F");
        assertThat(get.headers().firstValue("X-Host")).contains(base.getAuthority());
        assertThat(get.headers().firstValue("X-Test")).contains("t");
        assertThat(get.headers().firstValue("X-Request-Length")).as("no length on a GET without body").contains("null");
        assertThat(get.headers().firstValue("X-Absent")).isEmpty();

        Response put = send("PUT", "/echo", null);
        assertThat(put.headers().firstValue("X-Request-Length")).as("as the JDK client: 0 for a PUT without body").contains("0");
        Response post = send("POST", "/echo", "hi".getBytes(UTF_8));
        assertThat(new String(post.body(), UTF_8)).isEqualTo("hi");
        assertThat(accepted).hasValue(1);
    }

    @Test
    void aResponseWithConnectionCloseIsNotReused() throws IOException {
        send("GET", "/close", null);
        send("GET", "/close", null);
        assertThat(accepted).hasValue(2);
    }

    @Test
    void aTimeoutClosesTheConnectionAndIsNotAConnectException() throws Exception {
        send("GET", "/echo", null); // a pooled connection, which the hanging request then takes
        assertThatThrownBy(() -> transport.send(base, "PUT", "/hang", "x".getBytes(UTF_8), Map.of(), TimeUnit.MILLISECONDS.toNanos(200)))
                .isInstanceOf(HttpTimeoutException.class)
                .isNotInstanceOf(ConnectException.class);
        assertThat(closedConnections.tryAcquire(5, TimeUnit.SECONDS)).as("the timed-out connection is closed").isTrue();
        assertThat(send("GET", "/echo", null).statusCode()).isEqualTo(200);
        assertThat(accepted).hasValue(2);
    }

    @Test
    void aRefusedConnectionIsAConnectException() throws IOException {
        URI dead = URI.create("http://127.0.0.1:" + TestPorts.free());
        assertThatThrownBy(() -> transport.send(dead, "PUT", "/v1/kv/k", null, Map.of(), TIMEOUT)).isInstanceOf(ConnectException.class);
        assertThatThrownBy(() -> transport.send(URI.create("ftp://127.0.0.1:1"), "GET", "/", null, Map.of(), TIMEOUT))
                .isInstanceOf(ConnectException.class);
    }

    @Test
    void aLargeBodyRoundTrips() throws IOException {
        byte[] body = new byte[1 << 20];
        new Random(42).nextBytes(body);
        Response r = send("PUT", "/echo", body);
        assertThat(r.body()).isEqualTo(body);
        assertThat(r.headers().firstValue("X-Request-Length")).contains(Integer.toString(body.length));
    }

    @Test
    void concurrentCallersEachGetTheirOwnResponse() throws Exception {
        int threads = 16;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 200; i++) {
                        byte[] body = (id + ":" + i).getBytes(UTF_8);
                        assertThat(send("POST", "/echo", body).body()).isEqualTo(body);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertThat(accepted.get()).as("at most one connection per concurrent caller").isBetween(1, threads);
    }

    @Test
    void anInterruptedCallerGetsAnIOExceptionAndKeepsItsInterrupt() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(1);
        Thread caller = Thread.ofPlatform().start(() -> {
            try {
                transport.send(base, "GET", "/hang", null, Map.of(), TIMEOUT);
            } catch (Throwable e) {
                failure.set(e);
            }
            interruptedAfter.set(Thread.currentThread().isInterrupted());
            finished.countDown();
        });
        assertThat(hanging.tryAcquire(5, TimeUnit.SECONDS)).isTrue(); // the request is at the server
        caller.interrupt();
        assertThat(finished.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(failure.get()).isInstanceOf(IOException.class).isNotInstanceOf(ConnectException.class).hasMessage("interrupted");
        assertThat(interruptedAfter.get()).isTrue();
        assertThat(closedConnections.tryAcquire(5, TimeUnit.SECONDS)).as("its connection is closed").isTrue();
    }

    @Test
    void closeFailsRequestsInFlightAndRefusesNewOnes() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread caller = Thread.ofPlatform().start(() -> {
            try {
                transport.send(base, "GET", "/hang", null, Map.of(), TIMEOUT);
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        assertThat(hanging.tryAcquire(5, TimeUnit.SECONDS)).isTrue();
        transport.close();
        caller.join(TimeUnit.SECONDS.toMillis(5));
        assertThat(caller.isAlive()).isFalse();
        assertThat(failure.get()).isInstanceOf(IOException.class).isNotInstanceOf(HttpTimeoutException.class);
        assertThatThrownBy(() -> send("GET", "/echo", null)).isInstanceOf(ConnectException.class);
    }
}
