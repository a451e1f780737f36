package dev.keel.cli;

import dev.keel.core.Role;
import dev.keel.kv.HttpTls;
import dev.keel.kv.KvConfig;
import dev.keel.kv.KvServer;
import dev.keel.server.ServerConfig;
import dev.keel.transport.PeerTls;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel demo}: a local three-node cluster in one command. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Starts a local 3-node Keel KV cluster in this process and prints how to use it.",
            "Ctrl-C stops it cleanly; running it again resumes from the same data."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--data-dir", description = "Where the nodes keep their data (default: ${DEFAULT-VALUE}).")
    Path dataDir = Path.of("keel-data");

    @Option(names = "--http-port", description = "HTTP port of node 1; nodes 2 and 3 use the next ones (default: ${DEFAULT-VALUE}).")
    int httpPort = 8081;

    @Option(names = "--peer-port", description = "Peer (Raft) port of node 1; nodes 2 and 3 use the next ones (default: ${DEFAULT-VALUE}).")
    int peerPort = 9081;

    @Option(names = "--nodes", description = "Cluster size (default: ${DEFAULT-VALUE}).")
    int nodes = 3;

    @Option(names = "--tls", description = "Run with mutual TLS between the nodes and HTTPS for clients, using the "
            + "certificates in --certs-dir (made there by keel certs if missing).")
    boolean tls;

    @Option(names = "--certs-dir", description = "With --tls: where the CA and node certificates are (default: <data-dir>/certs).")
    Path certsDir;

    @Option(names = "--exit-after-ms", hidden = true, description = "Stop after this long (for tests).")
    long exitAfterMillis = 0;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (nodes < 1 || nodes > 9) throw new CommandLine.ParameterException(spec.commandLine(), "--nodes must be 1-9");
        if (certsDir != null && !tls) throw new CommandLine.ParameterException(spec.commandLine(), "--certs-dir is for --tls");
        Path certs = certsDir != null ? certsDir : dataDir.resolve("certs");
        if (tls) prepareCerts(certs, out);
        Map<Integer, InetSocketAddress> peers = new TreeMap<>();
        Map<Integer, URI> http = new TreeMap<>();
        for (int id = 1; id <= nodes; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", peerPort + id - 1));
            http.put(id, URI.create((tls ? "https" : "http") + "://127.0.0.1:" + (httpPort + id - 1)));
        }
        List<KvServer> servers = new ArrayList<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> servers.forEach(KvServer::close), "keel-demo-stop"));
        Path ca = certs.resolve("ca.pem");
        for (int id = 1; id <= nodes; id++) {
            Path cert = certs.resolve("node-" + id + ".pem");
            Path key = certs.resolve("node-" + id + "-key.pem");
            ServerConfig sc = ServerConfig.builder(id, "keel-demo", peers, dataDir.resolve("node" + id))
                    .peerTls(tls ? new PeerTls(cert, key, ca) : null).build();
            KvConfig kc = KvConfig.builder(sc, new InetSocketAddress("127.0.0.1", httpPort + id - 1), http)
                    .httpTls(tls ? new HttpTls(cert, key, ca) : null).build();
            servers.add(KvServer.start(kc));
        }
        int leader = awaitLeader(servers, 15_000);
        String endpoints = String.join(",", http.values().stream().map(URI::toString).toList());
        out.println();
        out.println("Keel demo: " + nodes + " nodes, data in " + dataDir.toAbsolutePath());
        http.forEach((id, uri) -> out.println("  node " + id + ": " + uri + (id == leader ? "  (leader)" : "")));
        out.println();
        if (tls) {
            out.println("TLS: peers use mutual TLS 1.3 and clients HTTPS, with the certificates in " + certs.toAbsolutePath());
            out.println();
        }
        String curl = tls ? "curl --cacert " + ca.toAbsolutePath() + " " : "curl ";
        String keelTls = tls ? " --cacert " + ca.toAbsolutePath() : "";
        out.println("Try (any node accepts any request; followers forward writes to the leader):");
        out.println("  " + curl + "-X PUT --data-binary 'hello' " + http.get(1) + "/v1/kv/greeting");
        out.println("  " + curl + "-i " + http.get(nodes) + "/v1/kv/greeting");
        out.println("  " + curl + "'" + http.get(1) + "/v1/kv?prefix=gr&limit=10'");
        out.println("  " + curl + http.get(1) + "/v1/status");
        out.println("  bin/keel get greeting --endpoints " + endpoints + keelTls);
        out.println();
        out.println("Ctrl-C stops the cluster; run bin/keel demo again to resume from the same data.");
        out.flush();
        CountDownLatch forever = new CountDownLatch(1);
        if (exitAfterMillis > 0) {
            forever.await(exitAfterMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
            servers.forEach(KvServer::close);
            return 0;
        }
        forever.await();
        return 0;
    }

    /** Makes the demo's certificates unless a complete set is there already (then they are reused, as the data is). */
    private void prepareCerts(Path certs, PrintWriter out) throws java.io.IOException {
        if (CertsCommand.complete(certs, nodes)) return;
        if (java.nio.file.Files.exists(certs.resolve("ca.pem"))) {
            throw new CommandLine.ParameterException(spec.commandLine(), certs + " has a ca.pem but not every certificate for "
                    + nodes + " nodes; make a full set with bin/keel certs --dir " + certs + " --nodes " + nodes + " --force");
        }
        CertsCommand.write(certs, CertsCommand.generate(nodes, List.of("127.0.0.1", "localhost"), java.time.Duration.ofDays(365)));
        out.println("Made a CA and certificates for " + nodes + " nodes in " + certs.toAbsolutePath());
    }

    private static int awaitLeader(List<KvServer> servers, long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            for (KvServer s : servers) {
                if (s.raft().status().role() == Role.LEADER) return s.raft().status().nodeId();
            }
            Thread.sleep(20); // waiting for an election in a CLI, not a test
        }
        return 0;
    }
}
