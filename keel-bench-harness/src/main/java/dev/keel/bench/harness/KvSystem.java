package dev.keel.bench.harness;

import java.nio.file.Path;
import java.util.List;

/**
 * A replicated key-value server under test (Keel's KV server, etcd): a cluster of server processes
 * on loopback, and clients through the system's own usual client library.
 *
 * <p>Implementations have a public no-argument constructor; the runner creates them by class name.
 */
public interface KvSystem extends AutoCloseable {

    /** A short name for tables: keel-kv, etcd. */
    String name();

    /** How the servers and the client are configured, one line for the report. */
    String describe();

    /**
     * Starts {@code nodes} server processes with data under {@code dir}, on ports from
     * {@code basePort} (node i may use basePort + 10*i .. + 9), and returns once the cluster
     * accepts writes.
     */
    void start(int nodes, Path dir, int basePort) throws Exception;

    /** The server processes' ids, so the runner can read their CPU time and memory from /proc. */
    List<Long> serverPids();

    /** A new client, shared by all the benchmark's threads (it must be thread-safe). */
    Client client() throws Exception;

    @Override
    void close() throws Exception;

    /** One client, called from many threads at once. Each call blocks until the operation completes. */
    interface Client extends AutoCloseable {
        /** Writes {@code value} at {@code key}, durably committed when this returns. */
        void put(String key, byte[] value) throws Exception;

        /** A linearizable read of {@code key}. */
        byte[] get(String key) throws Exception;

        @Override
        void close() throws Exception;
    }
}
