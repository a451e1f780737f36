package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.http.KvHttpApi;
import dev.keel.kv.http.KvHttpApiTest;
import dev.keel.kv.http.KvHttpServer;
import dev.keel.kv.http.KvMetrics;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerConfig;
import dev.keel.transport.TestPki;
import dev.keel.transport.TlsFiles;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower forwards writes to the leader over HTTPS; the leader's HTTPS server restarts between
 * writes (same port, same node). Each write through the follower must be answered by the leader in
 * its first attempt: a forward sent on a connection the old server had closed would instead come
 * back as 504 (the follower's forward timing out, or failing mid-request), which this test counts.
 * The nodes are assembled from their parts (as {@link KvServer#start} does) so that only the
 * leader's HTTP server restarts, not its Raft node: leadership must stay where it is.
 *
 * <p>Before the fix, the first write after a restart came back 504 in about half the rounds: the old
 * server's connections stayed open at the TCP level after it closed, unread, and the follower's pool
 * still held one.
 */
class KvForwardRestartTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final int RESTARTS = 6;

    @TempDir
    Path root;

    /** One node from its parts, with its HTTP server replaceable. */
    private static final class Node implements AutoCloseable {
        final KvConfig config;
        final RaftServer raft;
        final KvHttpApi api;
        KvHttpServer http;

        Node(KvConfig config) throws IOException {
            this.config = config;
            KvStateMachine sm = new KvStateMachine(config.sessionTtlEntries(), config.maxSessions());
            this.raft = RaftServer.start(config.server(), sm);
            KvServer.RaftConsensus consensus = new KvServer.RaftConsensus(raft);
            this.api = new KvHttpApi(config.nodeId(), consensus, sm, config.httpMembers(), config.limits(), config.requestTimeout(),
                    new KvMetrics(config.nodeId(), consensus, sm), KvServer.forwardContext(config));
            startHttp();
        }

        void startHttp() throws IOException {
            http = KvHttpServer.start(config.httpAddress(), api, config.limits(), config.httpTls().serverContext());
        }

        @Override
        public void close() {
            http.close();
            api.close();
            raft.close();
        }
    }

    private TestPki pki;
    private final Map<Integer, Node> nodes = new HashMap<>();
    private final Map<Integer, InetSocketAddress> peers = new HashMap<>();
    private final Map<Integer, URI> httpMembers = new HashMap<>();

    @BeforeEach
    void startCluster() throws Exception {
        pki = new TestPki(Files.createDirectories(root.resolve("certs")), "cluster");
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("https://127.0.0.1:" + TestPorts.free()));
        }
        for (int id = 1; id <= 3; id++) {
            TestPki.CertKey cert = pki.node(id);
            ServerConfig sc = ServerConfig.builder(id, "kv-forward-test", peers, Files.createDirectories(root.resolve("node" + id)))
                    .sync(false).peerTls(cert.peerTls(pki.caFile)).build();
            KvConfig kc = KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers)
                    .httpTls(new HttpTls(cert.cert(), cert.key(), pki.caFile)).build();
            nodes.put(id, new Node(kc));
        }
    }

    @AfterEach
    void stopCluster() {
        for (Node n : nodes.values()) n.close();
    }

    private int awaitLeader() {
        return KvTestSupport.await("a leader all nodes agree on", DEADLINE, () -> {
            int leader = nodes.get(1).raft.status().leaderId();
            for (Node n : nodes.values()) if (n.raft.status().leaderId() != leader) return null;
            return leader == 0 ? null : leader;
        });
    }

    @Test
    void forwardedWritesSucceedAtOnceAfterTheLeadersHttpsServerRestarts() throws Exception {
        int leader = awaitLeader();
        int follower = leader == 1 ? 2 : 1;
        HttpClient client = HttpClient.newBuilder().sslContext(TlsFiles.jdkContext(pki.caFile, "ca", null, null, null, null))
                .version(HttpClient.Version.HTTP_1_1).build();
        List<String> failures = new ArrayList<>();
        try (client) {
            for (int round = 0; round <= RESTARTS; round++) {
                if (round > 0) {
                    Node l = nodes.get(leader);
                    l.http.close(); // closes the follower's pooled forward connection from the server's side
                    l.startHttp();
                }
                // Two writes a round: the first after the restart, the second on the connection it opened.
                for (int i = 0; i < 2; i++) {
                    String key = "r" + round + "-" + i;
                    // The client waits longer than the follower's forward timeout, so a hung forward
                    // shows as the follower's 504, not as this client giving up first.
                    HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create(httpMembers.get(follower) + "/v1/kv/" + key))
                            .PUT(HttpRequest.BodyPublishers.ofString(key))
                            .timeout(nodes.get(follower).config.requestTimeout().plusSeconds(10)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (put.statusCode() != 200) failures.add(key + ": " + put.statusCode() + " " + put.body());
                }
                assertThat(nodes.get(leader).raft.status().leaderId()).as("leadership must not move during the test").isEqualTo(leader);
            }
        }
        assertThat(failures).as("forwarded writes not answered 200 in their first attempt").isEmpty();
        // They really went through the follower's forwarding.
        assertThat(forwardedCount(scrape(follower))).isGreaterThanOrEqualTo(2.0 * (RESTARTS + 1));
        // And the leader has every value.
        for (int round = 0; round <= RESTARTS; round++) {
            for (int i = 0; i < 2; i++) {
                String key = "r" + round + "-" + i;
                HttpResponse<String> get = HttpClient.newBuilder().sslContext(TlsFiles.jdkContext(pki.caFile, "ca", null, null, null, null))
                        .build().send(HttpRequest.newBuilder(URI.create(httpMembers.get(leader) + "/v1/kv/" + key)).build(),
                                HttpResponse.BodyHandlers.ofString());
                assertThat(get.body()).isEqualTo(key);
            }
        }
    }

    private String scrape(int id) throws Exception {
        try (HttpClient c = HttpClient.newBuilder().sslContext(TlsFiles.jdkContext(pki.caFile, "ca", null, null, null, null)).build()) {
            return c.send(HttpRequest.newBuilder(URI.create(httpMembers.get(id) + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }

    /** The keel.http.forwarded counter's value in a Prometheus scrape. */
    private static double forwardedCount(String scrape) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith("keel_http_forwarded_total")) return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        throw new AssertionError("no keel_http_forwarded_total counter in\n" + scrape);
    }
}
