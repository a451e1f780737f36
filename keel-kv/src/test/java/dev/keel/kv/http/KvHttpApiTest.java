package dev.keel.kv.http;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.KeelException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP API against one node backed by {@link FakeConsensus}: every endpoint, condition and error. */
public class KvHttpApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private KvStateMachine sm;
    private FakeConsensus consensus;
    private KvHttpServer server;
    private URI base;

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @BeforeEach
    void start() throws IOException {
        sm = new KvStateMachine();
        consensus = new FakeConsensus(1, sm);
        int port = freePort();
        base = URI.create("http://127.0.0.1:" + port);
        KvLimits limits = new KvLimits(16, 64, 100, 3, 5);
        KvHttpApi api = new KvHttpApi(1, consensus, sm, Map.of(1, base), limits, Duration.ofSeconds(5), new KvMetrics(1, consensus, sm));
        server = KvHttpServer.start(new InetSocketAddress("127.0.0.1", port), api);
    }

    @AfterEach
    void stop() {
        server.close();
        http.close();
    }

    HttpResponse<byte[]> call(String method, String path, byte[] body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Sends one request line with no body over a plain socket and returns the status line. */
    String raw(String requestLine) throws IOException {
        try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(5_000);
            socket.getOutputStream().write((requestLine + "\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(UTF_8));
            return new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(), UTF_8)).readLine();
        }
    }

    static JsonNode json(HttpResponse<byte[]> r) throws IOException {
        return JSON.readTree(r.body());
    }

    @Test
    void putGetDelete() throws Exception {
        HttpResponse<byte[]> put = call("PUT", "/v1/kv/greeting", "hello".getBytes(UTF_8));
        assertThat(put.statusCode()).isEqualTo(200);
        assertThat(json(put).get("revision").asLong()).isEqualTo(1);
        assertThat(put.headers().firstValue("ETag")).contains("\"1\"");
        assertThat(put.headers().firstValue("Keel-Leader")).contains(base.toString());

        HttpResponse<byte[]> get = call("GET", "/v1/kv/greeting", null);
        assertThat(get.statusCode()).isEqualTo(200);
        assertThat(new String(get.body(), UTF_8)).isEqualTo("hello");
        assertThat(get.headers().firstValue("ETag")).contains("\"1\"");
        assertThat(get.headers().firstValue("Keel-Version")).contains("1");

        assertThat(json(call("PUT", "/v1/kv/greeting", "again".getBytes(UTF_8))).get("version").asLong()).isEqualTo(2);
        HttpResponse<byte[]> del = call("DELETE", "/v1/kv/greeting", null);
        assertThat(del.statusCode()).isEqualTo(200);
        assertThat(json(del).get("revision").asLong()).isEqualTo(3);
        HttpResponse<byte[]> gone = call("GET", "/v1/kv/greeting", null);
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(json(gone).get("code").asText()).isEqualTo("NOT_FOUND");
        assertThat(call("DELETE", "/v1/kv/greeting", null).statusCode()).isEqualTo(404);
    }

    @Test
    void emptyValuesAndBinaryKeys() throws Exception {
        assertThat(call("PUT", "/v1/kv/a%FF/b%20c", new byte[0]).statusCode()).isEqualTo(200);
        assertThat(sm.view().get(new byte[] {'a', (byte) 0xff, '/', 'b', ' ', 'c'})).isNotNull();
        HttpResponse<byte[]> get = call("GET", "/v1/kv/a%ff/b%20c", null);
        assertThat(get.statusCode()).isEqualTo(200);
        assertThat(get.body()).isEmpty();
    }

    @Test
    void conditionalWritesAnswer412WithTheCurrentRevision() throws Exception {
        assertThat(call("PUT", "/v1/kv/k", "1".getBytes(UTF_8), "If-None-Match", "*").statusCode()).isEqualTo(200);
        HttpResponse<byte[]> again = call("PUT", "/v1/kv/k", "2".getBytes(UTF_8), "If-None-Match", "*");
        assertThat(again.statusCode()).isEqualTo(412);
        assertThat(json(again).get("code").asText()).isEqualTo("CONDITION_FAILED");
        assertThat(json(again).get("revision").asLong()).isEqualTo(1);

        assertThat(call("PUT", "/v1/kv/k", "2".getBytes(UTF_8), "If-Match", "\"7\"").statusCode()).isEqualTo(412);
        assertThat(call("PUT", "/v1/kv/k", "2".getBytes(UTF_8), "If-Match", "\"1\"").statusCode()).isEqualTo(200);
        assertThat(call("PUT", "/v1/kv/k?prevValue=nope", "3".getBytes(UTF_8)).statusCode()).isEqualTo(412);
        assertThat(call("PUT", "/v1/kv/k?prevValue=2", "3".getBytes(UTF_8)).statusCode()).isEqualTo(200);
        assertThat(call("PUT", "/v1/kv/other", "x".getBytes(UTF_8), "If-Match", "*").statusCode()).isEqualTo(412);
        assertThat(call("DELETE", "/v1/kv/k", null, "If-Match", "1").statusCode()).isEqualTo(412);
        assertThat(call("DELETE", "/v1/kv/k?prevValue=3", null).statusCode()).isEqualTo(200);
        HttpResponse<byte[]> two = call("PUT", "/v1/kv/k?prevValue=3", "4".getBytes(UTF_8), "If-None-Match", "*");
        assertThat(two.statusCode()).isEqualTo(400);
    }

    @Test
    void scanWithPrefixLimitAndEncodings() throws Exception {
        for (String k : new String[] {"a/1", "a/2", "a/3", "a/4", "b"}) call("PUT", "/v1/kv/" + k, ("v" + k).getBytes(UTF_8));
        call("PUT", "/v1/kv/a/%FF", new byte[] {(byte) 0xfe});
        JsonNode r = json(call("GET", "/v1/kv?prefix=a/&limit=2", null));
        assertThat(r.get("more").asBoolean()).isTrue();
        assertThat(r.get("items").size()).isEqualTo(2);
        assertThat(r.get("items").get(0).get("key").asText()).isEqualTo("a/1");
        assertThat(r.get("items").get(0).get("value").asText()).isEqualTo("va/1");
        JsonNode def = json(call("GET", "/v1/kv?prefix=a%2F", null));
        assertThat(def.get("items").size()).as("default limit 3").isEqualTo(3);
        JsonNode all = json(call("GET", "/v1/kv?prefix=a/&limit=5", null));
        assertThat(all.get("more").asBoolean()).isFalse();
        JsonNode binary = all.get("items").get(4);
        assertThat(binary.get("base64").asBoolean()).isTrue();
        assertThat(Base64.getDecoder().decode(binary.get("key").asText())).isEqualTo(new byte[] {'a', '/', (byte) 0xff});
        JsonNode b64 = json(call("GET", "/v1/kv?prefix=b&encoding=base64", null));
        assertThat(new String(Base64.getDecoder().decode(b64.get("items").get(0).get("value").asText()), UTF_8)).isEqualTo("vb");
        assertThat(call("GET", "/v1/kv?limit=6", null).statusCode()).isEqualTo(400);
        assertThat(call("GET", "/v1/kv?limit=x", null).statusCode()).isEqualTo(400);
        assertThat(call("GET", "/v1/kv?encoding=hex", null).statusCode()).isEqualTo(400);
    }

    @Test
    void limitsAnswer413AndBadInput400() throws Exception {
        assertThat(json(call("PUT", "/v1/kv/" + "k".repeat(17), new byte[1])).get("code").asText()).isEqualTo("KEY_TOO_LARGE");
        assertThat(call("PUT", "/v1/kv/" + "k".repeat(16), new byte[1]).statusCode()).isEqualTo(200);
        HttpResponse<byte[]> bigValue = call("PUT", "/v1/kv/v", new byte[65]);
        assertThat(bigValue.statusCode()).isEqualTo(413);
        assertThat(json(bigValue).get("code").asText()).isEqualTo("VALUE_TOO_LARGE");
        HttpResponse<byte[]> bigBody = call("PUT", "/v1/kv/v", new byte[101]);
        assertThat(bigBody.statusCode()).isEqualTo(413);
        assertThat(json(bigBody).get("code").asText()).isEqualTo("BODY_TOO_LARGE");
        assertThat(json(call("PUT", "/v1/kv/", new byte[1])).get("code").asText()).isEqualTo("BAD_KEY");
        // java.net.URI refuses these, so send them raw; the JDK server or our decoder answers 400.
        assertThat(raw("GET /v1/kv/a%G0 HTTP/1.1")).startsWith("HTTP/1.1 400");
        assertThat(raw("GET /v1/kv/a%F HTTP/1.1")).startsWith("HTTP/1.1 400");
        assertThat(call("PUT", "/v1/kv/a", new byte[1], "If-Match", "abc").statusCode()).isEqualTo(400);
        assertThat(call("PUT", "/v1/kv/a", new byte[1], "If-None-Match", "\"3\"").statusCode()).isEqualTo(400);
        assertThat(json(call("PUT", "/v1/kv/a", new byte[1], "Keel-Client-Id", "5")).get("code").asText()).isEqualTo("BAD_SESSION");
        assertThat(call("PUT", "/v1/kv/a", new byte[1], "Keel-Client-Id", "0", "Keel-Sequence", "1").statusCode()).isEqualTo(400);
        assertThat(call("PUT", "/v1/kv/a", new byte[1], "Keel-Client-Id", "x", "Keel-Sequence", "1").statusCode()).isEqualTo(400);
        assertThat(call("GET", "/v1/kv/a?consistency=eventual", null).statusCode()).isEqualTo(400);
        assertThat(call("POST", "/v1/kv/a", new byte[1]).statusCode()).isEqualTo(405);
        assertThat(call("GET", "/nope", null).statusCode()).isEqualTo(404);
        assertThat(consensus.submits()).as("nothing invalid reached the log").isEqualTo(1);
    }

    @Test
    void sessionHeadersMakeARetryApplyOnce() throws Exception {
        String[] session = {"Keel-Client-Id", "99", "Keel-Sequence", "1"};
        HttpResponse<byte[]> first = call("PUT", "/v1/kv/n", "1".getBytes(UTF_8), session);
        HttpResponse<byte[]> retry = call("PUT", "/v1/kv/n", "1".getBytes(UTF_8), session);
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(json(retry)).isEqualTo(json(first));
        assertThat(sm.view().get("n".getBytes(UTF_8)).version()).isEqualTo(1);
        HttpResponse<byte[]> expired = call("PUT", "/v1/kv/n", "1".getBytes(UTF_8), "Keel-Client-Id", "100", "Keel-Sequence", "5");
        assertThat(expired.statusCode()).isEqualTo(409);
        assertThat(json(expired).get("code").asText()).isEqualTo("SESSION_EXPIRED");
    }

    @Test
    void runtimeFailuresMapTo503And504() throws Exception {
        consensus.failNext(new KeelException.Timeout("slow"), true);
        HttpResponse<byte[]> timeout = call("PUT", "/v1/kv/t", "1".getBytes(UTF_8));
        assertThat(timeout.statusCode()).isEqualTo(504);
        assertThat(json(timeout).get("code").asText()).isEqualTo("TIMEOUT");
        consensus.failNext(new KeelException.Rejected("full"), false);
        assertThat(json(call("PUT", "/v1/kv/t", "1".getBytes(UTF_8))).get("code").asText()).isEqualTo("REJECTED");
        consensus.failNext(new KeelException.NotCommitted("lost"), false);
        assertThat(call("PUT", "/v1/kv/t", "1".getBytes(UTF_8)).statusCode()).isEqualTo(503);
        consensus.setLeader(0);
        HttpResponse<byte[]> noLeader = call("PUT", "/v1/kv/t", "1".getBytes(UTF_8));
        assertThat(noLeader.statusCode()).isEqualTo(503);
        assertThat(json(noLeader).get("code").asText()).isEqualTo("NO_LEADER");
        assertThat(call("GET", "/v1/kv/t", null).statusCode()).as("linearizable needs a leader").isEqualTo(503);
        assertThat(call("GET", "/v1/kv/t?consistency=stale", null).statusCode()).as("stale does not").isEqualTo(200);
        HttpResponse<byte[]> health = call("GET", "/health", null);
        assertThat(health.statusCode()).isEqualTo(503);
        assertThat(json(health).get("live").asBoolean()).isTrue();
        assertThat(json(health).get("ready").asBoolean()).isFalse();
    }

    @Test
    void statusHealthAndMetrics() throws Exception {
        call("PUT", "/v1/kv/a", "1".getBytes(UTF_8));
        JsonNode status = json(call("GET", "/v1/status", null));
        assertThat(status.get("id").asInt()).isEqualTo(1);
        assertThat(status.get("role").asText()).isEqualTo("LEADER");
        assertThat(status.get("leader").asInt()).isEqualTo(1);
        assertThat(status.get("commitIndex").asLong()).isEqualTo(1);
        assertThat(status.get("members").get(0).get("http").asText()).isEqualTo(base.toString());
        assertThat(status.get("kv").get("keys").asInt()).isEqualTo(1);
        assertThat(call("GET", "/health", null).statusCode()).isEqualTo(200);
        HttpResponse<byte[]> metrics = call("GET", "/metrics", null);
        assertThat(metrics.statusCode()).isEqualTo(200);
        String text = new String(metrics.body(), UTF_8);
        assertThat(text).contains("keel_proposals_total", "keel_commits_total", "keel_commit_latency_seconds_count",
                "keel_leader_changes_total", "keel_log_last_index", "keel_snapshot_index", "keel_kv_keys", "keel_http_requests_seconds");
    }
}
