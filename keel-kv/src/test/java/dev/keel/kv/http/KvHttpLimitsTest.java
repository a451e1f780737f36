package dev.keel.kv.http;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.store.KvStateMachine;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The count limits of {@link KvHttpServer} (connections, requests in flight per client) and its
 * answers to oversized request lines and headers, over raw sockets so that each request's
 * connection is under the test's control. After each refusal the node serves others normally.
 */
class KvHttpLimitsTest {
    private KvStateMachine sm;
    private FakeConsensus consensus;
    private KvHttpApi api;
    private KvHttpServer server;
    private InetSocketAddress address;
    private final List<Socket> sockets = new ArrayList<>();

    private void start(KvLimits limits, Duration requestTimeout) throws IOException {
        sm = new KvStateMachine();
        consensus = new FakeConsensus(1, sm);
        int port = TestPorts.free();
        address = new InetSocketAddress("127.0.0.1", port);
        api = new KvHttpApi(1, consensus, sm, Map.of(1, URI.create("http://127.0.0.1:" + port)), limits, requestTimeout,
                new KvMetrics(1, consensus, sm));
        server = KvHttpServer.start(address, api, limits, null);
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket s : sockets) s.close();
        if (server != null) server.close();
        if (api != null) api.close();
    }

    /** A connection from {@code localHost} (any 127.x address is this machine on Linux). */
    private Socket connect(String localHost) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.bind(new InetSocketAddress(localHost, 0));
        s.connect(address, 5_000);
        s.setSoTimeout(10_000);
        return s;
    }

    private static void send(Socket s, String method, String target, String extraHeaders, String body) throws IOException {
        String head = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extraHeaders
                + (body == null ? "" : "Content-Length: " + body.getBytes(UTF_8).length + "\r\n") + "\r\n";
        s.getOutputStream().write((head + (body == null ? "" : body)).getBytes(UTF_8));
        s.getOutputStream().flush();
    }

    /** Reads one response: its status line and body (by Content-Length). */
    private static String[] read(Socket s) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), UTF_8));
        String status = in.readLine();
        int length = 0;
        for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
            if (line.toLowerCase().startsWith("content-length:")) length = Integer.parseInt(line.substring(15).trim());
        }
        char[] body = new char[length];
        int n = 0;
        while (n < length) {
            int r = in.read(body, n, length - n);
            if (r < 0) break;
            n += r;
        }
        return new String[] {status, new String(body, 0, n)};
    }

    private String[] exchange(String localHost, String method, String target, String body) throws IOException {
        try (Socket s = connect(localHost)) {
            send(s, method, target, "Connection: close\r\n", body);
            return read(s);
        }
    }

    private double rejected(String reason) {
        return api.metrics().registry().find("keel.http.rejected").tag("reason", reason).counter() == null ? 0
                : api.metrics().registry().find("keel.http.rejected").tag("reason", reason).counter().count();
    }

    @Test
    void aClientOverItsInFlightLimitGets429WhileOtherClientsAreServed() throws Exception {
        start(KvLimits.DEFAULT.withInflightPerClientMax(2), Duration.ofSeconds(1));
        consensus.hang(true); // writes wait for a commit that never comes, until the request timeout
        Socket a = connect("127.0.0.1");
        Socket b = connect("127.0.0.1");
        send(a, "PUT", "/v1/kv/a", "", "1");
        send(b, "PUT", "/v1/kv/b", "", "1");
        // Both in flight once both reached the log; a third request from the same address is then refused at once.
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (consensus.submits() < 2 && System.nanoTime() < deadline) java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // poll
        assertThat(consensus.submits()).isEqualTo(2);
        String[] third = exchange("127.0.0.1", "GET", "/v1/status", null);
        assertThat(third[0]).startsWith("HTTP/1.1 429");
        assertThat(third[1]).contains("TOO_MANY_REQUESTS").contains("2 requests in flight");
        // Another client address is served meanwhile.
        assertThat(exchange("127.0.0.2", "GET", "/v1/status", null)[0]).startsWith("HTTP/1.1 200");
        // Once the two are answered (504 at the request timeout), the first client may send again.
        assertThat(read(a)[0]).startsWith("HTTP/1.1 504");
        assertThat(read(b)[0]).startsWith("HTTP/1.1 504");
        consensus.hang(false);
        send(a, "PUT", "/v1/kv/a", "", "2"); // the same keep-alive connection
        assertThat(read(a)[0]).startsWith("HTTP/1.1 200");
        assertThat(rejected("inflight")).isPositive();
    }

    @Test
    void aConnectionOverTheLimitGets429AndClosesAndOthersStayServed() throws Exception {
        start(KvLimits.DEFAULT.withConnectionsMax(2), Duration.ofSeconds(5));
        Socket a = connect("127.0.0.1");
        Socket b = connect("127.0.0.1");
        for (Socket s : List.of(a, b)) { // both accepted and served
            send(s, "GET", "/health", "", null);
            assertThat(read(s)[0]).startsWith("HTTP/1.1 200");
        }
        try (Socket c = connect("127.0.0.1")) {
            send(c, "GET", "/health", "", null);
            String[] refused = read(c);
            assertThat(refused[0]).startsWith("HTTP/1.1 429");
            assertThat(refused[1]).contains("TOO_MANY_CONNECTIONS");
            assertThat(c.getInputStream().read()).as("closed after the answer").isEqualTo(-1);
        }
        // The two admitted connections go on working.
        send(a, "PUT", "/v1/kv/k", "", "v");
        assertThat(read(a)[0]).startsWith("HTTP/1.1 200");
        // Closing one frees its place (the server sees the close asynchronously: poll).
        a.close();
        String[] later;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        do {
            later = exchange("127.0.0.1", "GET", "/v1/kv/k", null);
        } while (!later[0].contains(" 200 ") && System.nanoTime() < deadline);
        assertThat(later[0]).startsWith("HTTP/1.1 200");
        assertThat(later[1]).isEqualTo("v");
        assertThat(rejected("connections")).isPositive();
    }

    @Test
    void oversizedHeadersGet431AndAnOversizedRequestLine414() throws Exception {
        start(KvLimits.DEFAULT, Duration.ofSeconds(5));
        try (Socket s = connect("127.0.0.1")) {
            send(s, "GET", "/health", "X-Big: " + "h".repeat(KvHttpServer.MAX_HEADER_BYTES + 10) + "\r\n", null);
            String[] r = read(s);
            assertThat(r[0]).startsWith("HTTP/1.1 431");
            assertThat(r[1]).contains("HEADERS_TOO_LARGE");
        }
        try (Socket s = connect("127.0.0.1")) {
            send(s, "GET", "/v1/kv/" + "k".repeat(KvHttpServer.MAX_LINE_BYTES + 10), "", null);
            String[] r = read(s);
            assertThat(r[0]).startsWith("HTTP/1.1 414");
            assertThat(r[1]).contains("URI_TOO_LONG");
        }
        try (Socket s = connect("127.0.0.1")) {
            send(s, "PUT", "/v1/kv/k", "Content-Length: " + (KvLimits.DEFAULT.bodyMaxBytes() + 1) + "\r\n", null);
            String[] r = read(s);
            assertThat(r[0]).startsWith("HTTP/1.1 413");
            assertThat(r[1]).contains("BODY_TOO_LARGE");
        }
        assertThat(exchange("127.0.0.1", "GET", "/health", null)[0]).startsWith("HTTP/1.1 200");
        assertThat(rejected("headers_too_large")).isEqualTo(1);
        assertThat(rejected("line_too_long")).isEqualTo(1);
        assertThat(rejected("body_too_large")).isEqualTo(1);
        // Exposed on /metrics.
        assertThat(exchange("127.0.0.1", "GET", "/metrics", null)[1]).containsPattern("keel_http_rejected_total\\{[^}]*reason=\"headers_too_large\"");
    }

    @Test
    void limitsAreValidatedWithTheirNames() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> KvLimits.DEFAULT.withConnectionsMax(0))
                .hasMessageContaining("connectionsMax 0");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> KvLimits.DEFAULT.withInflightPerClientMax(-1))
                .hasMessageContaining("inflightPerClientMax -1");
    }
}
