package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.client.KeelClient;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GET /v1/status/stream on a real 3-node cluster (Raft over TCP, HTTP on loopback): every node's
 * stream reports the leader, commits as they happen, the leader's per-follower lag, and a failover.
 */
class StatusStreamClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dataRoot;

    private final Map<Integer, KvServer> servers = new HashMap<>();
    private final Map<Integer, URI> httpMembers = new HashMap<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(1)).build();
    private final List<Stream<String>> open = new ArrayList<>();

    @BeforeEach
    void startCluster() throws IOException {
        Map<Integer, InetSocketAddress> peers = new HashMap<>();
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("http://127.0.0.1:" + TestPorts.free()));
        }
        for (int id = 1; id <= 3; id++) {
            Path dir = Files.createDirectories(dataRoot.resolve("node" + id));
            ServerConfig sc = ServerConfig.builder(id, "kv-test", peers, dir).sync(false).build();
            servers.put(id, KvServer.start(KvConfig.builder(sc,
                    new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers).build()));
        }
    }

    @AfterEach
    void stopCluster() {
        for (Stream<String> s : open) s.close();
        for (KvServer s : servers.values()) s.close();
        http.close();
    }

    /** One node's stream: every status event's JSON, in order, with the time it arrived. */
    private final class Events {
        final List<JsonNode> events = new CopyOnWriteArrayList<>();
        final List<Long> arrivedNanos = new CopyOnWriteArrayList<>();
        final HttpResponse<Stream<String>> response;
        volatile boolean ended;

        Events(int node) throws Exception {
            HttpRequest req = HttpRequest.newBuilder(URI.create(httpMembers.get(node) + "/v1/status/stream"))
                    .header("Origin", "http://127.0.0.1:7070").build();
            response = http.send(req, HttpResponse.BodyHandlers.ofLines());
            open.add(response.body());
            Thread.ofVirtual().start(() -> {
                try {
                    String event = null;
                    for (String line : (Iterable<String>) response.body()::iterator) {
                        if (line.startsWith("event: ")) event = line.substring(7);
                        if (line.startsWith("data: ") && "status".equals(event)) {
                            events.add(JSON.readTree(line.substring(6)));
                            arrivedNanos.add(System.nanoTime());
                        }
                    }
                } catch (Exception e) {
                    // The stream broke (the node stopped, or the test closed it).
                }
                ended = true;
            });
        }

        JsonNode await(String what, Predicate<JsonNode> p) {
            return KvTestSupport.await(what, DEADLINE, () -> {
                for (JsonNode e : events) if (p.test(e)) return e;
                return null;
            });
        }

        JsonNode last() {
            return events.isEmpty() ? null : events.get(events.size() - 1);
        }
    }

    @Test
    void streamsReportLeaderCommitsLagAndFailover() throws Exception {
        int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
        Map<Integer, Events> streams = new HashMap<>();
        for (int id = 1; id <= 3; id++) streams.put(id, new Events(id));

        Events ls = streams.get(leader);
        assertThat(ls.response.statusCode()).isEqualTo(200);
        assertThat(ls.response.headers().firstValue("Content-Type")).hasValue("text/event-stream; charset=utf-8");
        assertThat(ls.response.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");

        for (int id = 1; id <= 3; id++) {
            JsonNode e = streams.get(id).await("n" + id + " reports leader " + leader, j -> j.get("leader").asInt() == leader);
            assertThat(e.get("id").asInt()).isEqualTo(id);
            assertThat(e.get("role").asText()).isEqualTo(id == leader ? "LEADER" : "FOLLOWER");
            assertThat(e.get("voters")).hasSize(3);
        }
        JsonNode leaderView = ls.await("the leader's followers", j -> j.get("followers").size() == 2);
        assertThat(leaderView.get("leaderChanges").findValuesAsText("leader")).contains(Integer.toString(leader));

        // Writes: every stream pushes the new commit index without being asked.
        long t0 = System.nanoTime();
        int before = ls.events.size();
        try (KeelClient client = KeelClient.builder(new ArrayList<>(httpMembers.values())).build()) {
            for (int i = 0; i < 200; i++) client.put("k" + i, "v" + i);
        }
        long committed = servers.get(leader).raft().status().commitIndex();
        for (int id = 1; id <= 3; id++) {
            streams.get(id).await("n" + id + " reports commit " + committed,
                    j -> j.get("commitIndex").asLong() >= committed && j.get("appliedIndex").asLong() >= committed);
        }
        JsonNode caughtUp = ls.await("every follower's lag back to 0", j -> j.get("commitIndex").asLong() >= committed
                && j.get("followers").size() == 2 && j.get("followers").findValuesAsText("lag").stream().allMatch("0"::equals));
        assertThat(caughtUp.get("followers").findValuesAsText("matchIndex"))
                .allSatisfy(m -> assertThat(Long.parseLong(m)).isGreaterThanOrEqualTo(committed));
        // Rate cap: 200 writes change the leader's status hundreds of times, but it pushes at most
        // one event per interval (100 ms), plus one for the boundaries.
        long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
        int sent = ls.events.size() - before;
        assertThat(sent).as("events in " + elapsedMs + " ms").isGreaterThan(0).isLessThanOrEqualTo((int) (elapsedMs / 100) + 2);

        // Failover: the leader stops; the others' streams report the new leader and the change.
        long oldTerm = leaderView.get("term").asLong();
        servers.remove(leader).close();
        KvTestSupport.await("the stopped leader's stream ends", DEADLINE, () -> ls.ended);
        int newLeader = KvTestSupport.awaitLeader(servers, DEADLINE);
        for (int id : servers.keySet()) {
            JsonNode e = streams.get(id).await("n" + id + " reports the new leader " + newLeader,
                    j -> j.get("leader").asInt() == newLeader && j.get("term").asLong() > oldTerm);
            List<JsonNode> changes = new ArrayList<>();
            e.get("leaderChanges").forEach(changes::add);
            assertThat(changes).anySatisfy(c -> {
                assertThat(c.get("leader").asInt()).isEqualTo(newLeader);
                assertThat(c.get("term").asLong()).isGreaterThan(oldTerm);
            });
        }
        JsonNode nl = streams.get(newLeader).await("the new leader's single follower", j -> j.get("role").asText().equals("LEADER")
                && j.get("followers").size() == 2);
        assertThat(nl.get("followers").findValuesAsText("id")).contains(Integer.toString(leader));
    }

    @Test
    void otherRequestsOnTheSameServerStillWork() throws Exception {
        KvTestSupport.awaitLeader(servers, DEADLINE);
        Events s = new Events(1);
        s.await("a first event", j -> true);
        HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1) + "/v1/status")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(status.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(status.body()).get("id").asInt()).isEqualTo(1);
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1) + "/v1/status/stream"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isIn(404, 405);
    }
}
