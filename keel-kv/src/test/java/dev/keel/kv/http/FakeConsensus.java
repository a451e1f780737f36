package dev.keel.kv.http;

import dev.keel.core.Membership;
import dev.keel.core.Role;
import dev.keel.server.KeelException;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerStatus;
import dev.keel.server.StateMachine;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

/**
 * A single-node stand-in for RaftServer: commits every command at once at the next index. Tests
 * script failures: the next submits can fail before applying ("not applied") or apply and then
 * fail anyway, as a timeout whose command still committed would. Membership changes apply at once
 * too (no catch-up check), unless a scripted failure comes first.
 */
public final class FakeConsensus implements Consensus {
    private final StateMachine stateMachine;
    private final int nodeId;
    private long index;
    private volatile int leaderId;
    private final Queue<Fault> faults = new ArrayDeque<>();
    private int submits;
    private volatile Membership membership;
    private final Map<Integer, RaftServer.Member> book = new ConcurrentHashMap<>();
    private final Queue<KeelException> changeFaults = new ArrayDeque<>();
    private final List<IntConsumer> listeners = new CopyOnWriteArrayList<>();
    private final java.util.Set<Integer> silent = ConcurrentHashMap.newKeySet();

    private volatile boolean hang;

    record Fault(KeelException failure, boolean applyAnyway) {}

    /** While on, submits and reads never complete: a commit or a read index that takes forever. */
    public void hang(boolean on) {
        hang = on;
    }

    public FakeConsensus(int nodeId, StateMachine stateMachine) {
        this.nodeId = nodeId;
        this.leaderId = nodeId;
        this.stateMachine = stateMachine;
        this.membership = Membership.of(nodeId);
        book.put(nodeId, new RaftServer.Member(new InetSocketAddress("127.0.0.1", 1), ""));
    }

    /** The next membership change (add, promote, remove, transfer) fails with this, changing nothing. */
    public synchronized void failNextChange(KeelException failure) {
        changeFaults.add(failure);
    }

    public synchronized void clearChangeFaults() {
        changeFaults.clear();
    }

        public Membership membership() {
        return membership;
    }

    public synchronized void failNext(KeelException failure, boolean applyAnyway) {
        faults.add(new Fault(failure, applyAnyway));
    }

    public void setLeader(int leader) {
        leaderId = leader;
        for (IntConsumer l : listeners) l.accept(leader);
    }

    public synchronized int submits() {
        return submits;
    }

    @Override
    public synchronized CompletableFuture<byte[]> submit(byte[] command) {
        submits++;
        if (hang) return new CompletableFuture<>();
        if (leaderId != nodeId) return CompletableFuture.failedFuture(new KeelException.NotLeader(leaderId));
        Fault f = faults.poll();
        if (f != null && !f.applyAnyway()) return CompletableFuture.failedFuture(f.failure());
        byte[] result = stateMachine.apply(++index, command);
        if (f != null) return CompletableFuture.failedFuture(f.failure());
        return CompletableFuture.completedFuture(result);
    }

    @Override
    public CompletableFuture<Long> linearizableRead() {
        if (hang) return new CompletableFuture<>();
        if (leaderId == 0) return CompletableFuture.failedFuture(new KeelException.NotLeader(0));
        synchronized (this) {
            return CompletableFuture.completedFuture(index);
        }
    }

    @Override
    public synchronized ServerStatus status() {
        return new ServerStatus(nodeId, leaderId == nodeId ? Role.LEADER : Role.FOLLOWER, 1, leaderId, index, index, index, 0,
                IntStream.of(membership.members()).boxed().toList(), matchIndexes(), membership);
    }

    /** On the leader, every other member is caught up (unless a test made one silent). */
    private Map<Integer, Long> matchIndexes() {
        if (leaderId != nodeId) return Map.of();
        Map<Integer, Long> out = new java.util.HashMap<>();
        for (int id : membership.members()) {
            if (id != nodeId) out.put(id, silent.contains(id) ? 0L : Math.max(1, index));
        }
        return out;
    }

    /** Member {@code id} never acknowledges anything (not running). */
    public void silence(int id) {
        silent.add(id);
    }

    @Override
    public void addLeaderListener(IntConsumer listener) {
        // The fake's leader changes only when a test (or a transfer) says so.
        listeners.add(listener);
    }

    /** Null if the change may go ahead, else its failure. */
    private synchronized CompletableFuture<Void> refuse() {
        if (leaderId != nodeId) return CompletableFuture.failedFuture(new KeelException.NotLeader(leaderId));
        KeelException f = changeFaults.poll();
        return f == null ? null : CompletableFuture.failedFuture(f);
    }

    private static int[] plus(int[] ids, int id) {
        return IntStream.concat(IntStream.of(ids), IntStream.of(id)).toArray();
    }

    private static int[] minus(int[] ids, int id) {
        return IntStream.of(ids).filter(x -> x != id).toArray();
    }

    @Override
    public synchronized CompletableFuture<Void> addLearner(int id, InetSocketAddress peer, String http) {
        CompletableFuture<Void> no = refuse();
        if (no != null) return no;
        book.put(id, new RaftServer.Member(peer, http));
        if (!membership.contains(id)) membership = new Membership(membership.voters(), new int[0], plus(membership.learners(), id));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletableFuture<Void> promote(int id) {
        CompletableFuture<Void> no = refuse();
        if (no != null) return no;
        if (!membership.isLearner(id)) {
            return CompletableFuture.failedFuture(new KeelException.Rejected("INVALID_MEMBERSHIP: node " + id + " is not a learner"));
        }
        membership = new Membership(plus(membership.voters(), id), new int[0], minus(membership.learners(), id));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletableFuture<Void> removeMember(int id) {
        CompletableFuture<Void> no = refuse();
        if (no != null) return no;
        try {
            membership = new Membership(minus(membership.voters(), id), new int[0], minus(membership.learners(), id));
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new KeelException.Rejected("INVALID_MEMBERSHIP: " + e.getMessage()));
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> transferLeadership(int id) {
        CompletableFuture<Void> no = refuse();
        if (no != null) return no;
        setLeader(id);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> publishAddress(int id, InetSocketAddress peer, String http) {
        book.put(id, new RaftServer.Member(peer, http));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public Map<Integer, RaftServer.Member> memberAddresses() {
        return Map.copyOf(book);
    }
}
