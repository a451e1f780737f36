package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.Message;
import dev.keel.core.RaftNode;
import dev.keel.core.Role;
import dev.keel.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks the Figure 3 safety properties of the Raft paper over a whole run, incrementally, so that
 * it can run after every simulated step:
 * <ul>
 *   <li>Election Safety: at most one leader per term, over the whole run;</li>
 *   <li>Leader Append-Only: a leader never overwrites or deletes entries in its log;</li>
 *   <li>Log Matching: two logs with an entry of the same index and term are identical up to it;</li>
 *   <li>Leader Completeness: an entry committed in a term is in the log of every leader of later terms;</li>
 *   <li>State Machine Safety: every node applies the same entry at each index;</li>
 * </ul>
 * plus: a node's commitIndex never decreases while it runs, nodes apply indexes in order, and
 * no node grants its vote to two candidates in one term (even across a restart).
 *
 * <p>Log Matching is checked by induction: every (index, term) that any node persists must always
 * come with the same command and the same term at index - 1, which implies identical prefixes.
 */
public final class SafetyChecker {
    private record IndexTerm(long index, long term) {}

    private record LogFact(long prevTerm, Entry entry, int firstNode) {}

    private final Map<Long, Integer> leaderOfTerm = new HashMap<>();
    /** committed.get(i - 1) is the entry known committed at index i. */
    private final ArrayList<Entry> committed = new ArrayList<>();
    /**
     * commitTerms[i - 1]: the term in which entry i was seen committed, an upper bound on the term
     * in which it really committed (the observer's currentTerm). Leader Completeness speaks of
     * leaders of terms after the commit, not after the entry's own term: an entry of term 3 that
     * commits in term 5 need not be in the log of term 4's leader.
     */
    private long[] commitTerms = new long[1024];
    private final Map<IndexTerm, LogFact> logFacts = new HashMap<>();
    private final Map<Integer, NodeTrack> tracks = new HashMap<>();
    /** (voter, term) -> the candidate it granted its vote to; over the whole run, across restarts. */
    private final Map<IndexTerm, Integer> votes = new HashMap<>();
    /** Committed entries below this index (0-based) were already checked against current leaders. */
    private int checkedAgainstLeaders;

    private static final class NodeTrack {
        long lastCommit;
        long lastApplied;
        long leaderTerm = -1; // the term it was last seen leading in
        long leaderLastIndex;
        long leaderLastTerm;
    }

    private NodeTrack track(int id) {
        return tracks.computeIfAbsent(id, k -> new NodeTrack());
    }

    /** A node (re)started: its volatile state begins again from what it persisted. */
    public void onStart(RaftNode node) {
        NodeTrack t = new NodeTrack();
        t.lastCommit = node.commitIndex();
        t.lastApplied = node.lastApplied();
        tracks.put(node.id(), t);
        // The persisted commitIndex must itself be consistent with what was committed.
        recordCommits(node, 0);
    }

    /** The node is about to persist these entries (from its Ready). */
    public void onPersist(RaftNode node, List<Entry> entries) {
        for (Entry e : entries) {
            if (e.type() == dev.keel.core.EntryType.CONFIG) checkTransition(node, e);
            long prevTerm = e.index() == 1 ? 0 : node.term(e.index() - 1);
            LogFact fact = new LogFact(prevTerm, e, node.id());
            LogFact seen = logFacts.putIfAbsent(new IndexTerm(e.index(), e.term()), fact);
            if (seen != null && (seen.prevTerm() != prevTerm || !seen.entry().equals(e))) {
                throw new SafetyViolation("LogMatching", "node " + node.id() + " has entry " + e + " after term "
                        + prevTerm + ", but node " + seen.firstNode() + " had " + seen.entry() + " after term "
                        + seen.prevTerm());
            }
        }
    }

