package dev.keel.transport;

import java.util.random.RandomGenerator;

/** Reconnect delays: exponential with "equal jitter", bounded below and above. */
final class Backoff {
    private Backoff() {}

    /**
     * The wait before the next attempt after {@code failures} consecutive failures (0 for the
     * first retry): a random time in [c/2, c] with c = min(max, min·2^failures), never below min.
     * Jitter keeps peers that lost each other at the same moment from redialling in lockstep.
     */
    static long delayNanos(int failures, long minNanos, long maxNanos, RandomGenerator random) {
        if (minNanos <= 0 || maxNanos < minNanos || failures < 0) {
            throw new IllegalArgumentException("backoff min " + minNanos + " ns, max " + maxNanos + " ns, failures " + failures);
        }
        long ceiling = minNanos;
        for (int i = 0; i < failures && ceiling < maxNanos; i++) {
            ceiling = ceiling > maxNanos / 2 ? maxNanos : ceiling * 2;
        }
        long half = ceiling / 2;
        long delay = half + random.nextLong(ceiling - half + 1);
        return Math.max(minNanos, delay);
    }
}
