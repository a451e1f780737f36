package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.MemoryStorage;
import dev.keel.core.Message;
import dev.keel.core.ProposeResult;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.ReadState;
import dev.keel.core.Ready;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

/**
 * A Keel cluster in which nothing happens unless asked: the simulator's manual mode, for scenario
 * tests and the step-by-step explorer.
 *
 * <p>Nodes 1..N each have a {@link MemoryStorage} as their disk, a register state machine applying
 * {@code put <key> <value>} commands, and their own {@link SplittableRandom} split from one seed,
 * so the same calls always give the same cluster. Every message a node sends is put in an ordered
 * in-flight list with an id (assigned in send order, never reused) and stays there until it is
 * delivered, dropped or the cluster is rebuilt. After every input the node's {@link Ready}s are
 * processed at once, in the order the Ready contract gives: persist, then send, then apply, then
 * advance.
 *
 * <p>A {@link SafetyChecker} sees every step (start, persist, send, apply, and the whole cluster
 * after each operation), so any sequence of operations also checks Raft's safety properties; a
 * violation is thrown as {@link SafetyViolation}, a broken core invariant as
 * {@code InvariantViolation}.
 *
 * <p>Network faults: {@link #partition} splits the nodes into groups; a message between groups is
 * dropped when sent and, if it was already in flight, when delivered. A message to a crashed node
 * is dropped when delivered. Nothing is dropped at random.
 *
 * <p>Not thread-safe: one thread drives the cluster.
 */
public final class ManualCluster {
    /** Upper bound on deliveries in one {@link #deliverAll()}, so a livelock shows up as an error. */
    public static final int MAX_DELIVERIES = 100_000;

    /** A message in flight and its id. */
    public record InFlight(long id, Message message) {
        @Override
        public String toString() {
            return "#" + id + " " + describe(message);
        }
    }

    /** What happened to one message taken off the in-flight list. */
    public record Delivery(InFlight message, boolean delivered, String dropReason) {
        @Override
        public String toString() {
            return (delivered ? "delivered " : "dropped ") + message + (delivered ? "" : " (" + dropReason + ")");
        }
    }

    private final int size;
    private final int initialVoters;
    private final SplittableRandom root;
    private final UnaryOperator<RaftConfig.Builder> customize;
    private final SafetyChecker checker = new SafetyChecker();
    private final Node[] nodes; // index = id - 1
    private final List<InFlight> inFlight = new ArrayList<>();
    private long nextMessageId = 1;
    /** group[id - 1]: the partition group of each node; all 0 when healed. */
    private final int[] group;
    private final List<String> events = new ArrayList<>();
    private int droppedAtSend;

    private static final class Node {
        final int id;
        final SplittableRandom random;
        final MemoryStorage storage = new MemoryStorage(); // survives crashes: it is the disk
        RaftNode raft; // null while crashed
        final Map<String, String> kv = new TreeMap<>();

        Node(int id, SplittableRandom random) {
            this.id = id;
            this.random = random;
        }
    }

    /** A cluster with Keel's defaults (pre-vote and check-quorum on, election timeout 10 ticks, heartbeat 1). */
    public ManualCluster(int size, long seed) {
        this(size, seed, UnaryOperator.identity());
    }

    /**
     * @param customize applied to every node's config builder after the defaults, e.g.
     *     {@code b -> b.preVote(false).maxEntriesPerAppend(1)}
     */
    public ManualCluster(int size, long seed, UnaryOperator<RaftConfig.Builder> customize) {
        this(size, size, seed, customize);
    }

