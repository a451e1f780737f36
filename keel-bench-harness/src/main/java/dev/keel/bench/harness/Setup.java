package dev.keel.bench.harness;

import java.nio.file.Path;

/**
 * How a {@link RaftSystem} is to be started.
 *
 * @param nodes                    cluster size
 * @param dir                      an empty directory for the nodes' data (node i under dir/n{i})
 * @param basePort                 node i (1-based) may use ports basePort + 10*i .. basePort + 10*i + 9
 * @param electionTimeoutMinMillis the same election timeout for every system (1-2 s: on a loaded
 *                                 2-core machine shorter ones make leaders step down mid-run)
 * @param electionTimeoutMaxMillis upper end of the randomized range
 * @param durable                  true: the system's durable log with sync on every commit (its
 *                                 own setting for that); false: in memory (the in-memory table)
 */
public record Setup(int nodes, Path dir, int basePort, int electionTimeoutMinMillis, int electionTimeoutMaxMillis,
                    boolean durable) {

    /** The first of node {@code id}'s ports. */
    public int port(int id) {
        return basePort + 10 * id;
    }

    /** Node {@code id}'s data directory. */
    public Path nodeDir(int id) {
        return dir.resolve("n" + id);
    }
}
