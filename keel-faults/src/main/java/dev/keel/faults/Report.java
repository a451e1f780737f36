package dev.keel.faults;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The Markdown report of a fault run: what ran, what the checks found, how the cluster performed. */
final class Report {

    private Report() {
    }

    static String markdown(FaultRun.Options o, String network, List<Event> events, List<Checkers.Result> results,
                           Map<String, long[]> counts, double opsPerSecond, int faultsRun, Path history, Path chart) {
        StringBuilder md = new StringBuilder();
        boolean valid = results.stream().allMatch(Checkers.Result::valid);
        md.append("# Keel fault run: ").append(valid ? "VALID" : "NOT VALID").append("\n\n");
        md.append("| | |\n| --- | --- |\n");
        row(md, "nodes", Integer.toString(o.nodes()));
        row(md, "time", o.time().toSeconds() + " s");
        row(md, "nemesis", FaultRun.names(o.faults()) + " (" + faultsRun + " faults injected)");
        row(md, "workloads", String.join(", ", o.workloads()) + " with " + o.clients() + " clients");
        row(md, "seed", Long.toString(o.seed()));
        row(md, "network", network);
        if (o.unsafeLocalReads()) row(md, "mode", "BROKEN on purpose: reads served from local state without ReadIndex");
        row(md, "history", history.toString());
        row(md, "chart", chart.toString());
        md.append("\n## Verdicts\n\n| check | verdict | summary |\n| --- | --- | --- |\n");
        for (Checkers.Result r : results) {
            md.append("| ").append(r.name()).append(" | ").append(r.validity()).append(" | ").append(r.summary().replace("|", "\\|"))
                    .append(" |\n");
        }
        for (Checkers.Result r : results) {
            if (!r.detail().isEmpty()) {
                md.append("\n### ").append(r.name()).append(": ").append(r.validity()).append("\n\n```\n").append(r.detail())
                        .append("\n```\n");
            }
        }
        md.append("\n## Operations\n\n| operation | ok | fail | info |\n| --- | ---: | ---: | ---: |\n");
        long[] total = new long[3];
        counts.forEach((f, c) -> {
            md.append("| ").append(f).append(" | ").append(c[0]).append(" | ").append(c[1]).append(" | ").append(c[2]).append(" |\n");
            for (int i = 0; i < 3; i++) total[i] += c[i];
        });
        md.append("| all | ").append(total[0]).append(" | ").append(total[1]).append(" | ").append(total[2]).append(" |\n\n");
        List<Long> latencies = new ArrayList<>();
        Checkers.pairs(events, op -> {
            if (op.completion() != null && op.completion().type().equals(Event.OK)) {
                latencies.add(op.completion().time() - op.invoke().time());
            }
        });
        long[] l = latencies.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(l);
        md.append(String.format(Locale.ROOT, "%.0f successful operations/s; latency of successful operations: p50 %s, p99 %s, "
                + "p99.9 %s, max %s%n", opsPerSecond, ms(l, 0.50), ms(l, 0.99), ms(l, 0.999), ms(l, 1.0)));
        md.append("\n## Faults\n\n");
        int n = 0;
        for (Event e : events) {
            if (!e.isNemesis()) continue;
            n++;
            md.append(String.format(Locale.ROOT, "- %8.1f s %s %s: %s%n", e.time() / 1e9, e.f(),
                    e.value() == null ? "" : e.value().path("phase").asText(), e.value() == null ? "" : e.value().path("detail").asText()));
        }
        if (n == 0) md.append("none\n");
        md.append("\n![timeline](").append(chart.getFileName()).append(")\n");
        return md.toString();
    }

    private static void row(StringBuilder md, String k, String v) {
        md.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n");
    }

    private static String ms(long[] sorted, double q) {
        if (sorted.length == 0) return "-";
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return String.format(Locale.ROOT, "%.1f ms", sorted[Math.max(0, i)] / 1e6);
    }
}
