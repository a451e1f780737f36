package dev.keel.kv.http;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.store.KvCommand;
import dev.keel.kv.store.KvStateMachine;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.junit.jupiter.api.Test;

/**
 * Fuzzing the HTTP layer of a running {@link KvHttpServer} (authentication on, one user): random
 * methods, paths (percent-encodings valid and not), queries, headers (Authorization, conditions,
 * sessions, Content-Length, Transfer-Encoding) and bodies, and raw garbage. Every answer must be a
 * well-formed status other than 5xx (503 and 504 aside: no leader, timeout), or a close for input
 * that is not HTTP; the node must keep answering {@code /health} after each.
 *
 * <p>The corpus in {@code src/test/resources/fuzz-corpus/http} (raw requests, {@code \r\n} line
 * ends, one a file) is replayed on every run.
 */
class HttpFuzzTest {
    private static KvHttpServer server;
    private static KvHttpApi api;
    private static InetSocketAddress address;
    static final String TOKEN = Auth.newToken();

    @BeforeContainer
    static void start() throws IOException {
        KvStateMachine sm = new KvStateMachine();
        FakeConsensus consensus = new FakeConsensus(1, sm);
        int port = TestPorts.free();
        address = new InetSocketAddress("127.0.0.1", port);
        api = new KvHttpApi(1, consensus, sm, Map.of(1, URI.create("http://127.0.0.1:" + port)), KvLimits.DEFAULT,
                Duration.ofMillis(300), new KvMetrics(1, consensus, sm));
        sm.apply(1, KvCommand.put(Auth.userKey("fuzz"), Auth.encode(new Auth.User("fuzz", Auth.Role.READWRITE, "a".getBytes(),
                Auth.sha256(TOKEN), false))));
        api.requireAuthentication(null);
        server = KvHttpServer.start(address, api, KvLimits.DEFAULT, null);
    }

    @AfterContainer
    static void stop() {
        server.close();
        api.close();
    }

    /** Sends {@code request} and returns the status line ("" if the server closed without answering). */
    static String exchange(byte[] request) throws IOException {
        try (Socket s = new Socket(address.getAddress(), address.getPort())) {
            s.setSoTimeout(5_000);
            try {
                s.getOutputStream().write(request);
                s.getOutputStream().flush();
                s.shutdownOutput();
            } catch (SocketException closedEarly) {
                // The server may refuse and close before reading everything.
            }
            InputStream in = s.getInputStream();
            try {
                String status = readLine(in);
                // An interim 100 Continue (for Expect: 100-continue): the final answer follows its blank line.
                while (status.startsWith("HTTP/1.1 1")) {
                    while (!readLine(in).isEmpty()) {
                        // its headers
                    }
                    status = readLine(in);
                }
                return status;
            } catch (SocketException reset) {
                return ""; // closed with unread input
            } catch (SocketTimeoutException hang) {
                throw new AssertionError("no answer within 5 s to " + printable(request));
            }
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0 && c != '\n'; ) line.write(c);
        return line.toString(ISO_8859_1).strip();
    }

