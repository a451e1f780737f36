package dev.keel.kv;

import dev.keel.kv.http.Consensus;
import dev.keel.kv.http.KvHttpApi;
import dev.keel.kv.http.KvHttpServer;
import dev.keel.kv.http.KvMetrics;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerStatus;
import dev.keel.transport.PeerTls;
import dev.keel.transport.TlsFiles;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Path;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running KV node: a {@link RaftServer} driving a {@link KvStateMachine}, and the HTTP API
 * ({@link KvHttpApi}) in front of it. Start with {@link #start(KvConfig)}; {@link #close()} stops
 * the HTTP server (in-flight requests get up to a second), then the Raft node (in-flight commands
 * fail with ShuttingDown; files are closed). Durability is the RaftServer's: an acknowledged write
 * is in a majority's synced logs.
 */
public final class KvServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KvServer.class);

    private final KvConfig config;
    private final RaftServer raft;
    private final KvStateMachine stateMachine;
    private final KvMetrics metrics;
    private final KvHttpApi api;
    private final KvHttpServer http;

    private KvServer(KvConfig config, RaftServer raft, KvStateMachine stateMachine, KvMetrics metrics, KvHttpApi api,
                     KvHttpServer http) {
        this.config = config;
        this.raft = raft;
        this.stateMachine = stateMachine;
        this.metrics = metrics;
        this.api = api;
        this.http = http;
    }

    /** Opens the data directory (restoring the newest snapshot), joins the cluster and serves HTTP. */
    public static KvServer start(KvConfig config) throws IOException {
        // TLS files first: a bad one is reported before anything is opened or bound.
        SslContext httpSsl = config.httpTls() == null ? null : config.httpTls().serverContext();
        SslContext forwardSsl = forwardContext(config);
        String bootstrapToken = config.authBootstrapTokenFile() == null ? null : readToken(config.authBootstrapTokenFile());
        KvStateMachine sm = new KvStateMachine(config.sessionTtlEntries(), config.maxSessions());
        RaftServer raft = RaftServer.start(config.server(), sm);
        KvHttpApi api = null;
        try {
            Consensus consensus = new RaftConsensus(raft);
            KvMetrics metrics = new KvMetrics(config.nodeId(), consensus, sm);
            metrics.bindTransport(() -> raft.transport().stats());
            api = new KvHttpApi(config.nodeId(), consensus, sm, config.httpMembers(), config.limits(),
                    config.requestTimeout(), metrics, forwardSsl);
            if (config.tokenAuth()) api.requireAuthentication(bootstrapToken);
            KvHttpServer http = KvHttpServer.start(config.httpAddress(), api, config.limits(), httpSsl);
            log.info("node={} {}={} serving the KV API", config.nodeId(), httpSsl != null ? "https" : "http", http.address());
            if (config.tokenAuth()) {
                log.info("node={} clients must authenticate as users (bearer token or client certificate){}", config.nodeId(),
                        bootstrapToken != null ? "; first admin 'root' from the bootstrap token file" : "");
            } else if (config.authenticated()) {
                log.info("node={} clients must present a certificate from the trusted CA", config.nodeId());
            } else if (KvConfig.isLoopback(config.httpAddress())) {
                log.info("node={} no client authentication configured: the KV API listens on loopback {} only", config.nodeId(),
                        http.address());
            } else {
                log.warn("node={} no client authentication configured and the KV API listens on {} "
                        + "(insecureAllowUnauthenticated): anyone who can reach it can read and write every key", config.nodeId(),
                        http.address());
            }
            return new KvServer(config, raft, sm, metrics, api, http);
        } catch (IOException | RuntimeException e) {
            if (api != null) api.close();
            raft.close();
            throw e;
        }
    }

    /** The bootstrap token in {@code file} (one line); IllegalArgumentException naming the file otherwise. */
    static String readToken(Path file) {
        String t;
        try {
            t = java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new IllegalArgumentException("auth bootstrap token file " + file + " cannot be read: " + e);
        }
        if (!t.startsWith(dev.keel.kv.http.Auth.TOKEN_PREFIX) || t.length() < 40 || t.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("auth bootstrap token file " + file + " does not hold a token as "
                    + "bin/keel auth new-token makes (keel_ and 43 characters)");
        }
        return t;
    }

    /**
     * What a follower trusts when it forwards a request to an https leader: the HTTP trusted CA, else
     * the peers' CA (one cluster CA usually signs both), presenting this node's HTTP certificate in
     * case the leader asks for one; null (the JDK's default trust) without either CA.
     */
    static SslContext forwardContext(KvConfig config) {
        HttpTls tls = config.httpTls();
        PeerTls peer = config.server().peerTls();
        Path ca = tls != null && tls.trustedCaFile() != null ? tls.trustedCaFile() : peer != null ? peer.trustedCaFile() : null;
        if (ca == null) return null;
        String caFlag = tls != null && tls.trustedCaFile() != null ? "trusted CA file" : "peer trusted CA file";
        return tls == null ? TlsFiles.clientContext(ca, caFlag, null, null, null, null, true)
                : TlsFiles.clientContext(ca, caFlag, tls.certFile(), "certificate file", tls.keyFile(), "key file", true);
    }

    public KvConfig config() {
        return config;
    }

    public RaftServer raft() {
        return raft;
    }

    public KvStateMachine stateMachine() {
        return stateMachine;
    }

    public KvMetrics metrics() {
        return metrics;
    }

    /** The bound HTTP address (the actual port when configured with port 0). */
    public InetSocketAddress httpAddress() {
        return http.address();
    }

    @Override
    public void close() {
        http.close();
        api.close();
        raft.close();
    }

    /** RaftServer as the HTTP layer's {@link Consensus}. */
    record RaftConsensus(RaftServer server) implements Consensus {
        @Override
        public CompletableFuture<byte[]> submit(byte[] command) {
            return server.submit(command);
        }

        @Override
        public CompletableFuture<Long> linearizableRead() {
            return server.linearizableRead();
        }

        @Override
        public ServerStatus status() {
            return server.status();
        }

        @Override
        public void addLeaderListener(IntConsumer listener) {
            server.addLeaderListener(listener);
        }

        @Override
        public CompletableFuture<Void> addLearner(int id, InetSocketAddress peer, String http) {
            return server.addLearner(id, peer, http);
        }

        @Override
        public CompletableFuture<Void> promote(int id) {
            return server.promote(id);
        }

        @Override
        public CompletableFuture<Void> removeMember(int id) {
            return server.removeMember(id);
        }

        @Override
        public CompletableFuture<Void> transferLeadership(int id) {
            return server.transferLeadership(id);
        }

        @Override
        public CompletableFuture<Void> publishAddress(int id, InetSocketAddress peer, String http) {
            return server.publishAddress(id, peer, http);
        }

        @Override
        public Map<Integer, RaftServer.Member> memberAddresses() {
            return server.memberAddresses();
        }

        @Override
        public RaftServer.Member memberAddress(int id) {
            return server.memberAddress(id);
        }
    }
}
