package dev.keel.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * A tiny deterministic harness for {@link RaftNode} unit tests: builds nodes over {@link MemoryStorage},
 * drains their {@link Ready}s in the documented order (persist hard state and entries, then take the
 * messages, then advance) and delivers messages between nodes. No threads, no clock: time is
 * {@link RaftNode#tick()} only.
 *
 * <p>Everything a node emitted is recorded per node (committed entries, read states, aborted reads),
 * and every Ready is checked for "persist before send" on the way.
 */
final class CoreTestCluster {
    static final long SEED = 42;

    /** What one node produced over one or more Readys. */
    static final class Output {
        final List<Message> messages = new ArrayList<>();
        final List<Entry> committed = new ArrayList<>();
        final List<ReadState> readStates = new ArrayList<>();
        final List<Long> abortedReads = new ArrayList<>();
        final List<Ready> readys = new ArrayList<>();

        void add(Ready rd) {
            readys.add(rd);
            messages.addAll(rd.messages());
            committed.addAll(rd.committedEntries());
            readStates.addAll(rd.readStates());
            abortedReads.addAll(rd.abortedReads());
        }

        <T extends Message> List<T> messages(Class<T> type) {
            return messages.stream().filter(type::isInstance).map(type::cast).toList();
        }
    }

    final Map<Integer, RaftNode> nodes = new LinkedHashMap<>();
    final Map<Integer, MemoryStorage> storages = new LinkedHashMap<>();
    final Map<Integer, Output> outputs = new LinkedHashMap<>();
    /** Messages sent and not yet delivered, in send order. */
    final Deque<Message> network = new ArrayDeque<>();
    /** Every message delivered (to a non-isolated node), in delivery order. */
    final List<Message> delivered = new ArrayList<>();
    /** Nodes cut off: messages to or from them are dropped. */
    final Set<Integer> isolated = new HashSet<>();

    // ------------------------------------------------------------------ static helpers

    static RaftConfig.Builder config(int id, List<Integer> voters) {
        return RaftConfig.builder(id, voters);
    }

    static RaftNode node(int id, List<Integer> voters, MemoryStorage storage) {
        return node(config(id, voters).build(), storage);
    }

    static RaftNode node(RaftConfig config, MemoryStorage storage) {
        return new RaftNode(config, storage, new Random(SEED + config.id()));
    }

    /** Storage holding the given entries (terms 1.. at indexes 1..) and hard state. */
    static MemoryStorage storage(HardState hs, long... entryTerms) {
        MemoryStorage s = new MemoryStorage();
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < entryTerms.length; i++) {
            entries.add(Entry.normal(i + 1, entryTerms[i], ("e" + (i + 1)).getBytes()));
        }
        s.append(entries);
        s.setHardState(hs);
        return s;
    }

    /** Carries out one Ready as a driver must: persist, then collect the rest, then advance. */
    static Ready persistAndAdvance(RaftNode n, MemoryStorage s) {
        Ready rd = n.ready();
        java.io.ByteArrayOutputStream partial = RECEIVING.computeIfAbsent(s, k -> new java.io.ByteArrayOutputStream());
        for (SnapshotChunk c : rd.snapshotChunks()) {
            if (c.offset() == 0) partial.reset();
            if (c.offset() != partial.size()) throw new AssertionError("chunk at " + c.offset() + " after " + partial.size());
            partial.writeBytes(c.data());
            SnapshotMeta m = rd.snapshotToInstall();
            if (m != null && c.meta().equals(m) && c.offset() + c.data().length == m.sizeBytes()) {
                s.installSnapshot(m, partial.toByteArray());
                partial.reset();
            }
        }
        if (rd.hardState() != null) s.setHardState(rd.hardState());
        s.append(rd.entries());
        n.advance(rd);
        return rd;
    }

    /** Each storage's partly received snapshot (the driver's partial file). */
    static final java.util.Map<MemoryStorage, java.io.ByteArrayOutputStream> RECEIVING = new java.util.IdentityHashMap<>();

    /** Drains every Ready the node has to offer. */
    static Output drain(RaftNode n, MemoryStorage s) {
        Output out = new Output();
        int guard = 0;
        while (n.hasReady()) {
            if (++guard > 1000) throw new AssertionError("node " + n.id() + " never runs out of Readys");
            out.add(persistAndAdvance(n, s));
        }
        return out;
    }

    /** The entries of a node's log, 1..lastIndex. */
    static List<Entry> logOf(RaftNode n) {
        List<Entry> out = new ArrayList<>();
        for (long i = n.firstIndex(); i <= n.lastIndex(); i++) out.add(n.entry(i));
        return out;
    }

    /** Terms of a node's log, 1..lastIndex. */
    static List<Long> termsOf(RaftNode n) {
        return logOf(n).stream().map(Entry::term).toList();
    }

    // ------------------------------------------------------------------ cluster

    /** A cluster of fresh nodes 1..size with default settings. */
    CoreTestCluster(int size) {
        this(size, UnaryOperator.identity());
    }

    CoreTestCluster(int size, UnaryOperator<RaftConfig.Builder> tweak) {
        List<Integer> voters = new ArrayList<>();
        for (int i = 1; i <= size; i++) voters.add(i);
        for (int id : voters) add(tweak.apply(config(id, voters)).build(), new MemoryStorage());
    }

    /** An empty cluster; {@link #add} the nodes. */
    CoreTestCluster() {}

    CoreTestCluster add(RaftConfig config, MemoryStorage storage) {
        nodes.put(config.id(), node(config, storage));
        storages.put(config.id(), storage);
        outputs.put(config.id(), new Output());
        return this;
    }

    RaftNode node(int id) {
        return nodes.get(id);
    }

    MemoryStorage storage(int id) {
        return storages.get(id);
    }

    Output output(int id) {
        return outputs.get(id);
    }

    /** Drains one node's Readys into the network; returns what it produced in this call. */
    Output drain(int id) {
        Output o = drain(nodes.get(id), storages.get(id));
        Output all = outputs.get(id);
        for (Ready rd : o.readys) all.add(rd);
        network.addAll(o.messages);
        return o;
    }

    void drainAll() {
        for (int id : nodes.keySet()) drain(id);
    }

    /** Removes and returns the queued messages matching the filter, without delivering them. */
    List<Message> take(java.util.function.Predicate<Message> filter) {
        List<Message> out = new ArrayList<>();
        network.removeIf(m -> {
            if (filter.test(m)) {
                out.add(m);
                return true;
            }
            return false;
        });
        return out;
    }

    /** Delivers one message now (dropped if either end is isolated). */
    void deliver(Message m) {
        if (isolated.contains(m.from()) || isolated.contains(m.to())) return;
        delivered.add(m);
        nodes.get(m.to()).step(m);
    }

    /** Drains and delivers, one message at a time in send order, until no node has anything left to say. */
    void stabilize() {
        runUntil(() -> false, false);
    }

    /**
     * Drains every node and delivers one queued message at a time until {@code done} holds (checked
     * after each drain). Fails if the network runs dry first.
     */
    void runUntil(BooleanSupplier done) {
        runUntil(done, true);
    }

    private void runUntil(BooleanSupplier done, boolean mustHold) {
        for (int guard = 0; ; guard++) {
            if (guard > 100_000) throw new AssertionError("cluster does not settle");
            drainAll();
            if (done.getAsBoolean()) return;
            if (network.isEmpty()) {
                if (mustHold) throw new AssertionError("network ran dry before the condition held");
                return;
            }
            deliver(network.poll());
        }
    }

    /** Delivers the messages queued now (not those they cause), without draining anyone. */
    void flush() {
        List<Message> now = new ArrayList<>(network);
        network.clear();
        for (Message m : now) deliver(m);
    }

    /** Ticks every node once, then stabilizes. */
    void tickAll() {
        for (RaftNode n : nodes.values()) n.tick();
        stabilize();
    }

    /** Makes {@code id} campaign and delivers everything until the cluster settles. */
    void elect(int id) {
        node(id).campaignNow();
        stabilize();
        if (node(id).role() != Role.LEADER) {
            throw new AssertionError("node " + id + " did not win: " + node(id).status());
        }
    }
}
