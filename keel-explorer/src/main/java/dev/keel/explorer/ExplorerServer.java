package dev.keel.explorer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves the Keel Explorer: the page and its scripts (bundled in this jar under
 * {@code dev/keel/explorer/web/}, so it works offline) and a small JSON API over one
 * {@link Session}.
 *
 * <pre>
 * GET  /api/state            the session's state (nodes, logs, messages in flight, history, violation)
 * POST /api/action           body: one action line; answers {outcome, state}, or 400 {error, state}
 * GET  /api/history          the history as text, one action per line after its `cluster` header
 * POST /api/replay           body: a history's text; replaces the session (400 names the bad line)
 * POST /api/seek?step=K      goes to step K of the history (0..length), replaying from the start
 * POST /api/reset            body: a header line, e.g. `cluster 5 voters=3 seed=7`; a fresh session
 * POST /api/seed             body: `seed N [nodes=K] [ticks=T]`: a seed of the randomized simulator
 *                            (as `bin/keel sim --seed N` runs it) to scrub through with seek; read-only
 * </pre>
 *
 * <p>Threading: requests run on a small pool; the session is used under one lock, so actions
 * from several tabs are applied one at a time. It listens on the loopback address unless told
 * otherwise: it is a teaching and debugging tool with no authentication.
 */
