package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.core.Role;
import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.Results;
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
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership over the HTTP API with real KV nodes on loopback: grow 3 to 4 with a node that starts
 * outside the cluster and knows only its own HTTP address (so every forward it makes, and every
 * forward to it, goes through the replicated address book), remove an original node, move
 * leadership to the new one, and read every write back. Waits poll with deadlines.
 */
class KvMembershipTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path dataRoot;

    private final Map<Integer, KvServer> servers = new HashMap<>();
    private final Map<Integer, KvConfig> configs = new HashMap<>();
    private final Map<Integer, InetSocketAddress> peers = new TreeMap<>();
    private final Map<Integer, URI> httpMembers = new TreeMap<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(1)).build();

    @BeforeEach
    void startThree() throws IOException {
        for (int id = 1; id <= 4; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("http://127.0.0.1:" + TestPorts.free()));
        }
        Map<Integer, InetSocketAddress> bootstrap = new TreeMap<>(peers);
        bootstrap.remove(4);
        Map<Integer, URI> bootstrapHttp = new TreeMap<>(httpMembers);
        bootstrapHttp.remove(4);
        for (int id = 1; id <= 3; id++) start(id, bootstrap, bootstrapHttp, false);
    }

    void start(int id, Map<Integer, InetSocketAddress> members, Map<Integer, URI> http, boolean joining) throws IOException {
        Path dir = Files.createDirectories(dataRoot.resolve("node" + id));
        ServerConfig sc = ServerConfig.builder(id, "kv-members", members, dir).sync(false).snapshotEveryEntries(25)
                .joining(joining).build();
        KvConfig config = KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), http).build();
        configs.put(id, config);
        servers.put(id, KvServer.start(config));
    }

    @AfterEach
    void stop() {
        for (KvServer s : servers.values()) s.close();
        http.close();
    }

    static <T> T await(String what, Supplier<T> probe) {
        return KvTestSupport.await(what, DEADLINE, probe);
    }

    /** The leader every live member agrees on. */
    int awaitLeader() {
        return KvTestSupport.awaitLeader(servers, DEADLINE);
    }

    HttpResponse<byte[]> call(int node, String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(httpMembers.get(node) + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(method + " " + path + " on node " + node + " failed", e);
        }
    }

    /** A membership request, retried while a change is still in progress (409) or the leader moves (503). */
    JsonNode change(int node, String method, String path, String body) {
        return await(method + " " + path + " through node " + node, () -> {
            HttpResponse<byte[]> r = call(node, method, path, body);
            if (r.statusCode() == 200) return json(r);
            String code = json(r).path("code").asText();
            if ((r.statusCode() == 409 && code.equals("MEMBERSHIP_CHANGE_PENDING")) || code.equals("NO_LEADER")
                    || code.equals("REJECTED")) {
                return null;
            }
            throw new AssertionError(method + " " + path + ": HTTP " + r.statusCode() + " " + new String(r.body(), UTF_8));
        });
    }

    static JsonNode json(HttpResponse<byte[]> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static List<Integer> ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asInt).toList();
    }

    void put(int node, String key, String value, List<String> written) {
        HttpResponse<byte[]> r = call(node, "PUT", "/v1/kv/" + key, value);
        assertThat(r.statusCode()).as("put %s through node %d: %s", key, node, new String(r.body(), UTF_8)).isEqualTo(200);
        written.add(key);
    }

    double forwarded(int node) {
        return servers.get(node).metrics().registry().get("keel.http.forwarded").counter().count();
    }

    @Test
    void growThroughHttpWriteThroughTheNewNodeRemoveAnOriginalAndTransferLeadership() throws IOException {
        int leader = awaitLeader();
        List<String> written = new ArrayList<>();
        for (int i = 0; i < 10; i++) put(1 + i % 3, "before" + i, "v", written);

        // Node 4 starts outside the cluster: it knows the members' peer addresses but only its own HTTP address.
        start(4, peers, Map.of(4, httpMembers.get(4)), true);
        assertThat(servers.get(4).raft().status().membership().contains(4)).isFalse();

        // Add it as a voter through a follower (forwarded to the leader): learner first, then promoted once caught up.
        int follower = leader % 3 + 1;
        JsonNode added = change(follower, "POST", "/v1/members", "{\"id\":4,\"peer\":\"127.0.0.1:" + peers.get(4).getPort()
                + "\",\"http\":\"" + httpMembers.get(4) + "\",\"learner\":false}");
        assertThat(ints(added.get("voters"))).containsExactly(1, 2, 3, 4);
        long addedAt = servers.get(awaitLeader()).raft().status().commitIndex();
        for (int node = 1; node <= 4; node++) {
            int n = node;
            JsonNode members = await("node " + n + " to list 4 voters", () -> {
                JsonNode m = json(call(n, "GET", "/v1/members", null));
                return ints(m.get("voters")).equals(List.of(1, 2, 3, 4)) ? m : null;
            });
            assertThat(ints(members.get("learners"))).isEmpty();
            assertThat(ints(members.get("outgoing"))).isEmpty();
            assertThat(members.get("members")).hasSize(4);
            for (JsonNode m : members.get("members")) {
                int id = m.get("id").asInt();
                assertThat(m.get("role").asText()).isEqualTo("voter");
                assertThat(m.get("peer").asText()).isEqualTo("127.0.0.1:" + peers.get(id).getPort());
                assertThat(m.get("http").asText()).as("node %d's HTTP address as node %d knows it", id, n)
                        .isEqualTo(httpMembers.get(id).toString());
            }
        }

        // Write through node 4, a follower that forwards to the leader's replicated HTTP address.
        assertThat(servers.get(4).raft().status().role()).isEqualTo(Role.FOLLOWER);
        double before = forwarded(4);
        for (int i = 0; i < 10; i++) put(4, "via4-" + i, "v", written);
        assertThat(forwarded(4)).as("node 4 forwarded its writes").isGreaterThanOrEqualTo(before + 10);

        // Remove node 1 (perhaps the leader: it steps down once the change commits).
        int via = leader == 2 ? 3 : 2;
        JsonNode removed = change(via, "DELETE", "/v1/members/1", null);
        assertThat(ints(removed.get("voters"))).doesNotContain(1);
        servers.remove(1).close();
        await("node 2 to list voters 2, 3, 4",
                () -> ints(json(call(2, "GET", "/v1/members", null)).get("voters")).equals(List.of(2, 3, 4)));
        awaitLeader();
        assertThat(call(2, "DELETE", "/v1/members/1", null).statusCode()).as("a removed node is unknown").isEqualTo(404);

        // Move leadership to node 4, then write through the others: they forward to node 4 by its replicated address.
        JsonNode moved = change(2, "POST", "/v1/leader/transfer?to=4", null);
        assertThat(moved.get("leader").asInt()).isEqualTo(4);
        assertThat(awaitLeader()).isEqualTo(4);
        for (int i = 0; i < 10; i++) put(2 + i % 2, "after" + i, "v", written);

        // Node 3 restarts from a snapshot taken after node 4 joined: the address book, HTTP addresses included, came with it.
        for (int i = 0; i < 30; i++) put(4, "more" + i, "v", written);
        await("node 3 to snapshot past node 4's addition", () -> servers.get(3).raft().status().snapshotIndex() >= addedAt);
        servers.remove(3).close();
        servers.put(3, KvServer.start(configs.get(3)));
        assertThat(servers.get(3).raft().memberAddresses().get(4).http()).isEqualTo(httpMembers.get(4).toString());
        assertThat(servers.get(3).raft().memberAddresses().get(4).peer()).isEqualTo(peers.get(4));
        await("node 3 to rejoin", () -> awaitLeader() == 4);
        put(3, "after-restart", "v", written);

        // Every write is readable from every remaining node, and through the client.
        for (int node : List.of(2, 3, 4)) {
            for (String key : written) {
                HttpResponse<byte[]> r = call(node, "GET", "/v1/kv/" + key, null);
                assertThat(r.statusCode()).as("%s on node %d", key, node).isEqualTo(200);
                assertThat(new String(r.body(), UTF_8)).isEqualTo("v");
            }
        }

        try (KeelClient client = KeelClient.builder(List.of(httpMembers.get(2))).operationTimeout(Duration.ofSeconds(20)).build()) {
            Results.Members m = client.members();
            assertThat(m.voters()).containsExactly(2, 3, 4);
            assertThat(m.leader()).isEqualTo(4);
            assertThat(m.member(4).orElseThrow().http()).isEqualTo(httpMembers.get(4).toString());
            assertThat(client.get("via4-9").valueAsString()).isEqualTo("v");
        }
    }
}
