package dev.keel.server;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import java.util.function.LongSupplier;

/**
 * How a node's event loop waits for IO (Netty asks before each wait). Once {@link #arm armed} — the
 * node just completed a client request with nothing else in flight — the loop polls its sockets and
 * task queue instead of sleeping, for up to {@code pollNanos}: a client with one request at a time
 * sends the next one within that window, and waking a sleeping thread puts tens of microseconds
 * (more in a VM) on that request's path, more than a tenth of a commit. Under load requests are
 * always in flight and the loop is never armed; idle, it sleeps as before. Loop thread only.
 */
final class BusyPoll implements SelectStrategy {
    private final long pollNanos;
    private final LongSupplier nanoClock;
    private boolean armed;
    private long untilNanos;

    BusyPoll(long pollNanos, LongSupplier nanoClock) {
        if (pollNanos < 0) throw new IllegalArgumentException("pollNanos " + pollNanos + " must not be negative");
        this.pollNanos = pollNanos;
        this.nanoClock = nanoClock;
    }

    /** Polls for the next {@code pollNanos} (no-op when polling is off). */
    void arm() {
        if (pollNanos == 0) return;
        armed = true;
        untilNanos = nanoClock.getAsLong() + pollNanos;
    }

    boolean polling() {
        return armed;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        if (hasTasks) return selectNow.get();
        if (armed) {
            // Differences, not comparisons, of nanoTime values: they may wrap.
            if (nanoClock.getAsLong() - untilNanos < 0) return selectNow.get(); // the loop then runs what came in, and asks again
            armed = false;
        }
        return SELECT;
    }
}
