package dev.keel.cli;

import dev.keel.faults.Checkers;
import dev.keel.faults.Event;
import dev.keel.faults.FaultRun;
import dev.keel.faults.History;
import dev.keel.faults.Nemesis;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel faults}: Jepsen-style fault testing of real {@code keel serve} processes. */
@Command(name = "faults", mixinStandardHelpOptions = true,
        description = {
            "Starts a cluster of real `keel serve` processes (as root each in its own network namespace, otherwise on "
                    + "loopback behind fault-injecting proxies), runs clients over HTTP while a seeded nemesis partitions, "
                    + "kills, pauses and slows nodes, then heals everything, checks the recorded history (linearizable "
                    + "registers, no acknowledged add lost, the bank's total constant) and writes a report.",
            "Exits 0 if every check is valid, 1 if one is not (or could not decide), 2 on bad options."})
final class FaultsCommand implements Callable<Integer> {

    @Option(names = "--nodes", description = "Cluster size (default: ${DEFAULT-VALUE}).")
    int nodes = 3;

    @Option(names = "--time", description = "Seconds of load and faults (default: ${DEFAULT-VALUE}).")
    long seconds = 60;

    @Option(names = "--nemesis", split = ",", description = "Faults, comma-separated: partition, kill, pause, slow, membership, "
            + "restart-all, or none (default: partition,kill,pause).")
    List<String> nemesis = List.of("partition", "kill", "pause");

    @Option(names = "--workload", split = ",", description = "register, set, bank, comma-separated; all three share the "
            + "clients (default: register,set,bank).")
    List<String> workloads = List.of("register", "set", "bank");

    @Option(names = "--clients", description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
    int clients = 12;

    @Option(names = "--seed", description = "Seeds the nemesis and the clients (default: the time).")
    Long seed;

    @Option(names = "--dir", description = "Where the history, report, node logs and data go (default: "
            + "fault-runs/<date-time> under the current directory).")
    Path dir;

    @Option(names = "--network", description = "auto (namespaces as root, else proxies), netns or proxy (default: ${DEFAULT-VALUE}).")
    FaultRun.NetworkKind network = FaultRun.NetworkKind.AUTO;

    @Option(names = "--op-timeout-ms", description = "A client's wait for one answer before it records the outcome "
            + "as unknown (default: ${DEFAULT-VALUE}).")
    long opTimeoutMillis = 5_000;

    @Option(names = "--quiet-s", description = "Mean quiet seconds between faults (default: ${DEFAULT-VALUE}).")
    long quietSeconds = 6;

    @Option(names = "--hold-s", description = "Mean seconds a fault is held (default: ${DEFAULT-VALUE}).")
    long holdSeconds = 8;

    @Option(names = "--checker-steps", description = "Step budget of the linearizability search (default: ${DEFAULT-VALUE}).")
    long checkerSteps = 200_000_000L;

    @Option(names = "--unsafe-local-reads", hidden = true, description = "Self-test only: run the nodes in a deliberately "
            + "broken mode (linearizable reads served from local state) to show the checker finds the violation.")
    boolean unsafeLocalReads;

    @Option(names = "--check", description = "Check a saved history file instead of running (register, set and bank checks "
            + "for the operations it holds).")
    Path check;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (check != null) return checkOnly(out);
        List<Nemesis.Fault> faults = new ArrayList<>();
        try {
            for (String n : nemesis) {
                if (n.isBlank() || n.trim().equals("none")) continue;
                faults.add(Nemesis.Fault.parse(n));
            }
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        if (seconds <= 0) throw usage("--time must be positive");
        if (opTimeoutMillis <= 0 || quietSeconds <= 0 || holdSeconds <= 0) throw usage("timeouts and durations must be positive");
        long s = seed != null ? seed : System.currentTimeMillis();
        Path d = dir != null ? dir
                : Path.of("fault-runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        FaultRun.Options options;
        try {
            options = new FaultRun.Options(nodes, Duration.ofSeconds(seconds), faults,
                    workloads.stream().map(String::trim).toList(), clients, s, d.toAbsolutePath(), network, unsafeLocalReads,
                    Duration.ofMillis(opTimeoutMillis), Duration.ofSeconds(quietSeconds), Duration.ofSeconds(holdSeconds),
                    checkerSteps);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        PrintStream progress = new PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                out.write(b);
                if (b == '\n') out.flush();
            }
        }, true);
        FaultRun.Outcome o = FaultRun.run(options, nodeCommand(), progress);
        for (Checkers.Result r : o.results()) {
            out.println(r.name() + ": " + r.validity() + " - " + r.summary());
            if (!r.detail().isEmpty()) out.println(r.detail());
        }
        out.printf("%s: %d faults, %.0f ok ops/s; report %s, history %s%n", o.valid() ? "VALID" : "NOT VALID", o.faultsRun(),
                o.opsPerSecond(), o.report(), o.history());
        out.flush();
        return o.valid() ? 0 : 1;
    }

    private Integer checkOnly(PrintWriter out) throws Exception {
        if (!Files.isRegularFile(check)) throw usage("--check " + check + ": no such file");
        List<Event> events;
        try {
            events = History.read(check);
        } catch (IllegalArgumentException e) {
            out.println("unreadable history: " + e.getMessage());
            return 2;
        }
        List<Checkers.Result> results = List.of(Checkers.register(events, checkerSteps), Checkers.set(events),
                bank(events));
        boolean valid = true;
        for (Checkers.Result r : results) {
            if (r.summary().startsWith("no ")) continue; // that workload did not run
            out.println(r.name() + ": " + r.validity() + " - " + r.summary());
            if (!r.detail().isEmpty()) out.println(r.detail());
            valid &= r.valid();
        }
        out.println(valid ? "VALID" : "NOT VALID");
        return valid ? 0 : 1;
    }

    /** The bank's size is in its first successful read. */
    private static Checkers.Result bank(List<Event> events) {
        for (Event e : events) {
            if (e.f().equals("read-accounts") && e.type().equals(Event.OK) && e.value() != null && e.value().isArray()) {
                long total = 0;
                for (var b : e.value()) total += b.longValue();
                return Checkers.bank(events, e.value().size(), total);
            }
        }
        return Checkers.bank(events, 0, 0);
    }

    /** How the nodes are started: this JVM's java with this JVM's classpath, so `bin/keel` and tests both work. */
    static List<String> nodeCommand() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ArrayList<>(Arrays.asList(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                KeelCli.class.getName()));
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
