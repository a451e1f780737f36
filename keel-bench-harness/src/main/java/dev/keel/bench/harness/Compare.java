package dev.keel.bench.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * {@code bin/keel bench}: Keel side by side with Apache Ratis, SOFAJRaft and MicroRaft (library
 * level) and with etcd (KV server level), on this machine, in one run.
 *
 * <p>Every system runs in a fresh JVM forked from here, on its own classpath (its adapter's jar), so
 * dependencies never mix and each gets the same heap and JIT conditions. Each configuration runs
 * {@code --rounds} times with the systems in rotating order (A B C, B C A, ...), so that machine
 * noise falls on all of them alike; the tables give medians and the spread of throughput.
 *
 * <p>Then, unless {@code --no-recovery}, Keel alone runs its snapshot-and-restart curve once
 * ({@code dev.keel.bench.compare.RecoveryCurve}: snapshot and restart time versus state size, restart
 * time versus log length, one durable node); the peers' adapters have no comparable state machine or
 * restart, so this curve is Keel's only. Its data goes under {@code -Dkeel.bench.dir} when set, else
 * under the output directory, and is deleted point by point.
 */
public final class Compare {

    /** One system: where its adapter is and what it can run. */
    record SystemSpec(String name, String jar, String mainClass, String adapter, boolean durable, boolean memory, List<String> jvmFlags) {
    }

    static final List<SystemSpec> LIBRARIES = List.of(
            new SystemSpec("keel", "keel-bench/target/keel-benchmarks.jar", "dev.keel.bench.harness.Main",
                    "dev.keel.bench.compare.KeelSystem", true, true, List.of()),
            new SystemSpec("ratis", "keel-bench-ratis/target/ratis-bench.jar", "dev.keel.bench.harness.Main",
                    "dev.keel.bench.ratis.RatisSystem", true, false, List.of()),
            new SystemSpec("sofajraft", "keel-bench-sofajraft/target/sofajraft-bench.jar", "dev.keel.bench.harness.Main",
                    "dev.keel.bench.sofajraft.SofaJraftSystem", true, false, Runtime.version().feature() >= 23
                            // Only silence JDK 23+'s warnings about Unsafe and JNI (RocksDB); they change nothing else.
                            ? List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow") : List.of()),
            new SystemSpec("microraft", "keel-bench-microraft/target/microraft-bench.jar", "dev.keel.bench.harness.Main",
                    "dev.keel.bench.microraft.MicroRaftSystem", false, true, List.of()));

    static final List<SystemSpec> KV = List.of(
            new SystemSpec("keel-kv", "keel-bench/target/keel-benchmarks.jar", "dev.keel.bench.harness.KvMain",
                    "dev.keel.bench.compare.KeelKvSystem", true, false, List.of("-Dkeel.jar=keel-cli/target/keel.jar")),
            new SystemSpec("etcd", "keel-bench-etcd/target/etcd-bench.jar", "dev.keel.bench.harness.KvMain",
                    "dev.keel.bench.etcd.EtcdSystem", true, false, List.of()));

    /** One measured row, with where it came from. */
    record Row(String table, String system, int bytes, String mode, int nodes, Result result) {
    }

    private final Path root;
    private final Path out;
    private final boolean quick;
    private final int rounds;
    private final double warmup;
    private final double seconds;
    private final List<String> only;
    private final boolean kv;
    private final boolean scale;
    private final boolean recovery;
    private final List<Row> rows = new ArrayList<>();
    /** The physical floor, measured before the run and before each round of the durable tables. */
    private final List<Floor> floors = new ArrayList<>();
    private final List<RecoveryResult> recoveryResults = new ArrayList<>();
    private String recoveryDescription = "";
    private final Map<String, String> descriptions = new TreeMap<>();
    private final List<String> problems = new ArrayList<>();
    private final PrintWriter log;
    private int forks;

    private Compare(Path root, Path out, boolean quick, int rounds, double warmup, double seconds, List<String> only, boolean kv,
                    boolean scale, boolean recovery) throws IOException {
        this.root = root;
        this.out = out;
        this.quick = quick;
        this.rounds = rounds;
        this.warmup = warmup;
        this.seconds = seconds;
        this.only = only;
        this.kv = kv;
        this.scale = scale;
        this.recovery = recovery;
        Files.createDirectories(out.resolve("logs"));
        this.log = new PrintWriter(System.out, true);
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        Path root = Path.of(".");
        Path out = null;
        boolean quick = false;
        Integer rounds = null;
        Double seconds = null;
        Double warmup = null;
        List<String> only = List.of();
        boolean kv = true;
        boolean scale = true;
        boolean recovery = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--root" -> root = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--quick" -> quick = true;
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--systems" -> only = List.of(args[++i].split(","));
                case "--no-kv" -> kv = false;
                case "--no-scale" -> scale = false;
                case "--no-recovery" -> recovery = false;
                case "-h", "--help" -> {
                    System.out.println("""
                            bin/keel bench [--quick] [--rounds N] [--seconds S] [--warmup S] [--systems keel,ratis,...]
                                           [--no-kv] [--no-scale] [--no-recovery] [--out DIR]
                              --quick   one round, 1 KiB commands, 1 and 256 outstanding, 16 KV clients, no scale curves, and
                                        Keel's snapshot/restart curve at 16 and 64 MiB of state, 10k and 100k log entries (about 5 minutes)
                              default   3 rounds, 64 B and 1 KiB, 1/16/256 outstanding and an open-loop run, KV with 1/16/64 clients,
                                        scale curves (value size, cluster size, outstanding), and Keel's snapshot/restart curve at
                                        64 MiB-2 GiB of state and 100k-4M log entries (one node, -Xmx12g or half the RAM)
                              --no-recovery  skip Keel's snapshot/restart curve (its data goes under -Dkeel.bench.dir, else DIR/data)""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (try --help)");
            }
        }
        if (out == null) {
            out = root.resolve("bench-results").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        Compare c = new Compare(root.toAbsolutePath().normalize(), out.toAbsolutePath(), quick, rounds != null ? rounds : quick ? 1 : 3,
                warmup != null ? warmup : quick ? 1.5 : 3, seconds != null ? seconds : quick ? 3 : 10, only, kv, scale && !quick,
                recovery && (only.isEmpty() || only.contains("keel")));
        c.run();
    }

    private boolean selected(SystemSpec s) {
        return only.isEmpty() || only.contains(s.name());
    }

    private void run() throws Exception {
        long t0 = System.nanoTime();
        log.println("keel bench: results in " + out);
        measureFloor();

        List<Integer> sizes = quick ? List.of(1024) : List.of(64, 1024);
        String durableLoads = quick ? "closed-1,closed-256" : "closed-1,closed-16,closed-256,open-1000";
        String memoryLoads = quick ? "closed-1,closed-256" : "closed-1,closed-16,closed-256,open-10000";
        List<SystemSpec> durable = LIBRARIES.stream().filter(SystemSpec::durable).filter(this::selected).toList();
        List<SystemSpec> memory = LIBRARIES.stream().filter(SystemSpec::memory).filter(this::selected).toList();
        for (int bytes : sizes) {
            for (int r = 0; r < rounds; r++) {
                if (!durable.isEmpty()) measureFloor(); // again before each round: see Floor.median
                for (SystemSpec s : rotate(durable, r)) fork("durable", s, 3, bytes, durableLoads, false);
            }
        }
        for (int bytes : sizes) {
            for (int r = 0; r < rounds; r++) {
                for (SystemSpec s : rotate(memory, r)) fork("memory", s, 3, bytes, memoryLoads, true);
            }
        }
        if (kv) {
            String kvLoads = quick ? "put-16,get-16" : "put-1,put-16,put-64,get-1,get-16,get-64";
            List<SystemSpec> kvs = KV.stream().filter(this::selected).toList();
            for (int r = 0; r < rounds; r++) {
                for (SystemSpec s : rotate(kvs, r)) fork("kv", s, 3, 256, kvLoads, false);
            }
        }
        if (scale) {
            for (SystemSpec s : durable) {
                for (int bytes : List.of(64, 1024, 4096, 16384, 65536)) fork("scale-size", s, 3, bytes, "closed-64", false);
                for (int nodes : List.of(3, 5, 7)) fork("scale-nodes", s, nodes, 1024, "closed-64", false);
                fork("scale-outstanding", s, 3, 1024, "closed-1,closed-4,closed-16,closed-64,closed-256,closed-1024", false);
            }
        }
        if (recovery) recoveryCurve();
        Report.write(out, floors, rows, descriptions, recoveryResults, recoveryDescription, problems, quick, rounds, warmup, seconds,
                System.nanoTime() - t0);
        log.println("keel bench: wrote " + out.resolve("results.md"));
    }

    private void measureFloor() throws IOException {
        Floor floor = Floor.measure(out.resolve("floor"));
        floors.add(floor);
        log.printf(Locale.ROOT, "floor: 4 KiB append+fdatasync p50 %.0f us (p99 %.0f), 4 KiB overwrite+fdatasync p50 %.0f us, "
                        + "synced 1 MiB writes %.0f MiB/s, loopback RTT p50 %.0f us, second of three simultaneous syncs p50 %.0f us%n",
                floor.fsyncMicrosP50(), floor.fsyncMicrosP99(), floor.overwriteFsyncMicrosP50(), floor.syncedMiBPerSecond(),
                floor.rttMicrosP50(), floor.colocatedSyncMicrosP50());
    }

    static <T> List<T> rotate(List<T> list, int by) {
        List<T> r = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) r.add(list.get((i + by) % list.size()));
        return r;
    }

    /** Runs one system's cluster in a fresh JVM for every load in {@code loads}; collects its RESULT lines. */
    private void fork(String table, SystemSpec s, int nodes, int bytes, String loads, boolean memory) throws Exception {
        Path jar = root.resolve(s.jar());
        if (!Files.isRegularFile(jar)) {
            String p = s.name() + ": no adapter jar at " + jar + " (build with ./mvnw -DskipTests package)";
            if (!problems.contains(p)) problems.add(p);
            log.println("  skip " + p);
            return;
        }
        int n = forks++;
        Path data = out.resolve("data").resolve("run" + n);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx2g");
        cmd.add("-Xms512m");
        for (String f : s.jvmFlags()) cmd.add(f.replace("keel-cli/target/keel.jar", root.resolve("keel-cli/target/keel.jar").toString()));
        cmd.addAll(List.of("-cp", jar.toString(), s.mainClass(), "--system", s.adapter(), "--dir", data.toString(),
                "--nodes", Integer.toString(nodes), "--bytes", Integer.toString(bytes), "--load", loads,
                "--warmup", Double.toString(warmup), "--seconds", Double.toString(seconds),
                "--base-port", Integer.toString(20_000 + (n % 200) * 100)));
        if (memory) cmd.add("--memory");
        String label = table + " " + s.name() + " nodes=" + nodes + " bytes=" + bytes + " " + loads;
        log.println("  run " + label);
        Path logFile = out.resolve("logs").resolve(String.format(Locale.ROOT, "%03d-%s-%s-%d.log", n, table, s.name(), bytes));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true);
        Process p = pb.start();
        int loadCount = loads.split(",").length;
        long budgetSeconds = (long) (loadCount * (warmup + seconds + 30) + 180);
        List<Result> got = new ArrayList<>();
        Thread reader = copyOutput(p, logFile, line -> {
            if (line.startsWith("RESULT ")) {
                Result res = Result.parse(line);
                synchronized (got) {
                    got.add(res);
                }
                log.printf(Locale.ROOT, "    %-10s %-14s %10.0f ops/s  p50 %8.2f ms  p99 %8.2f ms  cpu %.3f s/1k%n", res.system(), res.mode(),
                        res.opsPerSecond(), res.p50Micros() / 1000, res.p99Micros() / 1000, res.cpuPerThousand());
            } else if (line.startsWith("DESCRIBE ")) {
                synchronized (descriptions) {
                    descriptions.put(s.name() + (memory ? " (memory)" : ""), line.substring(9));
                }
            }
        });
        if (!p.waitFor(budgetSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            problems.add(label + ": killed after " + budgetSeconds + " s (see " + logFile + ")");
        }
        reader.join(5_000);
        if (p.exitValue() != 0 && got.size() < loadCount) problems.add(label + ": exit " + p.exitValue() + " (see " + logFile + ")");
        synchronized (got) {
            for (Result r : got) rows.add(new Row(table, s.name(), bytes, r.mode(), nodes, r));
        }
        deleteTree(data);
    }

    /**
     * Runs Keel's snapshot-and-restart curve in one fresh JVM with a heap for gigabytes of state
     * (12 GiB, or half the RAM on a smaller machine, where the curve skips the sizes that do not fit);
     * collects its RECOVERY lines and its PROBLEM lines.
     */
    private void recoveryCurve() throws Exception {
        SystemSpec keel = LIBRARIES.getFirst();
        Path jar = root.resolve(keel.jar());
        if (!Files.isRegularFile(jar)) {
            problems.add("recovery curve: no jar at " + jar + " (build with ./mvnw -DskipTests package)");
            return;
        }
        String benchDir = System.getProperty("keel.bench.dir");
        Path data = benchDir != null ? Path.of(benchDir) : out.resolve("data");
        long heapMiB = quick ? 2048 : Math.min(12 * 1024, totalMemoryMiB() / 2);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + heapMiB + "m", "-cp", jar.toString(), "dev.keel.bench.compare.RecoveryCurve", "--dir", data.toString()));
        if (quick) cmd.add("--quick");
        Path logFile = out.resolve("logs").resolve(String.format(Locale.ROOT, "%03d-recovery-keel.log", forks++));
        log.println("  run recovery keel (snapshot and restart time vs state size and log length, one node)");
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).start();
        Thread reader = copyOutput(p, logFile, line -> {
            if (line.startsWith("RECOVERY ")) {
                RecoveryResult res = RecoveryResult.parse(line);
                synchronized (recoveryResults) {
                    recoveryResults.add(res);
                }
                if (res.kind().equals("state")) {
                    log.printf(Locale.ROOT, "    state %6d MiB      snapshot %7.0f ms  restart %7.0f ms%n", res.x(), res.snapshotMillis(),
                            res.restartMillis());
                } else {
                    log.printf(Locale.ROOT, "    log   %10d entries  restart %7.0f ms  replay %9.0f entries/s%n", res.x(),
                            res.restartMillis(), res.entriesPerSecond());
                }
            } else if (line.startsWith("DESCRIBE ")) {
                recoveryDescription = line.substring(9);
            } else if (line.startsWith("PROBLEM ")) {
                synchronized (problems) {
                    problems.add(line.substring(8) + " (see " + logFile + ")");
                }
            }
        });
        long budgetSeconds = quick ? 300 : 3600;
        if (!p.waitFor(budgetSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            problems.add("recovery curve: killed after " + budgetSeconds + " s (see " + logFile + ")");
            // It could not clean up after itself: its data can be gigabytes.
            try (Stream<Path> left = Files.list(data)) {
                for (Path d : left.filter(d -> d.getFileName().toString().startsWith("keel-recovery-")).toList()) deleteTree(d);
            }
        }
        reader.join(5_000);
        if (p.exitValue() != 0) problems.add("recovery curve: exit " + p.exitValue() + " (see " + logFile + ")");
    }

    /** Copies a forked process's output to its log file on a daemon thread, handing each line to {@code onLine}. */
    private static Thread copyOutput(Process p, Path logFile, Consumer<String> onLine) {
        return Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter w = new PrintWriter(Files.newBufferedWriter(logFile))) {
                String line;
                while ((line = r.readLine()) != null) {
                    w.println(line);
                    onLine.accept(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
    }

    private static long totalMemoryMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: assume the machine the full run is sized for
        }
        return 24 * 1024;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** Medians over rounds, keyed by table, bytes, mode, nodes and system, in first-seen order. */
    static Map<List<Object>, List<Result>> grouped(List<Row> rows, String table) {
        Map<List<Object>, List<Result>> g = new LinkedHashMap<>();
        for (Row r : rows) {
            if (!r.table().equals(table)) continue;
            g.computeIfAbsent(List.of(r.bytes(), r.mode(), r.nodes(), r.system()), k -> new ArrayList<>()).add(r.result());
        }
        return g;
    }

    static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        if (s.isEmpty()) return Double.NaN;
        int m = s.size() / 2;
        return s.size() % 2 == 1 ? s.get(m) : (s.get(m - 1) + s.get(m)) / 2;
    }
}