    /**
     * The node sends m (after persisting its Ready). Checks one vote per term per voter, across
     * restarts (Figure 2: votedFor is persistent state; raft.tla HandleRequestVoteRequest).
     */
    public void onSend(Message m) {
        if (m instanceof Message.RequestVoteResponse r && r.voteGranted() && !r.preVote()) {
            Integer before = votes.putIfAbsent(new IndexTerm(r.from(), r.term()), r.to());
            if (before != null && before != r.to()) {
                throw new SafetyViolation("OneVotePerTerm", "node " + r.from() + " voted for " + before + " and "
                        + r.to() + " in term " + r.term());
            }
        }
    }

    /**
     * No two disjoint majorities (thesis chapter 4): each configuration in a log must follow the
     * one before it by a change of at most one voter, by entering joint consensus from it (the
     * old voters become the outgoing half), or by leaving joint consensus to its incoming half.
     * Any of these makes every quorum of the new configuration overlap every quorum of the old.
     */
    private void checkTransition(RaftNode node, Entry e) {
        dev.keel.core.Membership prev = node.membershipAt(e.index() - 1);
        dev.keel.core.Membership next = dev.keel.core.Membership.decode(e.data());
        boolean ok;
        if (!prev.isJoint() && !next.isJoint()) {
            java.util.Set<Integer> a = new java.util.TreeSet<>(java.util.stream.IntStream.of(prev.voters()).boxed().toList());
            java.util.Set<Integer> b = new java.util.TreeSet<>(java.util.stream.IntStream.of(next.voters()).boxed().toList());
            java.util.Set<Integer> diff = new java.util.TreeSet<>(a);
            diff.addAll(b);
            java.util.Set<Integer> both = new java.util.TreeSet<>(a);
            both.retainAll(b);
            diff.removeAll(both);
            ok = diff.size() <= 1;
        } else if (!prev.isJoint()) {
            ok = java.util.Arrays.equals(next.outgoing(), prev.voters());
        } else if (!next.isJoint()) {
            ok = java.util.Arrays.equals(next.voters(), prev.voters());
        } else {
            ok = false; // joint to joint
        }
        if (!ok) {
            throw new SafetyViolation("DisjointMajorities", "node " + node.id() + " has configuration " + next
                    + " at " + e.index() + " right after " + prev + ": their majorities need not overlap");
        }
    }

    /** The node applied e to its state machine. */
    public void onApply(RaftNode node, Entry e) {
        NodeTrack t = track(node.id());
        if (e.index() != t.lastApplied + 1) {
            throw new SafetyViolation("ApplyOrder", "node " + node.id() + " applied " + e.index() + " after "
                    + t.lastApplied);
        }
        t.lastApplied = e.index();
        recordCommits(node, t.lastCommit);
        if (e.index() > committed.size()) {
            throw new SafetyViolation("StateMachineSafety", "node " + node.id() + " applied " + e
                    + " which no node has committed");
        }
        Entry c = committed.get((int) e.index() - 1);
        if (!c.equals(e)) {
            throw new SafetyViolation("StateMachineSafety", "node " + node.id() + " applied " + e + " at index "
                    + e.index() + " where " + c + " was committed");
        }
    }

    /**
     * The node replaced its log prefix and state machine with a snapshot from the leader: the
     * snapshot must end at a committed entry (thesis §5.1: snapshots hold committed state only).
     */
    public void onRestore(RaftNode node, SnapshotMeta meta) {
        if (meta.index() > committed.size() || committed.get((int) meta.index() - 1).term() != meta.term()) {
            throw new SafetyViolation("SnapshotSafety", "node " + node.id() + " installed " + meta
                    + " which does not end at a committed entry (" + committed.size() + " committed)");
        }
        NodeTrack t = track(node.id());
        t.lastApplied = meta.index();
        if (t.lastCommit < meta.index()) t.lastCommit = meta.index();
    }

    /** The entry committed at index (1-based), for reference state machines; null if none yet. */
    public Entry committedEntry(long index) {
        return index >= 1 && index <= committed.size() ? committed.get((int) index - 1) : null;
    }

