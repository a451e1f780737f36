package dev.keel.cli;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.client.Results;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three `keel serve` processes: write 1,000 keys over HTTP, SIGKILL every process, start them
 * again on the same data, and read every acknowledged key back. And a fourth that joins with
 * `keel serve --join`, is promoted, made leader and restarted with the CLI's membership commands.
 */
class ProcessClusterTest {
    @TempDir
    Path dir;

    final List<Process> processes = new ArrayList<>();
    int[] peerPorts = new int[3];
    int[] httpPorts = new int[3];

    @AfterEach
    void killAll() {
        processes.forEach(Process::destroyForcibly);
    }


    void startAll() throws IOException {
        processes.clear();
        StringBuilder cluster = new StringBuilder();
        StringBuilder httpCluster = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            if (i > 0) {
                cluster.append(',');
                httpCluster.append(',');
            }
            cluster.append(i + 1).append("=127.0.0.1:").append(peerPorts[i]);
            httpCluster.append(i + 1).append("=127.0.0.1:").append(httpPorts[i]);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int i = 0; i < 3; i++) {
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    KeelCli.class.getName(), "serve", "--id", String.valueOf(i + 1),
                    "--data-dir", dir.resolve("n" + (i + 1)).toString(), "--cluster", cluster.toString(),
                    "--http", "127.0.0.1:" + httpPorts[i], "--http-cluster", httpCluster.toString());
            pb.redirectErrorStream(true);
            pb.redirectOutput(dir.resolve("n" + (i + 1) + ".log").toFile());
            processes.add(pb.start());
        }
    }

    Process startJoining(int peerPort, int httpPort) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                KeelCli.class.getName(), "serve", "--id", "4", "--data-dir", dir.resolve("n4").toString(),
                "--listen", "127.0.0.1:" + peerPort, "--http", "127.0.0.1:" + httpPort,
                "--join", "http://127.0.0.1:" + httpPorts[0]);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("n4.log").toFile()));
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    /** Runs the CLI in this JVM: exit status and output. */
    static String[] cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        picocli.CommandLine cl = new picocli.CommandLine(new KeelCli());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new String[] {String.valueOf(exit), out.toString(), err.toString()};
    }

    static <T> T await(String what, java.util.function.Supplier<T> probe) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            T v = probe.get();
            if (v != null && !Boolean.FALSE.equals(v)) return v;
            Thread.sleep(50); // poll interval of a wait with a deadline
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    @Test
    void aNodeJoinsWithServeJoinIsPromotedLeadsAndRestartsWithoutBeingAddedAgain() throws Exception {
        for (int i = 0; i < 3; i++) {
            peerPorts[i] = TestPorts.free();
            httpPorts[i] = TestPorts.free();
        }
        int peer4 = TestPorts.free();
        int http4 = TestPorts.free();
        startAll();
        String endpoints = "http://127.0.0.1:" + httpPorts[1];
        try (KeelClient c = client()) {
            c.put("before", "1");
            Process joining = startJoining(peer4, http4);
            Results.Members m = await("node 4 to join as a learner", () -> {
                Results.Members now = c.members();
                return now.learners().contains(4) ? now : null;
            });
            assertThat(m.member(4).orElseThrow().peer()).isEqualTo("127.0.0.1:" + peer4);
            assertThat(m.member(4).orElseThrow().http()).isEqualTo("http://127.0.0.1:" + http4);

            String[] list = cli("members", "list", "--endpoints", endpoints);
            assertThat(list[0]).as(list[2]).isEqualTo("0");
            assertThat(list[1]).contains("learners=[4]").containsPattern("4 +learner +peer=127\\.0\\.0\\.1:" + peer4);
            String[] promote = cli("members", "promote", "--id", "4", "--endpoints", endpoints);
            assertThat(promote[0]).as(promote[2]).isEqualTo("0");
            assertThat(promote[1]).contains("OK node 4 is a voter", "voters=[1, 2, 3, 4]");

            // Restart node 4 with the same --join: it is a member already, so it is not added again.
            joining.destroy();
            assertThat(joining.waitFor(30, TimeUnit.SECONDS)).isTrue();
            startJoining(peer4, http4);
            await("node 4 to say it is already a member", () -> {
                try {
                    return Files.readString(dir.resolve("n4.log")).contains("node=4 is already a voter of the cluster; not adding it again");
                } catch (IOException e) {
                    return false;
                }
            });
            // Writes through node 4, then with node 4 leading, then without node 1.
            try (KeelClient via4 = KeelClient.builder(List.of(URI.create("http://127.0.0.1:" + http4)))
                    .operationTimeout(Duration.ofSeconds(30)).build()) {
                await("a write through node 4", () -> {
                    try {
                        return via4.put("via4", "2").revision() > 0;
                    } catch (KeelClientException e) {
                        return false;
                    }
                });
            }
            String[] transfer = cli("transfer-leader", "--to", "4", "--endpoints", endpoints, "--timeout-ms", "30000");
            assertThat(transfer[0]).as(transfer[2]).isEqualTo("0");
            assertThat(transfer[1]).contains("OK leader=4");
            String[] remove = cli("members", "remove", "--id", "1", "--endpoints", "http://127.0.0.1:" + http4, "--timeout-ms", "30000");
            assertThat(remove[0]).as(remove[2]).isEqualTo("0");
            assertThat(remove[1]).contains("OK node 1 removed", "voters=[2, 3, 4]");
            String[] gone = cli("members", "remove", "--id", "1", "--endpoints", "http://127.0.0.1:" + http4);
            assertThat(gone[0]).isEqualTo("4");
            assertThat(gone[2]).contains("not found: node 1 is not a member");
            c.put("after", "3");
            assertThat(c.get("before").valueAsString()).isEqualTo("1");
            assertThat(c.get("via4").valueAsString()).isEqualTo("2");
            assertThat(c.members().voters()).containsExactly(2, 3, 4);
        }
    }

    KeelClient client() {
        List<URI> endpoints = new ArrayList<>();
        for (int p : httpPorts) endpoints.add(URI.create("http://127.0.0.1:" + p));
        return KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(30)).build();
    }

    @Test
    void everyAcknowledgedWriteSurvivesKillNineOfAllNodes() throws Exception {
        for (int i = 0; i < 3; i++) {
            peerPorts[i] = TestPorts.free();
            httpPorts[i] = TestPorts.free();
        }
        startAll();
        List<Integer> acknowledged = new ArrayList<>();
        try (KeelClient c = client()) {
            for (int i = 0; i < 1000; i++) {
                c.put("key-" + i, "value-" + i); // throws unless acknowledged
                acknowledged.add(i);
            }
        }
        for (Process p : processes) p.destroyForcibly(); // SIGKILL: no shutdown hook runs
        for (Process p : processes) assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();

        startAll();
        try (KeelClient c = client()) {
            for (int i : acknowledged) {
                assertThat(c.get("key-" + i).valueAsString()).as("key-" + i).isEqualTo("value-" + i);
            }
        }
        assertThat(acknowledged).hasSize(1000);
        assertThat(new File(dir.resolve("n1").toString())).isDirectory();
    }
}
