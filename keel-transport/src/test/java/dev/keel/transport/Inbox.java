package dev.keel.transport;

import static org.assertj.core.api.Assertions.fail;

import dev.keel.core.Message;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.concurrent.locks.LockSupport;

/** Collects what a transport delivers; the test thread waits on it with deadlines, never sleeps. */
final class Inbox implements Consumer<Message> {
    static final Duration TIMEOUT = Duration.ofSeconds(15);

    private final LinkedBlockingQueue<Message> queue = new LinkedBlockingQueue<>();

    @Override
    public void accept(Message m) {
        queue.add(m);
    }

    /** The next {@code n} messages, failing if they do not all arrive within {@link #TIMEOUT}. */
    List<Message> take(int n) throws InterruptedException {
        List<Message> out = new ArrayList<>(n);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (out.size() < n) {
            Message m = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (m == null) fail("received " + out.size() + " of " + n + " messages within " + TIMEOUT);
            out.add(m);
        }
        return out;
    }

    /** The next message within {@code timeout}, or null. */
    Message poll(Duration timeout) throws InterruptedException {
        return queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    int size() {
        return queue.size();
    }

    /** Polls {@code condition} until it holds, failing after {@link #TIMEOUT}. */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out after " + TIMEOUT + " waiting for " + what);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    /** Polls {@code condition} for up to {@code timeout}; whether it came to hold. */
    static boolean within(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) return false;
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
        return true;
    }
}
