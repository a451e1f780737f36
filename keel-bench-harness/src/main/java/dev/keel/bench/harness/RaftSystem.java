package dev.keel.bench.harness;

import java.util.concurrent.CompletableFuture;

/**
 * One Raft implementation under test: a cluster of {@link Setup#nodes()} nodes in this JVM, talking
 * to each other through the system's own transport on loopback, each with its own log directory,
 * driven by proposals on the leader in-process. The state machine is trivial (a counter), so the
 * numbers measure replication, the log and the runtime, not the application.
 *
 * <p>Implementations have a public no-argument constructor; the runner creates them by class name.
 */
public interface RaftSystem extends AutoCloseable {

    /** A short name for tables: keel, ratis, sofajraft, microraft. */
    String name();

    /**
     * How this system is configured for the run, one line for the report: log implementation and
     * its sync setting, transport, election timeout, batching or pipelining options changed from
     * the defaults (and why).
     */
    String describe();

    /** Starts the nodes and returns once a leader is elected and accepts proposals. */
    void start(Setup setup) throws Exception;

    /**
     * Proposes {@code command} on the leader. The future completes when the command is committed and
     * applied by the leader's state machine, exceptionally if the system refused or lost it. Called
     * from many threads at once; should not block longer than the system's own back-pressure does.
     */
    CompletableFuture<Void> submit(byte[] command);

    /** Stops every node and releases their ports. */
    @Override
    void close() throws Exception;
}
