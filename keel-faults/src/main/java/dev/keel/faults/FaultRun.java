package dev.keel.faults;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One fault run: a cluster of real {@code keel serve} processes, clients running workloads over
 * HTTP, a nemesis hurting the cluster, then everything healed, the final reads made, the history
 * checked and a report written.
 */
public final class FaultRun {

    /** Which network to build: namespaces when root allows, else the loopback proxies. */
    public enum NetworkKind { AUTO, NETNS, PROXY }

    /**
     * @param nodes            cluster size (3 or 5 usually)
     * @param time             how long the clients and the nemesis run
     * @param faults           the nemesis' faults; empty for none
     * @param workloads        register, set, bank
     * @param clients          concurrent clients, spread over the workloads and the nodes
     * @param seed             seeds the nemesis' schedule and the clients' choices
     * @param dir              where the history, report, logs and data go
     * @param network          which network
     * @param unsafeLocalReads the self-test's deliberately broken mode (reads without ReadIndex)
     * @param opTimeout        a client's patience with one request (then the outcome is unknown)
     * @param quiet            mean quiet spell between faults
     * @param hold             mean time a fault is held
     * @param checkerSteps     the linearizability search's step budget
     */
    public record Options(int nodes, Duration time, List<Nemesis.Fault> faults, List<String> workloads, int clients, long seed,
                          Path dir, NetworkKind network, boolean unsafeLocalReads, Duration opTimeout, Duration quiet,
                          Duration hold, long checkerSteps) {
        public Options {
            if (nodes < 1) throw new IllegalArgumentException("--nodes must be at least 1, not " + nodes);
            if (time.isNegative() || time.isZero()) throw new IllegalArgumentException("--time must be positive");
            if (workloads.isEmpty()) throw new IllegalArgumentException("no workload");
            if (clients < workloads.size()) {
                throw new IllegalArgumentException("--clients " + clients + " must be at least the number of workloads (" + workloads.size() + ")");
            }
            workloads.forEach(w -> Workload.named(w, clients)); // names checked here, before anything starts
        }
    }

    /** What a run found. */
    public record Outcome(boolean valid, List<Checkers.Result> results, Path history, Path report, Path chart,
                          Map<String, long[]> counts, double opsPerSecond, int faultsRun) {
    }

    private FaultRun() {
    }