    /**
     * @param initialVoters nodes 1..initialVoters form the cluster; the others start outside it,
     *     to be added with {@link #changeMembership}
     */
    public ManualCluster(int size, int initialVoters, long seed, UnaryOperator<RaftConfig.Builder> customize) {
        if (size < 1) throw new IllegalArgumentException("cluster size " + size + " < 1");
        if (initialVoters < 1 || initialVoters > size) {
            throw new IllegalArgumentException("initial voters " + initialVoters + " outside 1.." + size);
        }
        this.initialVoters = initialVoters;
        this.size = size;
        this.root = new SplittableRandom(seed);
        this.customize = customize;
        this.nodes = new Node[size];
        this.group = new int[size];
        for (int i = 0; i < size; i++) nodes[i] = new Node(i + 1, root.split());
        for (Node n : nodes) start(n);
        afterStep();
    }

    // ---------------------------------------------------------------- inputs

    /** Ticks a node n times, processing its Ready after each tick. */
    public void tick(int node, int n) {
        if (n < 0) throw new IllegalArgumentException("tick count " + n + " < 0");
        Node nd = live(node);
        for (int i = 0; i < n; i++) {
            nd.raft.tick();
            processReady(nd);
            afterStep();
        }
    }

    /** Makes a node start an election now, as if its election timer fired ({@link RaftNode#campaignNow()}). */
    public void campaign(int node) {
        step(node, raft -> {
            raft.campaignNow();
            return null;
        });
    }

    /** Asks a node (the leader) for a new configuration (thesis chapter 4). */
    public ProposeResult changeMembership(int node, dev.keel.core.Membership target) {
        return step(node, raft -> raft.changeMembership(target));
    }

    /** Asks a node (the leader) to hand leadership to another (thesis §3.10). */
    public ProposeResult transferLeadership(int node, int to) {
        return step(node, raft -> raft.transferLeadership(to));
    }

    /** Proposes a command (UTF-8) to a node. */
    public ProposeResult propose(int node, String command) {
        return step(node, raft -> raft.propose(command.getBytes(StandardCharsets.UTF_8)));
    }

    /** Starts a linearizable read; its outcome appears in {@link #takeEvents()}. */
    public boolean read(int node, long context) {
        return step(node, raft -> raft.readIndex(context));
    }

    /** One input to a live node, then its Ready processed and the checkers run, as after every step. */
    private <T> T step(int node, java.util.function.Function<RaftNode, T> input) {
        Node nd = live(node);
        T result = input.apply(nd.raft);
        processReady(nd);
        afterStep();
        return result;
    }

    /** Delivers one in-flight message (or drops it, if its link is partitioned or its receiver is down). */
    public Delivery deliver(long messageId) {
        InFlight f = remove(messageId);
        return deliver(f);
    }

    /** Delivers every message now in flight from {@code from} to {@code to}, in order (0 means any node). */
    public List<Delivery> deliver(int from, int to) {
        List<Delivery> out = new ArrayList<>();
        for (InFlight f : select(from, to)) {
            inFlight.remove(f);
            out.add(deliver(f));
        }
        return out;
    }

    /**
     * Delivers the oldest in-flight message until none is left, including those sent in answer.
     * Nobody ticks, so this ends once the cluster is quiet.
     *
     * @throws IllegalStateException after {@link #MAX_DELIVERIES} deliveries
     */
    public List<Delivery> deliverAll() {
        List<Delivery> out = new ArrayList<>();
        while (!inFlight.isEmpty()) {
            if (out.size() >= MAX_DELIVERIES) {
                throw new IllegalStateException("still " + inFlight.size() + " messages in flight after "
                        + MAX_DELIVERIES + " deliveries: a message loop?");
            }
            out.add(deliver(inFlight.remove(0)));
        }
        return out;
    }

    /** Delivers everything until quiet without ticking anyone; returns the number of messages taken. */
    public int stabilize() {
        return deliverAll().size();
    }

    /** Removes a message from the network. */
    public InFlight drop(long messageId) {
        return remove(messageId);
    }

    /** Drops every in-flight message from {@code from} to {@code to} (0 means any node). */
    public List<InFlight> drop(int from, int to) {
        List<InFlight> out = select(from, to);
        inFlight.removeAll(out);
        return out;
    }

    public List<InFlight> dropAll() {
        List<InFlight> out = new ArrayList<>(inFlight);
        inFlight.clear();
        return out;
    }

