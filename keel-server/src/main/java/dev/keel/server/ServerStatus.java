package dev.keel.server;

import dev.keel.core.Role;
import java.util.List;
import java.util.Map;

/**
 * A node's state as last seen by its event loop (cheap to read from any thread).
 *
 * @param leaderId the leader this node knows, 0 if none
 * @param followerMatchIndex on a leader, each follower's matchIndex (replication lag is lastIndex
 *     minus it); empty on other nodes
 * @param members every member (voters and learners) of {@code membership}
 * @param membership the latest configuration in this node's log
 */
public record ServerStatus(int nodeId, Role role, long term, int leaderId, long commitIndex, long appliedIndex,
                           long lastIndex, long snapshotIndex, List<Integer> members,
                           Map<Integer, Long> followerMatchIndex, dev.keel.core.Membership membership) {
    public ServerStatus {
        members = List.copyOf(members);
        followerMatchIndex = Map.copyOf(followerMatchIndex);
    }
}
