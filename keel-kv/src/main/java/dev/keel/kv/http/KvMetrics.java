package dev.keel.kv.http;

import dev.keel.core.Role;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.ServerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;

/**
 * The node's Micrometer meters, exposed in Prometheus text format at {@code GET /metrics}. Names
 * carry their units; Prometheus adds {@code _total}/{@code _seconds} suffixes:
 * <ul>
 *   <li>{@code keel.proposals} writes this node submitted to Raft; {@code keel.proposals.failed}
 *       by {@code reason} (not_leader, timeout, rejected, not_committed, shutting_down)
 *   <li>{@code keel.commits} writes committed and applied; {@code keel.commit.latency} submit to result
 *   <li>{@code keel.leader.changes}, {@code keel.elections.won} (from the leader listener),
 *       {@code keel.term} (each election raises it)
 *   <li>{@code keel.commit.index}, {@code keel.applied.index}, {@code keel.log.last.index},
 *       {@code keel.log.entries} (entries after the snapshot, i.e. the log's length),
 *       {@code keel.snapshot.index}, {@code keel.snapshots} (snapshot index changes seen at scrape time)
 *   <li>{@code keel.kv.keys}, {@code keel.kv.sessions}, {@code keel.kv.revision}
 *   <li>{@code keel.http.requests} by method, route and status; {@code keel.http.forwarded}
 * </ul>
 * Thread-safe.
 */
public final class KvMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter proposals;
    private final Counter commits;
    private final Timer commitLatency;
    private final Counter leaderChanges;
    private final Counter electionsWon;
    private final Counter forwarded;
    private final AtomicLong snapshotsSeen = new AtomicLong();
    private volatile java.util.function.Supplier<dev.keel.transport.TransportStats> transportStats;
    private volatile long lastSnapshotIndex = -1;

    public KvMetrics(int nodeId, Consensus consensus, KvStateMachine stateMachine) {
        registry.config().commonTags("node", Integer.toString(nodeId));
        proposals = Counter.builder("keel.proposals").description("writes submitted to Raft by this node").register(registry);
        commits = Counter.builder("keel.commits").description("writes committed and applied").register(registry);
        commitLatency = Timer.builder("keel.commit.latency").description("time from submit to the state machine's result")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
        leaderChanges = Counter.builder("keel.leader.changes").description("times this node saw the leader change").register(registry);
        electionsWon = Counter.builder("keel.elections.won").description("times this node became leader").register(registry);
        forwarded = Counter.builder("keel.http.forwarded").description("writes forwarded to the leader").register(registry);
        gauge("keel.term", consensus, c -> c.status().term());
        gauge("keel.leader.id", consensus, c -> c.status().leaderId());
        gauge("keel.is.leader", consensus, c -> c.status().role() == Role.LEADER ? 1 : 0);
        gauge("keel.commit.index", consensus, c -> c.status().commitIndex());
        gauge("keel.applied.index", consensus, c -> c.status().appliedIndex());
        gauge("keel.log.last.index", consensus, c -> c.status().lastIndex());
        gauge("keel.log.entries", consensus, c -> {
            ServerStatus s = c.status();
            return Math.max(0, s.lastIndex() - s.snapshotIndex());
        });
        gauge("keel.snapshot.index", consensus, c -> c.status().snapshotIndex());
        // Per-follower replication lag, reported by the leader (NaN elsewhere): entries the
        // follower is known to lack.
        for (int peer : consensus.status().members()) {
            if (peer == nodeId) continue;
            Gauge.builder("keel.replication.lag", consensus, c -> {
                Long match = c.status().followerMatchIndex().get(peer);
                return match == null || match < 0 ? Double.NaN : c.status().lastIndex() - match;
            }).tag("peer", String.valueOf(peer)).baseUnit("entries").register(registry);
        }
        FunctionCounter.builder("keel.snapshots", consensus, c -> {
            // The runtime has no snapshot callback: count changes of the snapshot index when scraped.
            long idx = c.status().snapshotIndex();
            if (lastSnapshotIndex >= 0 && idx != lastSnapshotIndex) snapshotsSeen.incrementAndGet();
            lastSnapshotIndex = idx;
            return snapshotsSeen.get();
        }).description("snapshot index changes seen at scrape time").register(registry);
        gauge("keel.kv.keys", stateMachine, m -> m.view().keyCount());
        gauge("keel.kv.sessions", stateMachine, m -> m.view().sessionCount());
        gauge("keel.kv.revision", stateMachine, m -> m.view().revision());
        consensus.addLeaderListener(leader -> {
            leaderChanges.increment();
            if (leader == nodeId) electionsWon.increment();
        });
    }

    private <T> void gauge(String name, T obj, ToDoubleFunction<T> f) {
        Gauge.builder(name, obj, f).register(registry);
    }

    /**
     * Exports the peer transport's inbound counters: what strangers and broken peers did to the peer
     * port (garbage, a hello from an unknown node or another cluster, bad frames) is counted here,
     * not only logged.
     */
    public void bindTransport(java.util.function.Supplier<dev.keel.transport.TransportStats> stats) {
        // Micrometer holds a function meter's object weakly: keep the supplier alive as long as these metrics.
        transportStats = stats;
        FunctionCounter.builder("keel.peer.connections.accepted", stats, s -> s.get().inbound().connectionsAccepted())
                .description("peer port connections accepted, before their hello is checked").register(registry);
        FunctionCounter.builder("keel.peer.handshake.failures", stats, s -> s.get().inbound().handshakeFailures())
                .description("peer connections refused for a bad hello (magic, version, cluster id, unknown node) or TLS handshake")
                .register(registry);
        FunctionCounter.builder("keel.peer.decode.errors", stats, s -> s.get().inbound().decodeErrors())
                .description("peer connections closed for a bad frame (too long, unknown type, truncated, invalid)").register(registry);
        FunctionCounter.builder("keel.peer.misrouted", stats, s -> s.get().inbound().misrouted())
                .description("peer messages dropped for claiming another sender or receiver").register(registry);
        FunctionCounter.builder("keel.peer.received", stats, s -> s.get().inbound().received())
                .description("peer messages decoded and handed to Raft").register(registry);
    }

    void proposed() {
        proposals.increment();
    }

    void committed(long startNanos) {
        commits.increment();
        commitLatency.record(System.nanoTime() - startNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    void proposalFailed(String reason) {
        Counter.builder("keel.proposals.failed").tag("reason", reason).register(registry).increment();
    }

    void forwarded() {
        forwarded.increment();
    }

    /**
     * A request or connection refused before it reached the API: a limit (connections, in-flight per
     * client), a malformed or oversized request, or a failed TLS handshake. {@code reason} comes from
     * a fixed set in the server, never from the client, so a client cannot mint time series.
     */
    void rejected(String reason) {
        Counter.builder("keel.http.rejected").description("HTTP requests and connections refused before the API")
                .tag("reason", reason).register(registry).increment();
    }

    void request(String method, String route, int status, long startNanos) {
        Timer.builder("keel.http.requests").tag("method", method).tag("route", route).tag("status", Integer.toString(status))
                .register(registry).record(System.nanoTime() - startNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** Prometheus text exposition format 0.0.4. */
    public String scrape() {
        return registry.scrape();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }
}
