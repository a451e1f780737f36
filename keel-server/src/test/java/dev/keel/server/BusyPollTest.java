package dev.keel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.SelectStrategy;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BusyPollTest {
    private long now = Long.MAX_VALUE - 500; // near the wrap, so a comparison instead of a difference would fail
    private final AtomicInteger selectNowCalls = new AtomicInteger();

    private int ask(BusyPoll p, boolean hasTasks) throws Exception {
        return p.calculateStrategy(() -> {
            selectNowCalls.incrementAndGet();
            return 0; // nothing ready
        }, hasTasks);
    }

    @Test
    void sleepsUntilArmedThenPollsForTheWindowOnly() throws Exception {
        BusyPoll p = new BusyPoll(1_000, () -> now);
        assertThat(ask(p, false)).isEqualTo(SelectStrategy.SELECT);
        assertThat(selectNowCalls).hasValue(0);

        p.arm();
        assertThat(ask(p, false)).isZero(); // polled: the loop runs its tasks and asks again
        now += 999;
        assertThat(ask(p, false)).isZero();
        assertThat(selectNowCalls).hasValue(2);
        assertThat(p.polling()).isTrue();

        now += 1; // past the window (and past Long.MAX_VALUE)
        assertThat(ask(p, false)).isEqualTo(SelectStrategy.SELECT);
        assertThat(p.polling()).isFalse();
        assertThat(ask(p, false)).isEqualTo(SelectStrategy.SELECT);
        assertThat(selectNowCalls).hasValue(2);
    }

    @Test
    void rearmingExtendsTheWindow() throws Exception {
        BusyPoll p = new BusyPoll(1_000, () -> now);
        p.arm();
        now += 800;
        p.arm();
        now += 800;
        assertThat(ask(p, false)).isZero();
        now += 200;
        assertThat(ask(p, false)).isEqualTo(SelectStrategy.SELECT);
    }

    @Test
    void pendingTasksAlwaysPollWithoutSleeping() throws Exception {
        BusyPoll p = new BusyPoll(1_000, () -> now);
        assertThat(ask(p, true)).isZero();
        assertThat(selectNowCalls).hasValue(1);
    }

    @Test
    void zeroNeverPolls() throws Exception {
        BusyPoll p = new BusyPoll(0, () -> now);
        p.arm();
        assertThat(p.polling()).isFalse();
        assertThat(ask(p, false)).isEqualTo(SelectStrategy.SELECT);
        assertThatThrownBy(() -> new BusyPoll(-1, () -> now)).isInstanceOf(IllegalArgumentException.class);
    }
}
