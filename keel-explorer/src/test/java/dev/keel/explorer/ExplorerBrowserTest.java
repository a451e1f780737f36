package dev.keel.explorer;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.KvConfig;
import dev.keel.kv.KvServer;
import dev.keel.kv.client.KeelClient;
import dev.keel.server.ServerConfig;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The explorer page in headless Chromium (Debian's chromium and chromium-driver): an election
 * stepped by hand, then a partitioned leader replaced, then a broken property highlighted.
 * Screenshots go to target/explorer-screenshots/. Skipped when Chromium or its driver is absent.
 */
class ExplorerBrowserTest {
    private static final Path SHOTS = Path.of("target", "explorer-screenshots");
    private static ExplorerServer server;
    private static WebDriver driver;

    @BeforeAll
    static void start() throws IOException {
        File chromium = firstExisting(System.getenv("KEEL_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser");
        File chromedriver = firstExisting(System.getenv("KEEL_CHROMEDRIVER"), "/usr/bin/chromedriver");
        Assumptions.assumeTrue(chromium != null && chromedriver != null,
                "skipped: headless end-to-end test needs Chromium and chromedriver "
                        + "(apt-get install chromium chromium-driver, as .ci/run does)");
        server = ExplorerServer.start("127.0.0.1", 0);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium);
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(chromedriver)
                .usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    static void stop() {
        if (driver != null) driver.quit();
        if (server != null) server.close();
    }

    private static File firstExisting(String... paths) {
        for (String p : paths) {
            if (p != null && new File(p).canExecute()) return new File(p);
        }
        return null;
    }

    private static WebDriverWait waitUpTo(int seconds) {
        // The page redraws rows as events arrive: an element read mid-redraw is simply read again.
        return (WebDriverWait) new WebDriverWait(driver, Duration.ofSeconds(seconds))
                .ignoring(org.openqa.selenium.StaleElementReferenceException.class);
    }

    private static void shot(String name) throws IOException {
        byte[] png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES);
        Files.write(SHOTS.resolve(name + ".png"), png);
    }

    private static WebElement node(int id) {
        return driver.findElement(By.cssSelector("#ring g.node[data-node-id='" + id + "']"));
    }

    private static List<Integer> leaders() {
        return driver.findElements(By.cssSelector("#ring g.node[data-role='LEADER']")).stream()
                .map(e -> Integer.parseInt(e.getAttribute("data-node-id"))).toList();
    }

    private static int step() {
        return Integer.parseInt(driver.findElement(By.id("scrub")).getAttribute("value"));
    }

    /** Clicks an action button and waits for the page to show the next step. */
    private static void act(By button) {
        int before = step();
        driver.findElement(button).click();
        waitUpTo(10).until(d -> step() == before + 1);
    }

    @Test
    void electionPartitionAndNewLeader() throws IOException {
        driver.get(server.url() + "?animate=0");
        driver.findElement(By.id("reset")).click(); // a fresh 3-node cluster whatever ran before
        waitUpTo(10).until(d -> d.findElements(By.cssSelector("#ring g.node[data-node-id]")).size() == 3
                && step() == 0);
        assertThat(driver.findElements(By.cssSelector("#ring g.node[data-role='FOLLOWER']"))).hasSize(3);
        assertThat(driver.findElements(By.cssSelector("#logs .log-row"))).hasSize(3);
        shot("01-start");

        // n1's election timer fires: it asks for pre-votes.
        node(1).click();
        waitUpTo(5).until(d -> d.findElement(By.id("node-panel")).isEnabled());
        act(By.id("node-timeout"));
        assertThat(node(1).getAttribute("data-role")).isIn("PRE_CANDIDATE", "CANDIDATE");
        assertThat(driver.findElements(By.cssSelector("#ring g.msg[data-type='PreVote']"))).hasSize(2);

        // Deliver messages by clicking them, oldest first, until a leader appears.
        int deliveries = 0;
        while (leaders().isEmpty()) {
            assertThat(deliveries).as("deliveries before a leader").isLessThan(30);
            List<WebElement> msgs = driver.findElements(By.cssSelector("#ring g.msg"));
            assertThat(msgs).as("messages in flight while no leader").isNotEmpty();
            msgs.get(0).click();
            waitUpTo(5).until(d -> d.findElement(By.id("msg-panel")).isEnabled());
            act(By.id("msg-deliver"));
            deliveries++;
        }
        assertThat(leaders()).containsExactly(1);
        assertThat(node(1).getAttribute("data-term")).isEqualTo("1");
        // A client write at the leader, replicated and committed.
        new Select(driver.findElement(By.id("client-node"))).selectByValue("1");
        act(By.id("put"));
        act(By.id("deliver-all"));
        act(By.id("tick"));
        shot("02-leader-elected");
        act(By.id("deliver-all"));
        assertThat(driver.findElements(By.cssSelector("#logs .entry.committed"))).hasSize(3 * 2); // no-op and write

        // Cut the leader off; time passes (play) until the others elect a new leader.
        driver.findElement(By.id("partition-spec")).sendKeys("1|2,3");
        act(By.id("partition"));
        assertThat(driver.findElements(By.cssSelector("#ring line.link.cut"))).hasSize(2);
        new Select(driver.findElement(By.id("speed"))).selectByValue("60");
        driver.findElement(By.id("play")).click();
        waitUpTo(60).until(d -> leaders().stream().anyMatch(id -> id != 1));
        driver.findElement(By.id("play")).click();
        int newLeader = leaders().stream().filter(id -> id != 1).findFirst().orElseThrow();
        assertThat(newLeader).isIn(2, 3);
        assertThat(Long.parseLong(node(newLeader).getAttribute("data-term"))).isGreaterThan(1);
        waitUpTo(5).until(d -> d.findElement(By.id("play")).getText().contains("Play"));
        shot("03-partitioned-new-leader");

        // Dragging a node out of the ring puts it in a group of its own; to the centre heals.
        int before = step();
        new org.openqa.selenium.interactions.Actions(driver).dragAndDropBy(node(3), 120, 80).perform();
        waitUpTo(10).until(d -> step() == before + 1);
        assertThat(driver.findElement(By.id("history")).getAttribute("value")).endsWith("\npartition 1|2|3\n");
        WebElement ring = driver.findElement(By.id("ring"));
        new org.openqa.selenium.interactions.Actions(driver).clickAndHold(node(2))
                .moveToElement(ring, 0, 0).release().perform();
        waitUpTo(10).until(d -> step() == before + 2);
        assertThat(driver.findElement(By.id("history")).getAttribute("value")).endsWith("\nheal\n");
        assertThat(driver.findElements(By.cssSelector("#ring line.link.cut"))).isEmpty();

        // The history shows what was done, one action per line, and scrubbing back works.
        String history = driver.findElement(By.id("history")).getAttribute("value");
        assertThat(history).startsWith("cluster 3 seed=1\ntimeout 1\ndeliver ").contains("\npartition 1|2,3\n");
        int end = step();
        driver.findElement(By.id("back")).click();
        waitUpTo(10).until(d -> step() == end - 1);
    }

    @Test
    void liveModeWatchesARealClusterFailOver(@org.junit.jupiter.api.io.TempDir Path dataRoot) throws Exception {
        Map<Integer, InetSocketAddress> peers = new HashMap<>();
        Map<Integer, URI> httpMembers = new TreeMap<>();
        for (int id = 1; id <= 3; id++) {
            peers.put(id, new InetSocketAddress("127.0.0.1", TestPorts.free()));
            httpMembers.put(id, URI.create("http://127.0.0.1:" + TestPorts.free()));
        }
        Map<Integer, KvServer> servers = new HashMap<>();
        try {
            for (int id = 1; id <= 3; id++) {
                Path dir = Files.createDirectories(dataRoot.resolve("node" + id));
                ServerConfig sc = ServerConfig.builder(id, "explorer-live", peers, dir).sync(false).build();
                servers.put(id, KvServer.start(KvConfig.builder(sc,
                        new InetSocketAddress("127.0.0.1", httpMembers.get(id).getPort()), httpMembers).build()));
            }
            String urls = String.join(",", httpMembers.values().stream().map(URI::toString).toList());
            driver.get(server.url() + "?animate=0&live=" + java.net.URLEncoder.encode(urls, java.nio.charset.StandardCharsets.UTF_8));
            waitUpTo(30).until(d -> d.findElements(By.cssSelector("#live-ring g.node[data-node-id]")).size() == 3
                    && d.findElements(By.cssSelector("#live-ring g.node[data-role='LEADER']")).size() == 1);
            int leader = Integer.parseInt(driver.findElement(By.cssSelector("#live-ring g.node[data-role='LEADER']"))
                    .getAttribute("data-node-id"));
            try (KeelClient client = KeelClient.builder(new java.util.ArrayList<>(httpMembers.values())).build()) {
                for (int i = 0; i < 20; i++) client.put("k" + i, "v" + i);
            }
            long committed = servers.get(leader).raft().status().commitIndex();
            waitUpTo(20).until(d -> d.findElements(By.cssSelector("#live-table tbody tr")).stream()
                    .allMatch(tr -> Long.parseLong(tr.findElements(By.tagName("td")).get(5).getText()) >= committed));
            shot("05-live-cluster");

            servers.remove(leader).close();
            waitUpTo(30).until(d -> d.findElements(By.cssSelector("#live-ring g.node[data-role='LEADER']")).stream()
                    .anyMatch(e -> !e.getAttribute("data-node-id").equals(Integer.toString(leader))));
            waitUpTo(10).until(d -> d.findElements(By.cssSelector("#live-changes li")).size() >= 2);
            // The stopped node's stream broke: the page says so and draws it down, not as a stale leader.
            waitUpTo(10).until(d -> d.findElement(By.id("live-table")).getText().contains("reconnecting"));
            waitUpTo(10).until(d -> d.findElement(By.cssSelector("#live-ring g.node[data-node-id='" + leader + "']"))
                    .getAttribute("data-role").equals("DOWN"));
            shot("06-live-failover");
        } finally {
            for (KvServer s : servers.values()) s.close();
        }
    }


    @Test
    void aSimulatorSeedIsScrubbedEventByEvent() throws IOException {
        driver.get(server.url() + "?animate=0");
        driver.findElement(By.id("seed-spec")).sendKeys("seed 7 nodes=3 ticks=300");
        driver.findElement(By.id("load-seed")).click();
        waitUpTo(30).until(d -> d.findElement(By.id("step-label")).getText().startsWith("seed 7 nodes=3 ticks=300: event 0 of "));
        assertThat(driver.findElement(By.id("seed-result")).getText()).startsWith("seed=7 ").endsWith(" ok");
        long length = Long.parseLong(driver.findElement(By.id("scrub")).getAttribute("max"));
        assertThat(length).isGreaterThan(100);
        driver.findElement(By.id("forward")).click();
        waitUpTo(10).until(d -> step() == 1);
        // Play walks through the seed's events; the page shows a leader once the seed elected one.
        new Select(driver.findElement(By.id("speed"))).selectByValue("60");
        driver.findElement(By.id("play")).click();
        waitUpTo(60).until(d -> !leaders().isEmpty());
        driver.findElement(By.id("play")).click();
        assertThat(step()).isGreaterThan(1);
        // Actions are refused: the seed decides what happens.
        WebElement input = driver.findElement(By.id("action"));
        input.sendKeys("tick");
        input.submit();
        waitUpTo(10).until(d -> d.findElement(By.id("error")).getText().contains("read-only"));
        shot("07-simulator-seed");
        driver.findElement(By.id("reset")).click(); // back to a hand-driven cluster for the other tests
        waitUpTo(10).until(d -> !d.findElement(By.id("step-label")).getText().startsWith("seed"));
    }

    @Test
    void brokenPropertyStopsAndHighlights() throws IOException {
        driver.get(server.url() + "?animate=0");
        WebElement header = driver.findElement(By.id("header"));
        header.clear();
        header.sendKeys("cluster 3 seed=1 mutation=GRANT_SECOND_VOTE");
        driver.findElement(By.id("reset")).click();
        waitUpTo(10).until(d -> d.findElement(By.id("history")).getAttribute("value").contains("GRANT_SECOND_VOTE"));
        for (String line : new String[] {"timeout 1", "timeout 2", "deliver all"}) {
            int before = step();
            WebElement input = driver.findElement(By.id("action"));
            input.sendKeys(line);
            input.submit();
            waitUpTo(10).until(d -> step() == before + 1);
        }
        WebElement banner = driver.findElement(By.id("violation"));
        waitUpTo(5).until(d -> banner.isDisplayed());
        assertThat(banner.getText()).containsAnyOf("ElectionSafety", "OneVotePerTerm").contains("step 3");
        assertThat(driver.findElements(By.cssSelector("#ring g.node.violating"))).isNotEmpty();
        shot("04-violation");
    }
}
