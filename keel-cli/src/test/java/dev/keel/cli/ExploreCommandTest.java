package dev.keel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ExploreCommandTest {
    @TempDir
    Path dir;

    @Test
    void servesThePageAtThePrintedUrlWithTheLoadedHistory() throws Exception {
        Path history = dir.resolve("h.txt");
        Files.writeString(history, "cluster 3 seed=9\n# n2 campaigns\ntimeout 2\ndeliver all\n");
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KeelCli());
        cl.setOut(new PrintWriter(out, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread t = new Thread(() -> exit.set(cl.execute("explore", "--port", "0", "--history", history.toString())));
        t.start();
        Pattern url = Pattern.compile("Keel Explorer: (http://127\\.0\\.0\\.1:\\d+/)");
        Matcher m = url.matcher("");
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!(m = url.matcher(out.toString())).find()) {
            assertThat(t.isAlive()).as("explore exited early: " + out).isTrue();
            assertThat(System.nanoTime()).as("no URL printed").isLessThan(deadline);
            t.join(20); // wait for the command's first line
        }
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(m.group(1))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("<title>Keel Explorer</title>");
        String h = http.send(HttpRequest.newBuilder(URI.create(m.group(1) + "api/history")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(h).isEqualTo("cluster 3 seed=9\ntimeout 2\ndeliver all\n");
        t.interrupt();
        t.join(10_000);
        assertThat(t.isAlive()).isFalse();
        assertThat(exit.get()).isZero();
    }

    @Test
    void badHistoryOrPortIsAUsageError() throws Exception {
        Path history = dir.resolve("bad.txt");
        Files.writeString(history, "cluster 3\ntick\nteleport 2\n");
        KeelCliTest.Run r = KeelCliTest.run("explore", "--port", "0", "--history", history.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("bad.txt: line 3: unknown action `teleport`");
        r = KeelCliTest.run("explore", "--port", "70000");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--port 70000 outside 0..65535");
        r = KeelCliTest.run("explore", "--cluster", "cluster 12");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--cluster: cluster size 12 outside 1..7");
        r = KeelCliTest.run("explore", "--port", "0", "--seed", "3", "--nodes", "9");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--seed: nodes `nodes=9`: 0 (the seed chooses) or 1..7");
    }
}
