package dev.keel.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class TimelineTest {

    private static final long MS = 1_000_000L;
    private static final long S = 1_000_000_000L;
    private static final String PARTITION_DETAIL = "isolated <n1> & \"n2\" from n3";
    private static final String KILL_DETAIL = "kill -9 n3 <pid 42>";

    /**
     * Three clients over five seconds, four operations each per second (k = 0..3; even k reads, odd k
     * writes), invoked at s + c*10ms + k*250ms with latency (1 + c + k) ms. Client 1 fails all four in
     * second 2; client 2's write (k = 1) in second 3 times out as info after 200 ms; client 0 invokes a
     * write at 4.95 s that never completes. Nemesis: partition 1.5 s to 2.5 s, kill from 3.2 s, no stop.
     *
     * <p>So: read 28 ok / 2 fail / 0 info; write 27 ok / 2 fail / 2 info; per second ok = 12, 12, 8,
     * 11, 12; fail = 0, 0, 4, 0, 0; info = 0, 0, 0, 1, 1 (the unfinished invoke lands at the run's end).
     */
    static List<Event> synthetic() {
        List<Event> events = new ArrayList<>();
        for (int s = 0; s < 5; s++) {
            for (int c = 0; c < 3; c++) {
                for (int k = 0; k < 4; k++) {
                    long invoked = s * S + c * 10 * MS + k * 250 * MS;
                    String f = k % 2 == 0 ? "read" : "write";
                    String type = Event.OK;
                    long latency = (1 + c + k) * MS;
                    if (c == 1 && s == 2) type = Event.FAIL;
                    if (c == 2 && s == 3 && k == 1) {
                        type = Event.INFO;
                        latency = 200 * MS;
                    }
                    events.add(new Event(invoked, c, Event.INVOKE, f, "k" + c, null, 1 + c, null));
                    events.add(new Event(invoked + latency, c, type, f, "k" + c, null, 1 + c,
                            type.equals(Event.OK) ? null : "boom"));
                }
            }
        }
        events.add(new Event(4950 * MS, 0, Event.INVOKE, "write", "k0", History.number(7), 1, null));
        events.add(nemesis(1500 * MS, "partition", "start", PARTITION_DETAIL));
        events.add(nemesis(2500 * MS, "partition", "stop", null));
        events.add(nemesis(3200 * MS, "kill", "start", KILL_DETAIL));
        events.sort(Comparator.comparingLong(Event::time));
        return events;
    }

    static Event nemesis(long time, String f, String phase, String detail) {
        ObjectNode v = History.nodes().objectNode();
        v.put("phase", phase);
        if (detail != null) v.put("detail", detail);
        return new Event(time, Event.NEMESIS, Event.INFO, f, null, v, null, null);
    }

    static Document parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        return f.newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
    }

    static List<Element> elements(Document d, String tag) {
        NodeList nl = d.getElementsByTagNameNS("http://www.w3.org/2000/svg", tag);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < nl.getLength(); i++) out.add((Element) nl.item(i));
        return out;
    }

    static List<Element> byClass(Document d, String tag, String cls) {
        return elements(d, tag).stream().filter(e -> e.getAttribute("class").equals(cls)).toList();
    }

    static Element child(Element e, String tag) {
        NodeList nl = e.getElementsByTagNameNS("http://www.w3.org/2000/svg", tag);
        assertThat(nl.getLength()).as("<%s> inside <%s>", tag, e.getTagName()).isEqualTo(1);
        return (Element) nl.item(0);
    }

    @Test
    void countsByFPairsInvokesWithCompletions() {
        Map<String, long[]> counts = Timeline.countsByF(synthetic());
        assertThat(counts.keySet()).containsExactly("read", "write");
        assertThat(counts.get("read")).containsExactly(28, 2, 0);
        assertThat(counts.get("write")).containsExactly(27, 2, 2);
    }

    @Test
    void bucketsThroughputAndLatencyPerSecond() {
        Timeline.Series s = Timeline.series(synthetic());
        assertThat(s.endNanos()).isEqualTo(4950 * MS);
        assertThat(s.bucketNanos()).isEqualTo(S);
        assertThat(s.buckets()).isEqualTo(5);
        assertThat(s.counts()[Timeline.OK]).containsExactly(12, 12, 8, 11, 12);
        assertThat(s.counts()[Timeline.FAIL]).containsExactly(0, 0, 4, 0, 0);
        assertThat(s.counts()[Timeline.INFO]).containsExactly(0, 0, 0, 1, 1);
        assertThat(s.totals()).containsExactly(55, 4, 2);
        assertThat(s.unfinished()).isEqualTo(1);
        assertThat(s.orphans()).isZero();
        // Every second's 12 latencies are 1,2,2,3,3,3,4,4,4,5,5,6 ms, except second 3 where a 4 became 200.
        for (int b : new int[] {0, 1, 2, 4}) {
            assertThat(s.latencyMs()[Timeline.P50][b]).as("p50 of %d", b).isEqualTo(3.0);
            assertThat(s.latencyMs()[Timeline.P99][b]).as("p99 of %d", b).isEqualTo(6.0);
            assertThat(s.latencyMs()[Timeline.MAX][b]).as("max of %d", b).isEqualTo(6.0);
        }
        assertThat(s.latencyMs()[Timeline.P50][3]).isEqualTo(3.0);
        assertThat(s.latencyMs()[Timeline.P99][3]).isEqualTo(200.0);
        assertThat(s.latencyMs()[Timeline.MAX][3]).isEqualTo(200.0);
    }

    @Test
    void faultPeriodsRunFromStartToNextStopOrToTheEnd() {
        List<Timeline.Fault> faults = Timeline.series(synthetic()).faults();
        assertThat(faults).containsExactly(
                new Timeline.Fault("partition", 1500 * MS, 2500 * MS, true, PARTITION_DETAIL),
                new Timeline.Fault("kill", 3200 * MS, 4950 * MS, false, KILL_DETAIL));
    }

    @Test
    void twoStartsEndAtOneStopAndAStopWithoutStartIsIgnored() {
        List<Event> events = List.of(
                nemesis(0, "slow", "stop", "nothing was slow"),
                nemesis(1 * S, "kill", "start", "n1"),
                nemesis(2 * S, "kill", "start", "n2"),
                nemesis(3 * S, "kill", "stop", "restarted all"),
                nemesis(4 * S, "kill", "start", "n3"),
                nemesis(5 * S, "kill", "stop", null));
        assertThat(Timeline.series(events).faults()).containsExactly(
                new Timeline.Fault("kill", 1 * S, 3 * S, true, "n1; stop: restarted all"),
                new Timeline.Fault("kill", 2 * S, 3 * S, true, "n2; stop: restarted all"),
                new Timeline.Fault("kill", 4 * S, 5 * S, true, "n3"));
    }

    @Test
    void aSecondInvokeLeavesTheFirstUnfinishedAndOrphanCompletionsAreIgnored() {
        List<Event> events = List.of(
                new Event(0, 1, Event.OK, "read", null, null, null, null),
                new Event(1 * MS, 1, Event.INVOKE, "cas", null, null, null, null),
                new Event(2 * MS, 1, Event.INVOKE, "read", null, null, null, null),
                new Event(7 * MS, 1, Event.OK, "read", null, null, null, null));
        assertThat(Timeline.countsByF(events)).containsOnlyKeys("cas", "read");
        assertThat(Timeline.countsByF(events).get("cas")).containsExactly(0, 0, 1);
        assertThat(Timeline.countsByF(events).get("read")).containsExactly(1, 0, 0);
        Timeline.Series s = Timeline.series(events);
        assertThat(s.orphans()).isEqualTo(1);
        assertThat(s.unfinished()).isEqualTo(1);
        assertThat(s.latencyMs()[Timeline.MAX][0]).isEqualTo(5.0);
    }

    @Test
    void svgShowsTitleTotalsShadingAndLegends() throws Exception {
        String svg = Timeline.svg(synthetic(), "kv register, 3 nodes");
        Path sample = Path.of("target", "timeline-sample.svg");
        Files.createDirectories(sample.getParent());
        Files.writeString(sample, svg, StandardCharsets.UTF_8);

        Document d = parse(svg);
        Element root = d.getDocumentElement();
        assertThat(root.getLocalName()).isEqualTo("svg");
        assertThat(root.getAttribute("width")).isEqualTo("1000");
        assertThat(root.getAttribute("height")).isEqualTo("560");
        assertThat(byClass(d, "text", "title")).singleElement()
                .extracting(Element::getTextContent).isEqualTo("kv register, 3 nodes");
        assertThat(byClass(d, "text", "subtitle")).singleElement().extracting(Element::getTextContent)
                .isEqualTo("61 operations: 55 ok, 4 fail, 2 info (1 never completed) \u00b7 4.95 s \u00b7 2 fault periods");
        assertThat(byClass(d, "text", "empty")).isEmpty();

        List<Element> shading = byClass(d, "rect", "fault");
        assertThat(shading).extracting(e -> e.getAttribute("data-fault")).containsExactly("partition", "kill");
        Element partition = shading.get(0), kill = shading.get(1);
        // The plot spans x 70..850 for 5 s: 156 px per second; shading covers both panels (y 62..510).
        assertThat(Double.parseDouble(partition.getAttribute("x"))).isCloseTo(70 + 1.5 * 156, within(0.11));
        assertThat(Double.parseDouble(partition.getAttribute("width"))).isCloseTo(156, within(0.11));
        assertThat(Double.parseDouble(kill.getAttribute("x"))).isCloseTo(70 + 3.2 * 156, within(0.11));
        assertThat(Double.parseDouble(kill.getAttribute("width"))).isCloseTo(1.75 * 156, within(0.11));
        assertThat(partition.getAttribute("y")).isEqualTo("62");
        assertThat(partition.getAttribute("height")).isEqualTo("448");
        assertThat(partition.getAttribute("fill")).isEqualTo("#e15759");
        assertThat(kill.getAttribute("fill")).isEqualTo("#f28e2b");
        assertThat(child(partition, "title").getTextContent())
                .isEqualTo("partition, 1.50 s to 2.50 s: " + PARTITION_DETAIL);
        assertThat(child(kill, "title").getTextContent())
                .isEqualTo("kill, 3.20 s to end of run (no stop): " + KILL_DETAIL);
        assertThat(svg).contains("isolated &lt;n1&gt; &amp; &quot;n2&quot; from n3", "kill -9 n3 &lt;pid 42&gt;");
        assertThat(byClass(d, "text", "fault-label")).extracting(Element::getTextContent)
                .containsExactly("partition", "kill");

        Map<String, List<String>> legends = elements(d, "g").stream()
                .filter(g -> g.getAttribute("class").equals("legend"))
                .collect(Collectors.toMap(g -> g.getAttribute("data-legend"),
                        g -> elements(g, "text").stream().map(Element::getTextContent).toList()));
        assertThat(legends).containsOnlyKeys("operations", "latency", "faults");
        assertThat(legends.get("operations")).containsExactly("operations", "ok", "fail", "info");
        assertThat(legends.get("latency")).containsExactly("latency", "p50", "p99", "max");
        assertThat(legends.get("faults")).containsExactly("faults", "partition", "kill");

        assertThat(byClass(d, "path", "throughput-ok")).hasSize(1);
        assertThat(byClass(d, "path", "throughput-fail")).hasSize(1);
        assertThat(byClass(d, "path", "throughput-info")).hasSize(1);
        assertThat(byClass(d, "path", "latency-p50")).hasSize(1);
        assertThat(byClass(d, "path", "latency-p99")).hasSize(1);
        assertThat(byClass(d, "path", "latency-max")).hasSize(1);
        // The x axis counts whole seconds 0..5; the log axis spans 1 ms to 1000 ms (max is 200 ms).
        List<String> ticks = elements(d, "g").stream().filter(g -> g.getAttribute("class").equals("ticks"))
                .flatMap(g -> elements(g, "text").stream()).map(Element::getTextContent).toList();
        assertThat(ticks).contains("0", "1", "2", "3", "4", "5", "10", "100", "1000").doesNotContain("0.1", "6");
    }

    private static List<Element> elements(Element parent, String tag) {
        NodeList nl = parent.getElementsByTagNameNS("http://www.w3.org/2000/svg", tag);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < nl.getLength(); i++) out.add((Element) nl.item(i));
        return out;
    }

    @Test
    void emptyHistorySaysNoOperations() throws Exception {
        String svg = Timeline.svg(List.of(), "empty run");
        Document d = parse(svg);
        assertThat(byClass(d, "text", "empty")).singleElement()
                .extracting(Element::getTextContent).isEqualTo("no operations");
        assertThat(byClass(d, "text", "subtitle")).singleElement().extracting(Element::getTextContent)
                .isEqualTo("no operations \u00b7 0.00 s");
        assertThat(byClass(d, "rect", "fault")).isEmpty();
        assertThat(Timeline.countsByF(List.of())).isEmpty();
    }

    @Test
    void nemesisOnlyHistoryStillShowsItsFaults() throws Exception {
        List<Event> events = List.of(nemesis(1 * S, "pause", "start", "SIGSTOP n2"),
                nemesis(2 * S, "pause", "stop", null), nemesis(3 * S, "clock-skew", "start", "+5s n1"));
        Document d = parse(Timeline.svg(events, "faults only"));
        assertThat(byClass(d, "text", "empty")).singleElement()
                .extracting(Element::getTextContent).isEqualTo("no operations");
        assertThat(byClass(d, "rect", "fault")).extracting(e -> e.getAttribute("fill"))
                .containsExactly("#4e79a7", "#9e9e9e");
        assertThat(Timeline.countsByF(events)).isEmpty();
    }

    @Test
    void textIsEscapedForXml() throws Exception {
        String title = "a <b> & \"c\" 'd' \u0001 \ud800 end";
        List<Event> events = List.of(
                new Event(0, 1, Event.INVOKE, "read", null, null, null, null),
                new Event(3 * MS, 1, Event.OK, "read", null, null, null, null),
                nemesis(MS, "odd<&>\"fault", "start", "x < y && y > \"z\""));
        String svg = Timeline.svg(events, title);
        assertThat(svg).contains("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; \ufffd \ufffd end")
                .contains("data-fault=\"odd&lt;&amp;&gt;&quot;fault\"")
                .contains("x &lt; y &amp;&amp; y &gt; &quot;z&quot;")
                .doesNotContain("<b>", "\u0001");
        Document d = parse(svg);
        assertThat(byClass(d, "text", "title")).singleElement()
                .extracting(Element::getTextContent).isEqualTo("a <b> & \"c\" 'd' \ufffd \ufffd end");
        assertThat(byClass(d, "rect", "fault")).singleElement()
                .satisfies(r -> assertThat(r.getAttribute("data-fault")).isEqualTo("odd<&>\"fault"))
                .satisfies(r -> assertThat(child(r, "title").getTextContent()).endsWith(": x < y && y > \"z\""));
    }

    @Test
    void longRunsWidenTheBuckets() throws Exception {
        long end = 25_000 * S;
        List<Event> events = List.of(
                new Event(0, 1, Event.INVOKE, "read", null, null, null, null),
                new Event(MS, 1, Event.OK, "read", null, null, null, null),
                new Event(end - S, 1, Event.INVOKE, "read", null, null, null, null),
                new Event(end, 1, Event.FAIL, "read", null, null, null, null));
        Timeline.Series s = Timeline.series(events);
        assertThat(s.bucketNanos()).isEqualTo(3 * S);
        assertThat(s.buckets()).isEqualTo(8334);
        assertThat(s.counts()[Timeline.FAIL][8333]).isEqualTo(1);
        assertThat(s.latencyMs()[Timeline.MAX][8333]).isEqualTo(1000.0);
        Document d = parse(Timeline.svg(events, "long"));
        assertThat(byClass(d, "text", "caption").get(0).getTextContent()).contains("per 3 s");
    }

    @Test
    void millionsOfEventsStayFastAndSmall() throws Exception {
        // 1.5M operations (3M events) from 30 clients over 600 s, with a pause in the middle.
        int clients = 30;
        int perClient = 50_000;
        List<Event> events = new ArrayList<>(clients * perClient * 2 + 2);
        long gap = 600 * S / perClient;
        for (int i = 0; i < perClient; i++) {
            for (int c = 0; c < clients; c++) {
                long t = i * gap + c * 1000L;
                events.add(new Event(t, c, Event.INVOKE, "write", null, null, null, null));
                events.add(new Event(t + (100 + (i * 7L + c) % 5000) * 1000L, c,
                        i % 97 == 0 ? Event.INFO : Event.OK, "write", null, null, null, null));
            }
        }
        events.add(nemesis(200 * S, "pause", "start", "n2"));
        events.add(nemesis(260 * S, "pause", "stop", null));
        events.sort(Comparator.comparingLong(Event::time));

        long t0 = System.nanoTime();
        String svg = Timeline.svg(events, "big");
        Map<String, long[]> counts = Timeline.countsByF(events);
        long took = (System.nanoTime() - t0) / 1_000_000;

        assertThat(counts.get("write")[0] + counts.get("write")[2]).isEqualTo((long) clients * perClient);
        assertThat(counts.get("write")[2]).isEqualTo((long) clients * ((perClient + 96) / 97));
        assertThat(svg.length()).isLessThan(200_000);
        parse(svg);
        // Generous: a few hundred ms on a laptop; this only catches accidental quadratic work.
        assertThat(took).as("ms for svg + countsByF").isLessThan(20_000);
    }
}
