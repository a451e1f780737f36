package dev.keel.bench.harness;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One point of the snapshot-and-restart curve ({@code dev.keel.bench.compare.RecoveryCurve}), as one
 * {@code RECOVERY key=value ...} line that {@link Compare} parses back ({@link #parse}). Its own line
 * type rather than a {@link Result}: a recovery point has no throughput or latency percentiles, and
 * the throughput tables must never pick it up.
 *
 * @param kind            {@code state} (the x axis is the state machine's size in MiB; a snapshot is
 *                        taken, then the node restarts from it) or {@code log} (the x axis is the log's
 *                        length in entries; no snapshot, the restart replays the whole log)
 * @param x               the curve's x value: state MiB for {@code state}, entries for {@code log}
 * @param entries         commands loaded
 * @param valueBytes      size of each command's value
 * @param loadSeconds     time to commit and apply the load (not part of any curve; context only)
 * @param heapBytes       heap in use after the load and a full GC (the live state, roughly)
 * @param snapshotMillis  from proposing the command that crosses the snapshot threshold until the
 *                        snapshot is durable and the log compacted; -1 for {@code log}
 * @param snapshotBytes   size of the snapshot file (header included); 0 for {@code log}
 * @param dataBytes       size of the node's data directory when it was closed (snapshot plus log)
 * @param openMillis      until {@code RaftServer.start} returned: open and check the log, read the
 *                        snapshot and restore the state machine from it
 * @param leaderMillis    until the node was leader (one election timeout after the start); the replay
 *                        of the log follows, because the node learns what is committed only by
 *                        committing its new term's entry
 * @param restartMillis   until the node was leader and had applied every entry of its log (the log
 *                        after the snapshot replayed, its new term's entry committed). All three
 *                        times are of the restart with the median {@code restartMillis}, each from
 *                        the call of {@code RaftServer.start}
 * @param restarts        how many restarts the median is of
 */
public record RecoveryResult(String kind, long x, long entries, int valueBytes, double loadSeconds, long heapBytes,
                             double snapshotMillis, long snapshotBytes, long dataBytes, double openMillis, double leaderMillis,
                             double restartMillis, int restarts) {

    public RecoveryResult {
        if (!kind.equals("state") && !kind.equals("log")) throw new IllegalArgumentException("kind " + kind + " is not state or log");
    }

    /**
     * Log entries replayed per second ({@code log} curve): applied after the election, which the
     * restart waits for first. Opening and checking the log is in {@code openMillis}.
     */
    public double entriesPerSecond() {
        return entries * 1000.0 / (restartMillis - leaderMillis);
    }

    public String line() {
        return String.format(Locale.ROOT, "RECOVERY kind=%s x=%d entries=%d valueBytes=%d loadSeconds=%.3f heapBytes=%d "
                        + "snapshotMillis=%.1f snapshotBytes=%d dataBytes=%d openMillis=%.1f leaderMillis=%.1f restartMillis=%.1f restarts=%d",
                kind, x, entries, valueBytes, loadSeconds, heapBytes, snapshotMillis, snapshotBytes, dataBytes, openMillis, leaderMillis,
                restartMillis, restarts);
    }

    /** Parses {@link #line()}; fields may come in any order, unknown ones are ignored. */
    public static RecoveryResult parse(String line) {
        if (!line.startsWith("RECOVERY ")) throw new IllegalArgumentException("not a recovery line: " + line);
        Map<String, String> f = new TreeMap<>();
        for (String kv : line.substring(9).trim().split(" +")) {
            int eq = kv.indexOf('=');
            if (eq < 0) throw new IllegalArgumentException("bad field '" + kv + "' in " + line);
            f.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        try {
            return new RecoveryResult(f.get("kind"), Long.parseLong(f.get("x")), Long.parseLong(f.get("entries")),
                    Integer.parseInt(f.get("valueBytes")), Double.parseDouble(f.get("loadSeconds")), Long.parseLong(f.get("heapBytes")),
                    Double.parseDouble(f.get("snapshotMillis")), Long.parseLong(f.get("snapshotBytes")), Long.parseLong(f.get("dataBytes")),
                    Double.parseDouble(f.get("openMillis")), Double.parseDouble(f.get("leaderMillis")),
                    Double.parseDouble(f.get("restartMillis")), Integer.parseInt(f.get("restarts")));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad recovery line: " + line, e);
        }
    }
}
