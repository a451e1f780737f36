package dev.keel.kv;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.http.Auth;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes with authentication over real TLS (HTTPS for clients, mutual TLS between peers):
 * the bootstrap admin, users with roles and prefixes, 401 and 403, forwarding through a follower,
 * certificate users, and rules that survive a leader change and a restart of every node (they are
 * replicated KV state, in the log and in snapshots).
 */
class KvAuthClusterTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    private TestPki pki;
    private String rootToken;
    private Path tokenFile;
    private final Map<Integer, KvServer> servers = new HashMap<>();
    private final Map<Integer, InetSocketAddress> peers = new HashMap<>();
    private final Map<Integer, URI> httpMembers = new HashMap<>();

    @BeforeEach
    void startCluster() throws Exception {
        pki = new TestPki(Files.createDirectories(root.resolve("certs")), "cluster");
        rootToken = Auth.newToken();
        tokenFile = Files.writeString(root.resolve("root.token"), rootToken + "\n");
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("https://127.0.0.1:" + TestPorts.free()));
        }
        for (int id = 1; id <= 3; id++) start(id);
    }

    private void start(int id) throws Exception {
        TestPki.CertKey cert = pki.node(id);
        Path dir = Files.createDirectories(root.resolve("node" + id));
        // Snapshots every few entries, so that the users are restored from a snapshot after the restart.
        ServerConfig sc = ServerConfig.builder(id, "kv-auth-test", peers, dir).sync(false).snapshotEveryEntries(5)
                .peerTls(cert.peerTls(pki.caFile)).build();
        KvConfig kc = KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers)
                .httpTls(new HttpTls(cert.cert(), cert.key(), pki.caFile)).tokenAuth(true).authBootstrapTokenFile(tokenFile).build();
        servers.put(id, KvServer.start(kc));
    }

    @AfterEach
    void stopCluster() {
        for (KvServer s : servers.values()) s.close();
    }

    private KeelClient client(String token, List<URI> endpoints) {
        KeelClient.Builder b = KeelClient.builder(endpoints).trustedCa(pki.caFile).operationTimeout(Duration.ofSeconds(20));
        if (token != null) b.token(token);
        return b.build();
    }

    private KeelClient client(String token) {
        return client(token, List.copyOf(httpMembers.values()));
    }

    /** A client of one follower only, so that its writes are forwarded. */
    private KeelClient followerClient(String token) {
        int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
        return client(token, List.of(httpMembers.get(leader == 1 ? 2 : 1)));
    }

    private static int status(Runnable call) {
        try {
            call.run();
            return 200;
        } catch (KeelClientException.BadRequest e) {
            return e.status();
        }
    }

    private String newUser(String name, String role, String prefix) throws IOException {
        try (KeelClient admin = client(rootToken)) {
            return JSON.readTree(admin.putUser(name, role, prefix, true, false)).get("token").asText();
        }
    }

    /** The root admin exists once a leader has replicated it: wait for it. */
    private void awaitRoot() {
        KvTestSupport.awaitLeader(servers, DEADLINE);
        KvTestSupport.await("the bootstrap admin on every node", DEADLINE, () -> {
            try (KeelClient c = client(rootToken)) {
                for (URI u : httpMembers.values()) {
                    try (KeelClient one = client(rootToken, List.of(u))) {
                        one.get(new byte[] {'x'}, KeelClient.Consistency.STALE);
                    } catch (KeelClientException.NotFound expected) {
                        // authenticated: only the key is missing
                    } catch (KeelClientException.BadRequest e) {
                        return false;
                    }
                }
                return true;
            }
        });
    }

    @Test
    void requestsWithoutAValidTokenGet401AndRolesAndPrefixesAreEnforcedWith403() throws Exception {
        awaitRoot();
        try (KeelClient anonymous = client(null); KeelClient forged = client(Auth.newToken())) {
            assertThat(status(() -> anonymous.put("k", "v"))).isEqualTo(401);
            assertThat(status(() -> anonymous.get("k"))).isEqualTo(401);
            assertThat(status(() -> anonymous.members())).isEqualTo(401);
            assertThat(status(() -> forged.put("k", "v"))).isEqualTo(401);
        }
        // The raw answer names the scheme.
        try (HttpClient http = HttpClient.newBuilder().sslContext(TlsFiles.jdkContext(pki.caFile, "ca", null, null, null, null)).build()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1) + "/v1/kv/k")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(401);
            assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"keel\"");
            assertThat(r.body()).contains("UNAUTHENTICATED");
            assertThat(http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1) + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).as("health needs no token").isIn(200, 503);
            // The status stream too: without a token, or with a forged one, it is refused before it starts.
            for (String query : new String[] {"", "?access_token=" + Auth.newToken()}) {
                HttpResponse<String> s = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1) + "/v1/status/stream"
                        + query)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(s.statusCode()).as("stream " + query).isEqualTo(401);
                assertThat(s.body()).contains("UNAUTHENTICATED");
            }
            // With a valid token (as a browser's EventSource sends it, in the query) it streams.
            HttpResponse<java.io.InputStream> s = http.send(HttpRequest.newBuilder(URI.create(httpMembers.get(1)
                    + "/v1/status/stream?access_token=" + rootToken)).build(), HttpResponse.BodyHandlers.ofInputStream());
            try (java.io.InputStream in = s.body()) {
                assertThat(s.statusCode()).isEqualTo(200);
                assertThat(s.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
                assertThat(new String(in.readNBytes(5), java.nio.charset.StandardCharsets.UTF_8)).isNotEmpty();
            }
        }

        String alice = newUser("alice", "readwrite", "app/");
        String bob = newUser("bob", "read", "");
        try (KeelClient a = client(alice); KeelClient b = client(bob); KeelClient admin = client(rootToken)) {
            assertThat(a.put("app/x", "1").revision()).isPositive();
            assertThat(status(() -> a.put("other/x", "1"))).as("outside alice's prefix").isEqualTo(403);
            assertThat(status(() -> a.get("other/x"))).isEqualTo(403);
            assertThat(status(() -> a.scan(new byte[0], 10))).isEqualTo(403);
            assertThat(a.scan("app/".getBytes(), 10).items()).hasSize(1);
            assertThat(status(() -> a.removeMember(3))).as("not an admin").isEqualTo(403);
            assertThat(b.get("app/x").valueAsString()).isEqualTo("1");
            assertThat(status(() -> b.put("app/x", "2"))).as("read-only").isEqualTo(403);
            assertThat(status(() -> b.delete("app/x"))).isEqualTo(403);
            assertThat(status(() -> b.authUsers())).isEqualTo(403);
            // Nobody writes the users' keys through the key API, not even an admin; scans never show them.
            assertThat(status(() -> admin.put(Auth.userKey("mallory"), "{}".getBytes()))).isEqualTo(400);
            assertThat(admin.scan(new byte[0], 100).items()).allSatisfy(kv -> assertThat(Auth.isReserved(kv.key())).isFalse());
            assertThat(admin.authUsers()).contains("\"alice\"", "\"bob\"", "\"root\"").doesNotContain(alice);

            // Forwarded by a follower, the token still decides.
            try (KeelClient viaFollower = followerClient(alice); KeelClient bobViaFollower = followerClient(bob)) {
                assertThat(viaFollower.put("app/fwd", "f").revision()).isPositive();
                assertThat(status(() -> bobViaFollower.put("app/fwd", "g"))).isEqualTo(403);
            }

            // Grant keeps the token; revoke ends it.
            admin.putUser("bob", "readwrite", "", false, false);
            assertThat(b.put("bob", "now").revision()).isPositive();
            admin.revokeUser("alice");
            assertThat(status(() -> a.get("app/x"))).isEqualTo(401);
            assertThat(status(() -> admin.revokeUser("root"))).as("the bootstrap admin stays").isEqualTo(409);
        }
    }

    @Test
    void aUserAuthenticatedByItsClientCertificateIsServedDirectlyAndThroughAFollower() throws Exception {
        awaitRoot();
        try (KeelClient admin = client(rootToken)) {
            admin.putUser("carol", "readwrite", "carol/", false, true);
        }
        TestPki.CertKey carol = pki.leaf("carol", List.of());
        TestPki.CertKey dave = pki.leaf("dave", List.of());
        int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
        for (URI endpoint : List.of(httpMembers.get(leader), httpMembers.get(leader == 1 ? 2 : 1))) {
            try (KeelClient c = KeelClient.builder(List.of(endpoint)).trustedCa(pki.caFile).clientCertificate(carol.cert(), carol.key())
                    .operationTimeout(Duration.ofSeconds(20)).build()) {
                assertThat(c.put("carol/" + endpoint.getPort(), "c").revision()).isPositive();
                assertThat(status(() -> c.put("elsewhere", "c"))).isEqualTo(403);
            }
        }
        try (KeelClient d = KeelClient.builder(List.copyOf(httpMembers.values())).trustedCa(pki.caFile)
                .clientCertificate(dave.cert(), dave.key()).operationTimeout(Duration.ofSeconds(20)).build()) {
            assertThat(status(() -> d.get("carol/x"))).as("a valid certificate of no user").isEqualTo(401);
        }
    }

    @Test
    void usersSurviveALeaderChangeAndARestartOfEveryNode() throws Exception {
        awaitRoot();
        String erin = newUser("erin", "readwrite", "e/");
        // At once through a follower, which may not have applied erin yet: it catches up before it decides.
        try (KeelClient viaFollower = followerClient(erin)) {
            assertThat(viaFollower.put("e/first", "at once").revision()).isPositive();
        }
        try (KeelClient e = client(erin); KeelClient admin = client(rootToken)) {
            for (int i = 0; i < 10; i++) e.put("e/" + i, "v" + i); // past a snapshot
            int leader = KvTestSupport.awaitLeader(servers, DEADLINE);
            int next = leader == 1 ? 2 : 1;
            admin.transferLeader(next);
            KvTestSupport.await("node " + next + " leading", DEADLINE, () -> KvTestSupport.awaitLeader(servers, DEADLINE) == next);
            assertThat(e.put("e/after-transfer", "x").revision()).isPositive();
            assertThat(status(() -> e.put("f/1", "x"))).isEqualTo(403);
        }
        for (int id = 1; id <= 3; id++) servers.remove(id).close();
        for (int id = 1; id <= 3; id++) start(id);
        KvTestSupport.awaitLeader(servers, DEADLINE);
        try (KeelClient e = client(erin); KeelClient anonymous = client(null)) {
            assertThat(e.get("e/after-transfer").valueAsString()).isEqualTo("x");
            assertThat(e.put("e/after-restart", "y").revision()).isPositive();
            assertThat(status(() -> e.put("f/1", "x"))).isEqualTo(403);
            assertThat(status(() -> anonymous.get("e/1"))).isEqualTo(401);
        }
        assertThat(servers.values().stream().anyMatch(s -> s.raft().status().snapshotIndex() > 0)).as("restored from a snapshot").isTrue();
    }
}