    static void check(byte[] request) throws IOException {
        String status = exchange(request);
        if (!status.isEmpty()) {
            assertThat(status).as("answer to %s", printable(request)).matches("HTTP/1\\.1 \\d{3} .*");
            int code = Integer.parseInt(status.substring(9, 12));
            assertThat(code).as("status for %s", printable(request)).isBetween(200, 599);
            if (code >= 500) assertThat(code).as("5xx for %s", printable(request)).isIn(503, 504);
        }
        String health = exchange("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(ISO_8859_1));
        assertThat(health).as("health after %s", printable(request)).startsWith("HTTP/1.1 200");
    }

    static String printable(byte[] b) {
        String s = new String(b, 0, Math.min(b.length, 300), ISO_8859_1);
        return s.replace("\r", "\\r").replace("\n", "\\n");
    }

    @Property(tries = 2000)
    void randomRequestsNeverGetA500OrHurtTheNode(@ForAll("requests") byte[] request) throws IOException {
        check(request);
    }

    @Property(tries = 500)
    void rawGarbageNeverHurtsTheNode(@ForAll("garbage") byte[] request) throws IOException {
        check(request);
    }

    @Provide
    Arbitrary<byte[]> garbage() {
        return Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(2000);
    }

    @Provide
    Arbitrary<byte[]> requests() {
        Arbitrary<String> method = Arbitraries.of("GET", "PUT", "DELETE", "POST", "HEAD", "OPTIONS", "PATCH", "G\u00e9T", "");
        Arbitrary<String> segment = Arbitraries.oneOf(
                Arbitraries.of("/v1/kv/", "/v1/kv", "/v1/members", "/v1/members/", "/v1/members/2/promote", "/v1/leader/transfer",
                        "/v1/status", "/metrics", "/health", "/v1/auth/users", "/v1/auth/users/fuzz", "/", "*", "//", "/v1/kv/a%",
                        "/v1/kv/a%G1", "/v1/kv/%FF%FF%FFkeel/auth/users/x", "/v1/kv/../../etc", "http://h/v1/kv/a"),
                Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(40).map(s -> "/v1/kv/" + s),
                Arbitraries.strings().withChars("%0123456789ABCDEFabcdefgz/?&=#").ofMaxLength(30).map(s -> "/v1/kv/a" + s));
        Arbitrary<String> query = Arbitraries.oneOf(Arbitraries.just(""),
                Arbitraries.of("?prefix=a&limit=2", "?limit=-1", "?limit=99999999999", "?consistency=stale", "?consistency=x",
                        "?encoding=base64", "?encoding=utf16", "?prevValue=%FF", "?to=2", "?to=abc", "?&&==", "?prefix=%"),
                Arbitraries.strings().withChars("abc=&%0F?+ ").ofMaxLength(20).map(s -> "?" + s));
        Arbitrary<String> header = Arbitraries.oneOf(
                Arbitraries.of("Authorization: Bearer " + TOKEN, "Authorization: Bearer keel_x", "Authorization: Basic Zm9vOmJhcg==",
                        "Authorization: Bearer", "If-Match: \"3\"", "If-Match: *", "If-Match: W/\"x\"", "If-None-Match: *",
                        "If-None-Match: \"1\"", "Keel-Client-Id: 7", "Keel-Sequence: 1", "Keel-Sequence: -5", "Keel-Client-Id: 0",
                        "Content-Length: 5", "Content-Length: -1", "Content-Length: 99999999999", "Content-Length: x",
                        "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", "Content-Type: application/json",
                        "Keel-Forwarded-By: 2", "Keel-Forwarded-Principal: fuzz", "Connection: keep-alive", "Expect: 100-continue",
                        "Host:", "X: \u00ff\u00fe"),
                Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(30).map(s -> "X-Fuzz: " + s),
                Arbitraries.strings().withCharRange('!', '~').ofMaxLength(20));
        Arbitrary<String> body = Arbitraries.oneOf(Arbitraries.just(""),
                Arbitraries.of("{\"id\":2,\"peer\":\"h:1\"}", "{\"name\":\"x\",\"role\":\"admin\",\"newToken\":true}", "{", "[]",
                        "null", "{\"id\":-1}", "5\r\nhello\r\n0\r\n\r\n", "zz\r\n"),
                Arbitraries.strings().ofMaxLength(100));
        return Combinators.combine(method, segment, query, header.list().ofMaxSize(5), body, Arbitraries.of("HTTP/1.1", "HTTP/1.0",
                "HTTP/2", "HTTP/1.1 extra", "")).as((m, p, q, hs, b, v) -> {
                    StringBuilder r = new StringBuilder(m).append(' ').append(p).append(q).append(' ').append(v).append("\r\nHost: x\r\n");
                    for (String h : hs) r.append(h).append("\r\n");
                    r.append("Connection: close\r\n\r\n").append(b);
                    return r.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
                });
    }

    @Test
    void corpusReplays() throws IOException {
        start(); // its own server: this runs on JUnit's engine, outside jqwik's container lifecycle
        try {
            Path dir = Path.of("src/test/resources/fuzz-corpus/http");
            List<Path> inputs;
            try (Stream<Path> s = Files.list(dir)) {
                inputs = s.filter(p -> p.toString().endsWith(".http")).sorted().toList();
            }
            assertThat(inputs).isNotEmpty();
            for (Path p : inputs) {
                check(Files.readString(p, ISO_8859_1).replace("\r\n", "\n").replace("\n", "\r\n").getBytes(ISO_8859_1));
            }
        } finally {
            stop();
        }
    }
}
