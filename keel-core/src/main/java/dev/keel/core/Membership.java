package dev.keel.core;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.IntToLongFunction;
import java.util.stream.IntStream;

/**
 * A cluster configuration: the voters, the learners (non-voting members that receive the log,
 * thesis §4.2.1) and, during a joint-consensus change (thesis §4.3), the outgoing voters. Every
 * decision (election, commit, read confirmation, check-quorum) needs a majority of {@code voters}
 * and, while joint, also a majority of {@code outgoing}: that is what makes any two quorums of
 * consecutive configurations overlap.
 *
 * <p>A configuration takes effect on a server as soon as its entry is in the server's log,
 * committed or not (thesis §4.1).
 */
public record Membership(int[] voters, int[] outgoing, int[] learners) {
    public Membership {
        voters = sortedDistinct("voters", voters);
        outgoing = sortedDistinct("outgoing", outgoing);
        learners = sortedDistinct("learners", learners);
        if (voters.length == 0) throw new IllegalArgumentException("a configuration needs at least one voter");
        for (int l : learners) {
            if (Arrays.binarySearch(voters, l) >= 0 || Arrays.binarySearch(outgoing, l) >= 0) {
                throw new IllegalArgumentException("node " + l + " cannot be both a voter and a learner");
            }
        }
    }

    private static int[] sortedDistinct(String what, int[] ids) {
        int[] s = ids.clone();
        Arrays.sort(s);
        for (int i = 0; i < s.length; i++) {
            Checks.node(what, s[i]);
            if (i > 0 && s[i] == s[i - 1]) throw new IllegalArgumentException(what + " name node " + s[i] + " twice");
        }
        return s;
    }

    public static Membership of(int... voters) {
        return new Membership(voters, new int[0], new int[0]);
    }

    @Override
    public int[] voters() {
        return voters.clone();
    }

    @Override
    public int[] outgoing() {
        return outgoing.clone();
    }

    @Override
    public int[] learners() {
        return learners.clone();
    }

    public boolean isJoint() {
        return outgoing.length > 0;
    }

    /** A voter in the incoming or (while joint) the outgoing configuration. */
    public boolean isVoter(int id) {
        return Arrays.binarySearch(voters, id) >= 0 || Arrays.binarySearch(outgoing, id) >= 0;
    }

    public boolean isLearner(int id) {
        return Arrays.binarySearch(learners, id) >= 0;
    }

    public boolean contains(int id) {
        return isVoter(id) || isLearner(id);
    }

    /** Every member (voters of both halves and learners), sorted. */
    public int[] members() {
        return IntStream.concat(IntStream.concat(IntStream.of(voters), IntStream.of(outgoing)), IntStream.of(learners))
                .distinct().sorted().toArray();
    }

    /** The configuration that leaves joint consensus: the incoming voters and the learners. */
    public Membership leaveJoint() {
        return new Membership(voters, new int[0], learners);
    }

    /**
     * The highest value a quorum has reached: for each half, the value that a majority of its
     * voters has at least; the smaller of the two while joint. Used for commitIndex (with
     * matchIndex), read confirmation and leases.
     */
    public long quorumValue(IntToLongFunction valueOf) {
        return quorumValue(valueOf, new long[Math.max(voters.length, outgoing.length)]);
    }

    /** As {@link #quorumValue(IntToLongFunction)}, sorting in {@code scratch} (at least as long as either half). */
    public long quorumValue(IntToLongFunction valueOf, long[] scratch) {
        long v = majorityValue(voters, valueOf, scratch);
        return isJoint() ? Math.min(v, majorityValue(outgoing, valueOf, scratch)) : v;
    }

    private static long majorityValue(int[] ids, IntToLongFunction valueOf, long[] scratch) {
        int n = ids.length;
        for (int i = 0; i < n; i++) scratch[i] = valueOf.applyAsLong(ids[i]);
        Arrays.sort(scratch, 0, n);
        return scratch[n - (n / 2 + 1)];
    }

    /** Outcome of a vote count: WON with a quorum of grants, LOST once a quorum is impossible. */
    public enum VoteResult { PENDING, WON, LOST }

    /** @param vote for each voter: 1 granted, -1 refused, 0 no answer yet */
    public VoteResult voteResult(java.util.function.IntUnaryOperator vote) {
        VoteResult in = half(voters, vote);
        if (!isJoint()) return in;
        VoteResult out = half(outgoing, vote);
        if (in == VoteResult.LOST || out == VoteResult.LOST) return VoteResult.LOST;
        if (in == VoteResult.WON && out == VoteResult.WON) return VoteResult.WON;
        return VoteResult.PENDING;
    }

    private static VoteResult half(int[] ids, java.util.function.IntUnaryOperator vote) {
        int granted = 0;
        int refused = 0;
        for (int id : ids) {
            int v = vote.applyAsInt(id);
            if (v > 0) granted++;
            else if (v < 0) refused++;
        }
        int quorum = ids.length / 2 + 1;
        if (granted >= quorum) return VoteResult.WON;
        if (refused > ids.length - quorum) return VoteResult.LOST;
        return VoteResult.PENDING;
    }

    /** The data of a CONFIG entry. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(1 + 12 + 4 * (voters.length + outgoing.length + learners.length));
        b.put((byte) 1);
        for (int[] part : new int[][] {voters, outgoing, learners}) {
            b.putInt(part.length);
            for (int id : part) b.putInt(id);
        }
        return b.array();
    }

    /** Decodes a CONFIG entry's data; IllegalArgumentException when malformed. */
    public static Membership decode(byte[] data) {
        try {
            ByteBuffer b = ByteBuffer.wrap(data);
            if (b.get() != 1) throw new IllegalArgumentException("unknown membership format " + data[0]);
            int[][] parts = new int[3][];
            for (int p = 0; p < 3; p++) {
                int n = b.getInt();
                if (n < 0 || n > b.remaining() / 4) throw new IllegalArgumentException("bad member count " + n);
                parts[p] = new int[n];
                for (int i = 0; i < n; i++) parts[p][i] = b.getInt();
            }
            if (b.hasRemaining()) throw new IllegalArgumentException(b.remaining() + " trailing bytes");
            return new Membership(parts[0], parts[1], parts[2]);
        } catch (java.nio.BufferUnderflowException e) {
            throw new IllegalArgumentException("truncated membership of " + data.length + " bytes");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Membership m && Arrays.equals(m.voters, voters) && Arrays.equals(m.outgoing, outgoing)
                && Arrays.equals(m.learners, learners);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(voters) * 31 + Arrays.hashCode(outgoing) * 7 + Arrays.hashCode(learners);
    }

    @Override
    public String toString() {
        return "voters=" + Arrays.toString(voters) + (isJoint() ? " outgoing=" + Arrays.toString(outgoing) : "")
                + (learners.length > 0 ? " learners=" + Arrays.toString(learners) : "");
    }
}
