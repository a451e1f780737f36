package dev.keel.bench.compare;

import dev.keel.bench.harness.KvSystem;
import dev.keel.kv.client.KeelClient;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Keel's KV server in the server-level comparison: {@code keel serve} processes (the shipped jar,
 * found through the system property {@code keel.jar}, default {@code keel-cli/target/keel.jar}) with
 * their durable defaults, and {@link KeelClient}, Keel's usual client (sessions, so a retried write
 * applies once), one instance shared by the benchmark threads. Gets are linearizable (ReadIndex),
 * Keel's default.
 */
public final class KeelKvSystem implements KvSystem {

    private final List<Process> processes = new ArrayList<>();
    private final List<URI> endpoints = new ArrayList<>();

    @Override
    public String name() {
        return "keel-kv";
    }

    @Override
    public String describe() {
        return "keel serve processes with durable defaults (fdatasync per batch), election timeout 1-2 s (--election-ticks 100), "
                + "snapshots every 10,000 entries; one KeelClient shared by all threads (HTTP/1.1 connection pool, a session per concurrent write), linearizable gets (ReadIndex)";
    }

    @Override
    public void start(int nodes, Path dir, int basePort) throws Exception {
        Path jar = Path.of(System.getProperty("keel.jar", "keel-cli/target/keel.jar"));
        if (!Files.isRegularFile(jar)) throw new IllegalStateException("no Keel jar at " + jar + " (set -Dkeel.jar)");
        StringBuilder cluster = new StringBuilder();
        StringBuilder http = new StringBuilder();
        for (int i = 1; i <= nodes; i++) {
            if (i > 1) {
                cluster.append(',');
                http.append(',');
            }
            cluster.append(i).append("=127.0.0.1:").append(basePort + 10 * i + 1);
            http.append(i).append("=127.0.0.1:").append(basePort + 10 * i);
            endpoints.add(URI.create("http://127.0.0.1:" + (basePort + 10 * i)));
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int i = 1; i <= nodes; i++) {
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g"));
            // Extra server JVM options, for profiling a run (e.g. -XX:StartFlightRecording=...).
            String extra = System.getProperty("keel.bench.serverJvmArgs", "").trim();
            if (!extra.isEmpty()) cmd.addAll(List.of(extra.split("\\s+")));
            cmd.addAll(List.of("-jar", jar.toString(), "serve", "--id", Integer.toString(i),
                    "--data-dir", dir.resolve("n" + i).toString(), "--cluster", cluster.toString(),
                    "--http", "127.0.0.1:" + (basePort + 10 * i), "--http-cluster", http.toString(), "--election-ticks", "100"));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.redirectErrorStream(true);
            pb.redirectOutput(dir.resolve("n" + i + ".log").toFile());
            processes.add(pb.start());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> processes.forEach(Process::destroyForcibly)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (KeelClient c = KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(5)).build()) {
            while (true) {
                try {
                    c.put("bench/ready", "1");
                    return;
                } catch (RuntimeException e) {
                    if (System.nanoTime() > deadline) throw new IllegalStateException("Keel KV did not accept a write in 60 s", e);
                    Thread.sleep(200); // the cluster is still starting
                }
            }
        }
    }

    @Override
    public List<Long> serverPids() {
        return processes.stream().map(Process::pid).toList();
    }

    @Override
    public Client client() {
        KeelClient c = KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(30)).build();
        return new Client() {
            @Override
            public void put(String key, byte[] value) {
                c.put(key.getBytes(StandardCharsets.UTF_8), value);
            }

            @Override
            public byte[] get(String key) {
                return c.get(key.getBytes(StandardCharsets.UTF_8)).value();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    @Override
    public void close() throws Exception {
        for (Process p : processes) p.destroy();
        for (Process p : processes) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