    /** Puts a copy of an in-flight message at the end of the list, with a new id. */
    public InFlight duplicate(long messageId) {
        InFlight f = find(messageId);
        InFlight copy = new InFlight(nextMessageId++, f.message());
        inFlight.add(copy);
        return copy;
    }

    /**
     * Splits the nodes into groups that cannot talk to each other; a node in no group is alone.
     * Replaces any earlier partition.
     */
    @SafeVarargs
    public final void partition(Set<Integer>... groups) {
        int next = 1;
        Arrays.fill(group, 0);
        for (Set<Integer> g : groups) {
            for (int id : g) {
                checkId(id);
                if (group[id - 1] != 0) throw new IllegalArgumentException("node " + id + " is in two groups");
                group[id - 1] = next;
            }
            next++;
        }
        for (int i = 0; i < size; i++) if (group[i] == 0) group[i] = next++;
    }

    public void heal() {
        Arrays.fill(group, 0);
    }

    /** The node stops: its volatile state is lost, its storage keeps what was persisted. */
    public void crash(int node) {
        Node nd = live(node);
        nd.raft = null;
        nd.kv.clear();
        afterStep();
    }

    /** A crashed node starts again from its storage; its state machine is rebuilt by re-applying. */
    public void restart(int node) {
        checkId(node);
        Node nd = nodes[node - 1];
        if (nd.raft != null) throw new IllegalStateException("n" + node + " is running");
        start(nd);
        afterStep();
    }

    // ---------------------------------------------------------------- views

    public int size() {
        return size;
    }

    /** The node's core, or null while it is crashed. */
    public RaftNode node(int id) {
        checkId(id);
        return nodes[id - 1].raft;
    }

    public boolean isUp(int id) {
        return node(id) != null;
    }

    /** The node's disk. */
    public MemoryStorage storage(int id) {
        checkId(id);
        return nodes[id - 1].storage;
    }

    /** The node's state machine (empty while crashed), as a read-only sorted map. */
    public Map<String, String> kv(int id) {
        checkId(id);
        return Collections.unmodifiableMap(nodes[id - 1].kv);
    }

    /** Messages in flight, oldest first. */
    public List<InFlight> inFlight() {
        return List.copyOf(inFlight);
    }

    /** True when the two nodes are in the same partition group (always, once healed). */
    public boolean connected(int a, int b) {
        return group[a - 1] == group[b - 1];
    }

    /**
     * Notable events since the last call, in order: reads confirmed or aborted, and how many
     * messages a partition dropped at send.
     */
    public List<String> takeEvents() {
        flushDroppedAtSend();
        List<String> out = List.copyOf(events);
        events.clear();
        return out;
    }

    /**
     * One line: {@code n1: LEADER term=2 vote=1 lead=1 commit=3 applied=3 log=[1/1:noop 2/2:noop]}; for a
     * crashed node, {@code n1: DOWN} and what its disk holds.
     */
    public String describe(int id) {
        checkId(id);
        Node nd = nodes[id - 1];
        RaftNode r = nd.raft;
        StringBuilder sb = new StringBuilder("n").append(id).append(": ");
        if (r == null) {
            var hs = nd.storage.hardState();
            sb.append("DOWN term=").append(hs.currentTerm()).append(" vote=").append(hs.votedFor())
                    .append(" commit=").append(hs.commitIndex()).append(" log=[");
            for (long i = nd.storage.firstIndex(); i <= nd.storage.lastIndex(); i++) {
                if (i > nd.storage.firstIndex()) sb.append(' ');
                sb.append(nd.storage.entry(i));
            }
            return sb.append(']').toString();
        }
        sb.append(r.role()).append(" term=").append(r.currentTerm()).append(" vote=").append(r.votedFor())
                .append(" lead=").append(r.leaderId()).append(" commit=").append(r.commitIndex())
                .append(" applied=").append(r.lastApplied()).append(" log=[");
        for (long i = r.firstIndex(); i <= r.lastIndex(); i++) {
            if (i > r.firstIndex()) sb.append(' ');
            sb.append(r.entry(i));
        }
        return sb.append(']').toString();
    }

