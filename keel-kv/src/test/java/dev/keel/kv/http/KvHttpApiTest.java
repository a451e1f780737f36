package dev.keel.kv.http;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.KeelException;
import java.io.IOException;
import java.net.InetSocketAddress;
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


    @BeforeEach
    void start() throws IOException {
        sm = new KvStateMachine();
        consensus = new FakeConsensus(1, sm);
        int port = TestPorts.free();
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
        // A command the core refuses for its size will never fit: 413, not a 503 that invites a retry.
        consensus.failNext(new KeelException.Rejected("TOO_LARGE: command of 1048600 bytes exceeds maxBytesPerAppend 1048576"), false);
        HttpResponse<byte[]> tooLarge = call("PUT", "/v1/kv/t", "1".getBytes(UTF_8));
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(json(tooLarge).get("code").asText()).isEqualTo("COMMAND_TOO_LARGE");
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
    void aCommitOrReadIndexThatNeverCompletesAnswers504AndTheConnectionGoesOn() throws Exception {
        int port = TestPorts.free();
        KvHttpApi quick = new KvHttpApi(1, consensus, sm, Map.of(1, base), KvLimits.DEFAULT, Duration.ofMillis(300),
                new KvMetrics(1, consensus, sm));
        try (KvHttpServer quickServer = KvHttpServer.start(new InetSocketAddress("127.0.0.1", port), quick)) {
            URI key = URI.create("http://127.0.0.1:" + port + "/v1/kv/h");
            consensus.hang(true);
            HttpResponse<byte[]> put = http.send(HttpRequest.newBuilder(key).timeout(Duration.ofSeconds(10)).PUT(HttpRequest.BodyPublishers.ofString("1")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(put.statusCode()).isEqualTo(504);
            assertThat(json(put).get("code").asText()).isEqualTo("TIMEOUT");
            assertThat(json(put).get("error").asText()).contains("commit not done within 300 ms");
            HttpResponse<byte[]> get = http.send(HttpRequest.newBuilder(key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(get.statusCode()).isEqualTo(504);
            assertThat(json(get).get("error").asText()).contains("read index not done within 300 ms");
            consensus.hang(false);
            // The same client's connection answers the next requests normally.
            assertThat(http.send(HttpRequest.newBuilder(key).timeout(Duration.ofSeconds(10)).PUT(HttpRequest.BodyPublishers.ofString("2")).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).statusCode()).isEqualTo(200);
            HttpResponse<byte[]> after = http.send(HttpRequest.newBuilder(key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(after.statusCode()).isEqualTo(200);
            assertThat(new String(after.body(), UTF_8)).isEqualTo("2");
        } finally {
            consensus.hang(false);
        }
    }

    static byte[] body(String json) {
        return json.getBytes(UTF_8);
    }

    @Test
    void membersAddPromoteRemoveAndTransfer() throws Exception {
        JsonNode members = json(call("GET", "/v1/members", null));
        assertThat(members.get("voters").toString()).isEqualTo("[1]");
        assertThat(members.get("leader").asInt()).isEqualTo(1);
        assertThat(members.get("members").get(0).get("http").asText()).isEqualTo(base.toString());
        assertThat(members.get("members").get(0).get("role").asText()).isEqualTo("voter");

        HttpResponse<byte[]> learner = call("POST", "/v1/members",
                body("{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"http\":\"http://127.0.0.1:8002/\",\"learner\":true}"));
        assertThat(learner.statusCode()).as(new String(learner.body(), UTF_8)).isEqualTo(200);
        assertThat(json(learner).get("learners").toString()).isEqualTo("[2]");
        JsonNode two = json(learner).get("members").get(1);
        assertThat(two.get("peer").asText()).isEqualTo("127.0.0.1:9002");
        assertThat(two.get("http").asText()).as("normalised, from the replicated book").isEqualTo("http://127.0.0.1:8002");
        assertThat(two.get("role").asText()).isEqualTo("learner");
        // The same request again is a no-op; another peer for the same id is a conflict.
        assertThat(call("POST", "/v1/members", body("{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"learner\":true}")).statusCode())
                .isEqualTo(200);
        HttpResponse<byte[]> moved = call("POST", "/v1/members", body("{\"id\":2,\"peer\":\"127.0.0.1:9999\",\"learner\":true}"));
        assertThat(moved.statusCode()).isEqualTo(409);
        assertThat(json(moved).get("code").asText()).isEqualTo("ALREADY_MEMBER");

        // Promote: NOT_CAUGHT_UP is retried until the learner catches up.
        consensus.failNextChange(new KeelException.Rejected("NOT_CAUGHT_UP: learner 2 has 0 of 9 entries"));
        consensus.failNextChange(new KeelException.Rejected("NOT_CAUGHT_UP: learner 2 has 5 of 9 entries"));
        HttpResponse<byte[]> promoted = call("POST", "/v1/members/2/promote", null);
        assertThat(promoted.statusCode()).as(new String(promoted.body(), UTF_8)).isEqualTo(200);
        assertThat(json(promoted).get("voters").toString()).isEqualTo("[1,2]");
        assertThat(json(promoted).get("learners").toString()).isEqualTo("[]");

        // Add as a voter in one request: learner first, then promoted.
        HttpResponse<byte[]> voter = call("POST", "/v1/members", body("{\"id\":3,\"peer\":\"127.0.0.1:9003\",\"learner\":false}"));
        assertThat(voter.statusCode()).isEqualTo(200);
        assertThat(json(voter).get("voters").toString()).isEqualTo("[1,2,3]");
        assertThat(call("POST", "/v1/members", body("{\"id\":3,\"peer\":\"127.0.0.1:9003\",\"learner\":true}")).statusCode())
                .as("a voter cannot be re-added as a learner").isEqualTo(409);

        HttpResponse<byte[]> removed = call("DELETE", "/v1/members/3", null);
        assertThat(removed.statusCode()).isEqualTo(200);
        assertThat(json(removed).get("voters").toString()).isEqualTo("[1,2]");

        HttpResponse<byte[]> transfer = call("POST", "/v1/leader/transfer?to=2", null);
        assertThat(transfer.statusCode()).as(new String(transfer.body(), UTF_8)).isEqualTo(200);
        assertThat(json(transfer).get("leader").asInt()).isEqualTo(2);
        assertThat(json(transfer).get("previous").asInt()).isEqualTo(1);
        assertThat(transfer.headers().firstValue("Keel-Leader")).as("resolved from the replicated book").contains("http://127.0.0.1:8002");
    }

    @Test
    void membershipErrors() throws Exception {
        String[][] bad = {
            {"{\"peer\":\"127.0.0.1:9002\"}", "\"id\" is required"},
            {"{\"id\":0,\"peer\":\"127.0.0.1:9002\"}", "positive integer"},
            {"{\"id\":\"two\",\"peer\":\"127.0.0.1:9002\"}", "positive integer"},
            {"{\"id\":2}", "\"peer\""},
            {"{\"id\":2,\"peer\":\"nohost\"}", "not host:port"},
            {"{\"id\":2,\"peer\":\"127.0.0.1:70000\"}", "outside 1-65535"},
            {"{\"id\":2,\"peer\":\"127.0.0.1:x\"}", "not a number"},
            {"{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"http\":\"ftp://h:1\"}", "http://"},
            {"{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"http\":\"http://h\"}", "host and a port"},
            {"{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"learner\":\"yes\"}", "true or false"},
            {"not json", "not JSON"},
            {"[1]", "JSON object"},
        };
        for (String[] b : bad) {
            HttpResponse<byte[]> r = call("POST", "/v1/members", body(b[0]));
            assertThat(r.statusCode()).as(b[0]).isEqualTo(400);
            assertThat(json(r).get("code").asText()).isEqualTo("BAD_REQUEST");
            assertThat(json(r).get("error").asText()).as(b[0]).contains(b[1]);
        }
        assertThat(call("POST", "/v1/members/abc/promote", null).statusCode()).isEqualTo(400);
        assertThat(call("DELETE", "/v1/members/-1", null).statusCode()).isEqualTo(400);
        assertThat(call("DELETE", "/v1/members/99999999999", null).statusCode()).isEqualTo(400);
        assertThat(call("POST", "/v1/leader/transfer", null).statusCode()).isEqualTo(400);
        assertThat(call("POST", "/v1/leader/transfer?to=x", null).statusCode()).isEqualTo(400);
        HttpResponse<byte[]> unknown = call("POST", "/v1/members/7/promote", null);
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(json(unknown).get("error").asText()).contains("node 7 is not a member");
        assertThat(call("DELETE", "/v1/members/7", null).statusCode()).isEqualTo(404);
        assertThat(call("POST", "/v1/leader/transfer?to=7", null).statusCode()).isEqualTo(404);
        assertThat(call("GET", "/v1/members/7", null).statusCode()).isEqualTo(405);
        assertThat(call("PUT", "/v1/members", null).statusCode()).isEqualTo(405);

        // A change in progress: 409.
        consensus.failNextChange(new KeelException.Rejected("MEMBERSHIP_CHANGE_PENDING: configuration at 5 not yet committed"));
        HttpResponse<byte[]> pending = call("POST", "/v1/members", body("{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"learner\":true}"));
        assertThat(pending.statusCode()).isEqualTo(409);
        assertThat(json(pending).get("code").asText()).isEqualTo("MEMBERSHIP_CHANGE_PENDING");
        // Timeouts: 504.
        consensus.failNextChange(new KeelException.Timeout("entry 6 not applied within 5000 ms"));
        assertThat(call("POST", "/v1/members", body("{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"learner\":true}")).statusCode())
                .isEqualTo(504);
        // A learner that does not catch up in time: 503 NOT_CAUGHT_UP, and it stays a learner.
        assertThat(call("POST", "/v1/members", body("{\"id\":2,\"peer\":\"127.0.0.1:9002\",\"learner\":true}")).statusCode())
                .isEqualTo(200);
        for (int i = 0; i < 1000; i++) consensus.failNextChange(new KeelException.Rejected("NOT_CAUGHT_UP: learner 2 is behind"));
        int port = TestPorts.free();
        KvHttpApi quick = new KvHttpApi(1, consensus, sm, Map.of(1, base), KvLimits.DEFAULT, Duration.ofMillis(500),
                new KvMetrics(1, consensus, sm));
        KvHttpServer quickServer = KvHttpServer.start(new InetSocketAddress("127.0.0.1", port), quick);
        HttpResponse<byte[]> slow;
        try {
            slow = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/members/2/promote"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray());
        } finally {
            quickServer.close();
            consensus.clearChangeFaults();
        }
        assertThat(slow.statusCode()).isEqualTo(503);
        assertThat(json(slow).get("code").asText()).isEqualTo("NOT_CAUGHT_UP");
        assertThat(json(slow).get("error").asText()).contains("promote it later", "bin/keel members promote --id 2");
        assertThat(consensus.membership().isLearner(2)).isTrue();
        // A learner that never answered the leader (not running) is not promoted, however short the log.
        consensus.silence(5);
        HttpResponse<byte[]> dead;
        int port2 = TestPorts.free();
        try (KvHttpServer again = KvHttpServer.start(new InetSocketAddress("127.0.0.1", port2), quick)) {
            dead = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port2 + "/v1/members"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"id\":5,\"peer\":\"127.0.0.1:9005\"}")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
        }
        assertThat(dead.statusCode()).isEqualTo(503);
        assertThat(json(dead).get("code").asText()).isEqualTo("NOT_CAUGHT_UP");
        assertThat(json(dead).get("error").asText()).contains("is it running and reachable at 127.0.0.1:9005?");
        assertThat(consensus.membership().isLearner(5)).as("added, but left a learner").isTrue();
        // A learner cannot lead.
        HttpResponse<byte[]> learnerLeads = call("POST", "/v1/leader/transfer?to=2", null);
        assertThat(learnerLeads.statusCode()).isEqualTo(409);
        assertThat(json(learnerLeads).get("code").asText()).isEqualTo("NOT_A_VOTER");
        // No leader: 503 NO_LEADER, nothing changed.
        consensus.setLeader(0);
        HttpResponse<byte[]> noLeader = call("DELETE", "/v1/members/2", null);
        assertThat(noLeader.statusCode()).isEqualTo(503);
        assertThat(json(noLeader).get("code").asText()).isEqualTo("NO_LEADER");
        assertThat(consensus.membership().contains(2)).isTrue();
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
