package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.client.Results.WriteResult;
import dev.keel.kv.http.KvHttpApiTest;
import dev.keel.server.ServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real KV nodes on loopback: Raft over TCP, HTTP on ephemeral ports, data in temp dirs.
 * Waits poll with deadlines; nothing sleeps to synchronise.
 */
class KvClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dataRoot;

    private final Map<Integer, KvServer> servers = new HashMap<>();
    private final Map<Integer, KvConfig> configs = new HashMap<>();
    private final Map<Integer, URI> httpMembers = new HashMap<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(1)).build();

    @BeforeEach
    void startCluster() throws IOException {
        Map<Integer, InetSocketAddress> peers = new HashMap<>();
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("http://127.0.0.1:" + TestPorts.free()));
        }
        for (int id = 1; id <= 3; id++) {
            Path dir = Files.createDirectories(dataRoot.resolve("node" + id));
            // Snapshots every 25 entries, so that every test also runs with log compaction.
            ServerConfig sc = ServerConfig.builder(id, "kv-test", peers, dir).sync(false).snapshotEveryEntries(25).build();
            KvConfig config = KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers)
                    .build();
            configs.put(id, config);
            servers.put(id, KvServer.start(config));
        }
    }

    @AfterEach
    void stopCluster() {
        for (KvServer s : servers.values()) s.close();
        http.close();
    }

    static <T> T await(String what, Supplier<T> probe) {
        return KvTestSupport.await(what, DEADLINE, probe);
    }

    /** The id of the leader every live node agrees on. */
    int awaitLeader() {
        return KvTestSupport.awaitLeader(servers, DEADLINE);
    }

    List<Integer> followers(int leader) {
        List<Integer> out = new ArrayList<>(servers.keySet());
        out.remove(Integer.valueOf(leader));
        return out;
    }

    HttpResponse<byte[]> call(int node, String method, String path, byte[] body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(httpMembers.get(node) + path)).timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(method + " " + path + " on node " + node + " failed", e);
        }
    }

    static JsonNode json(HttpResponse<byte[]> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void writesThroughAnyNodeAndLinearizableReadsFromEveryNode() {
        awaitLeader();
        for (int i = 0; i < 30; i++) {
            int node = 1 + i % 3;
            HttpResponse<byte[]> put = call(node, "PUT", "/v1/kv/key" + i, ("value" + i).getBytes(UTF_8));
            assertThat(put.statusCode()).as("put %d through node %d: %s", i, node, new String(put.body(), UTF_8)).isEqualTo(200);
            // Linearizable: a read through any node right after the write sees it.
            int reader = 1 + (i + 1) % 3;
            HttpResponse<byte[]> get = call(reader, "GET", "/v1/kv/key" + i, null);
            assertThat(get.statusCode()).isEqualTo(200);
            assertThat(new String(get.body(), UTF_8)).isEqualTo("value" + i);
        }
        for (int node = 1; node <= 3; node++) {
            JsonNode scan = json(call(node, "GET", "/v1/kv?prefix=key&limit=100", null));
            assertThat(scan.get("items").size()).isEqualTo(30);
        }
        // Every node applied the same revisions.
        long revision = json(call(1, "GET", "/v1/kv?prefix=key&limit=1", null)).get("revision").asLong();
        for (int node = 1; node <= 3; node++) {
            int n = node;
            await("node " + n + " applied revision " + revision,
                    () -> servers.get(n).stateMachine().view().revision() == revision);
        }
        JsonNode status = json(call(2, "GET", "/v1/status", null));
        assertThat(status.get("members").size()).isEqualTo(3);
        assertThat(status.get("leader").asInt()).isPositive();
        assertThat(call(3, "GET", "/health", null).statusCode()).isEqualTo(200);
        assertThat(new String(call(1, "GET", "/metrics", null).body(), UTF_8)).contains("keel_commit_latency_seconds");
    }

    @Test
    void aRetriedWriteWithTheSameSessionAppliesOnceThroughAnyNode() {
        int leader = awaitLeader();
        String[] session = {"Keel-Client-Id", "12345", "Keel-Sequence", "1"};
        List<JsonNode> answers = new ArrayList<>();
        for (int node : List.of(followers(leader).get(0), followers(leader).get(1), leader)) {
            HttpResponse<byte[]> r = call(node, "PUT", "/v1/kv/once", "1".getBytes(UTF_8), session);
            assertThat(r.statusCode()).isEqualTo(200);
            answers.add(json(r));
        }
        assertThat(answers).allMatch(a -> a.equals(answers.get(0)));
        HttpResponse<byte[]> get = call(leader, "GET", "/v1/kv/once", null);
        assertThat(get.headers().firstValue("Keel-Version")).contains("1");
        // The next sequence applies.
        HttpResponse<byte[]> next = call(leader, "PUT", "/v1/kv/once", "2".getBytes(UTF_8), "Keel-Client-Id", "12345", "Keel-Sequence", "2");
        assertThat(json(next).get("version").asLong()).isEqualTo(2);
    }

    @Test
    void conditionalWritesThroughAFollowerAnswer412() {
        int follower = followers(awaitLeader()).get(0);
        assertThat(call(follower, "PUT", "/v1/kv/lock", "me".getBytes(UTF_8), "If-None-Match", "*").statusCode()).isEqualTo(200);
        HttpResponse<byte[]> taken = call(follower, "PUT", "/v1/kv/lock", "you".getBytes(UTF_8), "If-None-Match", "*");
        assertThat(taken.statusCode()).isEqualTo(412);
        long revision = json(taken).get("revision").asLong();
        assertThat(revision).isPositive();
        assertThat(taken.headers().firstValue("ETag")).contains("\"" + revision + "\"");
        assertThat(call(follower, "PUT", "/v1/kv/lock", "you".getBytes(UTF_8), "If-Match", "\"" + (revision + 100) + "\"").statusCode())
                .isEqualTo(412);
        assertThat(call(follower, "DELETE", "/v1/kv/lock", null, "If-Match", "\"" + revision + "\"").statusCode()).isEqualTo(200);
        assertThat(call(follower, "GET", "/v1/kv/lock", null).statusCode()).isEqualTo(404);
    }

    @Test
    void staleReadsCatchUpAndLinearizableReadsNeverLag() {
        int leader = awaitLeader();
        int follower = followers(leader).get(0);
        call(leader, "PUT", "/v1/kv/s", "1".getBytes(UTF_8));
        // Linearizable on the follower: at once.
        assertThat(new String(call(follower, "GET", "/v1/kv/s", null).body(), UTF_8)).isEqualTo("1");
        // Stale on the follower: it may lag, but it catches up.
        call(leader, "PUT", "/v1/kv/s", "2".getBytes(UTF_8));
        await("a stale read on node " + follower + " to catch up", () -> {
            HttpResponse<byte[]> r = call(follower, "GET", "/v1/kv/s?consistency=stale", null);
            return r.statusCode() == 200 && new String(r.body(), UTF_8).equals("2");
        });
    }

    @Test
    void aRestartedFollowerCatchesUpFromTheLeadersSnapshot() throws IOException {
        int leader = awaitLeader();
        int follower = followers(leader).get(0);
        servers.remove(follower).close();
        for (int i = 0; i < 120; i++) {
            assertThat(call(leader, "PUT", "/v1/kv/r" + i, ("v" + i).getBytes(UTF_8)).statusCode()).isEqualTo(200);
        }
        // With a session too, so the session table travels in the snapshot.
        call(leader, "PUT", "/v1/kv/sess", "1".getBytes(UTF_8), "Keel-Client-Id", "77", "Keel-Sequence", "1");
        long revision = servers.get(leader).stateMachine().view().revision();
        await("the leader to compact its log past the follower", () -> servers.get(leader).raft().status().snapshotIndex() > 25);

        servers.put(follower, KvServer.start(configs.get(follower)));
        await("the restarted follower to reach revision " + revision,
                () -> servers.get(follower).stateMachine().view().revision() >= revision);
        KvServer f = servers.get(follower);
        assertThat(f.stateMachine().view().keyCount()).isEqualTo(121);
        assertThat(f.stateMachine().view().lastSequence(77)).isEqualTo(1);
        HttpResponse<byte[]> stale = call(follower, "GET", "/v1/kv/r119?consistency=stale", null);
        assertThat(new String(stale.body(), UTF_8)).isEqualTo("v119");
        // The retried session write through the restarted follower still applies once.
        HttpResponse<byte[]> retry = call(follower, "PUT", "/v1/kv/sess", "1".getBytes(UTF_8), "Keel-Client-Id", "77", "Keel-Sequence", "1");
        assertThat(json(retry).get("version").asLong()).isEqualTo(1);
        assertThat(new String(call(follower, "GET", "/metrics", null).body(), UTF_8)).contains("keel_snapshot_index");
    }

    @Test
    void whenTheLeaderStopsANewOneIsElectedAndClientWritesContinue() {
        int leader = awaitLeader();
        List<URI> endpoints = new ArrayList<>(httpMembers.values());
        try (KeelClient client = KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(20)).build()) {
            List<String> acknowledged = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                client.put("before" + i, "v" + i);
                acknowledged.add("before" + i);
            }
            servers.remove(leader).close();
            int newLeader = awaitLeader();
            assertThat(newLeader).isNotEqualTo(leader);
            for (int i = 0; i < 10; i++) {
                WriteResult r = client.put("after" + i, "v" + i);
                assertThat(r.revision()).isPositive();
                acknowledged.add("after" + i);
            }
            for (String key : acknowledged) {
                assertThat(client.get(key).valueAsString()).isEqualTo("v" + key.replaceAll("\\D", ""));
            }
            for (int node : servers.keySet()) {
                HttpResponse<byte[]> r = call(node, "GET", "/v1/kv/after9", null);
                assertThat(r.statusCode()).isEqualTo(200);
            }
            // A conditional write through the client after failover still reports the current revision.
            long rev = client.get("after0").modRevision();
            try {
                client.putIfRevision("after0".getBytes(UTF_8), "x".getBytes(UTF_8), rev + 1000);
                throw new AssertionError("expected a failed condition");
            } catch (KeelClientException.ConditionFailed e) {
                assertThat(e.currentRevision()).isEqualTo(rev);
            }
        }
    }
}
