package dev.keel.sim;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.ArrayDeque;

/**
 * Runs a range of seeds on several threads and hands the results back in seed order, so the
 * output of a range is the same whatever the thread count.
 */
public final class SimRunner {
    private SimRunner() {}

    /** Summary of a range run. */
    public record Summary(long seeds, long violations, long events, long firstFailingSeed) {
        public String line() {
            return "seeds=" + seeds + " violations=" + violations + " events=" + events
                    + (violations > 0 ? " first_failing_seed=" + firstFailingSeed : "");
        }
    }

    public static Summary runRange(long fromSeed, long toSeed, SimOptions options, int threads,
                                   Consumer<SimResult> onResult) {
        if (toSeed < fromSeed) throw new IllegalArgumentException("seed range " + fromSeed + ".." + toSeed + " is empty");
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "keel-sim");
            t.setDaemon(true);
            return t;
        });
        long seeds = 0;
        long violations = 0;
        long events = 0;
        long firstFailing = -1;
        try {
            // A bounded window of submitted seeds keeps memory flat for long ranges.
            ArrayDeque<Future<SimResult>> window = new ArrayDeque<>();
            long next = fromSeed;
            int windowMax = Math.max(1, threads) * 4;
            while (next <= toSeed || !window.isEmpty()) {
                while (next <= toSeed && window.size() < windowMax) {
                    final long s = next++;
                    window.add(pool.submit(() -> Simulation.run(s, options)));
                }
                SimResult r = window.poll().get();
                seeds++;
                events += r.events();
                if (!r.ok()) {
                    violations++;
                    if (firstFailing < 0) firstFailing = r.seed();
                }
                onResult.accept(r);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("simulator crashed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return new Summary(seeds, violations, events, firstFailing);
    }

    /** Minimal entry point for running seeds without the CLI: {@code SimRunner FROM TO [nodes]}. */
    public static void main(String[] args) {
        long from = Long.parseLong(args[0]);
        long to = args.length > 1 ? Long.parseLong(args[1]) : from;
        SimOptions o = SimOptions.DEFAULT;
        if (args.length > 2) o = o.withNodes(Integer.parseInt(args[2]));
        Summary s = runRange(from, to, o, Runtime.getRuntime().availableProcessors(), r -> System.out.println(r.line()));
        System.out.println(s.line());
        if (s.violations() > 0) System.exit(1);
    }
}