    /**
     * Runs it.
     *
     * @param nodeCommand the command that runs Keel's CLI ({@code java -cp ... dev.keel.cli.KeelCli})
     * @param out         progress lines
     */
    public static Outcome run(Options o, List<String> nodeCommand, PrintStream out) throws IOException, InterruptedException {
        Files.createDirectories(o.dir());
        List<Integer> ids = new ArrayList<>();
        for (int i = 1; i <= o.nodes(); i++) ids.add(i);
        Network network = network(o, ids);
        out.println("fault run: " + o.nodes() + " nodes, " + o.time().toSeconds() + " s, nemesis " + names(o.faults())
                + ", workloads " + o.workloads() + ", " + o.clients() + " clients, seed " + o.seed());
        if (network instanceof ProxyNetwork && o.network() == NetworkKind.AUTO) {
            out.println("not root or no iproute2: falling back to loopback with fault-injecting proxies");
        }
        out.println("network: " + network.describe());
        if (o.unsafeLocalReads()) out.println("BROKEN MODE: nodes serve linearizable reads from local state (self-test)");
        List<String> command = new ArrayList<>();
        if (o.unsafeLocalReads()) {
            // The switch is a system property of the node JVM: put it right after "java".
            command.add(nodeCommand.get(0));
            command.add("-Dkeel.test.unsafeLocalReads=true");
            command.addAll(nodeCommand.subList(1, nodeCommand.size()));
        } else {
            command.addAll(nodeCommand);
        }
        List<String> serveOptions = List.of("--timeout-ms", "1500",
                // Snapshots every 2,000 entries put InstallSnapshot under faults too. The proxy
                // network never snapshots: a snapshot carries the leader's address book, whose
                // proxy addresses are the leader's own links.
                "--snapshot-every", network instanceof ProxyNetwork ? "0" : "2000");
        Path historyFile = o.dir().resolve("history.jsonl");
        List<Event> events;
        int faultsRun;
        Map<Integer, Integer> clientNodes = new TreeMap<>();
        try (History history = History.create(historyFile);
             ProcessCluster cluster = new ProcessCluster(network, ids, o.dir(), command, serveOptions)) {
            cluster.startAll();
            int leader = cluster.awaitLeader(Duration.ofSeconds(60));
            if (leader == 0) {
                throw new IllegalStateException("no leader within 60 s; node 1's log ends with:\n" + cluster.tail(1, 30));
            }
            out.println("leader: node " + leader + "; logs in " + o.dir());
            KvHttp http = new KvHttp(o.opTimeout());
            List<Workload> workloads = o.workloads().stream().map(w -> Workload.named(w, o.clients())).toList();
            for (Workload w : workloads) w.setUp(new Workload.Target(leader, cluster.clientUri(leader), http, history));

            long end = System.nanoTime() + o.time().toNanos();
            AtomicLong completed = new AtomicLong();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < o.clients(); c++) {
                int client = c;
                int node = ids.get(c % ids.size());
                clientNodes.put(client, node);
                Workload w = workloads.get(c % workloads.size());
                Workload.Target target = new Workload.Target(node, cluster.clientUri(node), http, history);
                SplittableRandom random = new SplittableRandom(o.seed() * 1_000_003L + c);
                Thread t = Thread.ofPlatform().name("client-" + c).start(() -> {
                    try {
                        while (System.nanoTime() < end) {
                            KvHttp.Outcome outcome = w.step(client, target, random);
                            completed.incrementAndGet();
                            // A refusal (no leader, connection refused) comes back at once: without a
                            // pause the client would spin and fill the history with them.
                            if (outcome == KvHttp.Outcome.FAIL) Thread.sleep(50 + random.nextInt(100));
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                clients.add(t);
            }
            Nemesis nemesis = o.faults().isEmpty() ? null
                    : new Nemesis(o.faults(), cluster, network, history, o.seed(), o.quiet(), o.hold());
            Thread progress = Thread.ofPlatform().daemon().name("progress").start(() -> {
                try {
                    while (true) {
                        Thread.sleep(10_000);
                        out.printf(Locale.ROOT, "  %d s: %d operations%n", (o.time().toNanos() - (end - System.nanoTime())) / 1_000_000_000L,
                                completed.get());
                    }
                } catch (InterruptedException e) {
                    // the run is over
                }
            });
            if (nemesis != null) nemesis.run(end);
            for (Thread t : clients) t.join();
            progress.interrupt();
            faultsRun = nemesis == null ? 0 : nemesis.faultsRun();

            // Heal everything, then let the cluster settle before the final reads.
            out.println("healing: " + faultsRun + " faults were injected");
            network.heal();
            network.fast();
            cluster.resumeAll();
            for (int id : ids) if (!cluster.isRunning(id)) cluster.start(id);
            leader = cluster.awaitLeader(Duration.ofSeconds(60));
            if (leader == 0) out.println("WARNING: no leader 60 s after healing; final reads will fail");
            int finalClient = o.clients();
            for (Workload w : workloads) {
                int node = leader == 0 ? ids.get(0) : leader;
                w.finalReads(finalClient++, new Workload.Target(node, cluster.clientUri(node), http, history));
            }
            events = history.events();
        } finally {
            network.close();
        }

        List<Checkers.Result> results = new ArrayList<>();
        if (o.workloads().contains("register")) results.add(Checkers.register(events, o.checkerSteps()));
        if (o.workloads().contains("set")) results.add(Checkers.set(events));
        if (o.workloads().contains("bank")) {
            Workload.Bank b = (Workload.Bank) Workload.named("bank", o.clients());
            results.add(Checkers.bank(events, b.accounts, b.total()));
        }
        boolean valid = results.stream().allMatch(Checkers.Result::valid);
        Map<String, long[]> counts = Timeline.countsByF(events);
        long okOps = counts.values().stream().mapToLong(c -> c[0]).sum();
        double opsPerSecond = okOps / (double) Math.max(1, o.time().toSeconds());
        Path chart = o.dir().resolve("timeline.svg");
        Files.writeString(chart, Timeline.svg(events, "Keel fault run, seed " + o.seed() + ": " + names(o.faults())
                + " / " + String.join(",", o.workloads())), StandardCharsets.UTF_8);
        Path report = o.dir().resolve("report.md");
        Files.writeString(report, Report.markdown(o, network.describe(), events, results, counts, opsPerSecond, faultsRun,
                historyFile, chart), StandardCharsets.UTF_8);
        return new Outcome(valid, results, historyFile, report, chart, counts, opsPerSecond, faultsRun);
    }

    static String names(List<Nemesis.Fault> faults) {
        if (faults.isEmpty()) return "none";
        return String.join(",", faults.stream().map(Nemesis.Fault::cliName).toList());
    }

    private static Network network(Options o, List<Integer> ids) throws IOException {
        boolean netns = switch (o.network()) {
            case NETNS -> {
                if (!NetnsNetwork.available()) throw new IllegalStateException("--network netns needs root and iproute2 (ip, tc)");
                yield true;
            }
            case PROXY -> false;
            case AUTO -> NetnsNetwork.available();
        };
        if (!netns && o.faults().contains(Nemesis.Fault.MEMBERSHIP)) {
            throw new IllegalArgumentException("the membership nemesis needs the namespace network (run as root): on the proxy "
                    + "network a re-added node's single address would bypass the per-link proxies");
        }
        return netns ? NetnsNetwork.create(ids, o.seed()) : ProxyNetwork.create(ids);
    }
}
