package dev.keel.core;

/**
 * Deliberate protocol bugs, used only by tests to prove that the simulator's checkers can fail.
 * The CLI and the server never set one.
 */
public enum TestMutation {
    NONE,
    /** Commit an entry of an older term by counting replicas (the Figure 8 bug, §5.4.2). */
    COMMIT_OLD_TERM_BY_COUNTING,
    /** Leave votedFor out of the persisted hard state, so a restarted node can vote twice in a term. */
    FORGET_PERSIST_VOTE,
    /** Follower sets commitIndex = leaderCommit, without min(leaderCommit, index of last new entry). */
    FOLLOWER_COMMIT_WITHOUT_MIN,
    /** Grant a vote to a second candidate in the same term. */
    GRANT_SECOND_VOTE,
    /** Never start an election: breaks liveness only, to prove the simulator's liveness check can fail. */
    NO_ELECTIONS,
    /** Change several voters at once without joint consensus (thesis §4.3 exists to prevent this). */
    SKIP_JOINT_CONSENSUS,
    /** A leader counts its own copy of entries whose write is still under way (§10.2.1 counts only durable copies). */
    COUNT_OWN_WRITE_BEFORE_DURABLE
}
