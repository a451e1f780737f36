package dev.keel.cli;

import dev.keel.kv.KvConfig;
import dev.keel.kv.KvServer;
import dev.keel.server.ServerConfig;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel serve}: runs one node of a replicated KV cluster. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs one Keel KV node until interrupted (Ctrl-C or SIGTERM stop it cleanly).",
            "Options can also be read from a file: keel serve @node1.args (one option per line)."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--id", required = true, description = "This node's id (a positive number, as in --cluster).")
    int id;

    @Option(names = "--data-dir", required = true, description = "Where this node keeps its log, hard state and snapshots.")
    Path dataDir;

    @Option(names = "--cluster", required = true,
            description = "Every member's peer (Raft) address: 1=host:port,2=host:port,3=host:port.")
    String cluster;

    @Option(names = "--http", required = true, description = "host:port to serve the HTTP API on.")
    String http;

    @Option(names = "--http-cluster",
            description = "Every member's HTTP address (1=host:port,...), so followers can forward writes to the "
                    + "leader. Default: each member's peer host with the port of --http shifted by the same offset.")
    String httpCluster;

    @Option(names = "--cluster-id", description = "Name shared by the cluster's nodes; a data dir or peer from another "
            + "cluster is refused (default: ${DEFAULT-VALUE}).")
    String clusterId = "keel";

    @Option(names = "--tick-ms", description = "Length of one tick (default: ${DEFAULT-VALUE}).")
    int tickMillis = 10;

    @Option(names = "--election-ticks", description = "Election timeout in ticks, randomized up to twice this "
            + "(default: ${DEFAULT-VALUE}, i.e. 0.5-1 s at 10 ms ticks).")
    int electionTicks = 50;

    @Option(names = "--heartbeat-ticks", description = "Heartbeat interval in ticks (default: ${DEFAULT-VALUE}).")
    int heartbeatTicks = 5;

    @Option(names = "--snapshot-every", description = "Snapshot and compact the log after this many entries, 0 never "
            + "(default: ${DEFAULT-VALUE}).")
    long snapshotEvery = 10_000;

    @Option(names = "--timeout-ms", description = "How long a request waits for its commit (default: ${DEFAULT-VALUE}).")
    long timeoutMillis = 5_000;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        KvConfig config;
        try {
            config = config();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        KvServer server = KvServer.start(config);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            done.countDown();
        }, "keel-shutdown"));
        done.await();
        return 0;
    }

    KvConfig config() {
        Map<Integer, InetSocketAddress> members = ClusterSpec.addresses(cluster, "--cluster");
        InetSocketAddress httpAddress = ClusterSpec.hostPort(http, "--http");
        Map<Integer, InetSocketAddress> httpMembers;
        if (httpCluster != null) {
            httpMembers = ClusterSpec.addresses(httpCluster, "--http-cluster");
        } else {
            InetSocketAddress self = members.get(id);
            if (self == null) throw new IllegalArgumentException("--cluster does not name this node " + id);
            int offset = httpAddress.getPort() - self.getPort();
            httpMembers = new java.util.TreeMap<>();
            members.forEach((n, a) -> httpMembers.put(n, new InetSocketAddress(a.getHostString(), a.getPort() + offset)));
        }
        ServerConfig sc = ServerConfig.builder(id, clusterId, members, dataDir)
                .tickMillis(tickMillis).electionTimeoutTicks(electionTicks).heartbeatIntervalTicks(heartbeatTicks)
                .snapshotEveryEntries(snapshotEvery).proposalTimeoutMillis(timeoutMillis).build();
        return KvConfig.builder(sc, httpAddress, ClusterSpec.httpUris(httpMembers)).build();
    }
}
