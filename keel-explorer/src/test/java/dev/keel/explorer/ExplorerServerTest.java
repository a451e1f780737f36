package dev.keel.explorer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The JSON API and the bundled files, over real HTTP on a loopback port. */
class ExplorerServerTest {
    private static ExplorerServer server;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper json = new ObjectMapper();

    @BeforeAll
    static void start() throws Exception {
        server = ExplorerServer.start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + path.substring(1))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + path.substring(1)))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesThePageAndItsModulesFromTheJar() throws Exception {
        HttpResponse<String> page = get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        assertThat(page.body()).contains("<script type=\"module\" src=\"app.js\">")
                .doesNotContainPattern("(src|href)=\"(https?:)?//"); // nothing from the network: it works offline
        for (String f : new String[] {"/app.js", "/ring.js", "/live.js", "/style.css"}) {
            HttpResponse<String> r = get(f);
            assertThat(r.statusCode()).as(f).isEqualTo(200);
            assertThat(r.body()).as(f).doesNotContain("cdn.", "unpkg", "googleapis");
        }
        assertThat(get("/app.js").headers().firstValue("Content-Type")).hasValue("text/javascript; charset=utf-8");
        assertThat(get("/../pom.xml").statusCode()).isEqualTo(404);
        assertThat(get("/nothing.js").statusCode()).isEqualTo(404);
        assertThat(get("/api/nothing").statusCode()).isEqualTo(404);
        assertThat(get("/api/action").statusCode()).isEqualTo(405);
    }

    @Test
    void actionsHistoryReplayAndSeek() throws Exception {
        assertThat(post("/api/reset", "cluster 3 seed=5").statusCode()).isEqualTo(200);
        JsonNode state = json.readTree(get("/api/state").body()).get("state");
        assertThat(state.get("nodes")).hasSize(3);
        assertThat(state.get("nodes").get(0).get("role").asText()).isEqualTo("FOLLOWER");
        assertThat(state.get("nodes").get(0).get("electionTimeoutTicks").asInt()).isBetween(10, 19);

        HttpResponse<String> r = post("/api/action", "timeout 2");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode body = json.readTree(r.body());
        assertThat(body.get("outcome").asText()).contains("n2 timed out").contains("2 messages sent");
        assertThat(body.get("state").get("messages")).hasSize(2);
        assertThat(body.get("state").get("messages").get(0).get("label").asText()).isEqualTo("PreVote");

        HttpResponse<String> bad = post("/api/action", "deliver 999");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(json.readTree(bad.body()).get("error").asText()).isEqualTo("no message #999 in flight");
        assertThat(json.readTree(bad.body()).get("state").get("step").asInt()).isEqualTo(1);
        assertThat(post("/api/action", "tick\ntick").statusCode()).isEqualTo(400);

        assertThat(post("/api/action", "deliver all").statusCode()).isEqualTo(200);
        String history = get("/api/history").body();
        assertThat(history).isEqualTo("cluster 3 seed=5\ntimeout 2\ndeliver all\n");
        JsonNode after = json.readTree(get("/api/state").body()).get("state");
        assertThat(after.get("nodes").get(1).get("role").asText()).isEqualTo("LEADER");

        JsonNode back = json.readTree(post("/api/seek?step=1", "").body()).get("state");
        assertThat(back.get("step").asInt()).isEqualTo(1);
        assertThat(back.get("nodes").get(1).get("role").asText()).isEqualTo("PRE_CANDIDATE");
        assertThat(post("/api/seek?step=x", "").statusCode()).isEqualTo(400);

        JsonNode replayed = json.readTree(post("/api/replay", history).body()).get("state");
        assertThat(replayed.get("nodes")).isEqualTo(after.get("nodes"));
        HttpResponse<String> badReplay = post("/api/replay", "cluster 3\ntick\nwhat\n");
        assertThat(badReplay.statusCode()).isEqualTo(400);
        assertThat(json.readTree(badReplay.body()).get("error").asText()).isEqualTo("line 3: unknown action `what` (one of: "
                + Action.VERBS + ")");
    }
}
