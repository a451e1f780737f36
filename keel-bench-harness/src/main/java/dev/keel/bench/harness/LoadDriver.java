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
        Recorder recorder = new Recorder(3);
        AtomicLong completed = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean();
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
                        errors.incrementAndGet();
                        permits.release();
                        continue;
                    }
                    f.whenComplete((v, t) -> {
                        if (measuring.get()) {
                            if (t == null) {
                                recorder.recordValue(Math.max(1, (System.nanoTime() - start) / 1000));
                                completed.incrementAndGet();
                            } else {
                                errors.incrementAndGet();
                            }
                        }
                        permits.release();
                    });
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        return measure(recorder, completed, errors, measuring, stop, submitter, warmupSeconds, seconds, "closed-" + outstanding);
    }

    /** Proposals at {@code ratePerSecond} on a fixed schedule. */
    public Result openLoop(long ratePerSecond, double warmupSeconds, double seconds) throws InterruptedException {
        Recorder recorder = new Recorder(3);
        AtomicLong completed = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong inFlight = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean();
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
                    if (measuring.get()) errors.incrementAndGet();
                    continue;
                }
                inFlight.incrementAndGet();
                CompletableFuture<Void> f;
                try {
                    f = system.submit(command);
                } catch (RuntimeException e) {
                    inFlight.decrementAndGet();
                    if (measuring.get()) errors.incrementAndGet();
                    continue;
                }
                f.whenComplete((v, t) -> {
                    inFlight.decrementAndGet();
                    if (measuring.get()) {
                        if (t == null) {
                            recorder.recordValue(Math.max(1, (System.nanoTime() - intended) / 1000));
                            completed.incrementAndGet();
                        } else {
                            errors.incrementAndGet();
                        }
                    }
                });
            }
        });
        return measure(recorder, completed, errors, measuring, stop, submitter, warmupSeconds, seconds, "open-" + ratePerSecond);
    }

    private Result measure(Recorder recorder, AtomicLong completed, AtomicLong errors, AtomicBoolean measuring, AtomicBoolean stop,
                           Thread submitter, double warmupSeconds, double seconds, String mode) throws InterruptedException {
        Thread.sleep((long) (warmupSeconds * 1000)); // the warm-up: unmeasured load
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
        recorder.reset();
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        measuring.set(true);
        Thread.sleep((long) (seconds * 1000)); // the measured interval
        measuring.set(false);
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        long ops = completed.get();
        long errs = errors.get();
        stop.set(true);
        submitter.join(10_000);
        var h = recorder.getIntervalHistogram();
        long heap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) heap += pool.getPeakUsage().getUsed();
        }
        return new Result(system.name(), mode, command.length, ops, (t1 - t0) / 1e9, h.getValueAtPercentile(50),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), (cpu1 - cpu0) / 1e9, heap, errs);
    }
}