public final class ExplorerServer implements AutoCloseable {
    /** Largest request body read (a long history is a few hundred KiB). */
    static final int BODY_BYTES_MAX = 4 << 20;
    private static final String WEB = "/dev/keel/explorer/web/";
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "svg", "image/svg+xml",
            "png", "image/png",
            "ico", "image/x-icon");

    private final HttpServer http;
    private final ExecutorService executor;
    private final ObjectMapper json = new ObjectMapper();
    private final Object lock = new Object();
    private Session session;
    /** Non-null while a simulator seed is shown instead of the session. */
    private SeedTrace trace;

    private ExplorerServer(HttpServer http, ExecutorService executor, Session session) {
        this.http = http;
        this.executor = executor;
        this.session = session;
    }

    /** Starts a server on host:port (port 0 picks a free one) with a fresh 3-node cluster. */
    public static ExplorerServer start(String host, int port) throws IOException {
        return start(host, port, Session.standard());
    }

    /** Starts a server on host:port (port 0 picks a free one) showing {@code session} first. */
    public static ExplorerServer start(String host, int port, Session session) throws IOException {
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 64);
        ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "keel-explorer-http");
            t.setDaemon(true);
            return t;
        });
        ExplorerServer server = new ExplorerServer(http, executor, session);
        http.createContext("/", server::handle);
        http.setExecutor(executor);
        http.start();
        return server;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The page's address, for printing. */
    public String url() {
        String host = http.getAddress().getHostString();
        if (host.contains(":")) host = "[" + host + "]";
        return "http://" + host + ":" + port() + "/";
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            try {
                if (path.startsWith("/api/")) {
                    api(ex, method, path.substring("/api/".length()));
                } else if (method.equals("GET") || method.equals("HEAD")) {
                    file(ex, path.equals("/") ? "index.html" : path.substring(1));
                } else {
                    sendJson(ex, 405, Map.of("error", method + " not allowed on " + path));
                }
            } catch (IllegalArgumentException | IllegalStateException e) {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("error", e.getMessage());
                synchronized (lock) {
                    body.put("state", state());
                }
                sendJson(ex, 400, body);
            } catch (RuntimeException e) {
                sendJson(ex, 500, Map.of("error", "explorer bug: " + e));
            }
        }
    }

    private void api(HttpExchange ex, String method, String route) throws IOException {
        String expected = switch (route) {
            case "state", "history" -> "GET";
            case "action", "replay", "seek", "reset", "seed" -> "POST";
            default -> null;
        };
        if (expected == null) {
            sendJson(ex, 404, Map.of("error", "no API route /api/" + route));
            return;
        }
        if (!method.equals(expected)) {
            sendJson(ex, 405, Map.of("error", "/api/" + route + " takes " + expected + ", not " + method));
            return;
        }
        Map<String, Object> body = new LinkedHashMap<>();
        synchronized (lock) {
            switch (route) {
                case "state" -> {}
                case "history" -> {
                    String text = trace != null ? "# " + trace.result().line() + "\n" + trace.header() + "\n"
                            : session.historyText();
                    send(ex, 200, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8));
                    return;
                }
                case "action" -> {
                    if (trace != null) {
                        throw new IllegalStateException("a simulator seed's run is read-only: scrub through it, "
                                + "or start a new cluster to act");
                    }
                    body.put("outcome", session.apply(oneLine(readBody(ex))));
                }
                case "replay" -> {
                    session = Session.replay(readBody(ex));
                    trace = null;
                }
                case "seek" -> {
                    long step = longParam(ex.getRequestURI(), "step");
                    if (trace != null) {
                        trace.seek(step);
                    } else {
                        if (step > Integer.MAX_VALUE) throw new IllegalArgumentException("step " + step + " outside the history");
                        session.seek((int) step);
                    }
                }
                case "reset" -> {
                    session = new Session(Action.Header.parse(oneLine(readBody(ex))));
                    trace = null;
                }
                case "seed" -> trace = SeedTrace.parse(oneLine(readBody(ex)));
                default -> throw new IllegalStateException(route);
            }
            body.put("state", state());
        }
        sendJson(ex, 200, body);
    }

    private Map<String, Object> state() {
        return trace != null ? trace.state() : session.state();
    }

    /** Shows a simulator seed first (as {@code bin/keel explore --seed N} does). */
    public void showSeed(SeedTrace seedTrace) {
        synchronized (lock) {
            trace = seedTrace;
        }
    }

    private static String oneLine(String body) {
        String s = body.strip();
        if (s.isEmpty()) throw new IllegalArgumentException("empty request: send one action line");
        if (s.contains("\n")) throw new IllegalArgumentException("one line at a time here; use /api/replay for a history");
        return s;
    }

    private static long longParam(URI uri, String name) {
        String q = uri.getRawQuery();
        if (q != null) {
            for (String kv : q.split("&")) {
                String[] p = kv.split("=", 2);
                if (p[0].equals(name) && p.length == 2) {
                    try {
                        return Long.parseLong(p[1]);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(name + " `" + p[1] + "` is not a number");
                    }
                }
            }
        }
        throw new IllegalArgumentException("missing query parameter " + name);
    }

    private static String readBody(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(BODY_BYTES_MAX + 1);
            if (b.length > BODY_BYTES_MAX) throw new IllegalArgumentException("request body over " + BODY_BYTES_MAX + " bytes");
            return new String(b, StandardCharsets.UTF_8);
        }
    }

    private void file(HttpExchange ex, String name) throws IOException {
        // Only plain names below web/: no "..", no absolute paths, nothing but the bundled files.
        if (!name.matches("[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\\.[a-z]+")) {
            sendJson(ex, 404, Map.of("error", "no such file: /" + name));
            return;
        }
        String ext = name.substring(name.lastIndexOf('.') + 1);
        try (InputStream in = ExplorerServer.class.getResourceAsStream(WEB + name)) {
            if (in == null || !TYPES.containsKey(ext)) {
                sendJson(ex, 404, Map.of("error", "no such file: /" + name));
                return;
            }
            ex.getResponseHeaders().set("Cache-Control", "no-cache");
            send(ex, 200, TYPES.get(ext), in.readAllBytes());
        }
    }

    private void sendJson(HttpExchange ex, int status, Object body) throws IOException {
        send(ex, status, "application/json", json.writeValueAsBytes(body));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** {@code java dev.keel.explorer.ExplorerServer [port]}: serves on localhost until stopped. */
    public static void main(String[] args) throws Exception {
        ExplorerServer s = start("127.0.0.1", args.length > 0 ? Integer.parseInt(args[0]) : 7070);
        System.out.println("Keel Explorer: " + s.url());
        Thread.currentThread().join();
    }
}
