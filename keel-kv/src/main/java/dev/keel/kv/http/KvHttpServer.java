package dev.keel.kv.http;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The JDK's HTTP server ({@code com.sun.net.httpserver}) serving one {@link KvHttpApi}, one
 * virtual thread per exchange. {@link #close()} stops accepting, gives in-flight exchanges up to
 * a second to finish, then stops.
 */
public final class KvHttpServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;

    private KvHttpServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Binds {@code address} (port 0 picks a free port; see {@link #address()}) and starts serving. */
    public static KvHttpServer start(InetSocketAddress address, KvHttpApi api) throws IOException {
        HttpServer server = HttpServer.create(address, 1024);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        server.createContext("/", api);
        server.start();
        return new KvHttpServer(server, executor);
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void close() {
        server.stop(1);
        executor.shutdownNow();
    }
}
