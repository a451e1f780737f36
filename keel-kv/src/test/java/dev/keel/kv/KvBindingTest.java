package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.http.KvHttpApiTest;
import dev.keel.server.ServerConfig;
import dev.keel.transport.TestPki;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loopback rule: without client authentication the KV API may listen on loopback only, unless
 * explicitly allowed; requiring client certificates is authentication, and then a client without a
 * certificate from the cluster's CA is refused in the TLS handshake.
 */
class KvBindingTest {
    @TempDir
    Path root;

    private ServerConfig server(int peerPort) {
        return ServerConfig.builder(1, "binding-test", Map.of(1, new InetSocketAddress("127.0.0.1", peerPort)), root.resolve("n1"))
                .sync(false).build();
    }

    @Test
    void aNonLoopbackAddressWithoutAuthenticationIsRefusedUnlessAllowedExplicitly() {
        ServerConfig sc = server(9001);
        Map<Integer, URI> http = Map.of(1, URI.create("http://10.0.0.1:8081"));
        for (String host : List.of("0.0.0.0", "10.0.0.1")) {
            assertThatThrownBy(() -> KvConfig.builder(sc, new InetSocketAddress(host, 8081), http).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(host + ":8081, which is not a loopback address, with no client authentication")
                    .hasMessageContaining("--insecure-allow-unauthenticated");
            KvConfig allowed = KvConfig.builder(sc, new InetSocketAddress(host, 8081), http).insecureAllowUnauthenticated(true).build();
            assertThat(allowed.authenticated()).isFalse();
        }
        for (String host : List.of("127.0.0.1", "127.0.0.2", "localhost", "::1")) {
            assertThat(KvConfig.builder(sc, new InetSocketAddress(host, 8081), http).build().httpAddress().getPort()).isEqualTo(8081);
        }
    }

    @Test
    void requiredClientCertificatesAllowAnyAddressAndRefuseClientsWithoutOne() throws Exception {
        TestPki pki = new TestPki(Files.createDirectories(root.resolve("certs")), "cluster");
        TestPki other = new TestPki(Files.createDirectories(root.resolve("other")), "other");
        TestPki.CertKey node = pki.node(1);
        int httpPort = TestPorts.free();
        URI endpoint = URI.create("https://127.0.0.1:" + httpPort);
        KvConfig config = KvConfig.builder(server(TestPorts.free()), new InetSocketAddress("0.0.0.0", httpPort),
                Map.of(1, endpoint)).httpTls(new HttpTls(node.cert(), node.key(), pki.caFile, true)).build();
        assertThat(config.authenticated()).isTrue();
        try (KvServer server = KvServer.start(config)) {
            TestPki.CertKey alice = pki.leaf("alice", List.of());
            try (KeelClient c = KeelClient.builder(List.of(endpoint)).trustedCa(pki.caFile)
                    .clientCertificate(alice.cert(), alice.key()).build()) {
                assertThat(c.put("k", "v").revision()).isPositive();
                assertThat(c.get("k").valueAsString()).isEqualTo("v");
            }
            TestPki.CertKey mallory = other.leaf("mallory", List.of());
            for (TestPki.CertKey cert : java.util.Arrays.asList(null, mallory)) { // no certificate; one from another CA
                KeelClient.Builder b = KeelClient.builder(List.of(endpoint)).trustedCa(pki.caFile)
                        .operationTimeout(Duration.ofSeconds(2)).backoff(Duration.ofMillis(10), Duration.ofMillis(100));
                if (cert != null) b.clientCertificate(cert.cert(), cert.key());
                try (KeelClient c = b.build()) {
                    assertThatThrownBy(() -> c.get("k")).isInstanceOf(KeelClientException.class);
                }
            }
            var refused = server.metrics().registry().find("keel.http.rejected").tag("reason", "tls_handshake").counter();
            assertThat(refused).isNotNull();
            assertThat(refused.count()).isPositive();
        }
    }
}
