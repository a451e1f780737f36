package dev.keel.server;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.Message;
import dev.keel.core.ProposeResult;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.ReadState;
import dev.keel.core.Ready;
import dev.keel.core.Role;
import dev.keel.core.SnapshotChunk;
import dev.keel.core.SnapshotMeta;
import dev.keel.core.Status;
import dev.keel.storage.DurableLog;
import dev.keel.transport.LocalNetwork;
import dev.keel.transport.PeerTransport;
import dev.keel.transport.Transport;
import dev.keel.transport.TransportConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.spi.SelectorProvider;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Keel node: drives a {@link RaftNode} with durable storage, a transport (TCP, or a
 * {@link LocalNetwork} in-process), timers and the user's {@link StateMachine}.
 *
 * <p>Threads: one event-loop thread owns the core and the log: it turns timers into ticks, steps
 * messages and requests, and carries out each {@link Ready} (persist with one sync per Ready, so
 * every proposal gathered since the last turn shares one fsync; then send; then hand committed
 * entries to the apply thread). A leader hands over committed entries first and sends its
 * AppendEntries before its own sync (thesis §10.2.1), since its own disk counts only once durable.
 * The loop is a one-thread Netty event loop that is also the TCP transport's IO thread: a peer's
 * message is decoded and stepped on the thread that reads it, and a message to a peer is written
 * to its socket by the thread that made it, so a commit crosses no thread between the sockets, the
 * core and the disk (each hand-over costs tens of microseconds on a small machine; a commit at one
 * request in flight would otherwise make four). At low load the loop polls briefly for the next
 * request instead of sleeping ({@link BusyPoll}). One apply thread runs the state machine and
 * completes futures; when it is idle the loop applies a small committed batch itself (never both
 * at once, always in log order). A background thread writes snapshots.
 *
 * <p>All public methods are thread-safe. Futures complete on the apply thread or the event loop:
 * do not block in their callbacks.
 */
