package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.http.KvHttpApiTest;
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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real KV nodes with mutual TLS between peers and HTTPS for clients, certificates from a test
 * CA: the client, forwarding to the leader and certificate rotation all over real TLS.
 */
class KvTlsClusterTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path root;

    private TestPki pki;
    private final Map<Integer, KvServer> servers = new HashMap<>();
    private final Map<Integer, InetSocketAddress> peers = new HashMap<>();
    private final Map<Integer, URI> httpMembers = new HashMap<>();

    @BeforeEach
    void startCluster() throws Exception {
        pki = new TestPki(Files.createDirectories(root.resolve("certs")), "cluster");
        for (int attempt = 1; ; attempt++) {
            for (int id = 1; id <= 3; id++) {
                peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
                httpMembers.put(id, URI.create("https://127.0.0.1:" + TestPorts.free()));
            }
            try {
                for (int id = 1; id <= 3; id++) servers.put(id, KvServer.start(config(id, pki.node(id))));
                return;
            } catch (java.io.UncheckedIOException | IOException e) {
                // A free port can be taken between probing it and binding it (another connection's
                // ephemeral port): start again on new ports.
                stopCluster();
                servers.clear();
                if (attempt == 3 || !String.valueOf(e.getMessage()).contains("Address already in use")) throw e;
            }
        }
    }

    private KvConfig config(int id, TestPki.CertKey cert) throws IOException {
        Path dir = Files.createDirectories(root.resolve("node" + id));
        ServerConfig sc = ServerConfig.builder(id, "kv-tls-test", peers, dir).sync(false)
                .peerTls(cert.peerTls(pki.caFile)).build();
        return KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers)
                .httpTls(new HttpTls(cert.cert(), cert.key(), pki.caFile)).build();
    }

    @AfterEach
    void stopCluster() {
        for (KvServer s : servers.values()) s.close();
    }

    private KeelClient client(Path ca) {
        // KeelClient's default budget of 30 s per call (KvForwardRestartTest checks that a forward
        // to a restarted leader succeeds in its first attempt).
        KeelClient.Builder b = KeelClient.builder(List.copyOf(httpMembers.values())).operationTimeout(Duration.ofSeconds(30));
        if (ca != null) b.trustedCa(ca);
        return b.build();
    }

    @Test
    void aClientTrustingTheClusterCaWritesAndReadsOverHttps() {
        KvTestSupport.awaitLeader(servers, DEADLINE);
        try (KeelClient c = client(pki.caFile)) {
            assertThat(c.put("greeting", "hello").revision()).isPositive();
            assertThat(c.get("greeting").valueAsString()).isEqualTo("hello");
        }
    }

    @Test
    void aWriteToAFollowerIsForwardedToTheLeaderOverHttps() throws Exception {
        int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
        int follower = leader == 1 ? 2 : 1;
        // The JDK's client, trusting the CA: one request to the follower, which forwards it over HTTPS.
        HttpClient http = HttpClient.newBuilder().sslContext(TlsFiles.jdkContext(pki.caFile, "ca", null, null, null, null))
                .version(HttpClient.Version.HTTP_1_1).build();
        try (http) {
            HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(follower) + "/v1/kv/fwd"))
                    .PUT(HttpRequest.BodyPublishers.ofString("via-follower")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        }
        try (KeelClient c = client(pki.caFile)) {
            assertThat(c.get("fwd").valueAsString()).isEqualTo("via-follower");
        }
    }

    @Test
    void aClientThatDoesNotTrustTheCaFailsPromptlyWithATlsError() throws Exception {
        KvTestSupport.awaitLeader(servers, DEADLINE);
        TestPki other = new TestPki(Files.createDirectories(root.resolve("other")), "other");
        for (Path ca : Arrays.asList(null, other.caFile)) { // the JDK's default trust store; another CA
            KeelClient.Builder b = KeelClient.builder(List.copyOf(httpMembers.values())).operationTimeout(Duration.ofSeconds(2))
                    .backoff(Duration.ofMillis(10), Duration.ofMillis(100));
            if (ca != null) b.trustedCa(ca);
            long start = System.nanoTime();
            try (KeelClient c = b.build()) {
                assertThatThrownBy(() -> c.put("k", "v"))
                        .isInstanceOf(KeelClientException.Unavailable.class)
                        .satisfies(e -> assertThat(e.getMessage()).contains("unreachable").containsAnyOf("PKIX", "certificat"));
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        }
    }

    @Test
    void certificatesRotateByRestartingOneNodeAtATime() throws Exception {
        KvTestSupport.awaitLeader(servers, DEADLINE);
        try (KeelClient c = client(pki.caFile)) {
            c.put("before", "1");
            List<Integer> order = new ArrayList<>(List.of(1, 2, 3));
            for (int id : order) {
                // New key pair and certificate from the same CA, new files; the others still run the old ones.
                servers.remove(id).close();
                servers.put(id, KvServer.start(config(id, pki.node(id, "-rotated"))));
                c.put("after-" + id, "x"); // the cluster keeps serving with a mix of old and new certificates
            }
            KvTestSupport.awaitLeader(servers, DEADLINE);
            assertThat(c.get("before").valueAsString()).isEqualTo("1");
            for (int id : order) assertThat(c.get("after-" + id).valueAsString()).isEqualTo("x");
        }
    }
}
