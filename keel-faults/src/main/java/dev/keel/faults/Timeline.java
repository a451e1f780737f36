package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A run's history as a self-contained SVG chart: throughput (ok/fail/info per second) above latency
 * (p50/p99/max per second, log scale), with the nemesis's fault periods shaded across both.
 *
 * <p>Written by hand so the report needs no plotting library and the file opens anywhere (browsers,
 * rsvg-convert): only plain SVG 1.1 elements and presentation attributes, no CSS or scripts.
 *
 * <p>Client operations are paired as the history format defines them: an invoke with the next
 * completion of the same process. An invoke that never completed counts as {@code info} at the end of
 * the run (its outcome is unknown, like a timeout) and has no latency. Both panels bucket operations
 * by completion time, so a bucket's latencies are those of the operations it counts.
 */
public final class Timeline {

    static final long SECOND = 1_000_000_000L;
    /** Past this many seconds a bucket spans several, so the chart stays a few hundred KB. */
    static final int MAX_BUCKETS = 10_000;
    /** The latency axis is logarithmic, so zero and sub-resolution latencies need a floor. */
    static final double MIN_LATENCY_MS = 0.1;

    static final int OK = 0, FAIL = 1, INFO = 2;
    static final int P50 = 0, P99 = 1, MAX = 2;

    private static final int WIDTH = 1000, HEIGHT = 560;
    private static final int PLOT_LEFT = 70, PLOT_RIGHT = 850;
    private static final int TOP_Y0 = 62, TOP_Y1 = 272;
    private static final int BOT_Y0 = 300, BOT_Y1 = 510;
    private static final int LEGEND_X = 866;
    private static final double LABEL_CHAR_PX = 7.0;

    private static final String[] OUTCOME_NAMES = {"ok", "fail", "info"};
    private static final String[] OUTCOME_COLOURS = {"#1a9641", "#d7191c", "#7b3294"};
    private static final String[] LATENCY_NAMES = {"p50", "p99", "max"};
    private static final String[] LATENCY_COLOURS = {"#2b83ba", "#f17c0e", "#404040"};
    private static final Map<String, String> FAULT_COLOURS = Map.of(
            "partition", "#e15759",
            "kill", "#f28e2b",
            "pause", "#4e79a7",
            "slow", "#d4b000",
            "membership", "#59a14f",
            "restart-all", "#b07aa1");
    private static final String OTHER_FAULT_COLOUR = "#9e9e9e";

    private Timeline() {
    }

    /** One fault period: from a start to the next stop of the same fault, or to the end of the run. */
    record Fault(String f, long start, long stop, boolean stopped, String detail) {
    }

    /**
     * What the chart shows, in numbers. {@code counts[outcome][bucket]} are completions;
     * {@code latencyMs[stat][bucket]} is NaN where the bucket has no completed operation.
     */
    record Series(long endNanos, long bucketNanos, long[][] counts, double[][] latencyMs, long[] totals,
                  long unfinished, long orphans, List<Fault> faults) {

        int buckets() {
            return counts[OK].length;
        }

        long operations() {
            return totals[OK] + totals[FAIL] + totals[INFO];
        }
    }

    private interface OpSink {
        /** {@code completed} is false for an invoke that never completed; its time is then the run's end. */
        void accept(Event invoke, long completedAt, int outcome, boolean completed);
    }

    /** The run's history as an SVG document, titled {@code title}. */
    public static String svg(List<Event> events, String title) {
        Objects.requireNonNull(events, "events");
        return render(series(events), title == null ? "" : title);
    }

    /**
     * For each client operation {@code f} (sorted by name), how many ended {ok, fail, info}; an invoke
     * that never completed counts as info.
     */
    public static Map<String, long[]> countsByF(List<Event> events) {
        Objects.requireNonNull(events, "events");
        Map<String, long[]> out = new TreeMap<>();
        pairOps(events, endOf(events), (invoke, at, outcome, completed) ->
                out.computeIfAbsent(invoke.f(), k -> new long[3])[outcome]++);
        return out;
    }

