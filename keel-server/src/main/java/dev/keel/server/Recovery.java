package dev.keel.server;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.RaftNode;
import dev.keel.storage.DurableLog;
import dev.keel.storage.StorageConfig;
import java.nio.file.Path;
import java.util.List;

/**
 * The last resort for a cluster that has permanently lost its majority: rewrites the membership
 * in one stopped survivor's log, so that it can start as (part of) a new, smaller cluster.
 *
 * <p>This bypasses Raft. Entries that were committed on the lost nodes but never reached this
 * survivor are gone for good, and if any "lost" node comes back with its old data it must be wiped
 * first, or the cluster could split. Run it only on the most up-to-date survivor (the highest last
 * log term, then the highest last index), with every other node stopped.
 *
 * <p>How: appends one configuration entry naming the new voters, in a term above every term the
 * survivor has seen, and records that term as its current term. On restart the survivor uses the
 * newest configuration in its log (thesis §4.1), so with itself as the only voter it elects itself
 * and commits; new nodes are then added the normal way.
 */
public final class Recovery {
    private Recovery() {}

    /** What was done, for the operator. */
    public record Result(long index, long term, Membership membership, long lastIndexBefore) {}

    public static Result forceMembership(Path dataDir, int nodeId, String clusterId, Membership membership) {
        if (!membership.isVoter(nodeId)) {
            throw new IllegalArgumentException("the new voters " + membership + " must include this node " + nodeId);
        }
        if (membership.isJoint()) throw new IllegalArgumentException("the new membership must not be joint");
        StorageConfig sc = StorageConfig.builder(nodeId, clusterId).build();
        try (DurableLog log = DurableLog.open(dataDir, sc)) {
            HardState hs = log.hardState();
            long last = log.lastIndex();
            long term = Math.max(hs.currentTerm(), log.term(last)) + 1;
            Entry config = new Entry(last + 1, term, EntryType.CONFIG, membership.encode());
            log.persist(new HardState(term, RaftNode.NONE, hs.commitIndex()), List.of(config));
            return new Result(config.index(), term, membership, last);
        }
    }
}
