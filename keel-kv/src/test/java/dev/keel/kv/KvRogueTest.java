package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.http.KvHttpApiTest;
import dev.keel.server.ServerConfig;
import dev.keel.transport.Handshake;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rogue process at every port of a running 3-node cluster: garbage, a valid-looking hello from an
 * unknown node id or from another cluster, a known node's hello followed by a bad frame, at each
 * node's peer port; garbage and malformed HTTP at each node's HTTP port. Nothing changes (the data
 * is the same, the cluster keeps committing, the leader stays) and every attempt is counted in the
 * metrics each node exposes on /metrics.
 */
class KvRogueTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path root;

    private final Map<Integer, KvServer> servers = new HashMap<>();

    @AfterEach
    void stop() {
        for (KvServer s : servers.values()) s.close();
    }

    /** Writes {@code bytes} and reads until the node closes the connection (with a timeout: a hang fails). */
    private static void rogue(InetSocketAddress at, byte[] bytes) throws IOException {
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(15_000);
            try {
                s.getOutputStream().write(bytes);
                s.getOutputStream().flush();
                InputStream in = s.getInputStream();
                while (in.read() >= 0) {
                    // whatever it answers, until it closes
                }
            } catch (SocketException reset) {
                // closed with our bytes unread: closed all the same
            }
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double metric(String scrape, String name) {
        double sum = 0;
        boolean found = false;
        for (String line : scrape.split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                found = true;
            }
        }
        assertThat(found).as(name + " on /metrics").isTrue();
        return sum;
    }

    @Test
    void garbageStrangersAndOtherClustersChangeNothingAndAreCounted() throws Exception {
        Map<Integer, InetSocketAddress> peers = new HashMap<>();
        Map<Integer, URI> http = new HashMap<>();
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            http.put(id, URI.create("http://127.0.0.1:" + TestPorts.free()));
        }
        for (int id = 1; id <= 3; id++) {
            ServerConfig sc = ServerConfig.builder(id, "rogue-test", peers, Files.createDirectories(root.resolve("n" + id))).sync(false).build();
            servers.put(id, KvServer.start(KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", http.get(id).getPort()), http).build()));
        }
        int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
        long term = servers.get(leader).raft().status().term();
        try (KeelClient c = KeelClient.builder(List.copyOf(http.values())).build()) {
            for (int i = 0; i < 20; i++) c.put("k" + i, "v" + i);

            Random random = new Random(42);
            byte[] garbage = new byte[4096];
            random.nextBytes(garbage);
            byte[] badFrame = ByteBuffer.allocate(9).putInt(5).put((byte) 99).putInt(0).array(); // unknown message type
            for (int id = 1; id <= 3; id++) {
                InetSocketAddress peer = peers.get(id);
                int known = id == 1 ? 2 : 1;
                rogue(peer, garbage);                                                      // not a hello
                rogue(peer, Handshake.encodeHello("rogue-test", 99));                      // an unknown node id
                rogue(peer, Handshake.encodeHello("another-cluster", known));              // another cluster's id
                rogue(peer, concat(Handshake.encodeHello("rogue-test", known), badFrame)); // a known id, then a bad frame
                InetSocketAddress httpAddress = servers.get(id).httpAddress();
                rogue(httpAddress, garbage);
                rogue(httpAddress, "GET /v1/kv/k1 HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n".getBytes(ISO_8859_1));
                rogue(httpAddress, ("GET /v1/kv/k1 HTTP/1.1\r\nX: " + "y".repeat(70_000) + "\r\n\r\n").getBytes(ISO_8859_1));
            }

            // Nothing changed: the same data, the same leader and term, and the cluster still commits.
            for (int i = 0; i < 20; i++) assertThat(c.get("k" + i).valueAsString()).isEqualTo("v" + i);
            assertThat(c.scan(new byte[0], 100).items()).hasSize(20);
            assertThat(c.put("after", "ok").revision()).isPositive();
            assertThat(KvTestSupport.awaitLeader(servers, DEADLINE)).isEqualTo(leader);
            assertThat(servers.get(leader).raft().status().term()).isEqualTo(term);

            // Counted, on every node's /metrics.
            try (var client = java.net.http.HttpClient.newHttpClient()) {
                for (int id = 1; id <= 3; id++) {
                    int node = id;
                    // The rogue sees its connection closed before the node has counted it: wait for the count.
                    KvTestSupport.await("node " + node + "'s counters", DEADLINE, () -> servers.get(node).raft().transport().stats()
                            .inbound().handshakeFailures() >= 3);
                    String scrape = client.send(java.net.http.HttpRequest.newBuilder(URI.create(http.get(id) + "/metrics")).build(),
                            java.net.http.HttpResponse.BodyHandlers.ofString()).body();
                    assertThat(metric(scrape, "keel_peer_handshake_failures_total")).as("node %d", id).isGreaterThanOrEqualTo(3);
                    assertThat(metric(scrape, "keel_peer_decode_errors_total")).as("node %d", id).isGreaterThanOrEqualTo(1);
                    assertThat(metric(scrape, "keel_http_rejected_total")).as("node %d", id).isGreaterThanOrEqualTo(2);
                }
            }
        }
    }
}
