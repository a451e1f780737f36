package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The real {@code keel serve} processes of a fault run: started, SIGKILLed, SIGSTOPped and
 * SIGCONTed, each with its own data directory and log file, placed by the {@link Network}.
 */
public final class ProcessCluster implements AutoCloseable {

    private final Network network;
    private final List<Integer> ids;
    private final Path dir;
    private final List<String> nodeCommand;
    private final List<String> serveOptions;
    private final Map<Integer, Process> processes = new TreeMap<>();
    private final Map<Integer, Boolean> paused = new TreeMap<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();

    /**
     * @param nodeCommand  the command that runs Keel's CLI, such as {@code java -cp keel.jar
     *                     dev.keel.cli.KeelCli}; {@code serve} and its options are appended
     * @param serveOptions extra {@code serve} options for every node (timeouts, snapshots)
     */
    public ProcessCluster(Network network, List<Integer> ids, Path dir, List<String> nodeCommand, List<String> serveOptions) {
        this.network = network;
        this.ids = List.copyOf(ids);
        this.dir = dir;
        this.nodeCommand = List.copyOf(nodeCommand);
        this.serveOptions = List.copyOf(serveOptions);
    }

    public List<Integer> ids() {
        return ids;
    }

    public Path logFile(int id) {
        return dir.resolve("n" + id + ".log");
    }

    /** The full command line of node {@code id}. */
    List<String> command(int id) {
        String cluster = ids.stream().map(to -> to + "=" + hostPort(network.peerAddressSeenBy(id, to)))
                .collect(Collectors.joining(","));
        String httpCluster = ids.stream().map(to -> to + "=" + hostPort(network.httpAddressSeenBy(id, to)))
                .collect(Collectors.joining(","));
        List<String> cmd = new ArrayList<>(network.launchPrefix(id));
        cmd.addAll(nodeCommand);
        cmd.addAll(List.of("serve", "--id", Integer.toString(id), "--data-dir", dir.resolve("n" + id).toString(),
                "--cluster-id", "keel-faults", "--cluster", cluster, "--http", hostPort(network.httpListen(id)),
                "--http-cluster", httpCluster));
        if (!network.httpListen(id).getAddress().isLoopbackAddress()) {
            // Network namespaces give each node its own address; the harness's private network is its only client.
            cmd.add("--insecure-allow-unauthenticated");
        }
        cmd.addAll(serveOptions);
        return cmd;
    }

    private static String hostPort(java.net.InetSocketAddress a) {
        return a.getHostString() + ":" + a.getPort();
    }

    public synchronized void start(int id) throws IOException {
        Process old = processes.get(id);
        if (old != null && old.isAlive()) return;
        Files.createDirectories(dir);
        ProcessBuilder pb = new ProcessBuilder(command(id));
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(id).toFile()));
        processes.put(id, pb.start());
        paused.put(id, false);
    }

    public void startAll() throws IOException {
        for (int id : ids) start(id);
    }

    public synchronized boolean isRunning(int id) {
        Process p = processes.get(id);
        return p != null && p.isAlive();
    }

    /** SIGKILL: no shutdown hook, no flush; waits until the process is gone. */
    public void kill(int id) throws InterruptedException {
        Process p;
        synchronized (this) {
            p = processes.get(id);
        }
        if (p == null) return;
        if (Boolean.TRUE.equals(paused.get(id))) signal(p, "CONT"); // a stopped process dies on SIGKILL too, but keep state honest
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
        synchronized (this) {
            paused.put(id, false);
        }
    }

    /** SIGSTOP: the process stops dead, its sockets stay open (like a long GC pause or a frozen VM). */
    public synchronized void pause(int id) throws IOException {
        Process p = processes.get(id);
        if (p == null || !p.isAlive()) return;
        signal(p, "STOP");
        paused.put(id, true);
    }

    public synchronized void resume(int id) throws IOException {
        Process p = processes.get(id);
        if (p == null || !p.isAlive() || !Boolean.TRUE.equals(paused.get(id))) return;
        signal(p, "CONT");
        paused.put(id, false);
    }

    public synchronized void resumeAll() throws IOException {
        for (int id : ids) resume(id);
    }

    private static void signal(Process p, String sig) {
        try {
            NetnsNetwork.Result r = NetnsNetwork.run(List.of("kill", "-" + sig, Long.toString(p.pid())), false);
            if (r.exit() != 0 && p.isAlive()) throw new IllegalStateException("kill -" + sig + " " + p.pid() + ": " + r.output());
        } catch (IOException e) {
            throw new IllegalStateException("kill -" + sig + " " + p.pid(), e);
        }
    }

    /** The status JSON of node {@code id}, or null if it does not answer within a second. */
    public JsonNode status(int id) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(network.clientUri(id).resolve("/v1/status"))
                    .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? History.JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The node that says it leads in the highest term, or 0 if none answers as leader. */
    public int leader() {
        int leader = 0;
        long term = -1;
        for (int id : ids) {
            if (!isRunning(id) || Boolean.TRUE.equals(paused.get(id))) continue;
            JsonNode s = status(id);
            if (s != null && "LEADER".equals(s.path("role").asText()) && s.path("term").asLong() > term) {
                term = s.path("term").asLong();
                leader = id;
            }
        }
        return leader;
    }

    /** Waits up to {@code timeout} for a leader that every running node agrees on; returns it or 0. */
    public int awaitLeader(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            int l = leader();
            if (l != 0) return l;
            Thread.sleep(100); // poll interval while waiting for an election
        }
        return 0;
    }

    /** The last lines of a node's log, for failure messages. */
    public String tail(int id, int lines) {
        try {
            List<String> all = Files.readAllLines(logFile(id));
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        List<Process> all;
        synchronized (this) {
            all = new ArrayList<>(processes.values());
        }
        for (Process p : all) {
            if (p.isAlive()) {
                signal(p, "CONT");
                p.destroyForcibly();
            }
        }
        for (Process p : all) {
            try {
                p.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** For reports: which node URIs clients use. */
    public URI clientUri(int id) {
        return network.clientUri(id);
    }
}
