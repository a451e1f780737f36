package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private static final long MIN = 50_000_000L;
    private static final long MAX = 2_000_000_000L;

    @Property(tries = 2000)
    void delayStaysWithinJitteredEnvelope(@ForAll @IntRange(min = 0, max = 100) int failures, @ForAll long seed) {
        long ceiling = Math.min(MAX, MIN << Math.min(failures, 10));
        long d = Backoff.delayNanos(failures, MIN, MAX, new Random(seed));
        assertThat(d).isBetween(Math.max(MIN, ceiling / 2), ceiling);
    }

    @Test
    void growsFromMinToMax() {
        Random r = new Random(1);
        assertThat(Backoff.delayNanos(0, MIN, MAX, r)).isEqualTo(MIN);
        assertThat(Backoff.delayNanos(1, MIN, MAX, r)).isBetween(MIN, 2 * MIN);
        assertThat(Backoff.delayNanos(Integer.MAX_VALUE, MIN, MAX, r)).isBetween(MAX / 2, MAX);
        assertThat(Backoff.delayNanos(3, MIN, MIN, r)).isEqualTo(MIN);
    }
}
