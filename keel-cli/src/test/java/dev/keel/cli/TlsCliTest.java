package dev.keel.cli;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.cli.KeelCliTest.Run;
import dev.keel.kv.KvConfig;
import dev.keel.kv.client.KeelClient;
import dev.keel.transport.TlsFiles;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code keel certs}, the TLS flags of {@code serve} and the client commands, and {@code demo --tls}. */
class TlsCliTest {
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    @TempDir
    Path dir;

    private static Run run(String... args) {
        return KeelCliTest.run(args);
    }

    private static X509Certificate cert(Path file) throws Exception {
        try (var in = new ByteArrayInputStream(Files.readAllBytes(file))) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    @Test
    void certsWritesACaAndNodeAndClientCertificates() throws Exception {
        Path certs = dir.resolve("certs");
        Run r = run("certs", "--dir", certs.toString(), "--nodes", "2", "--hosts", "127.0.0.1,localhost,node.example");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(certs.toFile().list()).containsExactlyInAnyOrder("ca.pem", "ca-key.pem", "node-1.pem", "node-1-key.pem",
                "node-2.pem", "node-2-key.pem", "client.pem", "client-key.pem");
        for (String key : List.of("ca-key.pem", "node-1-key.pem", "node-2-key.pem", "client-key.pem")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs.resolve(key)))).as(key).isEqualTo("rw-------");
            assertThat(Files.readString(certs.resolve(key))).startsWith("-----BEGIN PRIVATE KEY-----"); // PKCS#8, as Netty needs
        }

        X509Certificate ca = cert(certs.resolve("ca.pem"));
        X509Certificate node2 = cert(certs.resolve("node-2.pem"));
        node2.verify(ca.getPublicKey());
        assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(node2.getBasicConstraints()).isEqualTo(-1);
        assertThat(node2.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(node2.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(node2.getExtendedKeyUsage()).containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        assertThat(node2.getSubjectAlternativeNames()).containsExactlyInAnyOrder(
                List.of(7, "127.0.0.1"), List.of(2, "localhost"), List.of(2, "node.example"), List.of(6, "keel://node/2"));
        assertThat(TlsFiles.nodeIdOf(node2)).hasValue(2);
        // The key belongs to the certificate.
        TlsFiles.readKeyPair(certs.resolve("node-2.pem"), "cert", certs.resolve("node-2-key.pem"), "key");

        X509Certificate client = cert(certs.resolve("client.pem"));
        client.verify(ca.getPublicKey());
        assertThat(client.getExtendedKeyUsage()).containsExactly(CLIENT_AUTH);
        assertThat(TlsFiles.nodeIdOf(client)).isEmpty();
    }

    @Test
    void certsRefusesToOverwriteUnlessForced() throws Exception {
        Path certs = dir.resolve("certs");
        assertThat(run("certs", "--dir", certs.toString(), "--nodes", "1").exit()).isZero();
        String ca = Files.readString(certs.resolve("ca.pem"));
        Run again = run("certs", "--dir", certs.toString(), "--nodes", "1");
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("not overwriting").contains(certs.resolve("ca.pem").toString()).contains("--force");
        assertThat(Files.readString(certs.resolve("ca.pem"))).isEqualTo(ca);

        Run forced = run("certs", "--dir", certs.toString(), "--nodes", "1", "--force");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(Files.readString(certs.resolve("ca.pem"))).isNotEqualTo(ca);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs.resolve("ca-key.pem")))).isEqualTo("rw-------");
    }

    /** A usage error: exit 2 and the message on stderr. */
    private static void usageError(String expected, String... args) {
        Run r = run(args);
        assertThat(r.exit()).as(String.join(" ", args) + " -> " + r.err()).isEqualTo(2);
        assertThat(r.err()).as(String.join(" ", args)).contains(expected);
    }

    @Test
    void tlsFlagsAreAllOrNothingPerGroup() {
        String[] base = {"serve", "--id", "1", "--data-dir", dir.resolve("n1").toString(), "--http", "127.0.0.1:8081",
            "--cluster", "1=127.0.0.1:9081"};
        usageError("HTTPS needs both --cert-file and --key-file (missing: --key-file)", concat(base, "--cert-file", "a.pem"));
        usageError("HTTPS needs both --cert-file and --key-file (missing: --cert-file)", concat(base, "--key-file", "a.pem"));
        usageError("--trusted-ca-file is for HTTPS", concat(base, "--trusted-ca-file", "ca.pem"));
        usageError("peer mutual TLS needs all of --peer-cert-file, --peer-key-file and --peer-trusted-ca-file "
                + "(missing: --peer-key-file, --peer-trusted-ca-file)", concat(base, "--peer-cert-file", "a.pem"));
        usageError("--http-cluster: '1=https://127.0.0.1:8081' is https://, but this node serves http (no --cert-file)",
                concat(base, "--http-cluster", "1=https://127.0.0.1:8081"));
        usageError("a client certificate needs both --cert and --key (missing: --key)", "get", "k", "--cert", "c.pem");
        usageError("trusted CA file " + dir.resolve("missing.pem") + " does not exist", "get", "k", "--cacert",
                dir.resolve("missing.pem").toString());
    }

    @Test
    void serveWithTlsFlagsUsesHttpsAddressesAndBadFilesAreNamed() throws Exception {
        Path certs = dir.resolve("certs");
        assertThat(run("certs", "--dir", certs.toString(), "--nodes", "1").exit()).isZero();
        String c = certs.toString();
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs("--id", "1", "--data-dir", dir.resolve("n1").toString(), "--http", "127.0.0.1:8081",
                "--cluster", "1=127.0.0.1:9081", "--cert-file", c + "/node-1.pem", "--key-file", c + "/node-1-key.pem",
                "--peer-cert-file", c + "/node-1.pem", "--peer-key-file", c + "/node-1-key.pem", "--peer-trusted-ca-file", c + "/ca.pem");
        serve.checkOptions();
        KvConfig config = serve.config();
        assertThat(config.httpMembers()).isEqualTo(Map.of(1, URI.create("https://127.0.0.1:8081")));
        assertThat(config.httpTls().certFile()).isEqualTo(certs.resolve("node-1.pem"));
        assertThat(config.server().peerTls().trustedCaFile()).isEqualTo(certs.resolve("ca.pem"));

        // A key that is not the certificate's: refused before anything starts, naming both files.
        assertThat(run("certs", "--dir", dir.resolve("other").toString(), "--nodes", "1").exit()).isZero();
        Path otherKey = dir.resolve("other/node-1-key.pem");
        usageError("key file " + otherKey + " does not match the certificate in " + c + "/node-1.pem",
                "serve", "--id", "1", "--data-dir", dir.resolve("n1").toString(), "--http", "127.0.0.1:" + TestPorts.free(),
                "--cluster", "1=127.0.0.1:" + TestPorts.free(), "--cert-file", c + "/node-1.pem", "--key-file", otherKey.toString());
    }

    @Test
    void demoWithTlsServesHttpsWithTheCertificatesInItsDataDir() throws Exception {
        int http = TestPorts.free();
        int peer = TestPorts.free();
        Path data = dir.resolve("demo");
        // Made beforehand so the client can trust the CA from the start; the demo reuses a complete set
        // (without one it makes it, as bin/keel demo --tls does on a first run).
        assertThat(run("certs", "--dir", data.resolve("certs").toString(), "--nodes", "1").exit()).isZero();
        AtomicReference<Run> result = new AtomicReference<>();
        // One node keeps the demo quick; the certificates and flags are the same for three.
        Thread demo = Thread.ofPlatform().start(() -> result.set(run("demo", "--tls", "--nodes", "1", "--data-dir", data.toString(),
                "--http-port", String.valueOf(http), "--peer-port", String.valueOf(peer), "--exit-after-ms", "8000")));
        try (KeelClient client = KeelClient.builder(List.of(URI.create("https://127.0.0.1:" + http)))
                .operationTimeout(Duration.ofSeconds(30)).trustedCa(data.resolve("certs/ca.pem")).build()) {
            assertThat(client.put("k", "v").revision()).isPositive();
            assertThat(client.get("k").valueAsString()).isEqualTo("v");
        }
        demo.join(Duration.ofSeconds(60));
        assertThat(demo.isAlive()).isFalse();
        Run r = result.get();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("curl --cacert " + data.resolve("certs/ca.pem").toAbsolutePath() + " ")
                .contains("https://127.0.0.1:" + http);
    }


    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
