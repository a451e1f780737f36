package dev.keel.bench.harness;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The comparison's Markdown report and PNG charts. */
final class Report {

    private Report() {
    }

    record Agg(int bytes, String mode, int nodes, String system, double ops, double opsMin, double opsMax, double p50, double p99,
               double p999, double cpuPerK, double heapMiB, int runs, long errors) {
    }

    static List<Agg> aggregate(List<Compare.Row> rows, String table) {
        List<Agg> out = new ArrayList<>();
        for (Map.Entry<List<Object>, List<Result>> e : Compare.grouped(rows, table).entrySet()) {
            List<Result> rs = e.getValue();
            List<Object> k = e.getKey();
            out.add(new Agg((Integer) k.get(0), (String) k.get(1), (Integer) k.get(2), (String) k.get(3),
                    Compare.median(rs.stream().map(Result::opsPerSecond).toList()),
                    rs.stream().mapToDouble(Result::opsPerSecond).min().orElse(Double.NaN),
                    rs.stream().mapToDouble(Result::opsPerSecond).max().orElse(Double.NaN),
                    Compare.median(rs.stream().map(Result::p50Micros).toList()) / 1000,
                    Compare.median(rs.stream().map(Result::p99Micros).toList()) / 1000,
                    Compare.median(rs.stream().map(Result::p999Micros).toList()) / 1000,
                    Compare.median(rs.stream().map(Result::cpuPerThousand).toList()),
                    Compare.median(rs.stream().map(r -> (double) r.peakHeapBytes()).toList()) / (1 << 20), rs.size(),
                    rs.stream().mapToLong(Result::errors).sum()));
        }
        return out;
    }

    static Agg find(List<Agg> aggs, int bytes, String mode, String system) {
        for (Agg a : aggs) if (a.bytes() == bytes && a.mode().equals(mode) && a.system().equals(system)) return a;
        return null;
    }

    static void write(Path out, List<Floor> floors, List<Compare.Row> rows, Map<String, String> descriptions, List<RecoveryResult> recovery,
                      String recoveryDescription, List<String> problems, boolean quick, int rounds, double warmup, double seconds,
                      long elapsedNanos) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# Keel side by side: ").append(quick ? "quick smoke run" : "full run").append("\n\n");
        md.append(String.format(Locale.ROOT, "%s; %d round(s) per configuration, systems in rotating order; %.1f s warm-up and "
                + "%.1f s measured per load; whole run %.1f min.%n%n", LocalDateTime.now().withNano(0), rounds, warmup, seconds,
                elapsedNanos / 60e9));
        md.append("## Machine\n\n").append(machine()).append("\n");
        Floor floor = Floor.median(floors);
        md.append(String.format(Locale.ROOT, "**Physical floor** (same run, measured %d time(s): before the run and before each "
                + "round of the durable tables; each figure is the median of the measurements' medians): 4 KiB append + fdatasync "
                + "p50 %.0f us (p99 %.0f us); 4 KiB overwrite + fdatasync into blocks already written and synced p50 %.0f us "
                + "(measurements %.0f-%.0f us); 1 MiB synced writes %.0f MiB/s; loopback TCP round trip p50 %.0f us (measurements "
                + "%.0f-%.0f us). One commit needs at least one sync and one round trip: the physical floor is "
                + "the cheaper sync plus the round trip, %.0f us (with the appending sync, the floor of earlier runs: %.0f us). The "
                + "3-node clusters here share this one disk, and each commit makes all three nodes sync at once: with three "
                + "simultaneous 4 KiB syncs into written blocks, the second to finish (a majority) takes p50 %.0f us.%n%n",
                floors.size(), floor.fsyncMicrosP50(), floor.fsyncMicrosP99(), floor.overwriteFsyncMicrosP50(),
                min(floors, Floor::overwriteFsyncMicrosP50), max(floors, Floor::overwriteFsyncMicrosP50), floor.syncedMiBPerSecond(),
                floor.rttMicrosP50(), min(floors, Floor::rttMicrosP50), max(floors, Floor::rttMicrosP50), floor.strictFloorMicros(),
                floor.floorMicros(), floor.colocatedSyncMicrosP50()));
        md.append("## How each system runs\n\n");
        descriptions.forEach((k, v) -> md.append("- **").append(k).append("**: ").append(v).append("\n"));
        md.append("\nEvery library runs 3 nodes in one fresh JVM (-Xmx2g) on loopback TCP through its own transport, with "
                + "proposals submitted on the leader in-process and a counter as state machine. CPU is the process's (all nodes); "
                + "heap is the JVM's peak during the measured interval (all nodes together). `closed-N`: N proposals in flight; "
                + "`open-R`: R proposals per second on a fixed schedule, latency from each one's intended start (no coordinated "
                + "omission).\n\n");