    /** After every step: checks every live node (null entries are crashed nodes). */
    public void afterStep(RaftNode[] nodes) {
        for (RaftNode n : nodes) {
            if (n == null) continue;
            NodeTrack t = track(n.id());
            if (n.commitIndex() < t.lastCommit) {
                throw new SafetyViolation("CommitMonotonic", "node " + n.id() + " commitIndex went from "
                        + t.lastCommit + " to " + n.commitIndex());
            }
            if (n.commitIndex() > t.lastCommit) {
                recordCommits(n, t.lastCommit);
                t.lastCommit = n.commitIndex();
            }
            if (n.role() == Role.LEADER) {
                Integer other = leaderOfTerm.putIfAbsent(n.currentTerm(), n.id());
                if (other != null && other != n.id()) {
                    throw new SafetyViolation("ElectionSafety", "nodes " + other + " and " + n.id()
                            + " both leaders in term " + n.currentTerm());
                }
                if (t.leaderTerm != n.currentTerm()) {
                    // A new leader: it must hold every entry committed so far (Leader Completeness).
                    t.leaderTerm = n.currentTerm();
                    for (int i = (int) Math.max(0, n.firstIndex() - 2); i < committed.size(); i++) {
                        Entry c = committed.get(i);
                        if (commitTerms[i] < n.currentTerm() && n.term(c.index()) != c.term()) {
                            throw new SafetyViolation("LeaderCompleteness", "leader " + n.id() + " of term "
                                    + n.currentTerm() + " lacks committed entry " + c + " (has term "
                                    + n.term(c.index()) + ")");
                        }
                    }
                } else if (n.lastIndex() < t.leaderLastIndex
                        || (t.leaderLastIndex >= n.firstIndex() - 1 && n.term(t.leaderLastIndex) != t.leaderLastTerm)) {
                    throw new SafetyViolation("LeaderAppendOnly", "leader " + n.id() + " of term " + n.currentTerm()
                            + " had entry " + t.leaderLastIndex + "/" + t.leaderLastTerm + ", now has last index "
                            + n.lastIndex() + " and term " + n.term(t.leaderLastIndex) + " there");
                }
                t.leaderLastIndex = n.lastIndex();
                t.leaderLastTerm = n.term(n.lastIndex());
            } else {
                t.leaderTerm = -1;
            }
        }
        // Leader Completeness for entries committed since the last step, against every leader.
        for (RaftNode n : nodes) {
            if (n == null || n.role() != Role.LEADER) continue;
            for (int i = (int) Math.max(checkedAgainstLeaders, n.firstIndex() - 2); i < committed.size(); i++) {
                Entry c = committed.get(i);
                if (commitTerms[i] < n.currentTerm() && n.term(c.index()) != c.term()) {
                    throw new SafetyViolation("LeaderCompleteness", "leader " + n.id() + " of term "
                            + n.currentTerm() + " lacks committed entry " + c);
                }
            }
        }
        checkedAgainstLeaders = committed.size();
    }

    private void recordCommits(RaftNode n, long from) {
        // Entries below firstIndex were compacted into a snapshot, checked when it was installed.
        for (long i = Math.max(from + 1, n.firstIndex()); i <= n.commitIndex(); i++) {
            Entry e = n.entry(i);
            if (i <= committed.size()) {
                Entry c = committed.get((int) i - 1);
                if (!c.equals(e)) {
                    throw new SafetyViolation("StateMachineSafety", "node " + n.id() + " committed " + e
                            + " at index " + i + " where " + c + " was committed before");
                }
            } else {
                if (committed.size() == commitTerms.length) commitTerms = java.util.Arrays.copyOf(commitTerms, commitTerms.length * 2);
                commitTerms[committed.size()] = n.currentTerm();
                committed.add(e);
            }
        }
    }

    /** Index of the highest entry any node has committed. */
    public long maxCommitted() {
        return committed.size();
    }

    /** Number of terms in which some node was leader. */
    public int leaderTerms() {
        return leaderOfTerm.size();
    }
}
