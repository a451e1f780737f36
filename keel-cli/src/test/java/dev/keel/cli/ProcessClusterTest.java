package dev.keel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.client.KeelClient;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
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
 * again on the same data, and read every acknowledged key back.
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

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
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

    KeelClient client() {
        List<URI> endpoints = new ArrayList<>();
        for (int p : httpPorts) endpoints.add(URI.create("http://127.0.0.1:" + p));
        return KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(30)).build();
    }

    @Test
    void everyAcknowledgedWriteSurvivesKillNineOfAllNodes() throws Exception {
        for (int i = 0; i < 3; i++) {
            peerPorts[i] = freePort();
            httpPorts[i] = freePort();
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
