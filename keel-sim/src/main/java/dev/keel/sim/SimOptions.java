package dev.keel.sim;

import dev.keel.core.TestMutation;
import java.util.function.BooleanSupplier;

/**
 * What a simulation run may vary besides its seed.
 *
 * @param nodes cluster size, or 0 to let the seed choose (1, 3, 5 or 7, mostly 3 and 5)
 * @param faultTicks length of the fault phase in election-timer ticks of one node
 * @param livenessTicks after the fault phase everything heals; within this many ticks a leader must
 *     be elected, every client's final write must complete and every node must apply the same log
 * @param traceLines keep the last this many events as readable lines (0: none, the fast default)
 * @param mutation a deliberate protocol bug, for checker tests only
 * @param realStorage which seeds use keel-storage on disk (SOME: one seed in ten, chosen by the seed)
 * @param parallelLeaderWrites which seeds' leaders carry out a Ready before their own write is
 *     durable (RaftNode.advanceBeforeDurable; SOME: half, chosen by the seed). A run recorded for the
 *     TLA+ trace check needs NEVER: the spec persists a Ready in one step
 */
public record SimOptions(int nodes, int faultTicks, int livenessTicks, int traceLines, TestMutation mutation,
                         Seeds realStorage, Seeds parallelLeaderWrites) {
    // The liveness bound: 1,200 ticks lets a node added at the end of the fault phase catch up on
    // ~200 entries at one entry per round trip, the slowest batching a seed can choose.
    public static final SimOptions DEFAULT = new SimOptions(0, 1500, 1200, 0, TestMutation.NONE, Seeds.SOME,
            Seeds.SOME);

    /** Which seeds a setting applies to: none, some (chosen by the seed) or all. */
    public enum Seeds {
        NEVER, SOME, ALWAYS;

        /** Whether it applies to this seed; {@code some} is the seed's own draw, asked for only under SOME. */
        boolean applies(BooleanSupplier some) {
            return switch (this) {
                case NEVER -> false;
                case ALWAYS -> true;
                case SOME -> some.getAsBoolean();
            };
        }
    }

    public SimOptions {
        if (nodes < 0 || nodes > 9) throw new IllegalArgumentException("nodes " + nodes + " outside 0..9");
        if (faultTicks < 0) throw new IllegalArgumentException("faultTicks " + faultTicks + " < 0");
        if (livenessTicks < 50) throw new IllegalArgumentException("livenessTicks " + livenessTicks + " < 50");
        if (traceLines < 0) throw new IllegalArgumentException("traceLines " + traceLines + " < 0");
        if (mutation == null) mutation = TestMutation.NONE;
        if (realStorage == null) realStorage = Seeds.SOME;
        if (parallelLeaderWrites == null) parallelLeaderWrites = Seeds.SOME;
    }

    public SimOptions withNodes(int n) {
        return new SimOptions(n, faultTicks, livenessTicks, traceLines, mutation, realStorage, parallelLeaderWrites);
    }

    public SimOptions withFaultTicks(int t) {
        return new SimOptions(nodes, t, livenessTicks, traceLines, mutation, realStorage, parallelLeaderWrites);
    }

    public SimOptions withTraceLines(int t) {
        return new SimOptions(nodes, faultTicks, livenessTicks, t, mutation, realStorage, parallelLeaderWrites);
    }

    public SimOptions withRealStorage(Seeds r) {
        return new SimOptions(nodes, faultTicks, livenessTicks, traceLines, mutation, r, parallelLeaderWrites);
    }

    public SimOptions withParallelLeaderWrites(Seeds p) {
        return new SimOptions(nodes, faultTicks, livenessTicks, traceLines, mutation, realStorage, p);
    }

    public SimOptions withMutation(TestMutation m) {
        return new SimOptions(nodes, faultTicks, livenessTicks, traceLines, m, realStorage, parallelLeaderWrites);
    }
}