    /** Every node's {@link #describe(int)}, one per line. */
    public String describeAll() {
        StringBuilder sb = new StringBuilder();
        for (int id = 1; id <= size; id++) sb.append(describe(id)).append('\n');
        return sb.toString();
    }

    /** One line per in-flight message, oldest first. */
    public String describeInFlight() {
        StringBuilder sb = new StringBuilder();
        for (InFlight f : inFlight) sb.append(f).append('\n');
        return sb.toString();
    }

    /** A compact, stable one-line form of a message: {@code 1->2 AppendEntries term=2 prev=1/1 entries=[2/2:noop] commit=1}. */
    public static String describe(Message m) {
        String head = m.from() + "->" + m.to() + " ";
        return head + switch (m) {
            case Message.RequestVote v -> (v.preVote() ? "PreVote" : v.leadershipTransfer() ? "RequestVote(transfer)" : "RequestVote") + " term=" + v.term()
                    + " last=" + v.lastLogIndex() + "/" + v.lastLogTerm();
            case Message.RequestVoteResponse r -> (r.preVote() ? "PreVoteResponse" : "RequestVoteResponse")
                    + " term=" + r.term() + (r.voteGranted() ? " granted" : " rejected");
            case Message.AppendEntries a -> "AppendEntries term=" + a.term() + " prev=" + a.prevLogIndex() + "/"
                    + a.prevLogTerm() + " entries=" + entries(a.entries()) + " commit=" + a.leaderCommit();
            case Message.AppendEntriesResponse r -> "AppendEntriesResponse term=" + r.term()
                    + (r.success() ? " ok index=" + r.index()
                            : " reject index=" + r.index() + " conflictTerm=" + r.conflictTerm()
                                    + " conflictIndex=" + r.conflictIndex());
            case Message.ReadIndexRequest r -> "ReadIndex term=" + r.term() + " ctx=" + r.context();
            case Message.ReadIndexResponse r -> "ReadIndexResponse term=" + r.term() + " ctx=" + r.context()
                    + (r.ok() ? " index=" + r.readIndex() : " refused");
            case Message.TimeoutNow t -> "TimeoutNow term=" + t.term();
            case Message.InstallSnapshot i -> "InstallSnapshot term=" + i.term() + " snap=" + i.meta().index() + "/"
                    + i.meta().term() + " offset=" + i.offset() + " bytes=" + i.data().length + (i.done() ? " done" : "");
            case Message.InstallSnapshotResponse r -> "InstallSnapshotResponse term=" + r.term() + " snap="
                    + r.snapshotIndex() + " next=" + r.nextOffset() + (r.installed() ? " installed" : "")
                    + (r.mismatch() ? " mismatch" : "");
        };
    }

