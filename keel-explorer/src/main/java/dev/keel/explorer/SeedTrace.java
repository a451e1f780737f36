package dev.keel.explorer;

import dev.keel.core.Entry;
import dev.keel.sim.ManualCluster;
import dev.keel.sim.SimFrame;
import dev.keel.sim.SimOptions;
import dev.keel.sim.SimResult;
import dev.keel.sim.Simulation;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A seed of the randomized simulator ({@code bin/keel sim --seed N}), to scrub through: the run is
 * made once to learn its length and outcome, and each position is shown by running the seed again
 * up to that event ({@link Simulation#frameAt}). Read-only: the seed, not a person, decides what
 * happens.
 *
 * <p>The options are {@code bin/keel sim}'s defaults (with {@code --nodes} and {@code --ticks} if
 * given), so a seed it reported failing shows the same run here.
 */
public final class SeedTrace {
    private final long seed;
    private final SimOptions options;
    private final SimResult result;
    private SimFrame frame;

    public SeedTrace(long seed, int nodes, int faultTicks) {
        this.seed = seed;
        SimOptions o = SimOptions.DEFAULT.withNodes(nodes);
        this.options = faultTicks > 0 ? o.withFaultTicks(faultTicks) : o;
        this.result = Simulation.run(seed, options);
        seek(0);
    }

    /**
     * Parses {@code seed N [nodes=K] [ticks=T]}.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static SeedTrace parse(String line) {
        String[] w = line.strip().split("\\s+");
        if (w.length < 2 || !w[0].equals("seed")) {
            throw new IllegalArgumentException("expected `seed N [nodes=K] [ticks=T]`, not `" + line.strip() + "`");
        }
        long seed;
        try {
            seed = Long.parseLong(w[1]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seed `" + w[1] + "` is not a number");
        }
        int nodes = 0;
        int ticks = 0;
        for (int i = 2; i < w.length; i++) {
            String[] kv = w[i].split("=", 2);
            int v;
            try {
                v = kv.length == 2 ? Integer.parseInt(kv[1]) : -1;
            } catch (NumberFormatException e) {
                v = -1;
            }
            switch (kv[0]) {
                case "nodes" -> {
                    if (v < 0 || v > 7) throw new IllegalArgumentException("nodes `" + w[i] + "`: 0 (the seed chooses) or 1..7");
                    nodes = v;
                }
                case "ticks" -> {
                    if (v < 1 || v > 100_000) throw new IllegalArgumentException("ticks `" + w[i] + "`: 1..100000");
                    ticks = v;
                }
                default -> throw new IllegalArgumentException("unknown seed option `" + kv[0] + "` (nodes, ticks)");
            }
        }
        return new SeedTrace(seed, nodes, ticks);
    }

    /** The header line this trace was loaded with. */
    public String header() {
        return "seed " + seed + (options.nodes() != 0 ? " nodes=" + options.nodes() : "")
                + (options.faultTicks() != SimOptions.DEFAULT.faultTicks() ? " ticks=" + options.faultTicks() : "");
    }

    public SimResult result() {
        return result;
    }

    public SimFrame frame() {
        return frame;
    }

    /** Shows the run after {@code event} events (0..the run's length). */
    public void seek(long event) {
        if (event < 0 || event > result.events()) {
            throw new IllegalArgumentException("event " + event + " outside 0.." + result.events());
        }
        frame = Simulation.frameAt(seed, options, event);
    }

    /** The page's view, in the shape of {@link Session#state()} ({@code mode} "seed"). */
    public Map<String, Object> state() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("mode", "seed");
        s.put("header", header());
        s.put("size", frame.nodes().size());
        s.put("seed", seed);
        s.put("step", frame.event());
        s.put("historyLength", result.events());
        s.put("result", result.line());
        s.put("violationAtEvent", result.violationAtEvent());
        s.put("time", frame.time());
        s.put("history", List.of());
        List<Map<String, Object>> nodes = new ArrayList<>();
        for (SimFrame.NodeView n : frame.nodes()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", n.id());
            m.put("reaches", n.reaches());
            m.put("up", n.up());
            m.put("role", n.role());
            m.put("term", n.term());
            m.put("vote", n.vote());
            m.put("leader", n.leader());
            m.put("commit", n.commit());
            m.put("applied", n.applied());
            m.put("electionElapsedTicks", n.electionElapsedTicks());
            m.put("electionTimeoutTicks", n.electionTimeoutTicks());
            List<Map<String, Object>> log = new ArrayList<>();
            for (Entry e : n.log()) log.add(Session.entryState(e));
            m.put("log", log);
            m.put("kv", n.kv());
            nodes.add(m);
        }
        s.put("nodes", nodes);
        s.put("members", Map.of());
        List<Map<String, Object>> messages = new ArrayList<>();
        for (SimFrame.InFlightView f : frame.messages()) {
            Map<String, Object> m = new LinkedHashMap<>();
            String text = ManualCluster.describe(f.message());
            m.put("id", f.seq());
            m.put("from", f.message().from());
            m.put("to", f.message().to());
            m.put("type", f.message().getClass().getSimpleName());
            m.put("term", f.message().term());
            m.put("text", text + " (arrives at t=" + f.deliverAt() + ")");
            String kind = text.substring(text.indexOf(' ') + 1);
            m.put("label", kind.contains(" ") ? kind.substring(0, kind.indexOf(' ')) : kind);
            m.put("partitioned", false);
            m.put("toDown", false);
            messages.add(m);
        }
        s.put("messages", messages);
        s.put("log", frame.trace());
        s.put("leaderChanges", List.of());
        s.put("violation", frame.violation() == null ? null
                : Session.violationOf(frame.violation(), (int) frame.event(), "event " + frame.event(), frame.nodes().size()));
        return s;
    }
}
