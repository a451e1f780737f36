package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.Message;
import java.util.List;
import java.util.Map;

/**
 * The state of a seeded simulation after a number of events, for the explorer's trace view
 * ({@link Simulation#frameAt}): every node as its core sees itself, the messages in flight, who can
 * reach whom, and the last events.
 *
 * @param event how many events had been handled (the run may have ended sooner: see {@code ended})
 * @param time simulated time in tick units ({@link Simulation#TICK_UNITS} per tick)
 * @param violation the property broken by the last event handled, or null
 * @param ended the run ended (finished, or stopped by a violation) at or before {@code event}
 * @param trace the last events handled, one line each, oldest first
 */
public record SimFrame(long seed, long event, long time, String violation, boolean ended, List<String> trace,
                       List<NodeView> nodes, List<InFlightView> messages) {

    /** Entries shown per node: the last ones, so a long run's frame stays small. */
    public static final int LOG_ENTRIES_MAX = 64;

    /**
     * One node. A crashed node is {@code up == false} with role "DOWN" and no log.
     *
     * @param log the last {@link #LOG_ENTRIES_MAX} entries of its log
     * @param reaches the nodes its messages can reach now (itself included)
     */
    public record NodeView(int id, boolean up, String role, long term, int vote, int leader, long commit,
                           long applied, int electionElapsedTicks, int electionTimeoutTicks, List<Entry> log,
                           List<Integer> reaches, Map<String, Long> kv) {}

    /** A message in flight and when it arrives (tick units); {@code seq} identifies it within the run. */
    public record InFlightView(long seq, long deliverAt, Message message) {}
}