public final class RaftServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RaftServer.class);

    private final ServerConfig config;
    private final StateMachine stateMachine;
    private final LogStore store;
    private final Transport transport;
    private final RaftNode node;

    /** Requests from other threads (and, in-process, peers' messages): bounded, drained on the loop. */
    private final LinkedBlockingQueue<Object> inbox;
    private final LinkedBlockingQueue<Object> applyQueue = new LinkedBlockingQueue<>();
    /**
     * Held while applying (by the apply thread, or by the loop applying a small batch itself); with
     * {@link #applyBacklog} it keeps applies in log order and never concurrent.
     */
    private final java.util.concurrent.locks.ReentrantLock applyLock = new java.util.concurrent.locks.ReentrantLock();
    /** Items put on {@link #applyQueue} and not yet finished; changed only under {@link #applyLock} once taken. */
    private final java.util.concurrent.atomic.AtomicInteger applyBacklog = new java.util.concurrent.atomic.AtomicInteger();
    /** The largest committed batch the loop applies itself when the apply thread is idle. */
    private static final int INLINE_APPLY_MAX_ENTRIES = 64;
    /** Loop only: how the loop waits; armed once a client request completed with none left in flight. */
    private final BusyPoll busyPoll;
    /** The event loop that owns the core and the log (see the class doc), in a group of its own. */
    private final EventLoopGroup loopGroup;
    private final EventLoop loop;
    /** Set while a drain of the inbox is queued on the loop: one wake-up per burst of requests. */
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final Runnable drainTask = this::drainInbox;
    private final Runnable readyTask = this::onReadyTask;
    private final Thread applyThread;
    private final ExecutorService snapshotWriter;
    /**
     * Forces the leader's own log writes while the loop goes on reading its followers'
     * acknowledgements (thesis §10.2.1); null unless {@code parallelLeaderSync} (and sync) is on.
     */
    private final ExecutorService ownSync;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicBoolean closeCalled = new AtomicBoolean();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();

    // Event-loop state.
    private boolean readyScheduled;
    private long nextTickNanos;
    private final List<Object> batch = new ArrayList<>(1024);
    private final Map<Long, CompletableFuture<Long>> readsByContext = new HashMap<>();
    private long nextReadContext = 1;
    private HardState persisted;
    private int lastLeader = RaftNode.NONE;
    private SnapshotSinkHolder receiving;
    /** The leader's write being forced on {@link #ownSync}, or null. */
    private OwnWrite forcing;
    /** The newest leader's write made while another was being forced: the next force covers it and those before it. */
    private OwnWrite nextForce;

    // Shared between the loop (insert) and the apply thread (complete).
    private final ConcurrentHashMap<Long, Pending> proposals = new ConcurrentHashMap<>();
    private final List<IntConsumer> leaderListeners = new CopyOnWriteArrayList<>();
    /** Members' addresses replicated through the log (Keel's own commands), bootstrap members first. */
    private final ConcurrentHashMap<Integer, Member> addressBook = new ConcurrentHashMap<>();
    private volatile ServerStatus status;

    // Apply-thread state.
    private volatile long appliedIndex;
    private long appliedTerm;
    private long lastSnapshotIndex;
    private long bytesSinceSnapshot;
    private final AtomicBoolean snapshotInProgress = new AtomicBoolean();
    private final PriorityQueue<ReadWaiter> readWaiters = new PriorityQueue<>((a, b) -> Long.compare(a.index, b.index));

    /**
     * A member's addresses as replicated through the log: its peer (Raft) address and the URI of its
     * client API (for example the KV store's HTTP base URI), {@code ""} when none was given
     * (bootstrap members, which know each other's from their configuration).
     */
    public record Member(java.net.InetSocketAddress peer, String http) {
        public Member {
            if (peer == null) throw new IllegalArgumentException("peer address is required");
            if (http == null) http = "";
        }
    }

    private record Pending(long term, CompletableFuture<byte[]> future, long deadlineNanos) {}

    private record Proposal(byte[] command, CompletableFuture<byte[]> future) {}

    private record ReadRequest(CompletableFuture<Long> future) {}

    private record ReadWaiter(long index, CompletableFuture<Long> future) {}

    private record ApplyBatch(List<Entry> entries) {}

    private record Restore(SnapshotMeta meta) {}

    private record Task(Runnable run) {}

    /** A leader's write handed to the disk: entries up to (index, term), durable once {@code force} returns. */
    private static final class OwnWrite {
        final DurableLog.PendingForce force;
        final long index;
        final long term;
        /** Completed by {@link #ownSync} with the force's error, or null when it succeeded. */
        final CompletableFuture<IOException> done = new CompletableFuture<>();

        OwnWrite(DurableLog.PendingForce force, long index, long term) {
            this.force = force;
            this.index = index;
            this.term = term;
        }

        /** Forces the write and records the outcome in {@link #done}. */
        void runForce() {
            IOException error = null;
            try {
                force.force();
            } catch (IOException e) {
                error = e;
            }
            done.complete(error);
        }
    }

    private static final class SnapshotSinkHolder {
        final SnapshotMeta meta;
        final LogStore.SnapshotSink sink;

        SnapshotSinkHolder(SnapshotMeta meta, LogStore.SnapshotSink sink) {
            this.meta = meta;
            this.sink = sink;
        }
    }

    private RaftServer(ServerConfig config, StateMachine stateMachine, LogStore store, LocalNetwork network) throws IOException {
        this.config = config;
        this.stateMachine = stateMachine;
        this.store = store;
        this.inbox = new LinkedBlockingQueue<>(config.maxPendingRequests());
        config.members().forEach((id, address) -> addressBook.put(id, new Member(address, "")));

        // Restore the state machine from the newest snapshot before the core starts (thesis §5.1).
        SnapshotMeta snap = store.snapshot();
        if (!snap.isNone()) {
            try (InputStream in = store.openSnapshot(snap)) {
                restoreFrom(in);
            }
            log.info("node={} restored snapshot index={} term={}", config.nodeId(), snap.index(), snap.term());
        }
        appliedIndex = snap.index();
        appliedTerm = snap.term();
        lastSnapshotIndex = snap.index();
        persisted = store.hardState();

        RaftConfig raftConfig = RaftConfig.builder(config.nodeId(), config.bootstrapVoters())
                .electionTimeoutTicks(config.electionTimeoutTicks())
                .heartbeatIntervalTicks(config.heartbeatIntervalTicks())
                .maxUncommittedBytes(config.maxUncommittedBytes())
                .preVote(config.preVote())
                .checkQuorum(config.checkQuorum())
                .leaseReads(config.leaseReads())
                .build();
        this.node = new RaftNode(raftConfig, store, new SplittableRandom(System.nanoTime() ^ config.nodeId()),
                snap.index());
        publishStatus();

        this.busyPoll = new BusyPoll(TimeUnit.MICROSECONDS.toNanos(config.busyPollMicros()), System::nanoTime);
        this.loopGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("keel-raft-" + config.nodeId(), true),
                NioIoHandler.newFactory(SelectorProvider.provider(), () -> busyPoll));
        this.loop = loopGroup.next();
        Consumer<Message> inbound = m -> {
            if (loop.inEventLoop()) {
                stepOnLoop(m); // read by this node's own IO thread: no hand-over
            } else if (!enqueue(m)) {
                // Raft tolerates loss: when the loop is this far behind, dropping is better than blocking.
                log.debug("node={} inbox full, dropped {}", config.nodeId(), m.getClass().getSimpleName());
            }
        };
        try {
            this.transport = network != null ? network.join(config.nodeId(), peersOf(config), inbound)
                    : new PeerTransport(TransportConfig.builder(config.nodeId(), config.clusterId(), config.address())
                            .peers(peersOf(config)).tls(config.peerTls()).maxFrameBytes(config.peerMaxFrameBytes()).build(),
                            inbound, loopGroup);
        } catch (RuntimeException e) {
            loopGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw e;
        }
        // Members added after bootstrap (from the restored snapshot's address book).
        addressBook.forEach((peer, member) -> {
            if (peer != config.nodeId() && !config.members().containsKey(peer)) transport.addPeer(peer, member.peer());
        });
        this.snapshotWriter = Executors.newSingleThreadExecutor(r -> daemon(r, "keel-snapshot-" + config.nodeId()));
        this.ownSync = config.sync() && config.parallelLeaderSync() ? Executors.newSingleThreadExecutor(r -> daemon(r, "keel-sync-" + config.nodeId())) : null;
        this.applyThread = daemon(this::runApply, "keel-apply-" + config.nodeId());
    }

    private static Map<Integer, java.net.InetSocketAddress> peersOf(ServerConfig c) {
        Map<Integer, java.net.InetSocketAddress> peers = new HashMap<>(c.members());
        peers.remove(c.nodeId());
        return peers;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Opens (or creates) the node's data directory, restores the state machine from the newest
     * snapshot, and starts the node.
     */
    public static RaftServer start(ServerConfig config, StateMachine stateMachine) throws IOException {
        return start(config, stateMachine, null);
    }

    /**
     * As {@link #start(ServerConfig, StateMachine)}, with the peers reached through {@code network}
     * (in-process, no sockets; the members' addresses are then only names) instead of TCP; null for TCP.
     * Every member of the cluster must run in this JVM on the same network.
     */
    public static RaftServer start(ServerConfig config, StateMachine stateMachine, LocalNetwork network) throws IOException {
        return start(config, stateMachine, network, DurableLogStore.open(config));
    }

    /**
     * As {@link #start(ServerConfig, StateMachine, LocalNetwork)}, with the log, the term and vote,
     * and the snapshots held in this process's memory only: nothing is written to disk and the data
     * directory is not used. For tests and benchmarks. A node started this way forgets its vote
     * when it stops, so it must never be started again under the same id in the same cluster: it
     * could vote twice in one term, and a majority could lose entries it acknowledged (Figure 2
     * requires currentTerm, votedFor and the log on stable storage).
     *
     * @throws IllegalArgumentException if {@code config} asks for parallelLeaderSync (nothing to force)
     */
    public static RaftServer startInMemory(ServerConfig config, StateMachine stateMachine, LocalNetwork network) throws IOException {
        if (config.parallelLeaderSync()) {
            throw new IllegalArgumentException("parallelLeaderSync forces the leader's log on a thread of its own; in memory there is nothing to force");
        }
        return start(config, stateMachine, network, new MemoryLogStore());
    }

    private static RaftServer start(ServerConfig config, StateMachine stateMachine, LocalNetwork network, LogStore store) throws IOException {
        RaftServer s;
        try {
            s = new RaftServer(config, stateMachine, store, network);
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
        try {
            s.transport.start();
        } catch (RuntimeException e) {
            s.loopGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            store.close();
            throw e;
        }
        s.applyThread.start();
        s.startLoop();
        log.info("node={} started: members={} data={} peer={}", config.nodeId(), config.members().keySet(),
                store instanceof MemoryLogStore ? "in memory" : config.dataDir(), config.address());
        return s;
    }

    // ---------------------------------------------------------------- public API

    /**
     * Replicates a command and completes with the state machine's result once it is committed and
     * applied on this node. Fails with {@link KeelException.NotLeader} (with a hint) on a follower,
     * {@link KeelException.Rejected} under back-pressure, {@link KeelException.NotCommitted} if a new
     * leader overwrote it, {@link KeelException.Timeout} if the outcome is unknown in time, and
     * {@link KeelException.ShuttingDown} when stopping.
     */
    public CompletableFuture<byte[]> submit(byte[] command) {
        return propose(Envelope.user(command));
    }

    private CompletableFuture<byte[]> propose(byte[] entryData) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        if (!running.get()) {
            f.completeExceptionally(new KeelException.ShuttingDown());
        } else if (!enqueue(new Proposal(entryData, f))) {
            f.completeExceptionally(new KeelException.Rejected("too many pending requests (" + config.maxPendingRequests() + ")"));
        }
        return f;
    }

    /**
     * Completes, with the read index, once this node's state machine reflects every write that
     * completed before the call (ReadIndex, thesis §6.4): read the state machine then. Works on
     * followers too (they ask the leader for the index).
     */
    public CompletableFuture<Long> linearizableRead() {
        CompletableFuture<Long> f = new CompletableFuture<>();
        if (!running.get()) {
            f.completeExceptionally(new KeelException.ShuttingDown());
        } else if (!enqueue(new ReadRequest(f))) {
            f.completeExceptionally(new KeelException.Rejected("too many pending requests"));
        } else {
            f.orTimeout(config.proposalTimeoutMillis(), TimeUnit.MILLISECONDS);
        }
        return withTimeout(f);
    }

    private <T> CompletableFuture<T> withTimeout(CompletableFuture<T> f) {
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            if (e == null) out.complete(v);
            else if (e instanceof java.util.concurrent.TimeoutException) {
                out.completeExceptionally(new KeelException.Timeout("read not confirmed in " + config.proposalTimeoutMillis() + " ms"));
            } else out.completeExceptionally(e);
        });
        return out;
    }

    /** The node's state as of its last event-loop turn. */
    public ServerStatus status() {
        return status;
    }

    /** Called (on the event loop; be quick) with the new leader id, or 0, whenever it changes. */
    public void addLeaderListener(IntConsumer listener) {
        leaderListeners.add(listener);
    }

    public ServerConfig config() {
        return config;
    }

    /** The transport to the peers (TCP, or a LocalNetwork's links), for its counters. */
    public Transport transport() {
        return transport;
    }

    /**
     * Stops gracefully: no new requests, in-flight ones fail with {@link KeelException.ShuttingDown}
     * unless already done, threads end, files are closed.
     */
    @Override
    public void close() {
        if (!closeCalled.compareAndSet(false, true)) {
            stopped.join();
            return;
        }
        if (loop.inEventLoop()) {
            // Called from a callback on the loop (a leader listener): the loop cannot wait for itself.
            running.set(false);
            Thread t = daemon(this::closeNow, "keel-close-" + config.nodeId());
            t.start();
            return;
        }
        closeNow();
    }

    private void closeNow() {
        running.set(false);
        // Every loop task checks running first: once the task under way ends, nothing touches the
        // core or the log again.
        try {
            loop.submit(() -> { }).awaitUninterruptibly(10, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // the loop has already stopped
        }
        try {
            toApplyThread(new Task(() -> { }));
            applyThread.interrupt();
            applyThread.join(10_000);
            snapshotWriter.shutdown();
            snapshotWriter.awaitTermination(10, TimeUnit.SECONDS);
            if (ownSync != null) { // a force under way ends before the log closes its segment
                ownSync.shutdown();
                ownSync.awaitTermination(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        transport.close();
        if (!loopGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS)) {
            log.warn("node={} event loop did not stop within 10 s", config.nodeId());
        }
        failAll(new KeelException.ShuttingDown());
        store.close();
        log.info("node={} stopped", config.nodeId());
        stopped.complete(null);
    }

    private void failAll(KeelException e) {
        for (Pending p : proposals.values()) p.future().completeExceptionally(e);
        proposals.clear();
        for (CompletableFuture<Long> f : readsByContext.values()) f.completeExceptionally(e);
        readsByContext.clear();
        Object o;
        while ((o = inbox.poll()) != null) {
            if (o instanceof Proposal p) p.future().completeExceptionally(e);
            if (o instanceof ReadRequest r) r.future().completeExceptionally(e);
        }
        synchronized (readWaiters) {
            for (ReadWaiter w : readWaiters) w.future().completeExceptionally(e);
            readWaiters.clear();
        }
    }

    // ---------------------------------------------------------------- membership (thesis chapter 4)

    /**
     * Adds a node as a learner (thesis §4.2.1): it receives the log and snapshots but does not
     * vote. Its peer address is replicated first, so every member can reach it and accepts its
     * connections. Completes once the new configuration is committed and applied here. Leader only.
     */
    public CompletableFuture<Void> addLearner(int id, java.net.InetSocketAddress address) {
        return addLearner(id, address, "");
    }

    /**
     * As {@link #addLearner(int, java.net.InetSocketAddress)}, replicating also the URI of the node's
     * client API ({@code http}, for example {@code http://10.0.0.4:8084}; "" for none), so that every
     * member can send the node's clients' requests there. Leader only.
     */
    public CompletableFuture<Void> addLearner(int id, java.net.InetSocketAddress address, String http) {
        if (id <= 0) return CompletableFuture.failedFuture(new IllegalArgumentException("node id " + id + " must be positive"));
        return propose(Envelope.setAddress(id, address, http)).thenCompose(r -> changeMembership(m -> {
            if (m.contains(id)) return m;
            int[] learners = java.util.stream.IntStream.concat(java.util.stream.IntStream.of(m.learners()),
                    java.util.stream.IntStream.of(id)).toArray();
            return new Membership(m.voters(), new int[0], learners);
        }));
    }

    /** Promotes a caught-up learner to voter (refused with Rejected while it lags). Leader only. */
    public CompletableFuture<Void> promote(int id) {
        return changeMembership(m -> {
            if (!m.isLearner(id)) throw new IllegalArgumentException("node " + id + " is not a learner of " + m);
            int[] voters = java.util.stream.IntStream.concat(java.util.stream.IntStream.of(m.voters()),
                    java.util.stream.IntStream.of(id)).toArray();
            int[] learners = java.util.stream.IntStream.of(m.learners()).filter(l -> l != id).toArray();
            return new Membership(voters, new int[0], learners);
        });
    }

    /**
     * Removes a voter or learner. Removing the leader itself is allowed: it leads until the change
     * commits, then steps down (thesis §4.2.2). Leader only.
     */
    public CompletableFuture<Void> removeMember(int id) {
        return changeMembership(m -> {
            if (!m.contains(id)) throw new IllegalArgumentException("node " + id + " is not a member of " + m);
            return new Membership(java.util.stream.IntStream.of(m.voters()).filter(v -> v != id).toArray(), new int[0],
                    java.util.stream.IntStream.of(m.learners()).filter(l -> l != id).toArray());
        });
    }

    /**
     * Any change of the voters, made through joint consensus when more than one changes (thesis
     * §4.3); completes when the final configuration is committed and applied here.
     */
    public CompletableFuture<Void> changeMembership(java.util.function.UnaryOperator<Membership> change) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        if (!running.get()) {
            f.completeExceptionally(new KeelException.ShuttingDown());
        } else if (!enqueue(new Task(() -> {
            Membership target;
            try {
                target = change.apply(node.membership());
            } catch (IllegalArgumentException e) {
                f.completeExceptionally(new KeelException.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP + ": " + e.getMessage()));
                return;
            }
            switch (node.changeMembership(target)) {
                case ProposeResult.Accepted a -> proposals.put(a.index(), new Pending(a.term(), f,
                        System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.proposalTimeoutMillis())));
                case ProposeResult.NotLeader nl -> f.completeExceptionally(new KeelException.NotLeader(nl.leaderHint()));
                case ProposeResult.Rejected rj -> f.completeExceptionally(rejected(rj));
            }
        }))) {
            f.completeExceptionally(new KeelException.Rejected("too many pending requests"));
        }
        return f.thenApply(r -> null);
    }

    /**
     * Hands leadership to another voter (thesis §3.10). Completes once the request is made; watch
     * {@link #status()} or a leader listener for the outcome (it gives up after an election timeout).
     */
    public CompletableFuture<Void> transferLeadership(int id) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (!enqueue(new Task(() -> {
            switch (node.transferLeadership(id)) {
                case ProposeResult.Accepted a -> f.complete(null);
                case ProposeResult.NotLeader nl -> f.completeExceptionally(new KeelException.NotLeader(nl.leaderHint()));
                case ProposeResult.Rejected rj -> f.completeExceptionally(rejected(rj));
            }
        }))) {
            f.completeExceptionally(new KeelException.Rejected("too many pending requests"));
        }
        return f;
    }

    /**
     * Replicates a member's addresses (peer and client URI) without changing the membership, for
     * example a bootstrap member's client URI, which only the configuration knew. Completes once
     * applied here. Leader only.
     */
    public CompletableFuture<Void> publishAddress(int id, java.net.InetSocketAddress address, String http) {
        if (id <= 0) return CompletableFuture.failedFuture(new IllegalArgumentException("node id " + id + " must be positive"));
        return propose(Envelope.setAddress(id, address, http)).thenApply(r -> null);
    }

    /** The replicated peer address of every node ever added (bootstrap members included). */
    public Map<Integer, java.net.InetSocketAddress> addressBook() {
        Map<Integer, java.net.InetSocketAddress> out = new HashMap<>();
        addressBook.forEach((id, m) -> out.put(id, m.peer()));
        return Map.copyOf(out);
    }

    /** The replicated addresses (peer and client URI) of every node ever added (bootstrap members included). */
    public Map<Integer, Member> memberAddresses() {
        return Map.copyOf(addressBook);
    }

    /** One member's entry in the replicated address book, or null. */
    public Member memberAddress(int id) {
        return addressBook.get(id);
    }

    /** The core's refusal, its reason first (such as "MEMBERSHIP_CHANGE_PENDING: ..."), so callers can tell them apart. */
    private static KeelException.Rejected rejected(ProposeResult.Rejected rj) {
        return new KeelException.Rejected(rj.reason() + ": " + rj.detail());
    }

    /** Applies a committed entry: a user command goes to the state machine, Keel's own to Keel. */
    private byte[] applyCommand(long index, byte[] data) {
        if (Envelope.isUser(data)) return stateMachine.apply(index, Envelope.payload(data));
        Envelope.Address a = Envelope.decodeSetAddress(data);
        addressBook.put(a.id(), new Member(a.address(), a.http()));
        if (a.id() != config.nodeId()) transport.addPeer(a.id(), a.address());
        return new byte[0];
    }

    private void restoreFrom(InputStream in) throws IOException {
        Map<Integer, Member> book = Envelope.readAddressBook(in);
        addressBook.putAll(book);
        if (transport != null) { // null while the constructor restores, before the transport exists
            book.forEach((id, member) -> {
                if (id != config.nodeId()) transport.addPeer(id, member.peer());
            });
        }
        stateMachine.restore(in);
    }

    // ---------------------------------------------------------------- event loop

    /** Starts the timers; requests already queued are drained now. */
    private void startLoop() {
        long tickMillis = config.tickMillis();
        nextTickNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(tickMillis); // read on the loop after the schedule below
        // Fixed delay, not rate: after a stall the ticks owed are counted (and capped) in onTick.
        loop.scheduleWithFixedDelay(this::onTick, tickMillis, tickMillis, TimeUnit.MILLISECONDS);
        loop.scheduleAtFixedRate(this::onSweep, 100, 100, TimeUnit.MILLISECONDS);
        scheduleDrain();
    }

    /** Queues a request (or a peer's message from another thread) for the loop; false if the inbox is full. */
    private boolean enqueue(Object o) {
        if (!inbox.offer(o)) return false;
        scheduleDrain();
        return true;
    }

    private void scheduleDrain() {
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                loop.execute(drainTask);
            } catch (RejectedExecutionException e) {
                drainScheduled.set(false); // stopping: close() fails what is left in the inbox
            }
        }
    }

    /** Loop: handles what the inbox holds, then carries out the Ready. */
    private void drainInbox() {
        drainScheduled.set(false); // before draining: a request queued from now on schedules a new drain
        if (!running.get()) return;
        try {
            inbox.drainTo(batch, 4096);
            for (Object o : batch) handle(o);
            batch.clear();
            afterInputs();
        } catch (RuntimeException | Error e) {
            fail(e);
            return;
        }
        if (!inbox.isEmpty()) scheduleDrain();
    }

    /**
     * Loop: a message read on this node's IO thread. Stepped at once; its Ready waits for a task
     * queued behind the IO of this turn, so every message read in one turn shares one Ready (one
     * sync).
     */
    private void stepOnLoop(Message m) {
        if (!running.get()) return;
        try {
            node.step(m);
        } catch (RuntimeException | Error e) {
            fail(e);
            return;
        }
        if (!readyScheduled) {
            readyScheduled = true;
            loop.execute(readyTask);
        }
    }

    private void onReadyTask() {
        readyScheduled = false;
        if (!running.get()) return;
        try {
            afterInputs();
        } catch (RuntimeException | Error e) {
            fail(e);
        }
    }

    private void onTick() {
        if (!running.get()) return;
        try {
            long now = System.nanoTime();
            long tickNanos = TimeUnit.MILLISECONDS.toNanos(config.tickMillis());
            int ticks = 0;
            // Catch up after a pause (a long sync, a GC), but not forever: a burst of owed ticks
            // would time out an election before the messages waiting in the sockets are read.
            while (now - nextTickNanos >= 0 && ticks < 10) {
                node.tick();
                nextTickNanos += tickNanos;
                ticks++;
            }
            if (now - nextTickNanos >= 0) nextTickNanos = now + tickNanos;
            afterInputs();
        } catch (RuntimeException | Error e) {
            fail(e);
        }
    }

    private void onSweep() {
        if (running.get()) sweepTimeouts(System.nanoTime());
    }

    private void afterInputs() {
        while (node.hasReady()) processReady();
        publishStatus();
    }

    /**
     * A storage failure (disk full, EIO) or a bug: stop rather than run on with unknown durability;
     * nothing already acknowledged is touched.
     */
    private void fail(Throwable e) {
        log.error("node={} event loop stopped: {}", config.nodeId(), e.toString(), e);
        running.set(false);
        failAll(new KeelException.ShuttingDown());
    }

    private void handle(Object o) {
        switch (o) {
            case Message m -> node.step(m);
            case Proposal p -> propose(p);
            case ReadRequest r -> read(r);
            case Task t -> t.run().run();
            default -> throw new IllegalStateException("unexpected input " + o);
        }
    }

    private void propose(Proposal p) {
        ProposeResult r = node.propose(p.command());
        switch (r) {
            case ProposeResult.Accepted a -> proposals.put(a.index(), new Pending(a.term(), p.future(),
                    System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.proposalTimeoutMillis())));
            case ProposeResult.NotLeader nl -> p.future().completeExceptionally(new KeelException.NotLeader(nl.leaderHint()));
            case ProposeResult.Rejected rj -> p.future().completeExceptionally(rejected(rj));
        }
    }

    private void read(ReadRequest r) {
        long ctx = nextReadContext++;
        if (node.readIndex(ctx)) {
            readsByContext.put(ctx, r.future());
        } else {
            r.future().completeExceptionally(new KeelException.NotLeader(node.leaderId()));
        }
    }

    private void sweepTimeouts(long now) {
        for (Iterator<Map.Entry<Long, Pending>> it = proposals.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Pending> e = it.next();
            if (now - e.getValue().deadlineNanos() >= 0) {
                it.remove();
                e.getValue().future().completeExceptionally(new KeelException.Timeout("entry " + e.getKey()
                        + " not applied within " + config.proposalTimeoutMillis() + " ms; it may still commit"));
            }
        }
        readsByContext.values().removeIf(CompletableFuture::isDone);
    }

    private void processReady() {
        Ready rd = node.ready();
        HardState hs = rd.hardState();
        boolean leader = rd.role() == Role.LEADER;
        // A leader hands over what committed first: committed means durable on a majority already
        // (Figure 2), which this Ready's own write adds nothing to, so the client hears back without
        // waiting for the sends and the sync of later entries (at one request in flight that saves
        // the two socket writes of the commit update; under load, a whole sync per batch).
        if (leader) handOverCommitted(rd);
        // Thesis §10.2.1: a leader may send its AppendEntries before its own log write is durable,
        // unless this Ready also changes its term or vote (those must be durable before anyone hears
        // of the term, or a restart could vote twice in it).
        boolean sendFirst = leader
                && (hs == null || (hs.currentTerm() == persisted.currentTerm() && hs.votedFor() == persisted.votedFor()));
        // ...and need not wait for it at all: its own copy counts towards a majority once forced
        // (RaftNode.persisted), while the loop reads acknowledgements, which may commit the entries
        // without it.
        boolean inParallel = sendFirst && ownSync != null && rd.snapshotChunks().isEmpty();
        if (!inParallel) finishOwnWrites(); // advance() below declares them durable, and writes stay in order
        if (sendFirst) {
            sendAll(rd.messages());
            transport.flush(); // onto the sockets now, not after the sync below
        }
        for (SnapshotChunk c : rd.snapshotChunks()) receiveChunk(c, rd.snapshotToInstall());
        if (hs != null || !rd.entries().isEmpty()) {
            if (inParallel) writeOwn(hs, rd.entries());
            else store.persist(hs, rd.entries());
            if (hs != null) persisted = hs;
        }
        if (!sendFirst) {
            sendAll(rd.messages());
            transport.flush(); // a follower's acknowledgement goes out before it applies anything
        }
        if (!leader) handOverCommitted(rd);
        for (long ctx : rd.abortedReads()) {
            CompletableFuture<Long> f = readsByContext.remove(ctx);
            if (f != null) f.completeExceptionally(new KeelException.NotLeader(node.leaderId()));
        }
        if (inParallel) node.advanceBeforeDurable(rd);
        else node.advance(rd);
        if (rd.leaderId() != lastLeader) {
            lastLeader = rd.leaderId();
            if (lastLeader == config.nodeId()) {
                log.info("node={} term={} became leader", config.nodeId(), rd.currentTerm());
            } else {
                log.info("node={} term={} leader={}", config.nodeId(), rd.currentTerm(), lastLeader);
            }
            for (IntConsumer l : leaderListeners) l.accept(lastLeader);
        }
    }

    /** Loop: writes a leader's entries without waiting for the disk and has them forced on {@link #ownSync}. */
    private void writeOwn(HardState hs, List<Entry> entries) {
        DurableLog.PendingForce f = store.writeUnforced(hs, entries);
        if (f == null) return;
        Entry last = entries.get(entries.size() - 1);
        OwnWrite w = new OwnWrite(f, last.index(), last.term());
        if (forcing == null) startForce(w);
        else nextForce = w; // group commit: one force after the one under way covers every write queued behind it
    }

    private void startForce(OwnWrite w) {
        forcing = w;
        ownSync.execute(() -> {
            w.runForce();
            try {
                loop.execute(() -> onForced(w));
            } catch (RejectedExecutionException e) {
                // stopping: the log's close syncs what is left
            }
        });
    }

    /** Loop: a force returned; unless finishOwnWrites already took it, count it and start the next. */
    private void onForced(OwnWrite w) {
        if (!running.get() || w != forcing) return;
        try {
            completeForce(w);
            if (nextForce != null) {
                OwnWrite next = nextForce;
                nextForce = null;
                startForce(next);
            }
            afterInputs();
        } catch (RuntimeException | Error e) {
            fail(e);
        }
    }

    private void completeForce(OwnWrite w) {
        forcing = null;
        IOException error = w.done.join();
        if (error != null) throw store.forceFailed(w.force, error);
        store.forced(w.force);
        node.persisted(w.index, w.term);
    }

    /**
     * Loop: waits for the leader's writes still being forced and forces the last one queued, before
     * any other write (they must reach the disk in order), compaction, or {@link RaftNode#advance}
     * (which declares everything handed off durable). Happens when leadership ends or the log is
     * compacted; it blocks the loop for at most one sync.
     */
    private void finishOwnWrites() {
        if (forcing != null) completeForce(forcing);
        if (nextForce != null) {
            OwnWrite w = nextForce;
            nextForce = null;
            w.runForce(); // here on the loop: nothing else may touch the log until it is done
            completeForce(w);
        }
    }

    /** Committed entries to the state machine, then the reads whose index is now confirmed (§6.4). */
    private void handOverCommitted(Ready rd) {
        if (!rd.committedEntries().isEmpty()) toApply(new ApplyBatch(rd.committedEntries()));
        for (ReadState rs : rd.readStates()) {
            CompletableFuture<Long> f = readsByContext.remove(rs.context());
            if (f != null) toApply(new ReadWaiter(rs.readIndex(), f));
        }
    }

    private void sendAll(List<Message> messages) {
        for (Message m : messages) transport.send(m);
    }

    private void receiveChunk(SnapshotChunk c, SnapshotMeta install) {
        if (c.offset() == 0) {
            if (receiving != null) receiving.sink.abort();
            receiving = new SnapshotSinkHolder(c.meta(), store.beginReceive(c.meta()));
        }
        if (receiving == null || !receiving.meta.equals(c.meta())) {
            throw new IllegalStateException("snapshot chunk at " + c.offset() + " without a transfer in progress");
        }
        receiving.sink.write(c.offset(), c.data());
        if (install != null && install.equals(c.meta()) && c.offset() + c.data().length == install.sizeBytes()) {
            receiving.sink.commit();
            receiving = null;
            store.installSnapshot(install);
            toApplyThread(new Restore(install));
            log.info("node={} installed snapshot index={} term={} from leader", config.nodeId(), install.index(), install.term());
        }
    }

    private void publishStatus() {
        Status s = node.status();
        Map<Integer, Long> match = new HashMap<>();
        if (s.role() == Role.LEADER) {
            for (int id : node.membership().members()) if (id != config.nodeId()) match.put(id, node.matchIndex(id));
        }
        status = new ServerStatus(s.id(), s.role(), s.currentTerm(), s.leaderId(), s.commitIndex(), appliedIndex,
                s.lastIndex(), store.snapshot().index(),
                java.util.stream.IntStream.of(node.membership().members()).boxed().toList(), match, node.membership());
    }

    // ---------------------------------------------------------------- apply thread

    /**
     * Loop: hands {@code o} to the apply side. A small batch (or a read waiting for the applied
     * index) is applied here at once when the apply thread is idle with nothing queued: at low load
     * that saves waking the apply thread for every commit (tens of microseconds of a commit's
     * latency), and applies stay in log order since nothing earlier is pending. Under load batches
     * queue for the apply thread, which keeps the state machine's time off the loop.
     */
    private void toApply(Object o) {
        boolean small = o instanceof ReadWaiter
                || (o instanceof ApplyBatch b && b.entries().size() <= INLINE_APPLY_MAX_ENTRIES);
        if (small && applyBacklog.get() == 0 && applyLock.tryLock()) {
            try {
                // Re-checked under the lock: the apply thread finishes (and counts down) an item
                // only while holding it, so zero here means every earlier item has been applied.
                if (applyBacklog.get() == 0) {
                    int completed = applyItem(o);
                    if (completed > 0 && proposals.isEmpty() && readsByContext.isEmpty()) busyPoll.arm();
                    return;
                }
            } finally {
                applyLock.unlock();
            }
        }
        toApplyThread(o);
    }

    private void toApplyThread(Object o) {
        applyBacklog.incrementAndGet();
        applyQueue.add(o);
    }

    /** Under {@link #applyLock}. Returns how many client requests it completed. */
    private int applyItem(Object o) {
        int completed = 0;
        switch (o) {
            case ApplyBatch b -> completed = applyBatch(b.entries());
            case Restore r -> restore(r.meta());
            case ReadWaiter w -> {
                synchronized (readWaiters) {
                    readWaiters.add(w);
                }
            }
            case Task t -> t.run().run();
            default -> throw new IllegalStateException("unexpected apply task " + o);
        }
        return completed + releaseReads();
    }

    private void runApply() {
        try {
            while (running.get() || !applyQueue.isEmpty()) {
                Object o = applyQueue.take();
                applyLock.lock();
                try {
                    applyItem(o);
                } finally {
                    applyBacklog.decrementAndGet();
                    applyLock.unlock();
                }
            }
        } catch (InterruptedException e) {
            // stopping
        } catch (RuntimeException | Error e) {
            log.error("node={} apply thread stopped: {}", config.nodeId(), e.toString(), e);
            running.set(false);
        }
    }

    private int applyBatch(List<Entry> entries) {
        int completed = 0;
        for (Entry e : entries) {
            if (e.index() <= appliedIndex) continue; // covered by a restored snapshot
            byte[] result = e.type() == EntryType.NORMAL ? applyCommand(e.index(), e.data()) : null;
            bytesSinceSnapshot += e.data().length;
            appliedIndex = e.index();
            appliedTerm = e.term();
            Pending p = proposals.remove(e.index());
            if (p != null) {
                completed++;
                // Our entry committed if and only if the entry applied at its index has its term.
                if (p.term() == e.term()) p.future().complete(result);
                else p.future().completeExceptionally(new KeelException.NotCommitted("entry " + e.index()
                        + " of term " + p.term() + " was replaced by term " + e.term()));
            }
        }
        maybeSnapshot();
        return completed;
    }

    private void restore(SnapshotMeta meta) {
        try (InputStream in = store.openSnapshot(meta)) {
            restoreFrom(in);
        } catch (IOException e) {
            throw new UncheckedIOException("restoring " + meta, e);
        }
        appliedIndex = meta.index();
        appliedTerm = meta.term();
        lastSnapshotIndex = meta.index();
        bytesSinceSnapshot = 0;
        // Proposals at or below the snapshot's index are settled by it: we cannot tell whether ours
        // is among them, so their outcome is unknown.
        proposals.entrySet().removeIf(en -> {
            if (en.getKey() > meta.index()) return false;
            en.getValue().future().completeExceptionally(new KeelException.Timeout("entry " + en.getKey()
                    + " was covered by a snapshot from the leader; outcome unknown"));
            return true;
        });
    }

    private int releaseReads() {
        int completed = 0;
        synchronized (readWaiters) {
            while (!readWaiters.isEmpty() && readWaiters.peek().index() <= appliedIndex) {
                readWaiters.poll().future().complete(appliedIndex);
                completed++;
            }
        }
        return completed;
    }

    /** Log compaction (thesis §5.1): snapshot the state machine in the background, then drop the log prefix. */
    private void maybeSnapshot() {
        boolean byEntries = config.snapshotEveryEntries() > 0 && appliedIndex - lastSnapshotIndex >= config.snapshotEveryEntries();
        boolean byBytes = config.snapshotEveryBytes() > 0 && bytesSinceSnapshot >= config.snapshotEveryBytes();
        if (!byEntries && !byBytes) return;
        if (!snapshotInProgress.compareAndSet(false, true)) return;
        long index = appliedIndex;
        long term = appliedTerm;
        StateMachine.SnapshotWriter userWriter = stateMachine.snapshot();
        Map<Integer, Member> book = new java.util.TreeMap<>(addressBook);
        StateMachine.SnapshotWriter writer = out -> {
            Envelope.writeAddressBook(out, book); // Keel's own part first, then the user's
            userWriter.writeTo(out);
        };
        lastSnapshotIndex = index;
        bytesSinceSnapshot = 0;
        // The configuration as of the snapshot's index travels in it (thesis §5.1); the core, which
        // knows it, lives on the event loop, so ask there.
        CompletableFuture<Membership> membershipAtIndex = new CompletableFuture<>();
        if (!enqueue(new Task(() -> membershipAtIndex.complete(node.membershipAt(index))))) {
            snapshotInProgress.set(false);
            return; // the loop is overloaded: skip this one, the next threshold tries again
        }
        snapshotWriter.execute(() -> {
            try {
                Membership membership = membershipAtIndex.get(config.proposalTimeoutMillis(), TimeUnit.MILLISECONDS);
                LogStore.SnapshotSink sink = store.beginSnapshot(index, term, membership);
                try {
                    writer.writeTo(sink.stream());
                    SnapshotMeta meta = sink.commit();
                    inbox.put(new Task(() -> {
                        finishOwnWrites(); // compaction may close the segment being forced
                        store.compact(meta);
                        log.info("node={} snapshot index={} term={} bytes={}; log compacted", config.nodeId(),
                                meta.index(), meta.term(), meta.sizeBytes());
                    }));
                    scheduleDrain();
                } catch (IOException | RuntimeException e) {
                    sink.abort();
                    throw e;
                }
            } catch (Exception e) {
                log.warn("node={} snapshot at {} failed: {}", config.nodeId(), index, e.toString());
            } finally {
                snapshotInProgress.set(false);
            }
        });
    }
}
