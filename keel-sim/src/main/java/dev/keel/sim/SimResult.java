package dev.keel.sim;

import java.util.List;

/**
 * The outcome of one seeded run.
 *
 * @param digest identifies the run's whole event trace: equal seeds and options give equal digests
 * @param violation null when every check passed, else what failed
 * @param trace the last events before the end of the run (only when traceLines > 0)
 */
public record SimResult(long seed, long digest, int nodes, long events, int leaderTerms, long committed,
                        int opsOk, int opsInfo, int crashes, int partitions, int snapshotsTaken,
                        int snapshotsInstalled, int membershipChanges, String violation, long violationAtEvent,
                        List<String> trace) {

    public boolean ok() {
        return violation == null;
    }

    /** The one-line summary {@code bin/keel sim} prints per seed. */
    public String line() {
        return "seed=" + seed + " digest=" + String.format("%016x", digest) + " nodes=" + nodes + " events=" + events
                + " leaders=" + leaderTerms + " committed=" + committed + " ops_ok=" + opsOk + " ops_info=" + opsInfo
                + " crashes=" + crashes + " partitions=" + partitions + " snapshots=" + snapshotsTaken
                + " installs=" + snapshotsInstalled + " conf_changes=" + membershipChanges
                + (violation == null ? " ok" : " VIOLATION at event " + violationAtEvent + ": " + violation);
    }
}