    static Series series(List<Event> events) {
        long end = endOf(events);
        long runSeconds = Math.max(1, Math.ceilDiv(end, SECOND));
        long bucketNanos = Math.max(1, Math.ceilDiv(runSeconds, MAX_BUCKETS)) * SECOND;
        int nb = (int) Math.max(1, Math.ceilDiv(end, bucketNanos));

        long[][] counts = new long[3][nb];
        long[] totals = new long[3];
        long[][] lat = new long[nb][];
        int[] latN = new int[nb];
        long[] unfinished = {0};
        long orphans = pairOps(events, end, (invoke, at, outcome, completed) -> {
            int b = (int) Math.min(nb - 1, Math.max(0, at / bucketNanos));
            counts[outcome][b]++;
            totals[outcome]++;
            if (!completed) {
                unfinished[0]++;
                return;
            }
            long[] l = lat[b];
            if (l == null) l = lat[b] = new long[16];
            else if (latN[b] == l.length) l = lat[b] = Arrays.copyOf(l, l.length * 2);
            l[latN[b]++] = Math.max(0, at - invoke.time());
        });

        double[][] latencyMs = new double[3][nb];
        for (int b = 0; b < nb; b++) {
            int n = latN[b];
            if (n == 0) {
                latencyMs[P50][b] = latencyMs[P99][b] = latencyMs[MAX][b] = Double.NaN;
                continue;
            }
            long[] l = lat[b];
            Arrays.sort(l, 0, n);
            latencyMs[P50][b] = l[rank(0.50, n)] / 1e6;
            latencyMs[P99][b] = l[rank(0.99, n)] / 1e6;
            latencyMs[MAX][b] = l[n - 1] / 1e6;
            lat[b] = null;
        }
        return new Series(end, bucketNanos, counts, latencyMs, totals, unfinished[0], orphans, faults(events, end));
    }

    /** Nearest-rank percentile, so a reported latency is always one that some operation had. */
    private static int rank(double p, int n) {
        return (int) Math.max(0, Math.min(n - 1, Math.ceil(p * n) - 1));
    }

    private static long endOf(List<Event> events) {
        long end = 0;
        for (Event e : events) end = Math.max(end, e.time());
        return end;
    }

    /** Pairs invokes with completions; returns how many completions had no invoke to pair with. */
    private static long pairOps(List<Event> events, long end, OpSink sink) {
        Map<Object, Event> pending = new HashMap<>();
        long orphans = 0;
        for (Event e : events) {
            if (e.isNemesis()) continue;
            if (Event.INVOKE.equals(e.type())) {
                Event previous = pending.put(e.process(), e);
                // A client has one operation outstanding; a second invoke means the first never completed.
                if (previous != null) sink.accept(previous, end, INFO, false);
                continue;
            }
            Event invoke = pending.remove(e.process());
            if (invoke == null) {
                orphans++;
                continue;
            }
            int outcome = switch (e.type()) {
                case Event.OK -> OK;
                case Event.FAIL -> FAIL;
                default -> INFO;
            };
            sink.accept(invoke, e.time(), outcome, true);
        }
        for (Event invoke : pending.values()) sink.accept(invoke, end, INFO, false);
        return orphans;
    }

    /**
     * Fault periods in start order. A stop ends every open period of its fault, so two starts before
     * one stop (say, two nodes killed, then all restarted) both end there.
     */
    static List<Fault> faults(List<Event> events, long end) {
        Map<String, List<Event>> open = new LinkedHashMap<>();
        List<Fault> out = new ArrayList<>();
        for (Event e : events) {
            if (!e.isNemesis()) continue;
            String phase = field(e.value(), "phase");
            if ("start".equals(phase)) {
                open.computeIfAbsent(e.f(), k -> new ArrayList<>()).add(e);
            } else if ("stop".equals(phase)) {
                List<Event> starts = open.remove(e.f());
                if (starts == null) continue;
                String stopDetail = detail(e);
                for (Event s : starts) {
                    String d = detail(s);
                    if (!stopDetail.isEmpty() && !stopDetail.equals(d)) {
                        d = d.isEmpty() ? "stop: " + stopDetail : d + "; stop: " + stopDetail;
                    }
                    out.add(new Fault(e.f(), s.time(), e.time(), true, d));
                }
            }
        }
        for (List<Event> starts : open.values()) {
            for (Event s : starts) out.add(new Fault(s.f(), s.time(), end, false, detail(s)));
        }
        out.sort((a, b) -> Long.compare(a.start(), b.start()));
        return out;
    }

    private static String detail(Event e) {
        String d = field(e.value(), "detail");
        if (d == null) d = e.error();
        return d == null ? "" : d;
    }

