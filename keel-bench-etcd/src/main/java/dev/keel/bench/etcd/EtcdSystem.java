package dev.keel.bench.etcd;

import dev.keel.bench.harness.KvSystem;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.kv.GetResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * etcd in the server-level comparison: {@code nodes} etcd server processes (the {@code etcd} binary on
 * PATH or at /usr/bin/etcd; Debian's {@code etcd-server}, 3.4.23 on bookworm) as a static cluster on
 * 127.0.0.1, with etcd's durable defaults, and jetcd, etcd's Java client, one instance shared by
 * the benchmark threads.
 *
 * <p>Node {@code i} (1-based, as in Keel's KV system) serves clients on {@code basePort + 10*i} and
 * peers on {@code basePort + 10*i + 1}, keeps its data in {@code dir/n{i}} and logs to
 * {@code dir/n{i}.log}.
 *
 * <p>Consistency: etcd commits a put only after the leader and a quorum have fsynced the WAL entry
 * (etcd's default; {@code --unsafe-no-fsync} is not passed). jetcd's default {@code GetOption} has
 * {@code serializable = false} ({@code GetOption.Builder}, jetcd 0.8.5), which it passes through as
 * {@code RangeRequest.serializable}, so every get is etcd's linearizable read (ReadIndex through the
 * leader), not a local read of whichever member the client hit.
 */
public final class EtcdSystem implements KvSystem {

    /** Where Debian's etcd-server puts the binary, in case PATH lacks /usr/bin (minimal service environments). */
    private static final Path DEBIAN_ETCD = Path.of("/usr/bin/etcd");
    private static final String INSTALL_HINT = "apt-get install etcd-server";
    /** Per operation. jetcd waits for a ready connection without a deadline (waitForReady), so without this a dead
     *  cluster would hang a benchmark thread forever instead of counting an error. */
    private static final long OPERATION_TIMEOUT_SECONDS = 30;

    private final Path binary;
    private final List<Process> processes = new ArrayList<>();
    private final List<String> endpoints = new ArrayList<>();
    /** Clients not yet closed, so that {@link #close()} releases what a caller left open. */
    private final Set<io.etcd.jetcd.Client> clients = ConcurrentHashMap.newKeySet();
    private Process watchdog;
    private Thread shutdownHook;
    private String version = "etcd";

    public EtcdSystem() {
        this(null);
    }

    /** For tests: a given etcd binary instead of the search on PATH; {@code null} searches. */
    EtcdSystem(Path binary) {
        this.binary = binary;
    }

    /** The etcd binary: the first executable {@code etcd} on PATH, else /usr/bin/etcd. */
    public static Optional<Path> findEtcd() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(java.io.File.pathSeparator)) {
                if (d.isEmpty()) continue;
                Path p = Path.of(d, "etcd");
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p);
            }
        }
        return Files.isExecutable(DEBIAN_ETCD) ? Optional.of(DEBIAN_ETCD) : Optional.empty();
    }

    @Override
    public String name() {
        return "etcd";
    }

    @Override
    public String describe() {
        return version + " processes with durable defaults (WAL fsync before commit, no --unsafe-no-fsync; "
                + "snapshot-count 100000, no auto-compaction, 2 GB backend quota), heartbeat 100 ms, election timeout 1000 ms "
                + "(--election-timeout 1000: the 1-2 s-ish election timeouts used for every system in this comparison), "
                + "gRPC on loopback; jetcd 0.8.5, one Client shared by all threads (all members as endpoints, round-robin, "
                + "Vert.x gRPC), put = kv.put().get(), linearizable gets (jetcd's default GetOption, serializable=false)";
    }

    @Override
    public void start(int nodes, Path dir, int basePort) throws Exception {
        if (!processes.isEmpty()) throw new IllegalStateException("already started");
        Path etcd = binary != null ? (Files.isExecutable(binary) ? binary : null) : findEtcd().orElse(null);
        if (etcd == null) {
            throw new IllegalStateException("no etcd binary " + (binary != null ? "at " + binary : "on PATH or at " + DEBIAN_ETCD)
                    + "; install it with: " + INSTALL_HINT + " (Debian/Ubuntu; etcd 3.4)");
        }
        version = etcdVersion(etcd);
        Files.createDirectories(dir);
        StringBuilder cluster = new StringBuilder();
        for (int i = 1; i <= nodes; i++) {
            if (i > 1) cluster.append(',');
            cluster.append("n").append(i).append("=http://127.0.0.1:").append(basePort + 10 * i + 1);
            endpoints.add("http://127.0.0.1:" + (basePort + 10 * i));
            Path data = dir.resolve("n" + i);
            // With an existing member directory etcd ignores every --initial-* flag and restarts the old member, so a
            // reused --dir would silently measure a different cluster (or none, if the old one had other ports).
            if (Files.isDirectory(data)) {
                try (Stream<Path> s = Files.list(data)) {
                    if (s.findAny().isPresent()) throw new IllegalStateException(data + " is not empty; use a fresh --dir");
                }
            }
        }
        // Unique per run: members of an older cluster that still run on these ports reject this one's peers
        // instead of joining them.
        String token = "keel-bench-" + UUID.randomUUID();
        shutdownHook = new Thread(this::killNow, "etcd-bench-kill");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        for (int i = 1; i <= nodes; i++) {
            int client = basePort + 10 * i;
            int peer = client + 1;
            ProcessBuilder pb = new ProcessBuilder(etcd.toString(),
                    "--name", "n" + i,
                    "--data-dir", dir.resolve("n" + i).toString(),
                    "--listen-client-urls", "http://127.0.0.1:" + client,
                    "--advertise-client-urls", "http://127.0.0.1:" + client,
                    "--listen-peer-urls", "http://127.0.0.1:" + peer,
                    "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
                    "--initial-cluster", cluster.toString(),
                    "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--heartbeat-interval", "100",
                    "--election-timeout", "1000",
                    // 3.4 still defaults to the deprecated capnslog logger and warns about it; zap is 3.5's default.
                    "--logger", "zap");
            // etcd reads every flag from ETCD_<FLAG> too; an inherited ETCD_UNSAFE_NO_FSYNC or ETCD_SNAPSHOT_COUNT would
            // change what is measured without showing on the command line.
            pb.environment().keySet().removeIf(k -> k.startsWith("ETCD"));
            // Both streams into one file: zap logs to stderr, and a Go panic or fatal error goes there whatever the logger.
            pb.redirectErrorStream(true);
            pb.redirectOutput(dir.resolve("n" + i + ".log").toFile());
            processes.add(pb.start());
        }
        startWatchdog();
        awaitWrite(dir, 60);
    }

    /** The first line of {@code etcd --version}, "etcd Version: 3.4.23", as "etcd 3.4.23". */
    private static String etcdVersion(Path etcd) {
        try {
            Process p = new ProcessBuilder(etcd.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            for (String line : out.split("\n")) {
                if (line.startsWith("etcd Version:")) return "etcd " + line.substring("etcd Version:".length()).trim();
            }
        } catch (IOException e) {
            // Only for describe(); start() fails soon enough if the binary does not run.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "etcd";
    }

    /**
     * The shutdown hook covers normal exit, System.exit and SIGTERM/SIGINT, but not a JVM killed with SIGKILL (the OOM
     * killer, a build tool's fork timeout). Then this shell, which outlives its parent, kills the etcd processes once
     * the JVM's pid is gone, so that no cluster keeps the ports and the disk busy after a crashed run.
     */
    private void startWatchdog() {
        StringBuilder pids = new StringBuilder();
        for (Process p : processes) pids.append(' ').append(p.pid());
        String script = "while kill -0 " + ProcessHandle.current().pid() + " 2>/dev/null; do sleep 1; done; kill -9" + pids
                + " 2>/dev/null";
        try {
            watchdog = new ProcessBuilder("sh", "-c", script)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
        } catch (IOException e) {
            // No sh: the shutdown hook still covers every exit but SIGKILL.
            watchdog = null;
        }
    }

    /** Returns once a put commits: the members found each other, elected a leader and fsync works. */
    private void awaitWrite(Path dir, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        Exception last = null;
        try (io.etcd.jetcd.Client c = newJetcd()) {
            KV kv = c.getKVClient();
            ByteSequence key = bytes("bench/ready");
            ByteSequence value = bytes("1");
            while (System.nanoTime() < deadline) {
                for (int i = 0; i < processes.size(); i++) {
                    Process p = processes.get(i);
                    if (!p.isAlive()) {
                        throw new IllegalStateException("etcd member n" + (i + 1) + " exited with status " + p.exitValue()
                                + " during start; see " + dir.resolve("n" + (i + 1) + ".log"));
                    }
                }
                var f = kv.put(key, value);
                try {
                    f.get(5, TimeUnit.SECONDS);
                    return;
                } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
                    f.cancel(true);
                    last = e;
                    Thread.sleep(200); // the members are still starting or electing
                }
            }
        }
        throw new IllegalStateException("etcd did not accept a write in " + seconds + " s; see " + dir + "/n*.log", last);
    }

    @Override
    public List<Long> serverPids() {
        return processes.stream().map(Process::pid).toList();
    }

    private io.etcd.jetcd.Client newJetcd() {
        // Every member as an endpoint, as an etcd user would configure it: jetcd balances round-robin over them, and
        // a member that is not the leader forwards the put (and asks the leader for the read index on a get), the
        // same as for any etcd client. Everything else at jetcd's defaults (keepalive 30 s, put not retried on
        // UNAVAILABLE since it is not idempotent, get retried at most twice).
        io.etcd.jetcd.Client c = io.etcd.jetcd.Client.builder().endpoints(endpoints.toArray(String[]::new)).build();
        clients.add(c);
        return c;
    }

    @Override
    public Client client() {
        if (endpoints.isEmpty()) throw new IllegalStateException("not started");
        io.etcd.jetcd.Client c = newJetcd();
        KV kv = c.getKVClient();
        return new Client() {
            @Override
            public void put(String key, byte[] value) throws Exception {
                // Completes once the put is committed (WAL fsynced on a quorum) and applied on the member that served it.
                kv.put(bytes(key), ByteSequence.from(value)).get(OPERATION_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }

            @Override
            public byte[] get(String key) throws Exception {
                // GetOption.DEFAULT: serializable = false, so a linearizable read.
                GetResponse r = kv.get(bytes(key)).get(OPERATION_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                return r.getKvs().isEmpty() ? null : r.getKvs().get(0).getValue().getBytes();
            }

            @Override
            public void close() {
                clients.remove(c);
                c.close();
            }
        };
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
        for (io.etcd.jetcd.Client c : clients) c.close();
        clients.clear();
        // SIGTERM first: etcd closes its WAL and backend cleanly; SIGKILL only for a member that hangs.
        for (Process p : processes) p.destroy();
        for (Process p : processes) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (watchdog != null) {
            watchdog.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            watchdog = null;
        }
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // Already shutting down: the hook runs, and finds nothing left alive.
            }
            shutdownHook = null;
        }
    }

    /** The shutdown hook: no time for a clean stop, and the processes must not outlive the JVM. */
    private void killNow() {
        for (Process p : processes) p.destroyForcibly();
        if (watchdog != null) watchdog.destroyForcibly();
    }
}
