package dev.keel.bench.microraft;

import dev.keel.bench.harness.RaftSystem;
import dev.keel.bench.harness.Setup;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftNodeStatus;
import io.microraft.RaftRole;
import io.microraft.exception.NotLeaderException;
import io.microraft.executor.impl.DefaultRaftNodeExecutor;
import io.microraft.model.message.RaftMessage;
import io.microraft.report.RaftLogStats;
import io.microraft.report.RaftNodeReport;
import io.microraft.statemachine.StateMachine;
import io.microraft.transport.Transport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * MicroRaft 0.7 behind the comparison harness, for the in-memory table only.
 *
 * <p>MicroRaft is a Raft core without I/O: the embedding application supplies the transport and,
 * optionally, a {@code RaftStore}. The simplest fair embedding, and the one MicroRaft itself uses in
 * its tests and tutorial, is what this adapter does: all nodes in this JVM, each on MicroRaft's
 * {@link DefaultRaftNodeExecutor} (one thread per node), a transport that hands each message object
 * to the target node's {@link RaftNode#handle} (which only queues it on that node's thread), no
 * serialization, and no {@code RaftStore} (MicroRaft's default {@code NopRaftStore}: the log lives
 * in MicroRaft's in-memory ring buffer). With no durable log it cannot run in the durable table.
 *
 * <p>Configuration, everything else at MicroRaft's defaults:
 * <ul>
 *   <li>leader election timeout = {@link Setup#electionTimeoutMinMillis()} (MicroRaft adds its own
 *       0-100 ms of randomness; it has no separate upper bound to set);</li>
 *   <li>leader heartbeat period 2 s and leader heartbeat timeout 10 s: MicroRaft's defaults. Both are
 *       whole seconds in {@link RaftConfig}, so a period of a tenth of the election timeout cannot be
 *       expressed; they only govern idle heartbeats and leader-failure detection, and under load every
 *       append already carries the heartbeat;</li>
 *   <li>append entries batch size 1,000 entries, max pending (uncommitted) log entries 5,000 before
 *       {@code CannotReplicateException} (MicroRaft's own back-pressure; well above the 256 outstanding
 *       of the highest closed loop, so it is left alone);</li>
 *   <li>commit count to take a snapshot: 50,000 (the default). A snapshot is how MicroRaft frees
 *       its in-memory log, whose capacity is sized from this number; the counter's snapshot is one
 *       {@code Long}, so a snapshot every 50,000 commits costs next to nothing and raising it would
 *       only keep more entries on the heap.</li>
 * </ul>
 */
public final class MicroRaftSystem implements RaftSystem {

    /** How long {@link #start} waits for a leader that has committed an entry of its term. */
    private static final long START_TIMEOUT_MILLIS = 30_000;

    /** How long {@link #close} waits for each node to terminate and its thread to end. */
    private static final long CLOSE_TIMEOUT_MILLIS = 10_000;

    private final List<RaftNode> nodes = new ArrayList<>();
    private final List<DefaultRaftNodeExecutor> executors = new ArrayList<>();
    private final List<CounterStateMachine> stateMachines = new ArrayList<>();
    private final InJvmTransport transport = new InJvmTransport();
    private RaftConfig config;

    /** The node proposals go to; replaced when a proposal is refused by a node that is no longer leader. */
    private volatile RaftNode leader;

    public MicroRaftSystem() {
    }

    @Override
    public String name() {
        return "microraft";
    }

    @Override
    public String describe() {
        RaftConfig c = config;
        if (c == null) return "MicroRaft 0.7 (not started)";
        return "MicroRaft 0.7, in memory (no RaftStore: MicroRaft has no durable log), in-JVM transport handing message"
                + " objects to RaftNode.handle (no serialization: log entries hold the proposer's byte[]), DefaultRaftNodeExecutor (one thread per node);"
                + " leader election timeout " + c.getLeaderElectionTimeoutMillis() + " ms (+0-100 ms MicroRaft noise),"
                + " heartbeat period " + c.getLeaderHeartbeatPeriodSecs() + " s / timeout " + c.getLeaderHeartbeatTimeoutSecs()
                + " s (defaults; whole seconds only), append batch " + c.getAppendEntriesRequestBatchSize()
                + ", max pending entries " + c.getMaxPendingLogEntryCount()
                + ", snapshot every " + c.getCommitCountToTakeSnapshot() + " commits (all MicroRaft defaults)";
    }

    @Override
    public void start(Setup setup) throws Exception {
        if (setup.durable()) {
            throw new UnsupportedOperationException(
                    "MicroRaft has no durable log (it ships no RaftStore implementation in its core); run it with --memory");
        }
        config = RaftConfig.newBuilder()
                .setLeaderElectionTimeoutMillis(setup.electionTimeoutMinMillis())
                .build();

        List<RaftEndpoint> members = new ArrayList<>();
        for (int i = 1; i <= setup.nodes(); i++) members.add(new Endpoint("n" + i));

        // Build every node and register it with the transport before starting any, so that no
        // node's first vote request goes to a peer the transport does not know yet.
        for (RaftEndpoint endpoint : members) {
            DefaultRaftNodeExecutor executor = new DefaultRaftNodeExecutor();
            CounterStateMachine stateMachine = new CounterStateMachine();
            RaftNode node = RaftNode.newBuilder()
                    .setGroupId("keel-bench")
                    .setLocalEndpoint(endpoint)
                    .setInitialGroupMembers(members)
                    .setConfig(config)
                    .setExecutor(executor)
                    .setTransport(transport)
                    .setStateMachine(stateMachine)
                    .build();
            nodes.add(node);
            executors.add(executor);
            stateMachines.add(stateMachine);
            transport.register(endpoint, node);
        }
        for (RaftNode node : nodes) node.start();

        leader = awaitReadyLeader(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MILLIS));
    }

    /**
     * Polls until some node is leader of its term and has committed an entry of that term (the
     * new-term no-op MicroRaft appends on election): from then on it accepts and commits proposals.
     */
    private RaftNode awaitReadyLeader(long deadlineNanos) throws InterruptedException, TimeoutException {
        while (System.nanoTime() < deadlineNanos) {
            for (RaftNode node : nodes) {
                if (!node.getLocalEndpoint().equals(node.getTerm().getLeaderEndpoint())) continue;
                try {
                    RaftNodeReport report = node.getReport().get(1, TimeUnit.SECONDS).getResult();
                    RaftLogStats log = report.getLog();
                    if (report.getRole() == RaftRole.LEADER && report.getStatus() == RaftNodeStatus.ACTIVE
                            && log.getCommitIndex() >= 1 && log.getCommitIndex() == log.getLastLogOrSnapshotIndex()
                            && log.getLastLogOrSnapshotTerm() == report.getTerm().getTerm()) {
                        return node;
                    }
                } catch (ExecutionException | TimeoutException e) {
                    // not ready yet (or busy); poll again
                }
            }
            Thread.sleep(20);
        }
        throw new TimeoutException("no MicroRaft leader committed an entry of its term within " + START_TIMEOUT_MILLIS + " ms");
    }

    @Override
    public CompletableFuture<Void> submit(byte[] command) {
        RaftNode target = leader;
        CompletableFuture<Void> done = new CompletableFuture<>();
        // replicate() only queues a task on the leader's thread; the future completes there once the
        // entry is committed and applied by the leader's state machine.
        target.<Object>replicate(command).whenComplete((ordered, failure) -> {
            if (failure == null) {
                done.complete(null);
                return;
            }
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
            if (cause instanceof NotLeaderException nle) followLeader(target, nle.getLeader());
            done.completeExceptionally(cause);
        });
        return done;
    }

    /** Points later proposals at the leader a refusing node named; the refused one stays an error. */
    private void followLeader(RaftNode refused, RaftEndpoint newLeader) {
        if (newLeader == null || leader != refused) return;
        RaftNode node = transport.node(newLeader);
        if (node != null) leader = node;
    }

    /** Commands applied by the current leader's state machine (the tests' view of progress). */
    long leaderAppliedCommands() {
        int i = nodes.indexOf(leader);
        return i < 0 ? 0 : stateMachines.get(i).applied();
    }

    /**
     * Terminates every node and waits for their threads to end. Declares no checked exception (an
     * interrupt ends the waiting and is kept on the thread), so try-with-resources needs no handler.
     */
    @Override
    public void close() {
        // Drop messages from now on: a terminated node would log a warning for each one it is handed.
        transport.close();
        List<CompletableFuture<?>> terminations = new ArrayList<>();
        for (RaftNode node : nodes) terminations.add(node.terminate());
        try {
            CompletableFuture.allOf(terminations.toArray(CompletableFuture[]::new))
                    .get(CLOSE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // fall through: the executors are stopped below regardless
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // terminate() shuts each DefaultRaftNodeExecutor down; shutdownNow covers a node that did not
        // get that far, and the wait makes close() return with every Raft thread gone.
        for (DefaultRaftNodeExecutor executor : executors) executor.getExecutor().shutdownNow();
        try {
            for (DefaultRaftNodeExecutor executor : executors) {
                executor.getExecutor().awaitTermination(CLOSE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        nodes.clear();
        executors.clear();
        stateMachines.clear();
    }

    /** A node's address: its name. A record, so that MicroRaft's maps keyed by endpoint work by value. */
    record Endpoint(String id) implements RaftEndpoint {
        @Override
        public Object getId() {
            return id;
        }
    }

    /**
     * The in-JVM transport: {@link RaftNode#handle} queues the message on the target node's own
     * thread, so a send never runs the target's logic on the sender's thread. Messages are shared,
     * not copied: MicroRaft's messages and log entries are immutable once built.
     */
    static final class InJvmTransport implements Transport {
        private final Map<RaftEndpoint, RaftNode> nodes = new ConcurrentHashMap<>();
        private volatile boolean closed;

        void register(RaftEndpoint endpoint, RaftNode node) {
            nodes.put(endpoint, node);
        }

        RaftNode node(RaftEndpoint endpoint) {
            return nodes.get(endpoint);
        }

        void close() {
            closed = true;
        }

        @Override
        public void send(RaftEndpoint target, RaftMessage message) {
            if (closed) return;
            RaftNode node = nodes.get(target);
            if (node != null) node.handle(message);
        }

        @Override
        public boolean isReachable(RaftEndpoint endpoint) {
            return !closed && nodes.containsKey(endpoint);
        }
    }

    /**
     * The trivial state machine: counts the commands it applies. Every call comes from the owning
     * node's single Raft thread, so the count has one writer; it is volatile for the test's reads.
     */
    static final class CounterStateMachine implements StateMachine {
        private volatile long applied;

        long applied() {
            return applied;
        }

        @Override
        public Object runOperation(long commitIndex, Object operation) {
            // Commands are the harness's byte arrays; the new-term no-op a leader appends is not one.
            if (operation instanceof byte[]) applied = applied + 1; // single writer, see the class comment
            return null;
        }

        @Override
        public void takeSnapshot(long commitIndex, Consumer<Object> snapshotChunkConsumer) {
            snapshotChunkConsumer.accept(applied); // one chunk: the count
        }

        @Override
        public void installSnapshot(long commitIndex, List<Object> snapshotChunks) {
            applied = snapshotChunks.isEmpty() ? 0 : (Long) snapshotChunks.get(0);
        }

        /** The entry MicroRaft appends when a leader takes office, so that it can commit in its term. */
        @Override
        public Object getNewTermOperation() {
            return NewTermNoOp.INSTANCE;
        }
    }

    /** The new-term operation: nothing to apply. Shared by reference, as nothing is serialized. */
    enum NewTermNoOp {
        INSTANCE
    }
}
