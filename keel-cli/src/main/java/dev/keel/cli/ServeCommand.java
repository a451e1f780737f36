package dev.keel.cli;

import dev.keel.kv.HttpTls;
import dev.keel.kv.KvConfig;
import dev.keel.kv.http.KvLimits;
import dev.keel.kv.KvServer;
import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.client.Results;
import dev.keel.server.ServerConfig;
import dev.keel.transport.PeerTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel serve}: runs one node of a replicated KV cluster, bootstrapping it ({@code --cluster}) or joining it ({@code --join}). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs one Keel KV node until interrupted (Ctrl-C or SIGTERM stop it cleanly).",
            "Bootstrap a new cluster with --cluster on every initial node, or add a node to a running cluster with "
                    + "--join <any member's HTTP address> --listen <this node's peer host:port>: it asks to be added as a "
                    + "learner; promote it with keel members promote --id N once it has caught up.",
            "Options can also be read from a file: keel serve @node1.args (one option per line)."})
final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Option(names = "--id", required = true, description = "This node's id (a positive number, as in --cluster).")
    int id;

    @Option(names = "--data-dir", required = true, description = "Where this node keeps its log, hard state and snapshots.")
    Path dataDir;

    @Option(names = "--cluster",
            description = "Bootstrap: every initial member's peer (Raft) address: 1=host:port,2=host:port,3=host:port.")
    String cluster;

    @Option(names = "--join", description = "Join a running cluster through any member's HTTP address (http://host:port) "
            + "instead of bootstrapping with --cluster. Needs --listen. On a restart it does not add the node again.")
    String join;

    @Option(names = "--listen", description = "This node's peer (Raft) address, host:port, as the other members reach it "
            + "(with --join; with --cluster it is taken from there).")
    String listen;

    @Option(names = "--advertise-http", description = "With --join: this node's HTTP address as clients and the other "
            + "members reach it (default: http://<--http>).")
    String advertiseHttp;

    @Option(names = "--join-timeout-ms", description = "With --join: how long to keep trying to reach the cluster and be "
            + "added (default: ${DEFAULT-VALUE}).")
    long joinTimeoutMillis = 60_000;

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

    @Option(names = "--cert-file", description = "Serve HTTPS (TLS 1.3) with this certificate (PEM), which must name the "
            + "hosts clients dial; with --key-file. The members' HTTP addresses are then https://.")
    Path certFile;

    @Option(names = "--key-file", description = "The private key of --cert-file (unencrypted PKCS#8 PEM).")
    Path keyFile;

    @Option(names = "--trusted-ca-file", description = "With --cert-file: the CA (PEM) that HTTP client certificates must "
            + "chain to (asked for, not yet required); also trusted when forwarding to an https leader.")
    Path trustedCaFile;

    @Option(names = "--peer-cert-file", description = "Mutual TLS between peers: this node's certificate (PEM), naming "
            + "keel://node/<id>; with --peer-key-file and --peer-trusted-ca-file.")
    Path peerCertFile;

    @Option(names = "--peer-key-file", description = "The private key of --peer-cert-file (unencrypted PKCS#8 PEM).")
    Path peerKeyFile;

    @Option(names = "--peer-trusted-ca-file", description = "The cluster CA (PEM): peers' certificates must chain to it.")
    Path peerTrustedCaFile;

    @Option(names = "--client-cert-auth", description = "Require every HTTP client to present a certificate chaining to "
            + "--trusted-ca-file (refused in the TLS handshake otherwise). Needs --cert-file, --key-file, --trusted-ca-file.")
    boolean clientCertAuth;

    @Option(names = "--auth", description = "Require every HTTP request (but /health) to authenticate as a user (bearer "
            + "token, or client certificate) with a role allowing it: 401 / 403 otherwise. Manage users with keel auth.")
    boolean auth;

    @Option(names = "--auth-bootstrap-token-file", description = "With --auth: a file holding the first admin's token "
            + "(keel auth new-token); the first leader creates user root (admin) with it. Give the same file to every node.")
    Path authBootstrapTokenFile;

    @Option(names = "--insecure-allow-unauthenticated", description = "Serve the HTTP API on an address other than "
            + "loopback without client authentication. Without it (and without --client-cert-auth) --http must be a "
            + "loopback address: anyone who can reach the API can read and write every key.")
    boolean insecureAllowUnauthenticated;

    @Option(names = "--max-key-bytes", description = "Largest key; a longer one gets 413 (default: ${DEFAULT-VALUE}).")
    int maxKeyBytes = KvLimits.DEFAULT.keyMaxBytes();

    @Option(names = "--max-value-bytes", description = "Largest value; a larger one gets 413 (default: ${DEFAULT-VALUE}).")
    int maxValueBytes = KvLimits.DEFAULT.valueMaxBytes();

    @Option(names = "--max-request-bytes", description = "Largest request body read at all; a larger one gets 413 and "
            + "the connection closes (default: ${DEFAULT-VALUE}; at least --max-value-bytes).")
    int maxRequestBytes = KvLimits.DEFAULT.bodyMaxBytes();

    @Option(names = "--max-connections", description = "Open HTTP connections at once; one more gets 429 to its first "
            + "request and is closed (default: ${DEFAULT-VALUE}).")
    int maxConnections = KvLimits.DEFAULT.connectionsMax();

    @Option(names = "--max-inflight-per-client", description = "Requests one client address has in flight at once; "
            + "more get 429 (default: ${DEFAULT-VALUE}).")
    int maxInflightPerClient = KvLimits.DEFAULT.inflightPerClientMax();

    @Option(names = "--peer-max-frame-bytes", description = "Largest frame on the peer port; a peer announcing a larger "
            + "one is disconnected and the reason logged (default: ${DEFAULT-VALUE}, 4-32 MiB).")
    int peerMaxFrameBytes = ServerConfig.PEER_MAX_FRAME_BYTES_DEFAULT;

    @Option(names = "--busy-poll-us", description = "After answering a request with nothing else in flight, poll this "
            + "long for the next one instead of sleeping: lower latency for one client at a time, at most this much "
            + "CPU per request (default: ${DEFAULT-VALUE}; 0: never; at most 1000).")
    int busyPollMicros = ServerConfig.BUSY_POLL_MICROS_DEFAULT;

    @Option(names = "--parallel-leader-sync", description = "A leader syncs its own log on a thread of its own while it "
            + "goes on reading acknowledgements: more throughput under heavy load, a thread hand-over per sync "
            + "(default: off).")
    boolean parallelLeaderSync;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        try {
            checkOptions();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        if (join != null) return serveJoining();
        KvConfig config;
        try {
            config = config();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        KvServer server;
        try {
            server = KvServer.start(config);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage()); // a bad TLS file: the message names it
        }
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            done.countDown();
        }, "keel-shutdown"));
        done.await();
        return 0;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** The checks that need no network; IllegalArgumentException with the message for the user. */
    void checkOptions() {
        if (id <= 0) throw new IllegalArgumentException("--id must be a positive node id, not " + id);
        if (cluster != null && join != null) {
            throw new IllegalArgumentException("give --cluster (bootstrap a new cluster) or --join (join a running one), not both");
        }
        if (cluster == null && join == null) {
            throw new IllegalArgumentException("give --cluster 1=host:port,... to bootstrap a cluster, or --join <a member's HTTP "
                    + "address> --listen <this node's host:port> to join a running one");
        }
        ClusterSpec.hostPort(http, "--http");
        checkTlsOptions();
        if (join != null) {
            ClientCommands.httpUri(join, "--join");
            if (listen == null) throw new IllegalArgumentException("--join needs --listen <this node's peer host:port>");
            ClusterSpec.hostPort(listen, "--listen");
            if (httpCluster != null) {
                throw new IllegalArgumentException("--http-cluster is for --cluster; with --join the members' HTTP addresses come "
                        + "from the cluster");
            }
            selfHttp();
            if (joinTimeoutMillis <= 0) throw new IllegalArgumentException("--join-timeout-ms must be positive");
        } else {
            if (advertiseHttp != null) throw new IllegalArgumentException("--advertise-http is for --join");
            if (listen != null) {
                InetSocketAddress l = ClusterSpec.hostPort(listen, "--listen");
                InetSocketAddress self = ClusterSpec.addresses(cluster, "--cluster").get(id);
                if (self != null && (self.getPort() != l.getPort() || !self.getHostString().equals(l.getHostString()))) {
                    throw new IllegalArgumentException("--listen " + listen + " disagrees with --cluster's address for node " + id
                            + " (" + self.getHostString() + ":" + self.getPort() + ")");
                }
            }
        }
    }

    /** Each TLS group is all or nothing, so a forgotten flag cannot silently leave a link in plaintext. */
    void checkTlsOptions() {
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("HTTPS needs both --cert-file and --key-file (missing: "
                    + (certFile == null ? "--cert-file" : "--key-file") + ")");
        }
        if (trustedCaFile != null && certFile == null) {
            throw new IllegalArgumentException("--trusted-ca-file is for HTTPS: give --cert-file and --key-file too");
        }
        if (clientCertAuth && trustedCaFile == null) {
            throw new IllegalArgumentException("--client-cert-auth needs --trusted-ca-file (the CA client certificates must chain "
                    + "to) and HTTPS (--cert-file, --key-file)");
        }
        List<String> missing = new ArrayList<>();
        if (peerCertFile == null) missing.add("--peer-cert-file");
        if (peerKeyFile == null) missing.add("--peer-key-file");
        if (peerTrustedCaFile == null) missing.add("--peer-trusted-ca-file");
        if (!missing.isEmpty() && missing.size() < 3) {
            throw new IllegalArgumentException("peer mutual TLS needs all of --peer-cert-file, --peer-key-file and "
                    + "--peer-trusted-ca-file (missing: " + String.join(", ", missing) + ")");
        }
        if (advertiseHttp != null && httpScheme().equals("https") != advertiseHttp.trim().startsWith("https://")) {
            throw new IllegalArgumentException("--advertise-http " + advertiseHttp + " must be " + httpScheme()
                    + "://, as this node serves " + (certFile != null ? "HTTPS (--cert-file)" : "plain HTTP (no --cert-file)"));
        }
    }

    private String httpScheme() {
        return certFile != null ? "https" : "http";
    }

    private HttpTls httpTls() {
        return certFile == null ? null : new HttpTls(certFile, keyFile, trustedCaFile, clientCertAuth);
    }

    private PeerTls peerTls() {
        return peerCertFile == null ? null : new PeerTls(peerCertFile, peerKeyFile, peerTrustedCaFile);
    }

    /** A client of the cluster (for --join) that trusts the cluster's CA for https addresses. */
    private KeelClient.Builder client(List<URI> endpoints) {
        KeelClient.Builder b = KeelClient.builder(endpoints);
        Path ca = trustedCaFile != null ? trustedCaFile : peerTrustedCaFile;
        if (ca != null) b.trustedCa(ca);
        if (certFile != null && trustedCaFile != null) b.clientCertificate(certFile, keyFile);
        return b;
    }

    /** The HTTP address this node advertises when joining. */
    URI selfHttp() {
        if (advertiseHttp != null) return ClientCommands.httpUri(advertiseHttp, "--advertise-http");
        InetSocketAddress a = ClusterSpec.hostPort(http, "--http");
        if (a.getAddress() != null && a.getAddress().isAnyLocalAddress()) {
            throw new IllegalArgumentException("--http " + http + " listens on every interface; give --advertise-http "
                    + "http://<address others reach>:" + a.getPort());
        }
        return ClientCommands.httpUri(httpScheme() + "://" + a.getHostString() + ":" + a.getPort(), "--http");
    }

    /**
     * The joining node's configuration from the cluster's member list: contacts every current
     * member (but this node) at its peer address, knows their HTTP addresses where the list has
     * them (the replicated book brings the rest), and starts outside the cluster.
     */
    KvConfig joinConfig(Results.Members current) {
        InetSocketAddress self = ClusterSpec.hostPort(listen, "--listen");
        Map<Integer, InetSocketAddress> members = new TreeMap<>();
        Map<Integer, URI> httpMembers = new TreeMap<>();
        for (Results.Member m : current.members()) {
            if (m.id() == id) {
                InetSocketAddress known = m.peer().isEmpty() ? null : ClusterSpec.hostPort(m.peer(), "the cluster's address of node " + id);
                if (known != null && (known.getPort() != self.getPort() || !known.getHostString().equals(self.getHostString()))) {
                    throw new IllegalArgumentException("node " + id + " is already a member with peer address " + m.peer()
                            + ", not --listen " + listen + "; remove it first (keel members remove --id " + id + ") or listen there");
                }
                continue;
            }
            if (m.peer().isEmpty()) continue;
            members.put(m.id(), ClusterSpec.hostPort(m.peer(), "the cluster's address of node " + m.id()));
            if (!m.http().isEmpty()) httpMembers.put(m.id(), ClientCommands.httpUri(m.http(), "the cluster's HTTP address of node " + m.id()));
        }
        if (members.isEmpty()) throw new IllegalArgumentException("the cluster at " + join + " lists no other member with a peer address");
        members.put(id, self);
        httpMembers.put(id, selfHttp());
        ServerConfig sc = ServerConfig.builder(id, clusterId, members, dataDir)
                .tickMillis(tickMillis).electionTimeoutTicks(electionTicks).heartbeatIntervalTicks(heartbeatTicks)
                .snapshotEveryEntries(snapshotEvery).proposalTimeoutMillis(timeoutMillis).joining(true).peerTls(peerTls())
                .peerMaxFrameBytes(peerMaxFrameBytes).busyPollMicros(busyPollMicros)
                .parallelLeaderSync(parallelLeaderSync).build();
        return KvConfig.builder(sc, ClusterSpec.hostPort(http, "--http"), httpMembers).httpTls(httpTls()).limits(limits())
                .insecureAllowUnauthenticated(insecureAllowUnauthenticated).tokenAuth(auth)
                .authBootstrapTokenFile(authBootstrapTokenFile).build();
    }

    /**
     * {@code --join}: read the members from the join address, start outside the cluster, then ask
     * (through the cluster) to be added as a learner unless already a member, retrying until the
     * join timeout.
     */
    private int serveJoining() throws InterruptedException, IOException {
        URI joinUri = ClientCommands.httpUri(join, "--join");
        long deadline = System.nanoTime() + Duration.ofMillis(joinTimeoutMillis).toNanos();
        Results.Members current;
        try (KeelClient c = client(List.of(joinUri)).operationTimeout(Duration.ofMillis(joinTimeoutMillis)).build()) {
            current = c.members();
        } catch (KeelClientException e) {
            log.error("node={} cannot read the cluster's members from {}: {}", id, joinUri, e.getMessage());
            return 1;
        }
        KvConfig config;
        try {
            config = joinConfig(current);
        } catch (IllegalArgumentException e) {
            log.error("node={} cannot join through {}: {}", id, joinUri, e.getMessage());
            return 1;
        }
        Results.Member existing = current.member(id).orElse(null);
        KvServer server;
        try {
            server = KvServer.start(config);
        } catch (IllegalArgumentException e) {
            log.error("node={} cannot start: {}", id, e.getMessage()); // a bad TLS file: the message names it
            return 1;
        }
        AtomicBoolean stopped = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        Runnable stop = () -> {
            if (stopped.compareAndSet(false, true)) server.close();
            done.countDown();
        };
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "keel-shutdown"));
        if (existing != null) {
            log.info("node={} is already a {} of the cluster; not adding it again", id, existing.role());
        } else {
            String problem = addSelf(joinUri, current, deadline);
            if (problem != null) {
                log.error("node={} could not be added through {}: {}. Add it by hand: keel members add --id {} --address {} --http {} "
                        + "--learner --endpoints {}", id, joinUri, problem, id, listen, selfHttp(), joinUri);
                stop.run();
                return 1;
            }
            log.info("node={} joined as a learner; once it has caught up, an operator should promote it: "
                    + "bin/keel members promote --id {} --endpoints {}", id, id, joinUri);
        }
        done.await();
        return 0;
    }

    /** Asks the cluster to add this node as a learner until accepted or the deadline; null on success, else why not. */
    private String addSelf(URI joinUri, Results.Members current, long deadlineNanos) throws InterruptedException {
        List<URI> endpoints = new ArrayList<>(List.of(joinUri));
        for (Results.Member m : current.members()) {
            if (m.id() != id && !m.http().isEmpty()) {
                URI u = ClientCommands.httpUri(m.http(), "members");
                if (!endpoints.contains(u)) endpoints.add(u);
            }
        }
        String problem = "no attempt made";
        long pauseMillis = 100;
        while (true) {
            long remainingMillis = (deadlineNanos - System.nanoTime()) / 1_000_000;
            if (remainingMillis <= 0) return problem;
            try (KeelClient c = client(endpoints).operationTimeout(Duration.ofMillis(remainingMillis)).build()) {
                c.addMember(id, listen.trim(), selfHttp(), true);
                return null;
            } catch (KeelClientException.BadRequest e) {
                // A 409 other than a change in progress, or bad input: retrying cannot help.
                if (e.status() != 409 || !e.code().equals("MEMBERSHIP_CHANGE_PENDING")) return e.getMessage();
                problem = e.getMessage();
            } catch (KeelClientException e) {
                // Unavailable, or Timeout (adding the same node again is harmless): try again.
                problem = e.getMessage();
            }
            Thread.sleep(pauseMillis); // a retry delay while the cluster is busy
            pauseMillis = Math.min(pauseMillis * 2, 2_000);
        }
    }

    KvConfig config() {
        Map<Integer, InetSocketAddress> members = ClusterSpec.addresses(cluster, "--cluster");
        InetSocketAddress httpAddress = ClusterSpec.hostPort(http, "--http");
        Map<Integer, InetSocketAddress> httpMembers;
        if (httpCluster != null) {
            httpMembers = ClusterSpec.addresses(withoutScheme(httpCluster), "--http-cluster");
        } else {
            InetSocketAddress self = members.get(id);
            if (self == null) throw new IllegalArgumentException("--cluster does not name this node " + id);
            int offset = httpAddress.getPort() - self.getPort();
            httpMembers = new java.util.TreeMap<>();
            members.forEach((n, a) -> httpMembers.put(n, new InetSocketAddress(a.getHostString(), a.getPort() + offset)));
        }
        ServerConfig sc = ServerConfig.builder(id, clusterId, members, dataDir)
                .tickMillis(tickMillis).electionTimeoutTicks(electionTicks).heartbeatIntervalTicks(heartbeatTicks)
                .snapshotEveryEntries(snapshotEvery).proposalTimeoutMillis(timeoutMillis).peerTls(peerTls())
                .peerMaxFrameBytes(peerMaxFrameBytes).busyPollMicros(busyPollMicros)
                .parallelLeaderSync(parallelLeaderSync).build();
        return KvConfig.builder(sc, httpAddress, ClusterSpec.httpUris(httpMembers, httpScheme())).httpTls(httpTls()).limits(limits())
                .insecureAllowUnauthenticated(insecureAllowUnauthenticated).tokenAuth(auth)
                .authBootstrapTokenFile(authBootstrapTokenFile).build();
    }

    /** The HTTP limits from the flags; IllegalArgumentException naming the flag that is out of range. */
    KvLimits limits() {
        positive(maxKeyBytes, "--max-key-bytes");
        if (maxValueBytes < 0) throw new IllegalArgumentException("--max-value-bytes " + maxValueBytes + " must not be negative");
        positive(maxConnections, "--max-connections");
        positive(maxInflightPerClient, "--max-inflight-per-client");
        if (maxRequestBytes < maxValueBytes) {
            throw new IllegalArgumentException("--max-request-bytes (" + maxRequestBytes + ") must be at least --max-value-bytes ("
                    + maxValueBytes + "): a PUT's body is its value");
        }
        KvLimits d = KvLimits.DEFAULT;
        return new KvLimits(maxKeyBytes, maxValueBytes, maxRequestBytes, d.scanLimitDefault(), d.scanLimitMax(), maxConnections,
                maxInflightPerClient);
    }

    private static void positive(int v, String flag) {
        if (v <= 0) throw new IllegalArgumentException(flag + " " + v + " must be positive");
    }

    /**
     * {@code --http-cluster} without the optional {@code http://} or {@code https://} of each entry;
     * a scheme that disagrees with this node's (https exactly when --cert-file is given) is refused,
     * since a cluster's members all serve alike.
     */
    private String withoutScheme(String spec) {
        StringBuilder out = new StringBuilder();
        for (String part : spec.split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            String addr = eq < 0 ? p : p.substring(eq + 1);
            int sep = addr.indexOf("://");
            if (sep >= 0) {
                String scheme = addr.substring(0, sep);
                if (!scheme.equals(httpScheme())) {
                    throw new IllegalArgumentException("--http-cluster: '" + p + "' is " + scheme + "://, but this node serves "
                            + httpScheme() + (certFile != null ? " (--cert-file)" : " (no --cert-file)"));
                }
                addr = addr.substring(sep + 3).replaceAll("/+$", "");
            }
            if (out.length() > 0) out.append(',');
            out.append(eq < 0 ? addr : p.substring(0, eq + 1) + addr);
        }
        return out.toString();
    }
}