    private static String entries(List<Entry> es) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < es.size(); i++) {
            if (i > 0) sb.append(' ');
            sb.append(es.get(i));
        }
        return sb.append(']').toString();
    }

    // ---------------------------------------------------------------- internals

    private void start(Node nd) {
        RaftConfig.Builder b = RaftConfig.builder(nd.id, IntStream.rangeClosed(1, initialVoters).boxed().toList())
                .electionTimeoutTicks(10)
                .heartbeatIntervalTicks(1)
                .preVote(true)
                .checkQuorum(true);
        nd.kv.clear();
        // Applied index 0: the state machine is rebuilt from the log by re-applying committed entries.
        nd.raft = new RaftNode(customize.apply(b).build(), nd.storage, nd.random.split());
        checker.onStart(nd.raft);
        processReady(nd);
    }

    /** Carries out every Ready the node has, in the contract's order (see {@link Ready}). */
    private void processReady(Node nd) {
        RaftNode r = nd.raft;
        while (r.hasReady()) {
            Ready rd = r.ready();
            // Nothing here compacts a log, so no leader ever needs to send a snapshot.
            if (!rd.snapshotChunks().isEmpty() || rd.snapshotToInstall() != null) {
                throw new IllegalStateException("n" + nd.id + " received a snapshot; ManualCluster does not support them");
            }
            // 1. Persist; the checker sees the entries first (Log Matching needs the term before them).
            checker.onPersist(r, rd.entries());
            if (rd.hardState() != null) nd.storage.setHardState(rd.hardState());
            nd.storage.append(rd.entries());
            // 2. Only then send.
            for (Message m : rd.messages()) {
                checker.onSend(m);
                if (connected(m.from(), m.to())) {
                    inFlight.add(new InFlight(nextMessageId++, m));
                } else {
                    droppedAtSend++;
                }
            }
            // 3. Apply.
            for (Entry e : rd.committedEntries()) {
                checker.onApply(r, e);
                if (e.type() == EntryType.NORMAL) applyCommand(nd, e);
            }
            // 4. Reads. The state machine applies synchronously, so a confirmed read can be served
            // as soon as lastApplied reaches its index.
            for (ReadState rs : rd.readStates()) {
                flushDroppedAtSend();
                events.add("n" + nd.id + " read ctx=" + rs.context() + " confirmed at read index " + rs.readIndex());
            }
            for (long ctx : rd.abortedReads()) {
                flushDroppedAtSend();
                events.add("n" + nd.id + " read ctx=" + ctx + " aborted (retry)");
            }
            r.advance(rd);
        }
    }

    /** The register state machine: {@code put <key> <value>}; any other command changes nothing. */
    private static void applyCommand(Node nd, Entry e) {
        String[] parts = new String(e.data(), StandardCharsets.UTF_8).split(" ", 3);
        if (parts.length == 3 && parts[0].equals("put")) nd.kv.put(parts[1], parts[2]);
    }

    private Delivery deliver(InFlight f) {
        Message m = f.message();
        Node to = nodes[m.to() - 1];
        Delivery d;
        if (!connected(m.from(), m.to())) {
            d = new Delivery(f, false, "partitioned");
        } else if (to.raft == null) {
            d = new Delivery(f, false, "n" + m.to() + " is down");
        } else {
            to.raft.step(m);
            processReady(to);
            d = new Delivery(f, true, null);
        }
        afterStep();
        return d;
    }

    private void afterStep() {
        RaftNode[] live = new RaftNode[size];
        for (int i = 0; i < size; i++) live[i] = nodes[i].raft;
        checker.afterStep(live);
    }

    private void flushDroppedAtSend() {
        if (droppedAtSend > 0) {
            events.add(droppedAtSend + (droppedAtSend == 1 ? " message" : " messages") + " dropped at send (partitioned)");
            droppedAtSend = 0;
        }
    }

    private List<InFlight> select(int from, int to) {
        if (from != 0) checkId(from);
        if (to != 0) checkId(to);
        List<InFlight> out = new ArrayList<>();
        for (InFlight f : inFlight) {
            if ((from == 0 || f.message().from() == from) && (to == 0 || f.message().to() == to)) out.add(f);
        }
        return out;
    }

    private InFlight find(long id) {
        for (InFlight f : inFlight) if (f.id() == id) return f;
        throw new IllegalArgumentException("no message #" + id + " in flight");
    }

    private InFlight remove(long id) {
        for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
            InFlight f = it.next();
            if (f.id() == id) {
                it.remove();
                return f;
            }
        }
        throw new IllegalArgumentException("no message #" + id + " in flight");
    }

    private Node live(int id) {
        checkId(id);
        Node nd = nodes[id - 1];
        if (nd.raft == null) throw new IllegalStateException("n" + id + " is down");
        return nd;
    }

    private void checkId(int id) {
        if (id < 1 || id > size) throw new IllegalArgumentException("no node " + id + " (nodes are 1.." + size + ")");
    }
}
