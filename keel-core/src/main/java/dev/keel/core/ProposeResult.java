package dev.keel.core;

/** What {@link RaftNode#propose} did with a command. */
public sealed interface ProposeResult {
    /** Appended to the leader's log at {@code index} in {@code term}. It commits if and only if the
     * entry applied at {@code index} has this {@code term}. */
    record Accepted(long index, long term) implements ProposeResult {}

    /** This node is not the leader; {@code leaderHint} is the leader it knows of, or {@link RaftNode#NONE}.
     * Nothing was appended, so retrying elsewhere is safe. */
    record NotLeader(int leaderHint) implements ProposeResult {}

    /** Refused without being appended, so retrying later is safe. */
    record Rejected(Reason reason, String detail) implements ProposeResult {}

    enum Reason {
        /** The leader holds {@code maxUncommittedBytes} of uncommitted entries already (back-pressure). */
        UNCOMMITTED_LIMIT,
        /** The command alone exceeds {@code maxBytesPerAppend}. */
        TOO_LARGE,
        /** A configuration change is still uncommitted, or this leader has not yet committed an
         * entry of its term (the 2015 correction to single-server changes). */
        MEMBERSHIP_CHANGE_PENDING,
        /** A learner to promote is more than {@code maxLearnerLagEntries} behind (thesis §4.2.1). */
        NOT_CAUGHT_UP,
        /** The requested configuration is not valid (for example a voter demoted to learner in one step). */
        INVALID_MEMBERSHIP,
        /** Leadership is being transferred (thesis §3.10): proposals wait for the new leader. */
        TRANSFERRING
    }
}