        List<Agg> durable = aggregate(rows, "durable");
        List<Agg> memory = aggregate(rows, "memory");
        List<Agg> kv = aggregate(rows, "kv");
        table(md, "Library level, durable logs with sync on", durable, "keel");
        table(md, "Library level, in memory", memory, "keel");
        table(md, "KV servers (3 processes each, 256-byte values, 1,000 keys; memory is the peak resident size per node)", kv, "keel-kv");
        goals(md, durable, kv, floor);
        scale(md, out, rows);
        recovery(md, out, recovery, recoveryDescription);
        if (!problems.isEmpty()) {
            md.append("## Problems in this run\n\n");
            for (String p : problems) md.append("- ").append(p).append("\n");
            md.append("\n");
        }
        chart(out.resolve("durable.png"), "Durable logs, sync on: committed ops/s (median)", durable);
        chart(out.resolve("memory.png"), "In memory: committed ops/s (median)", memory);
        chart(out.resolve("kv.png"), "KV servers: ops/s (median)", kv);
        md.append("## Charts\n\n![durable](durable.png)\n\n![memory](memory.png)\n\n![kv](kv.png)\n");
        for (String s : List.of("scale-size", "scale-nodes", "scale-outstanding", "recovery-state", "recovery-log")) {
            if (Files.exists(out.resolve(s + ".png"))) md.append("\n![").append(s).append("](").append(s).append(".png)\n");
        }
        md.append("\nRaw results: `results.csv`").append(recovery.isEmpty() ? "" : " and `recovery.csv`")
                .append("; each process's output: `logs/`.\n");
        Files.writeString(out.resolve("results.md"), md.toString());
        StringBuilder csv = new StringBuilder("table,system,nodes,bytes,mode,ops,seconds,ops_per_s,p50_us,p99_us,p999_us,cpu_s,peak_heap_bytes,errors\n");
        for (Compare.Row r : rows) {
            Result x = r.result();
            csv.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%s,%d,%.3f,%.1f,%.1f,%.1f,%.1f,%.3f,%d,%d%n", r.table(), r.system(), r.nodes(),
                    r.bytes(), r.mode(), x.ops(), x.seconds(), x.opsPerSecond(), x.p50Micros(), x.p99Micros(), x.p999Micros(),
                    x.cpuSeconds(), x.peakHeapBytes(), x.errors()));
        }
        Files.writeString(out.resolve("results.csv"), csv.toString());
        if (!recovery.isEmpty()) Files.writeString(out.resolve("recovery.csv"), recoveryCsv(recovery));
    }

    private static String sysfs(String path) {
        try {
            return Files.readString(Path.of(path)).trim();
        } catch (IOException e) {
            return null; // not there on this kernel or machine
        }
    }

    private static String machine() {
        StringBuilder s = new StringBuilder();
        s.append("- processors: ").append(Runtime.getRuntime().availableProcessors());
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    s.append(" (").append(line.substring(line.indexOf(':') + 1).trim()).append(")");
                    break;
                }
            }
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal")) s.append("\n- memory: ").append(line.substring(9).trim());
            }
            s.append("\n- load average at the end: ").append(Files.readString(Path.of("/proc/loadavg")).trim());
        } catch (IOException e) {
            // not Linux: leave it out
        }
        // How an idle virtual CPU waits matters to every latency here: when it halts at once (halt
        // polling off), each wait for a disk completion or a packet pays for waking it again.
        String idle = sysfs("/sys/devices/system/cpu/cpuidle/current_driver");
        String haltPollNs = sysfs("/sys/module/haltpoll/parameters/guest_halt_poll_ns");
        if (idle != null) {
            s.append("\n- cpuidle driver: ").append(idle);
            if (haltPollNs != null) {
                s.append("; guest_halt_poll_ns ").append(haltPollNs)
                        .append(haltPollNs.equals("0") ? " (an idle virtual CPU halts at once and must be woken for every disk completion or packet)" : "");
            }
        }
        s.append("\n- ").append(System.getProperty("os.name")).append(" ").append(System.getProperty("os.version"))
                .append("; Java ").append(System.getProperty("java.version")).append(" (").append(System.getProperty("java.vm.name"))
                .append(")\n");
        return s.toString();
    }

    private static void table(StringBuilder md, String title, List<Agg> aggs, String keel) {
        if (aggs.isEmpty()) return;
        md.append("## ").append(title).append("\n\n");
        md.append("| bytes | load | system | ops/s | spread | p50 ms | p99 ms | p99.9 ms | CPU s / 1k ops | peak MiB | errors | ")
                .append(keel).append(" ÷ system, ops/s |\n");
        md.append("| ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Agg a : aggs) {
            Agg k = find(aggs, a.bytes(), a.mode(), keel);
            String ratio = k == null || a.system().equals(keel) ? "" : String.format(Locale.ROOT, "%.2f", k.ops() / a.ops());
            md.append(String.format(Locale.ROOT, "| %d | %s | %s | %.0f | %.0f-%.0f (%d) | %.2f | %.2f | %.2f | %.3f | %.0f | %d | %s |%n",
                    a.bytes(), a.mode(), a.system(), a.ops(), a.opsMin(), a.opsMax(), a.runs(), a.p50(), a.p99(), a.p999(), a.cpuPerK(),
                    a.heapMiB(), a.errors(), ratio));
        }
        md.append("\n");
    }

    private static double min(List<Floor> floors, java.util.function.ToDoubleFunction<Floor> figure) {
        return floors.stream().mapToDouble(figure).min().orElseThrow();
    }

    private static double max(List<Floor> floors, java.util.function.ToDoubleFunction<Floor> figure) {
        return floors.stream().mapToDouble(figure).max().orElseThrow();
    }

    private static void goals(StringBuilder md, List<Agg> durable, List<Agg> kv, Floor floor) {
        md.append("## Goals\n\n");
        Agg k256 = find(durable, 1024, "closed-256", "keel");
        for (String peer : List.of("ratis", "sofajraft")) {
            Agg p = find(durable, 1024, "closed-256", peer);
            if (k256 != null && p != null) {
                double r = k256.ops() / p.ops();
                md.append(String.format(Locale.ROOT, "- 1 KiB, 256 outstanding, sync on: Keel %.0f vs %s %.0f ops/s = %.2fx (goal 1.5x): %s%n",
                        k256.ops(), peer, p.ops(), r, r >= 1.5 ? "met" : "NOT met"));
            }
        }
        Agg k16 = find(durable, 1024, "closed-16", "keel");
        if (k16 != null) {
            double best = Double.MAX_VALUE;
            String bestPeer = null;
            for (Agg a : durable) {
                if (a.bytes() == 1024 && a.mode().equals("closed-16") && !a.system().equals("keel") && a.p99() < best) {
                    best = a.p99();
                    bestPeer = a.system();
                }
            }
            if (bestPeer != null) {
                md.append(String.format(Locale.ROOT, "- p99 at 16 outstanding: Keel %.2f ms vs best peer %s %.2f ms: %s%n", k16.p99(), bestPeer,
                        best, k16.p99() <= best ? "met" : "NOT met"));
            }
        }
        Agg put = find(kv, 256, "put-64", "keel-kv");
        Agg etcdPut = find(kv, 256, "put-64", "etcd");
        if (put != null && etcdPut != null) {
            double r = put.ops() / etcdPut.ops();
            md.append(String.format(Locale.ROOT, "- KV puts, 64 clients: Keel %.0f vs etcd %.0f ops/s = %.2fx (goal 2x): %s%n", put.ops(),
                    etcdPut.ops(), r, r >= 2 ? "met" : "NOT met"));
        }
        Agg get = find(kv, 256, "get-64", "keel-kv");
        Agg etcdGet = find(kv, 256, "get-64", "etcd");
        if (get != null && etcdGet != null) {
            double r = get.ops() / etcdGet.ops();
            md.append(String.format(Locale.ROOT, "- KV linearizable gets, 64 clients: Keel %.0f vs etcd %.0f ops/s = %.2fx (goal 1.5x): %s%n",
                    get.ops(), etcdGet.ops(), r, r >= 1.5 ? "met" : "NOT met"));
        }
        Agg single = find(durable, 1024, "closed-1", "keel");
        if (single != null) {
            double floorMs = floor.strictFloorMicros() / 1000;
            double r = single.p50() / floorMs;
            md.append(String.format(Locale.ROOT, "- single-client commit p50 %.2f ms = %.2fx the physical floor (%.2f ms; goal within "
                            + "1.5x): %s (%.2fx the floor with an appending sync, %.2f ms; %.2fx the colocated floor, the second "
                            + "of three simultaneous syncs on the shared disk plus the round trip, %.2f ms)%n",
                    single.p50(), r, floorMs, r <= 1.5 ? "met" : "NOT met", single.p50() / (floor.floorMicros() / 1000),
                    floor.floorMicros() / 1000, single.p50() / (floor.colocatedFloorMicros() / 1000),
                    floor.colocatedFloorMicros() / 1000));
        }
        md.append("\n");
    }

    private static void scale(StringBuilder md, Path out, List<Compare.Row> rows) throws IOException {
        for (String table : List.of("scale-size", "scale-nodes", "scale-outstanding")) {
            List<Compare.Row> rs = rows.stream().filter(r -> r.table().equals(table)).toList();
            if (rs.isEmpty()) continue;
            String x = switch (table) {
                case "scale-size" -> "command bytes (64 outstanding)";
                case "scale-nodes" -> "cluster size (1 KiB, 64 outstanding)";
                default -> "outstanding proposals (1 KiB)";
            };
            md.append("## Scale: ").append(x).append("\n\n| system | x | ops/s | p99 ms |\n| --- | ---: | ---: | ---: |\n");
            XYSeriesCollection ops = new XYSeriesCollection();
            Map<String, XYSeries> series = new java.util.TreeMap<>();
            for (Compare.Row r : rs) {
                double xv = switch (table) {
                    case "scale-size" -> r.bytes();
                    case "scale-nodes" -> r.nodes();
                    default -> Integer.parseInt(r.result().mode().substring(7));
                };
                md.append(String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.2f |%n", r.system(), xv, r.result().opsPerSecond(),
                        r.result().p99Micros() / 1000));
                series.computeIfAbsent(r.system(), XYSeries::new).add(xv, r.result().opsPerSecond());
            }
            md.append("\n");
            series.values().forEach(ops::addSeries);
            JFreeChart c = ChartFactory.createXYLineChart("Throughput vs " + x, x, "ops/s", ops, PlotOrientation.VERTICAL, true, false, false);
            if (!table.equals("scale-nodes")) {
                XYPlot plot = c.getXYPlot();
                LogAxis axis = new LogAxis(x);
                axis.setBase(2);
                plot.setDomainAxis(axis);
            }
            c.setBackgroundPaint(Color.WHITE);
            ChartUtils.saveChartAsPNG(out.resolve(table + ".png").toFile(), c, 900, 450);
        }
    }

    /**
     * The snapshot-and-restart section: a table and a chart per curve (state size, log length), or
     * nothing when the curve did not run.
     */
    static void recovery(StringBuilder md, Path out, List<RecoveryResult> results, String description) throws IOException {
        if (results.isEmpty()) return;
        List<RecoveryResult> state = results.stream().filter(r -> r.kind().equals("state")).toList();
        List<RecoveryResult> logs = results.stream().filter(r -> r.kind().equals("log")).toList();
        md.append("## Scale: snapshot and restart time (Keel, one node, durable)\n\n");
        md.append("Keel only: the peers are out of scope for this curve (their adapters run a counter as state machine, and "
                + "restarting them is not part of the side-by-side run). ");
        if (!description.isEmpty()) md.append("How it runs: ").append(description).append(".");
        md.append("\n\n");
        md.append("Restart = from `RaftServer.start` until the node is leader and has applied its whole log; it includes "
                + "`start()` (open and check the log, read and restore the snapshot), the election timeout a lone node waits, "
                + "and the replay of the log after the snapshot, which comes after the election (the commit index reaches the "
                + "disk only with a new term). Snapshot = from proposing the command that crosses the snapshot threshold until "
                + "the snapshot file is forced and the log compacted.\n\n");
        if (!state.isEmpty()) {
            md.append("| state MiB | keys | snapshot ms | snapshot file MiB | restart ms | start() ms | leader at ms | heap after load MiB "
                    + "| load s |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for (RecoveryResult r : state) {
                md.append(String.format(Locale.ROOT, "| %d | %d | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.1f |%n", r.x(), r.entries(),
                        r.snapshotMillis(), r.snapshotBytes() / 1048576.0, r.restartMillis(), r.openMillis(), r.leaderMillis(),
                        r.heapBytes() / 1048576.0, r.loadSeconds()));
            }
            md.append("\n");
        }
        if (!logs.isEmpty()) {
            md.append("| log entries | log MiB | restart ms | start() ms | leader at ms | entries/s replayed |\n"
                    + "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for (RecoveryResult r : logs) {
                md.append(String.format(Locale.ROOT, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f |%n", r.x(), r.dataBytes() / 1048576.0,
                        r.restartMillis(), r.openMillis(), r.leaderMillis(), r.entriesPerSecond()));
            }
            md.append("\n");
        }
        if (!state.isEmpty()) {
            XYSeries snapshot = new XYSeries("snapshot");
            XYSeries restart = new XYSeries("restart");
            for (RecoveryResult r : state) {
                snapshot.add(r.x(), r.snapshotMillis());
                restart.add(r.x(), r.restartMillis());
            }
            lineChart(out.resolve("recovery-state.png"), "Keel: snapshot and restart time vs state size (one node)", "state MiB", 2,
                    snapshot, restart);
        }
        if (!logs.isEmpty()) {
            XYSeries restart = new XYSeries("restart");
            for (RecoveryResult r : logs) restart.add(r.x(), r.restartMillis());
            lineChart(out.resolve("recovery-log.png"), "Keel: restart time vs log length (one node, no snapshot)", "log entries", 10,
                    restart);
        }
    }

    /** An XY line chart with a logarithmic x axis, in the scale charts' style. */
    private static void lineChart(Path file, String title, String x, int logBase, XYSeries... series) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (XYSeries s : series) data.addSeries(s);
        JFreeChart c = ChartFactory.createXYLineChart(title, x, "ms", data, PlotOrientation.VERTICAL, true, false, false);
        LogAxis axis = new LogAxis(x);
        axis.setBase(logBase);
        // Ticks at whole powers, labelled as plain numbers (64, 1,000,000): the points sit on them.
        axis.setTickUnit(new NumberTickUnit(1));
        axis.setNumberFormatOverride(new DecimalFormat("#,##0"));
        c.getXYPlot().setDomainAxis(axis);
        ((XYLineAndShapeRenderer) c.getXYPlot().getRenderer()).setDefaultShapesVisible(true);
        c.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), c, 900, 450);
    }

    static String recoveryCsv(List<RecoveryResult> results) {
        StringBuilder csv = new StringBuilder("kind,x,entries,value_bytes,load_s,heap_bytes,snapshot_ms,snapshot_bytes,data_bytes,"
                + "start_ms,leader_ms,restart_ms,restarts\n");
        for (RecoveryResult r : results) {
            csv.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%.3f,%d,%.1f,%d,%d,%.1f,%.1f,%.1f,%d%n", r.kind(), r.x(), r.entries(),
                    r.valueBytes(), r.loadSeconds(), r.heapBytes(), r.snapshotMillis(), r.snapshotBytes(), r.dataBytes(), r.openMillis(),
                    r.leaderMillis(), r.restartMillis(), r.restarts()));
        }
        return csv.toString();
    }

    private static void chart(Path file, String title, List<Agg> aggs) throws IOException {
        if (aggs.isEmpty()) return;
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Agg a : aggs) data.addValue(a.ops(), a.system(), a.bytes() + " B " + a.mode());
        JFreeChart c = ChartFactory.createBarChart(title, "configuration", "ops/s", data, PlotOrientation.VERTICAL, true, false, false);
        c.setBackgroundPaint(Color.WHITE);
        CategoryPlot plot = c.getCategoryPlot();
        plot.setBackgroundPaint(new Color(0xF7F7F7));
        // Slanted, unabbreviated labels: "1024 B closed-256" must stay readable.
        plot.getDomainAxis().setCategoryLabelPositions(
                org.jfree.chart.axis.CategoryLabelPositions.createUpRotationLabelPositions(Math.PI / 6));
        plot.getDomainAxis().setMaximumCategoryLabelWidthRatio(3f);
        ChartUtils.saveChartAsPNG(file.toFile(), c, 1000, 560);
    }
}
