package dev.keel.server;

import dev.keel.core.Role;
import java.util.List;

/**
 * A node's state as last seen by its event loop (cheap to read from any thread).
 *
 * @param leaderId the leader this node knows, 0 if none
 */
public record ServerStatus(int nodeId, Role role, long term, int leaderId, long commitIndex, long appliedIndex,
                           long lastIndex, long snapshotIndex, List<Integer> members) {}
