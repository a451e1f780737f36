package dev.keel.cli;

import dev.keel.sim.SimOptions;
import dev.keel.sim.SimResult;
import dev.keel.sim.SimRunner;
import dev.keel.sim.Simulation;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel sim}: runs the deterministic simulator over one seed or a range of seeds. */
@Command(name = "sim", mixinStandardHelpOptions = true,
        description = {
            "Runs seeded simulations of a Keel cluster with network faults, crashes and clients, checking "
                    + "Raft's safety properties after every step and linearizability at the end.",
            "Prints one line per seed (seed=<n> digest=<hex> ...) and a summary line; exits 1 on any violation, "
                    + "printing the failing seed and the events that led to it. The same seed replays the same run."})
final class SimCommand implements Callable<Integer> {
    @Option(names = "--seed", description = "Run this one seed.")
    Long seed;

    @Option(names = "--seeds", description = "Run a range of seeds, A..B (inclusive).")
    String seeds;

    @Option(names = "--nodes", description = "Cluster size (1-9); 0 lets each seed choose (default: ${DEFAULT-VALUE}).")
    int nodes = 0;

    @Option(names = "--ticks", description = "Length of the fault phase in ticks (default: ${DEFAULT-VALUE}).")
    int ticks = SimOptions.DEFAULT.faultTicks();

    @Option(names = "--threads", description = "Worker threads (default: all processors).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--trace", description = "Events to print before a violation (default: ${DEFAULT-VALUE}).")
    int traceLines = 60;

    @Option(names = "--quiet", description = "Print only failing seeds and the summary.")
    boolean quiet;

    @Option(names = "--real-storage", description = "Run keel-storage on temporary directories in NEVER, SOME "
            + "(one seed in ten) or ALWAYS seeds (default: ${DEFAULT-VALUE}).")
    SimOptions.Seeds realStorage = SimOptions.Seeds.SOME;

    @Option(names = "--parallel-leader-writes", description = "Leaders go on before their own write is durable in NEVER, "
            + "SOME (half, chosen by the seed) or ALWAYS seeds (default: ${DEFAULT-VALUE}).")
    SimOptions.Seeds parallelLeaderWrites = SimOptions.Seeds.SOME;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        long from;
        long to;
        if (seed != null && seeds != null) throw usage("give --seed or --seeds, not both");
        if (seed != null) {
            from = seed;
            to = seed;
        } else if (seeds != null) {
            String[] parts = seeds.split("\\.\\.");
            if (parts.length != 2) throw usage("--seeds takes A..B, e.g. 1..500, not '" + seeds + "'");
            try {
                from = Long.parseLong(parts[0].trim());
                to = Long.parseLong(parts[1].trim());
            } catch (NumberFormatException e) {
                throw usage("--seeds takes whole numbers A..B, not '" + seeds + "'");
            }
            if (to < from) throw usage("--seeds " + seeds + " is empty (B < A)");
        } else {
            from = 1;
            to = 1;
        }
        if (threads < 1) throw usage("--threads must be at least 1");
        SimOptions options;
        try {
            options = SimOptions.DEFAULT.withNodes(nodes).withFaultTicks(ticks).withRealStorage(realStorage)
                    .withParallelLeaderWrites(parallelLeaderWrites);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        SimRunner.Summary summary = SimRunner.runRange(from, to, options, threads, r -> {
            if (!quiet || !r.ok()) out.println(r.line());
            out.flush();
        });
        if (summary.violations() > 0) {
            long failing = summary.firstFailingSeed();
            SimResult replay = Simulation.run(failing, options.withTraceLines(Math.max(1, traceLines)));
            out.println();
            out.println("seed " + failing + " violates: " + replay.violation());
            out.println("last " + replay.trace().size() + " events before it:");
            replay.trace().forEach(line -> out.println("  " + line));
            out.println("replay with: bin/keel sim --seed " + failing + (nodes != 0 ? " --nodes " + nodes : "")
                    + (ticks != SimOptions.DEFAULT.faultTicks() ? " --ticks " + ticks : ""));
            out.println();
        }
        out.println(summary.line());
        out.flush();
        return summary.violations() > 0 ? 1 : 0;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
