package dev.keel.bench.harness;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * Closed-loop clients against a {@link KvSystem}: each client thread does one operation at a time,
 * all through one shared client object, as an application shares one client library instance (both
 * KeelClient and jetcd are thread-safe and pool or multiplex their connections). Puts write {@code valueBytes} to one of {@code keys} keys; gets read one
 * of them (preloaded, so every get finds a value). Server CPU comes from /proc of the server
 * processes; memory is their peak resident size over the interval, per node.
 */
public final class KvDriver {

    private final KvSystem system;
    private final int keys;
    private final byte[] value;

    public KvDriver(KvSystem system, int keys, int valueBytes) {
        this.system = system;
        this.keys = keys;
        this.value = new byte[valueBytes];
        for (int i = 0; i < valueBytes; i++) value[i] = (byte) ('a' + i % 26);
    }

    static String key(int i) {
        return "bench/" + i;
    }

    /** Writes every key once, so that gets always find a value. */
    public void preload() throws Exception {
        try (KvSystem.Client c = system.client()) {
            for (int i = 0; i < keys; i++) c.put(key(i), value);
        }
    }

    /** {@code clients} threads doing {@code op} ("put" or "get") for {@code seconds} after a warm-up. */
    public Result run(String op, int clients, double warmupSeconds, double seconds) throws Exception {
        if (!op.equals("put") && !op.equals("get")) throw new IllegalArgumentException("op must be put or get, not " + op);
        Recorder recorder = new Recorder(3);
        AtomicLong completed = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        KvSystem.Client client = system.client();
        for (int c = 0; c < clients; c++) {
            SplittableRandom random = new SplittableRandom(c);
            threads.add(Thread.ofPlatform().name("kv-client-" + c).start(() -> {
                while (!stop.get()) {
                    String k = key(random.nextInt(keys));
                    long start = System.nanoTime();
                    try {
                        if (op.equals("put")) client.put(k, value);
                        else client.get(k);
                        if (measuring.get()) {
                            recorder.recordValue(Math.max(1, (System.nanoTime() - start) / 1000));
                            completed.incrementAndGet();
                        }
                    } catch (Exception e) {
                        if (measuring.get()) errors.incrementAndGet();
                    }
                }
            }));
        }
        Thread.sleep((long) (warmupSeconds * 1000)); // the warm-up: unmeasured load
        List<Long> pids = system.serverPids();
        recorder.reset();
        double cpu0 = ProcStat.cpuSeconds(pids);
        long peakRss = 0;
        long t0 = System.nanoTime();
        measuring.set(true);
        long end = t0 + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            long rss = 0;
            for (long p : pids) rss = Math.max(rss, ProcStat.rssBytes(p));
            peakRss = Math.max(peakRss, rss);
            Thread.sleep(Math.max(1, Math.min(200, (end - System.nanoTime()) / 1_000_000))); // sampling memory
        }
        measuring.set(false);
        long t1 = System.nanoTime();
        double cpu1 = ProcStat.cpuSeconds(pids);
        long ops = completed.get();
        long errs = errors.get();
        stop.set(true);
        for (Thread t : threads) t.join(30_000);
        client.close();
        var h = recorder.getIntervalHistogram();
        return new Result(system.name(), op + "-" + clients, value.length, ops, (t1 - t0) / 1e9, h.getValueAtPercentile(50),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), cpu1 - cpu0, peakRss, errs);
    }
}
