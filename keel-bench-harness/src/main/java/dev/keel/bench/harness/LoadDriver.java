package dev.keel.bench.harness;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Recorder;

/**
 * Drives a {@link RaftSystem} with proposals and measures it.
 *
 * <p>Closed loop: exactly {@code outstanding} proposals in flight; each completion starts the next.
 * Latency is from submit to completion. Open loop: proposals at a fixed rate on a schedule that does
 * not wait for completions; latency counts from each proposal's intended start, so a stall shows as
 * the latency every scheduled proposal would have seen (no coordinated omission). Proposals beyond
 * {@link #OPEN_LOOP_MAX_OUTSTANDING} in flight are counted as errors rather than queued without end.
 */
public final class LoadDriver {

    static final int OPEN_LOOP_MAX_OUTSTANDING = 20_000;

    private final RaftSystem system;
    private final byte[] command;

    public LoadDriver(RaftSystem system, int commandBytes) {
        this.system = system;
        this.command = new byte[commandBytes];
        for (int i = 0; i < commandBytes; i++) command[i] = (byte) (i * 31 + 7);
    }

    /**
     * Submits {@code count} commands of {@code bytes} bytes with at most {@code outstanding} in
     * flight and waits up to {@code timeoutSeconds} for all of them: the adapters' smoke test.
     * Returns the futures, every one completed (successfully or not).
     */
    public static java.util.List<CompletableFuture<Void>> submitAll(RaftSystem system, int count, int bytes, int outstanding,
                                                                    long timeoutSeconds) throws Exception {
        byte[] command = new byte[bytes];
        Semaphore permits = new Semaphore(outstanding);
        java.util.List<CompletableFuture<Void>> futures = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++) {
            permits.acquire();
            CompletableFuture<Void> f = system.submit(command);
            f.whenComplete((v, t) -> permits.release());
            futures.add(f);
        }
        try {
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            // some failed: the caller looks at each future
        }
        return futures;
    }

    /** Runs {@code warmupSeconds} unmeasured, then {@code seconds} measured, with {@code outstanding} in flight. */
    public Result closedLoop(int outstanding, double warmupSeconds, double seconds) throws InterruptedException {
        Tally tally = new Tally();
        AtomicBoolean stop = new AtomicBoolean();
        Semaphore permits = new Semaphore(outstanding);
        Thread submitter = Thread.ofPlatform().name("bench-submit").start(() -> {
            try {
                while (!stop.get()) {
                    if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) continue;
                    long start = System.nanoTime();
                    CompletableFuture<Void> f;
                    try {
                        f = system.submit(command);
                    } catch (RuntimeException e) {
                        tally.failed();
                        permits.release();
                        continue;
                    }
                    f.whenComplete((v, t) -> {
                        tally.done(start, t);
                        permits.release();
                    });
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        return measure(tally, stop, submitter, warmupSeconds, seconds, "closed-" + outstanding);
    }

    /** Proposals at {@code ratePerSecond} on a fixed schedule. */
    public Result openLoop(long ratePerSecond, double warmupSeconds, double seconds) throws InterruptedException {
        Tally tally = new Tally();
        AtomicLong inFlight = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        long intervalNanos = Math.max(1, 1_000_000_000L / ratePerSecond);
        Thread submitter = Thread.ofPlatform().name("bench-open-loop").start(() -> {
            long next = System.nanoTime();
            while (!stop.get()) {
                long now = System.nanoTime();
                if (now < next) {
                    LockSupport.parkNanos(next - now);
                    continue;
                }
                long intended = next;
                next += intervalNanos;
                if (inFlight.get() >= OPEN_LOOP_MAX_OUTSTANDING) {
                    tally.failed();
                    continue;
                }
                inFlight.incrementAndGet();
                CompletableFuture<Void> f;
                try {
                    f = system.submit(command);
                } catch (RuntimeException e) {
                    inFlight.decrementAndGet();
                    tally.failed();
                    continue;
                }
                f.whenComplete((v, t) -> {
                    inFlight.decrementAndGet();
                    tally.done(intended, t);
                });
            }
        });
        return measure(tally, stop, submitter, warmupSeconds, seconds, "open-" + ratePerSecond);
    }

    /** What the measured interval saw: latencies of completed proposals and a count of failed ones. */
    private static final class Tally {
        final Recorder recorder = new Recorder(3);
        final AtomicLong completed = new AtomicLong();
        final AtomicLong errors = new AtomicLong();
        final AtomicBoolean measuring = new AtomicBoolean();

        /** A proposal started (or was due) at {@code startNanos} ended, failed if {@code t} is set. */
        void done(long startNanos, Throwable t) {
            if (!measuring.get()) return;
            if (t != null) {
                errors.incrementAndGet();
                return;
            }
            recorder.recordValue(Math.max(1, (System.nanoTime() - startNanos) / 1000));
            completed.incrementAndGet();
        }

        /** A proposal that could not even be submitted. */
        void failed() {
            if (measuring.get()) errors.incrementAndGet();
        }
    }

    private Result measure(Tally tally, AtomicBoolean stop, Thread submitter, double warmupSeconds, double seconds, String mode)
            throws InterruptedException {
        Thread.sleep((long) (warmupSeconds * 1000)); // the warm-up: unmeasured load
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
        tally.recorder.reset();
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        tally.measuring.set(true);
        Thread.sleep((long) (seconds * 1000)); // the measured interval
        tally.measuring.set(false);
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        long ops = tally.completed.get();
        long errs = tally.errors.get();
        stop.set(true);
        submitter.join(10_000);
        var h = tally.recorder.getIntervalHistogram();
        long heap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) heap += pool.getPeakUsage().getUsed();
        }
        return new Result(system.name(), mode, command.length, ops, (t1 - t0) / 1e9, h.getValueAtPercentile(50),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), (cpu1 - cpu0) / 1e9, heap, errs);
    }
}