    private static String field(JsonNode value, String name) {
        if (value == null || !value.isObject()) return null;
        JsonNode n = value.get(name);
        return n == null || n.isNull() ? null : n.asText();
    }

    // ---- drawing ----

    private static String render(Series s, String title) {
        int nb = s.buckets();
        double bucketSeconds = s.bucketNanos() / (double) SECOND;
        double domain = nb * bucketSeconds;
        StringBuilder o = new StringBuilder(8192 + nb * 120);
        o.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        o.append("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"").append(WIDTH)
                .append("\" height=\"").append(HEIGHT).append("\" viewBox=\"0 0 ").append(WIDTH).append(' ')
                .append(HEIGHT).append("\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n");
        o.append("<title>").append(esc(title)).append("</title>\n");
        o.append("<rect x=\"0\" y=\"0\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
                .append("\" fill=\"#ffffff\"/>\n");

        text(o, PLOT_LEFT, 20, "start", 16, "#111111", "bold", title, "title");
        text(o, PLOT_LEFT, 38, "start", 12, "#555555", null, subtitle(s), "subtitle");
        String per = bucketSeconds == 1 ? "per second" : "per " + n(bucketSeconds) + " s";
        text(o, PLOT_LEFT, TOP_Y0 - 5, "start", 11, "#555555", null,
                "throughput, " + per + ", by completion time", "caption");
        text(o, PLOT_LEFT, BOT_Y0 - 5, "start", 11, "#555555", null,
                "latency of completed operations (ok, fail, info), " + per + ", by completion time", "caption");

        drawFaultShading(o, s.faults(), domain);

        // Throughput axis.
        double maxRate = 0;
        for (long[] c : s.counts()) for (long v : c) maxRate = Math.max(maxRate, v / bucketSeconds);
        double rateStep = niceStep(maxRate > 0 ? maxRate : 1, 5);
        double rateTop = Math.max(rateStep, Math.ceil(maxRate / rateStep) * rateStep);
        // Never finer than a bucket: a tick between bucket edges would suggest resolution the data lacks.
        double xStep = Math.max(bucketSeconds, niceStep(domain, 10));
        o.append("<g class=\"axis\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
        for (int i = 0; i * xStep <= domain * (1 + 1e-9); i++) {
            double x = x(i * xStep, domain);
            line(o, x, TOP_Y0, x, TOP_Y1);
            line(o, x, BOT_Y0, x, BOT_Y1);
        }
        for (int i = 0; i * rateStep <= rateTop * (1 + 1e-9); i++) {
            double y = yRate(i * rateStep, rateTop);
            line(o, PLOT_LEFT, y, PLOT_RIGHT, y);
        }
        double[] decades = decades(s.latencyMs());
        for (double e = decades[0]; e <= decades[1]; e++) {
            double y = yLatency(Math.pow(10, e), decades);
            line(o, PLOT_LEFT, y, PLOT_RIGHT, y);
        }
        o.append("</g>\n");

        o.append("<g class=\"ticks\" fill=\"#333333\" font-size=\"10\">\n");
        for (int i = 0; i * xStep <= domain * (1 + 1e-9); i++) {
            double t = i * xStep;
            text(o, x(t, domain), BOT_Y1 + 15, "middle", 10, null, null, tick(t, xStep), null);
        }
        for (int i = 0; i * rateStep <= rateTop * (1 + 1e-9); i++) {
            double v = i * rateStep;
            text(o, PLOT_LEFT - 6, yRate(v, rateTop) + 3.5, "end", 10, null, null, tick(v, rateStep), null);
        }
        for (double e = decades[0]; e <= decades[1]; e++) {
            double v = Math.pow(10, e);
            text(o, PLOT_LEFT - 6, yLatency(v, decades) + 3.5, "end", 10, null, null,
                    e < 0 ? tick(v, v) : Long.toString(Math.round(v)), null);
        }
        o.append("</g>\n");
        text(o, (PLOT_LEFT + PLOT_RIGHT) / 2.0, BOT_Y1 + 35, "middle", 11, "#333333", null,
                "time since start (s)", "axis-title");
        o.append("<text x=\"18\" y=\"").append(n((TOP_Y0 + TOP_Y1) / 2.0))
                .append("\" text-anchor=\"middle\" fill=\"#333333\" transform=\"rotate(-90 18 ")
                .append(n((TOP_Y0 + TOP_Y1) / 2.0)).append(")\">operations/s</text>\n");
        o.append("<text x=\"18\" y=\"").append(n((BOT_Y0 + BOT_Y1) / 2.0))
                .append("\" text-anchor=\"middle\" fill=\"#333333\" transform=\"rotate(-90 18 ")
                .append(n((BOT_Y0 + BOT_Y1) / 2.0)).append(")\">latency (ms, log scale)</text>\n");

        // Frames after the grid so panel edges are crisp over the shading.
        frame(o, TOP_Y0, TOP_Y1);
        frame(o, BOT_Y0, BOT_Y1);

        // Info first and ok last: ok is what a reader looks for and should not be hidden at zero.
        for (int k = 2; k >= 0; k--) {
            o.append("<path class=\"throughput-").append(OUTCOME_NAMES[k]).append("\" fill=\"none\" stroke=\"")
                    .append(OUTCOME_COLOURS[k]).append("\" stroke-width=\"1.6\" stroke-linejoin=\"round\" d=\"");
            long[] c = s.counts()[k];
            for (int b = 0; b < nb; b++) {
                double y = yRate(c[b] / bucketSeconds, rateTop);
                o.append(b == 0 ? "M" : "L").append(n(x(b * bucketSeconds, domain))).append(' ').append(n(y))
                        .append('H').append(n(x((b + 1) * bucketSeconds, domain)));
            }
            o.append("\"/>\n");
        }
        // Max last and dashed: it often equals p99 in sparse buckets, and the gaps let p99 show through.
        for (int k = 0; k <= 2; k++) {
            double[] v = s.latencyMs()[k];
            StringBuilder d = new StringBuilder();
            boolean joined = false;
            for (int b = 0; b < nb; b++) {
                if (Double.isNaN(v[b])) {
                    joined = false;
                    continue;
                }
                double y = yLatency(Math.max(MIN_LATENCY_MS, v[b]), decades);
                d.append(joined ? "L" : "M").append(n(x(b * bucketSeconds, domain))).append(' ').append(n(y))
                        .append('H').append(n(x((b + 1) * bucketSeconds, domain)));
                joined = true;
            }
            if (d.isEmpty()) continue;
            o.append("<path class=\"latency-").append(LATENCY_NAMES[k]).append("\" fill=\"none\" stroke=\"")
                    .append(LATENCY_COLOURS[k]).append("\" stroke-width=\"").append(k == MAX ? "1" : "1.6")
                    .append(k == MAX ? "\" stroke-dasharray=\"4 2" : "")
                    .append("\" stroke-linejoin=\"round\" d=\"").append(d).append("\"/>\n");
        }

        drawFaultLabels(o, s.faults(), domain);

        legend(o, TOP_Y0 + 4, "operations", OUTCOME_NAMES, OUTCOME_COLOURS, false);
        legend(o, BOT_Y0 + 4, "latency", LATENCY_NAMES, LATENCY_COLOURS, true);
        drawFaultLegend(o, s.faults());

        if (s.operations() == 0) {
            text(o, (PLOT_LEFT + PLOT_RIGHT) / 2.0, (TOP_Y0 + BOT_Y1) / 2.0, "middle", 18, "#888888", "bold",
                    "no operations", "empty");
        }
        o.append("</svg>\n");
        return o.toString();
    }

    private static String subtitle(Series s) {
        long[] t = s.totals();
        StringBuilder b = new StringBuilder();
        if (s.operations() == 0) {
            b.append("no operations");
        } else {
            b.append(s.operations()).append(" operations: ").append(t[OK]).append(" ok, ").append(t[FAIL])
                    .append(" fail, ").append(t[INFO]).append(" info");
            if (s.unfinished() > 0) b.append(" (").append(s.unfinished()).append(" never completed)");
        }
        b.append(String.format(Locale.ROOT, " \u00b7 %.2f s", s.endNanos() / 1e9));
        if (!s.faults().isEmpty()) {
            b.append(" \u00b7 ").append(s.faults().size()).append(s.faults().size() == 1 ? " fault period" : " fault periods");
        }
        if (s.orphans() > 0) b.append(" \u00b7 ").append(s.orphans()).append(" completions without an invoke ignored");
        return b.toString();
    }

    private static void drawFaultShading(StringBuilder o, List<Fault> faults, double domain) {
        if (faults.isEmpty()) return;
        o.append("<g class=\"faults\">\n");
        for (Fault f : faults) {
            double x0 = x(f.start() / 1e9, domain);
            double w = Math.max(1, x(f.stop() / 1e9, domain) - x0);
            o.append("<rect class=\"fault\" data-fault=\"").append(esc(f.f())).append("\" x=\"").append(n(x0))
                    .append("\" y=\"").append(TOP_Y0).append("\" width=\"").append(n(w)).append("\" height=\"")
                    .append(BOT_Y1 - TOP_Y0).append("\" fill=\"").append(faultColour(f.f()))
                    .append("\" fill-opacity=\"0.16\"><title>");
            String when = String.format(Locale.ROOT, "%.2f s to %s", f.start() / 1e9,
                    f.stopped() ? String.format(Locale.ROOT, "%.2f s", f.stop() / 1e9) : "end of run (no stop)");
            o.append(esc(f.f() + ", " + when + (f.detail().isEmpty() ? "" : ": " + f.detail())));
            o.append("</title></rect>\n");
        }
        o.append("</g>\n");
    }

    /** Labels go in lanes so overlapping or close fault periods stay readable. */
    private static void drawFaultLabels(StringBuilder o, List<Fault> faults, double domain) {
        if (faults.isEmpty()) return;
        double[] laneEnd = new double[4];
        Arrays.fill(laneEnd, Double.NEGATIVE_INFINITY);
        o.append("<g class=\"fault-labels\" font-size=\"10\" font-weight=\"bold\" fill=\"#222222\" stroke=\"#ffffff\""
                + " stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">\n");
        for (Fault f : faults) {
            double width = f.f().length() * LABEL_CHAR_PX;
            double x = Math.max(PLOT_LEFT + 2, Math.min(x(f.start() / 1e9, domain) + 3, PLOT_RIGHT - 2 - width));
            int lane = 0;
            for (int i = 0; i < laneEnd.length; i++) {
                if (laneEnd[i] < x) {
                    lane = i;
                    break;
                }
                if (laneEnd[i] < laneEnd[lane]) lane = i;
            }
            laneEnd[lane] = x + width + 4;
            text(o, x, TOP_Y0 + 12 + lane * 12, "start", 0, null, null, f.f(), "fault-label");
        }
        o.append("</g>\n");
    }

    private static void drawFaultLegend(StringBuilder o, List<Fault> faults) {
        if (faults.isEmpty()) return;
        Map<String, Integer> kinds = new LinkedHashMap<>();
        for (Fault f : faults) kinds.merge(f.f(), 1, Integer::sum);
        int y = TOP_Y0 + 82;
        int room = (BOT_Y0 - 16 - (y + 14)) / 15;
        o.append("<g class=\"legend\" data-legend=\"faults\">\n");
        text(o, LEGEND_X, y, "start", 11, "#333333", "bold", "faults", null);
        int shown = 0;
        for (Map.Entry<String, Integer> k : kinds.entrySet()) {
            if (shown == room && kinds.size() > room + 1) {
                text(o, LEGEND_X, y + 14 + shown * 15 + 9, "start", 10, "#555555", null,
                        "+" + (kinds.size() - shown) + " more", null);
                break;
            }
            double ry = y + 14 + shown * 15;
            o.append("<g class=\"legend-entry\"><rect x=\"").append(LEGEND_X).append("\" y=\"").append(n(ry))
                    .append("\" width=\"14\" height=\"10\" fill=\"").append(faultColour(k.getKey()))
                    .append("\" fill-opacity=\"0.45\"/>");
            text(o, LEGEND_X + 19, ry + 9, "start", 11, "#222222", null,
                    k.getKey() + (k.getValue() > 1 ? " \u00d7" + k.getValue() : ""), null);
            o.append("</g>\n");
            shown++;
        }
        o.append("</g>\n");
    }

    private static void legend(StringBuilder o, int y, String heading, String[] names, String[] colours,
                               boolean dashedLast) {
        o.append("<g class=\"legend\" data-legend=\"").append(heading).append("\">\n");
        text(o, LEGEND_X, y + 8, "start", 11, "#333333", "bold", heading, null);
        for (int i = 0; i < names.length; i++) {
            double ry = y + 22 + i * 15;
            o.append("<g class=\"legend-entry\"><line x1=\"").append(LEGEND_X).append("\" y1=\"").append(n(ry))
                    .append("\" x2=\"").append(LEGEND_X + 14).append("\" y2=\"").append(n(ry))
                    .append("\" stroke=\"").append(colours[i]).append("\" stroke-width=\"2\"")
                    .append(dashedLast && i == names.length - 1 ? " stroke-dasharray=\"4 2\"/>" : "/>");
            text(o, LEGEND_X + 19, ry + 4, "start", 11, "#222222", null, names[i], null);
            o.append("</g>\n");
        }
        o.append("</g>\n");
    }

    private static void frame(StringBuilder o, int y0, int y1) {
        o.append("<rect class=\"frame\" x=\"").append(PLOT_LEFT).append("\" y=\"").append(y0).append("\" width=\"")
                .append(PLOT_RIGHT - PLOT_LEFT).append("\" height=\"").append(y1 - y0)
                .append("\" fill=\"none\" stroke=\"#999999\" stroke-width=\"1\"/>\n");
    }

    private static void line(StringBuilder o, double x1, double y1, double x2, double y2) {
        o.append("<line x1=\"").append(n(x1)).append("\" y1=\"").append(n(y1)).append("\" x2=\"").append(n(x2))
                .append("\" y2=\"").append(n(y2)).append("\"/>\n");
    }

    /** A text element; a null or zero attribute is left to what the enclosing group sets. */
    private static void text(StringBuilder o, double x, double y, String anchor, int size, String fill,
                             String weight, String content, String cls) {
        o.append("<text");
        if (cls != null) o.append(" class=\"").append(cls).append('"');
        o.append(" x=\"").append(n(x)).append("\" y=\"").append(n(y)).append('"');
        if (!"start".equals(anchor)) o.append(" text-anchor=\"").append(anchor).append('"');
        if (size > 0) o.append(" font-size=\"").append(size).append('"');
        if (fill != null) o.append(" fill=\"").append(fill).append('"');
        if (weight != null) o.append(" font-weight=\"").append(weight).append('"');
        o.append('>').append(esc(content)).append("</text>\n");
    }

    private static String faultColour(String f) {
        return FAULT_COLOURS.getOrDefault(f, OTHER_FAULT_COLOUR);
    }

    private static double x(double seconds, double domain) {
        return PLOT_LEFT + Math.max(0, Math.min(1, seconds / domain)) * (PLOT_RIGHT - PLOT_LEFT);
    }

    private static double yRate(double v, double top) {
        return TOP_Y1 - v / top * (TOP_Y1 - TOP_Y0);
    }

    private static double yLatency(double ms, double[] decades) {
        double f = (Math.log10(ms) - decades[0]) / (decades[1] - decades[0]);
        return BOT_Y1 - Math.max(0, Math.min(1, f)) * (BOT_Y1 - BOT_Y0);
    }

    /** The latency axis's range as powers of ten: whole decades around the data, from 0.1 ms at least. */
    private static double[] decades(double[][] latencyMs) {
        double lo = Double.POSITIVE_INFINITY, hi = 0;
        for (double[] series : latencyMs) {
            for (double v : series) {
                if (Double.isNaN(v)) continue;
                v = Math.max(MIN_LATENCY_MS, v);
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (hi == 0) return new double[] {-1, 2};
        double a = Math.floor(Math.log10(lo) + 1e-9), b = Math.ceil(Math.log10(hi) - 1e-9);
        if (b <= a) b = a + 1;
        return new double[] {a, b};
    }

    /** A 1, 2 or 5 times a power of ten step giving about {@code target} intervals over {@code range}. */
    static double niceStep(double range, int target) {
        double raw = range / target;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double norm = raw / mag;
        return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
    }

    private static String tick(double v, double step) {
        int decimals = (int) Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** Coordinates to a tenth of a pixel: finer is invisible and only makes the file larger. */
    private static String n(double v) {
        long r = Math.round(v * 10);
        String sign = r < 0 ? "-" : "";
        r = Math.abs(r);
        return r % 10 == 0 ? sign + r / 10 : sign + r / 10 + "." + r % 10;
    }

    /**
     * Text for XML content or attribute values. Characters XML 1.0 cannot carry at all (most control
     * characters, lone surrogates) become U+FFFD, since no escape makes them legal.
     */
    static String esc(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> {
                    boolean legal = c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF)
                            || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
                    b.appendCodePoint(legal ? c : 0xFFFD);
                }
            }
        }
        return b.toString();
    }
}
