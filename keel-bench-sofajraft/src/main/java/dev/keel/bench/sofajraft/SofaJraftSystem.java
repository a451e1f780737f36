package dev.keel.bench.sofajraft;

import com.alipay.sofa.jraft.Closure;
import com.alipay.sofa.jraft.JRaftUtils;
import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.RaftGroupService;
import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.conf.Configuration;
import com.alipay.sofa.jraft.core.StateMachineAdapter;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.entity.Task;
import com.alipay.sofa.jraft.option.NodeOptions;
import com.alipay.sofa.jraft.option.RaftOptions;
import com.alipay.sofa.jraft.rpc.RaftRpcServerFactory;
import com.alipay.sofa.jraft.rpc.RpcServer;
import dev.keel.bench.harness.RaftSystem;
import dev.keel.bench.harness.Setup;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * SOFAJRaft 1.3.14 as a {@link RaftSystem}: {@link Setup#nodes()} JRaft nodes of one group in this JVM,
 * each with its own Bolt RPC server on 127.0.0.1 and its own RocksDB log under {@link Setup#nodeDir}.
 *
 * <p>Configured for the durable table only: JRaft's default log storage ({@code RocksDBLogStorage}) with
 * {@code RaftOptions.sync} on, so every append batch is written with a synced RocksDB write before it
 * counts towards the quorum, and {@code syncMeta} on, so term and vote are fsynced too (the default
 * leaves that off, which would let a restarted node vote twice in a term). Snapshots are off because
 * the runs are short and the other systems take none either. Everything else stays at JRaft's
 * defaults, which {@link #describe()} lists with their values.
 *
 * <p>Proposals go through {@link Node#apply(Task)} on the leader, in JRaft's default non-blocking
 * apply mode: when the leader's apply queue (a disruptor ring of {@code disruptorBufferSize} slots) is
 * full, JRaft does not block the caller but runs the task's closure with {@code EBUSY}, which fails the
 * proposal's future; the harness counts it as an error.
 */
public final class SofaJraftSystem implements RaftSystem {

    private static final String GROUP = "keel-bench";

    /** One node: its RPC server and node (via the group service), its state machine and its RPC executors. */
    private record Member(int id, PeerId peer, RaftGroupService service, Node node, CounterStateMachine fsm,
                          Executor raftExecutor, Executor cliExecutor) {
    }

    private final List<Member> members = new ArrayList<>();
    /** The options every node was started with, for {@link #describe()}. */
    private NodeOptions options;
    /** The node last seen leading; submit() re-resolves it when it no longer leads. */
    private volatile Member leader;

    public SofaJraftSystem() {
    }

    @Override
    public String name() {
        return "sofajraft";
    }

    @Override
    public String describe() {
        NodeOptions o = options != null ? options : new NodeOptions();
        RaftOptions r = o.getRaftOptions();
        int e = o.getElectionTimeoutMs();
        return String.format(Locale.ROOT,
                "SOFAJRaft 1.3.14; log: default RocksDBLogStorage (RocksDB JNI), RaftOptions.sync=%s (synced "
                        + "RocksDB write per append batch), syncMeta=%s; transport: Bolt RPC (netty 4.1.42) on "
                        + "127.0.0.1; election timeout: electionTimeoutMs=%d + maxElectionDelayMs=%d, i.e. random in "
                        + "[%d, %d) ms, heartbeat %d ms (timeout/electionHeartbeatFactor=%d); snapshots off "
                        + "(snapshotIntervalSecs=%d); JRaft defaults kept: applyBatch=%d, maxEntriesSize=%d, "
                        + "maxBodySize=%d, maxAppendBufferSize=%d, replicatorPipeline=%s with "
                        + "maxReplicatorInflightMsgs=%d, disruptorBufferSize=%d, applyTaskMode=%s (full apply queue "
                        + "fails the proposal with EBUSY), enableLogEntryChecksum=%s, openStatistics=%s, "
                        + "raftRpcThreadPoolSize=%d; JVM flags: none required (no --add-opens); on JDK 24+ "
                        + "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow only silence "
                        + "warnings",
                r.isSync(), r.isSyncMeta(), e, r.getMaxElectionDelayMs(), e, e + r.getMaxElectionDelayMs(),
                Math.max(e / r.getElectionHeartbeatFactor(), 10), r.getElectionHeartbeatFactor(),
                o.getSnapshotIntervalSecs(), r.getApplyBatch(), r.getMaxEntriesSize(), r.getMaxBodySize(),
                r.getMaxAppendBufferSize(), r.isReplicatorPipeline(), r.getMaxReplicatorInflightMsgs(),
                r.getDisruptorBufferSize(), o.getApplyTaskMode(), r.isEnableLogEntryChecksum(), r.isOpenStatistics(),
                o.getRaftRpcThreadPoolSize());
    }

    @Override
    public void start(Setup setup) throws Exception {
        if (!setup.durable()) {
            throw new UnsupportedOperationException(
                    "SOFAJRaft is compared only with its durable RocksDB log; it has no in-memory log storage to match --memory");
        }
        if (!members.isEmpty()) throw new IllegalStateException("already started");
        List<PeerId> peers = new ArrayList<>();
        for (int id = 1; id <= setup.nodes(); id++) peers.add(new PeerId("127.0.0.1", setup.port(id)));
        Configuration conf = new Configuration(peers);
        try {
            for (int id = 1; id <= setup.nodes(); id++) {
                members.add(startNode(setup, id, peers.get(id - 1), conf));
            }
            awaitLeader(setup);
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    private NodeOptions nodeOptions(Setup setup, Path dir, Configuration conf, CounterStateMachine fsm) {
        RaftOptions raft = new RaftOptions();
        // Durable: a synced RocksDB write for every batch of appended entries (the default, stated so that
        // a change of default cannot silently turn it off), and synced term/vote/config metadata.
        raft.setSync(true);
        raft.setSyncMeta(true);
        // JRaft draws each election timeout from [electionTimeoutMs, electionTimeoutMs + maxElectionDelayMs);
        // this makes that exactly the harness's range. It equals JRaft's default (1000) for the default
        // 1000-2000 ms. nextInt needs a non-empty range, hence at least 1.
        raft.setMaxElectionDelayMs(Math.max(1, setup.electionTimeoutMaxMillis() - setup.electionTimeoutMinMillis()));

        NodeOptions o = new NodeOptions();
        o.setRaftOptions(raft);
        o.setElectionTimeoutMs(setup.electionTimeoutMinMillis());
        o.setInitialConf(conf.copy());
        o.setFsm(fsm);
        o.setLogUri(dir.resolve("log").toString());
        o.setRaftMetaUri(dir.resolve("meta").toString());
        o.setSnapshotUri(dir.resolve("snapshot").toString());
        // <= 0 disables the timed snapshot (the default takes one every hour, which a 10 s run would not reach
        // anyway, but a long soak would); no snapshot is ever taken, so the log is never truncated.
        o.setSnapshotIntervalSecs(0);
        return o;
    }

    private Member startNode(Setup setup, int id, PeerId peer, Configuration conf) throws IOException {
        Path dir = setup.nodeDir(id);
        Files.createDirectories(dir);
        CounterStateMachine fsm = new CounterStateMachine();
        NodeOptions o = nodeOptions(setup, dir, conf, fsm);
        if (options == null) options = o;
        // The same executors RaftGroupService's three-argument constructor would create, made here so that
        // close() can stop them (RaftGroupService never does).
        Executor raftExecutor = JRaftUtils.createExecutor("RAFT-RPC-executor-n" + id + "-", o.getRaftRpcThreadPoolSize());
        Executor cliExecutor = JRaftUtils.createExecutor("CLI-RPC-executor-n" + id + "-", o.getCliRpcThreadPoolSize());
        try {
            RpcServer rpc = RaftRpcServerFactory.createRaftRpcServer(peer.getEndpoint(), raftExecutor, cliExecutor);
            RaftGroupService service = new RaftGroupService(GROUP, peer, o, rpc);
            // Creates and initialises the node (it throws if the log or meta storage cannot be opened), then
            // binds the RPC server.
            Node node = service.start();
            return new Member(id, peer, service, node, fsm, raftExecutor, cliExecutor);
        } catch (RuntimeException e) {
            shutdown(raftExecutor);
            shutdown(cliExecutor);
            throw e;
        }
    }

    private void awaitLeader(Setup setup) throws InterruptedException {
        // Generous: on a loaded two-core machine a first election can take several timeouts (split votes).
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(30_000L + 10L * setup.electionTimeoutMaxMillis());
        while (System.nanoTime() < deadline) {
            Member m = findLeader();
            if (m != null) return;
            Thread.sleep(20);
        }
        throw new IllegalStateException("no SOFAJRaft leader elected in time");
    }

    /** Scans the nodes for the one that leads now and remembers it; null if none does. */
    private Member findLeader() {
        for (Member m : members) {
            if (m.node().isLeader(false)) {
                leader = m;
                return m;
            }
        }
        return null;
    }

    @Override
    public CompletableFuture<Void> submit(byte[] command) {
        Member m = leader;
        // isLeader(false) is a volatile read, no lock: cheap enough per proposal. If it is stale, the
        // node refuses the task with EPERM through the closure, which fails the future below.
        if (m == null || !m.node().isLeader(false)) m = findLeader();
        if (m == null) return CompletableFuture.failedFuture(new IllegalStateException("SOFAJRaft has no leader"));
        CompletableFuture<Void> f = new CompletableFuture<>();
        Closure done = status -> {
            if (status.isOk()) f.complete(null);
            else f.completeExceptionally(new SofaJraftException(status));
        };
        try {
            // A fresh wrap per task: JRaft keeps the buffer in its log entry and moves its position.
            m.node().apply(new Task(ByteBuffer.wrap(command), done));
        } catch (RuntimeException e) {
            // Shutting down: JRaft has already failed the closure and throws as well.
            f.completeExceptionally(e);
        }
        return f;
    }

    /** The leader's state machine counter (tests). */
    long leaderApplied() {
        Member m = findLeader();
        if (m == null) m = leader;
        return m == null ? 0 : m.fsm().applied();
    }

    /**
     * Shuts every node down, waits for each to finish (its log closed), then stops the RPC servers and
     * waits (up to 5 s each) until their ports are free. Never throws: an interrupt while waiting is kept as the
     * thread's interrupt status, and the rest is still shut down.
     */
    @Override
    public void close() {
        Member lead = findLeader();
        leader = null;
        // Followers first, then the leader. A leader that shuts down steps down and sends TimeoutNow to a
        // follower so that it campaigns at once; with the followers already gone that election does not
        // start in the middle of the shutdown.
        List<Member> order = new ArrayList<>(members);
        if (lead != null && order.remove(lead)) order.add(lead);
        // Nodes before servers, while every RPC server still answers: Node.shutdown is asynchronous and stops
        // the node's timers, replicators and RPC client, so once all are joined nobody dials a peer whose port
        // is gone (RaftGroupService.shutdown stops the server first, and the surviving nodes' Bolt clients
        // then retry and log connection failures).
        for (Member m : order) m.node().shutdown();
        boolean interrupted = false;
        for (Member m : order) {
            try {
                m.node().join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // Then the RPC servers and the node registrations; the service's own Node.shutdown is a no-op on a
        // node that is already down.
        for (Member m : order) {
            m.service().shutdown();
            shutdown(m.raftExecutor());
            shutdown(m.cliExecutor());
        }
        // The RPC server's shutdown closes its listening socket on its IO thread and may return first (a
        // CI run found a port still held just after close()); the next system in the rotation binds the
        // same ports, so wait until each is free.
        for (Member m : order) interrupted |= !awaitPortFree(m.peer().getPort());
        members.clear();
        if (interrupted) Thread.currentThread().interrupt();
    }

    /**
     * Polls (the OS gives no notice) until {@code port} can be bound on 127.0.0.1, for at most 5 s;
     * false if interrupted meanwhile.
     */
    private static boolean awaitPortFree(int port) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!canBind(port) && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            if (Thread.interrupted()) return false;
        }
        return true;
    }

    private static boolean canBind(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void shutdown(Executor executor) {
        if (executor instanceof ExecutorService es) es.shutdownNow();
    }

    /** A proposal JRaft refused or lost, with its status. */
    static final class SofaJraftException extends RuntimeException {
        private final transient Status status;

        SofaJraftException(Status status) {
            super("SOFAJRaft: " + status);
            this.status = status;
        }

        Status status() {
            return status;
        }
    }

    /**
     * The trivial state machine: counts applied entries and acknowledges the leader's proposals. Runs on
     * the node's single FSM caller thread.
     */
    static final class CounterStateMachine extends StateMachineAdapter {
        private final AtomicLong applied = new AtomicLong();

        @Override
        public void onApply(com.alipay.sofa.jraft.Iterator iter) {
            while (iter.hasNext()) {
                applied.incrementAndGet();
                Closure done = iter.done(); // non-null only on the node that proposed the entry (the leader)
                if (done != null) done.run(Status.OK());
                iter.next();
            }
        }

        long applied() {
            return applied.get();
        }
    }
}
