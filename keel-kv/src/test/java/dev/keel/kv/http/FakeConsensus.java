package dev.keel.kv.http;

import dev.keel.core.Role;
import dev.keel.server.KeelException;
import dev.keel.server.ServerStatus;
import dev.keel.server.StateMachine;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

/**
 * A single-node stand-in for RaftServer: commits every command at once at the next index. Tests
 * script failures: the next submits can fail before applying ("not applied") or apply and then
 * fail anyway, as a timeout whose command still committed would.
 */
public final class FakeConsensus implements Consensus {
    private final StateMachine stateMachine;
    private final int nodeId;
    private long index;
    private volatile int leaderId;
    private final Queue<Fault> faults = new ArrayDeque<>();
    private int submits;

    record Fault(KeelException failure, boolean applyAnyway) {}

    public FakeConsensus(int nodeId, StateMachine stateMachine) {
        this.nodeId = nodeId;
        this.leaderId = nodeId;
        this.stateMachine = stateMachine;
    }

    public synchronized void failNext(KeelException failure, boolean applyAnyway) {
        faults.add(new Fault(failure, applyAnyway));
    }

    public void setLeader(int leader) {
        leaderId = leader;
    }

    public synchronized int submits() {
        return submits;
    }

    @Override
    public synchronized CompletableFuture<byte[]> submit(byte[] command) {
        submits++;
        if (leaderId != nodeId) return CompletableFuture.failedFuture(new KeelException.NotLeader(leaderId));
        Fault f = faults.poll();
        if (f != null && !f.applyAnyway()) return CompletableFuture.failedFuture(f.failure());
        byte[] result = stateMachine.apply(++index, command);
        if (f != null) return CompletableFuture.failedFuture(f.failure());
        return CompletableFuture.completedFuture(result);
    }

    @Override
    public CompletableFuture<Long> linearizableRead() {
        if (leaderId == 0) return CompletableFuture.failedFuture(new KeelException.NotLeader(0));
        synchronized (this) {
            return CompletableFuture.completedFuture(index);
        }
    }

    @Override
    public synchronized ServerStatus status() {
        return new ServerStatus(nodeId, leaderId == nodeId ? Role.LEADER : Role.FOLLOWER, 1, leaderId, index, index, index, 0,
                List.of(nodeId), java.util.Map.of(), dev.keel.core.Membership.of(nodeId));
    }

    @Override
    public void addLeaderListener(IntConsumer listener) {
        // The fake's leader changes only when a test says so.
    }
}
