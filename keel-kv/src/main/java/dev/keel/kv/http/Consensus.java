package dev.keel.kv.http;

import dev.keel.server.KeelException;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerStatus;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

/**
 * What the HTTP layer needs from a Raft node: the subset of {@code RaftServer}'s API it calls, so
 * the HTTP layer can also be tested against a single-node fake. {@code KvServer} adapts a
 * {@code RaftServer} to it; the contracts are RaftServer's.
 */
public interface Consensus {
    /**
     * Replicates a command; completes with the state machine's result, or fails with a
     * {@link KeelException} (NotLeader with a hint, Rejected, NotCommitted, Timeout, ShuttingDown).
     */
    CompletableFuture<byte[]> submit(byte[] command);

    /** Completes once the local state machine reflects every write completed before the call (ReadIndex). */
    CompletableFuture<Long> linearizableRead();

    /** This node's state as of its event loop's last turn. */
    ServerStatus status();

    /** Called with the new leader id (0 if none) whenever it changes; must be quick. */
    void addLeaderListener(IntConsumer listener);

    // ---------------------------------------------------------------- membership (leader only)

    /** Replicates the node's addresses, then adds it as a learner ({@link RaftServer#addLearner(int, InetSocketAddress, String)}). */
    CompletableFuture<Void> addLearner(int id, InetSocketAddress peer, String http);

    /** Promotes a caught-up learner; Rejected with NOT_CAUGHT_UP in its message while it lags. */
    CompletableFuture<Void> promote(int id);

    /** Removes a voter or learner (the leader too). */
    CompletableFuture<Void> removeMember(int id);

    /** Asks the leader to hand leadership to another voter; completes once asked, not once moved. */
    CompletableFuture<Void> transferLeadership(int id);

    /** Replicates a member's addresses without changing the membership. */
    CompletableFuture<Void> publishAddress(int id, InetSocketAddress peer, String http);

    /** The replicated address book: every member ever added, with its peer address and HTTP URI ("" if none replicated). */
    Map<Integer, RaftServer.Member> memberAddresses();

    /** One member's entry in the replicated address book (null if none); cheaper than copying the whole book. */
    default RaftServer.Member memberAddress(int id) {
        return memberAddresses().get(id);
    }
}
