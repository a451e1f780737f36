package dev.keel.bench;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.MemoryStorage;
import dev.keel.core.Message;
import dev.keel.core.ProposeResult;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.Ready;
import dev.keel.core.Role;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Committed entries per second through the Raft protocol core alone: a 3-node cluster of
 * {@link RaftNode}s, each with its own {@link MemoryStorage}, driven on one thread with no network,
 * no disk, no threads and no clock (logical time never advances, so no heartbeats or elections
 * happen during a measurement).
 *
 * <p>Each invocation proposes a batch of B entries of 64 bytes on the leader (node 1) and then
 * pumps the cluster until the leader has applied all of them. A pump round carries out every
 * pending {@link Ready} (persist the hard state and entries to the node's storage, queue the
 * messages by destination, count the leader's committed entries as applied, {@link
 * RaftNode#advance}) and then {@link RaftNode#step steps} each queued message into its node.
 * There is one benchmark method per batch size B ({@code batch0001}, {@code batch0064},
 * {@code batch1024}), each with {@code @OperationsPerInvocation(B)}, so every score is
 * <b>committed entries per second</b> and the three can be compared directly.
 * What is measured is therefore the CPU cost of the core's replication path (propose, Ready
 * assembly, AppendEntries building and checking, log bookkeeping, commit computation) for three
 * nodes on one core: an upper bound for a real server, which adds IO and threads.
 *
 * <p>{@link MemoryStorage} keeps every entry, so the cluster is rebuilt (and node 1 elected again)
 * before each iteration, outside the measurement, so the heap does not keep growing; iterations are
 * short (a 3 s iteration at 3 M entries/s retains about 0.7 GB) and the fork gets {@code -Xmx4g}.
 * Passing {@code -jvmArgsAppend} on the command line replaces that setting, so repeat
 * {@code -Xms4g -Xmx4g} there. Entries that stay reachable for the whole iteration still have to be
 * copied by the young-generation GC, so with batching a large share of the time is GC (check
 * with {@code -prof gc}); that cost comes from the harness keeping the whole log in memory, not
 * from the core.
 *
 * <p>Run (after {@code ./mvnw -pl keel-bench -am package -DskipTests}):
 * <pre>{@code
 * java -jar keel-bench/target/keel-benchmarks.jar CoreThroughputBenchmark
 * java -jar keel-bench/target/keel-benchmarks.jar 'CoreThroughputBenchmark.batch1024' -wi 1 -i 3 -w 2s -r 3s
 * }</pre>
 * or run {@link #main} from an IDE.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
public class CoreThroughputBenchmark {
    static final int ENTRY_BYTES = 64;
    static final int LEADER = 1;
    static final List<Integer> VOTERS = List.of(1, 2, 3);

    /** One payload shared by every entry: entries own their data, but nobody ever writes to it. */
    private final byte[] payload = new byte[ENTRY_BYTES];

    private Cluster cluster;

    @Setup(Level.Trial)
    public void fillPayload() {
        new Random(42).nextBytes(payload);
    }

    /** A fresh cluster (and election) per iteration, outside the measurement: MemoryStorage grows without bound. */
    @Setup(Level.Iteration)
    public void buildCluster() {
        cluster = new Cluster(42);
        cluster.elect(LEADER);
    }

    // One method per batch size rather than a @Param: @OperationsPerInvocation must be a
    // compile-time constant, and it is what turns the score into entries per second.

    /** One entry proposed, then committed and applied on the leader: no batching at all. */
    @Benchmark
    @OperationsPerInvocation(1)
    public long batch0001() {
        return cluster.proposeAndCommit(payload, 1);
    }

    /** 64 entries proposed together. */
    @Benchmark
    @OperationsPerInvocation(64)
    public long batch0064() {
        return cluster.proposeAndCommit(payload, 64);
    }

    /** 1024 entries proposed together: one AppendEntries per follower (maxEntriesPerAppend). */
    @Benchmark
    @OperationsPerInvocation(1024)
    public long batch1024() {
        return cluster.proposeAndCommit(payload, 1024);
    }

    /**
     * Runs this benchmark with the annotations' settings; any arguments are passed to JMH as for
     * {@code java -jar keel-benchmarks.jar}.
     */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cmd = new CommandLineOptions(args);
        OptionsBuilder options = new OptionsBuilder();
        options.parent(cmd);
        // Includes add up with the parent's: name this class only when no pattern was given.
        if (cmd.getIncludes().isEmpty()) options.include(CoreThroughputBenchmark.class.getName() + "\\.");
        new Runner(options.build()).run();
    }

    /** Three cores, their storages and the in-flight messages, all driven by the calling thread. */
    static final class Cluster {
        final RaftNode[] nodes = new RaftNode[VOTERS.size() + 1]; // indexed by node id; [0] unused
        final MemoryStorage[] storages = new MemoryStorage[VOTERS.size() + 1];
        @SuppressWarnings("unchecked")
        final ArrayDeque<Message>[] inbox = new ArrayDeque[VOTERS.size() + 1];
        /** NORMAL entries the leader has been handed for applying. */
        long applied;
        int leader;

        Cluster(long seed) {
            for (int id : VOTERS) {
                RaftConfig config = RaftConfig.builder(id, VOTERS)
                        .maxEntriesPerAppend(1024)
                        .maxBytesPerAppend(1 << 20)
                        .maxInflightAppends(8)
                        // 64 MiB: far above one batch (1024 x 81 B), so back-pressure never refuses.
                        .maxUncommittedBytes(64L << 20)
                        .build();
                storages[id] = new MemoryStorage();
                nodes[id] = new RaftNode(config, storages[id], new Random(seed * 31 + id));
                inbox[id] = new ArrayDeque<>();
            }
        }

        /** Makes {@code id} campaign and pumps until it leads and its no-op is committed everywhere. */
        void elect(int id) {
            nodes[id].campaignNow();
            pumpUntilQuiescent();
            RaftNode l = nodes[id];
            if (l.role() != Role.LEADER) throw new IllegalStateException("node " + id + " did not win: " + l.status());
            long noop = l.lastIndex();
            for (int n : VOTERS) {
                RaftNode node = nodes[n];
                if (node.commitIndex() < noop || node.lastApplied() < noop) {
                    throw new IllegalStateException("no-op " + noop + " not committed and applied on " + node.status());
                }
            }
            leader = id;
            applied = 0;
        }

        /** Proposes {@code count} entries on the leader and pumps until the leader has applied them. */
        long proposeAndCommit(byte[] payload, int count) {
            RaftNode l = nodes[leader];
            for (int i = 0; i < count; i++) {
                ProposeResult r = l.propose(payload);
                if (!(r instanceof ProposeResult.Accepted)) throw new IllegalStateException("proposal refused: " + r);
            }
            long target = applied + count;
            while (applied < target) {
                if (!pumpRound()) {
                    throw new IllegalStateException("stuck: applied " + applied + " of " + target + ", leader "
                            + l.status());
                }
            }
            return applied;
        }

        void pumpUntilQuiescent() {
            while (pumpRound()) {
                // keep going
            }
        }

        /**
         * One round: handle every node's Ready (persist, queue messages, apply, advance), then step
         * every queued message. Messages produced while stepping go out in the next round.
         *
         * @return false if there was nothing to do
         */
        boolean pumpRound() {
            boolean progress = false;
            for (int id = 1; id < nodes.length; id++) {
                RaftNode node = nodes[id];
                if (!node.hasReady()) continue;
                progress = true;
                Ready rd = node.ready();
                MemoryStorage storage = storages[id];
                if (rd.hardState() != null) storage.setHardState(rd.hardState());
                storage.append(rd.entries());
                List<Message> out = rd.messages();
                for (int i = 0, n = out.size(); i < n; i++) {
                    Message m = out.get(i);
                    inbox[m.to()].add(m);
                }
                if (id == leader) {
                    List<Entry> committed = rd.committedEntries();
                    for (int i = 0, n = committed.size(); i < n; i++) {
                        if (committed.get(i).type() == EntryType.NORMAL) applied++;
                    }
                }
                node.advance(rd);
            }
            for (int id = 1; id < nodes.length; id++) {
                ArrayDeque<Message> q = inbox[id];
                RaftNode node = nodes[id];
                Message m;
                while ((m = q.poll()) != null) {
                    progress = true;
                    node.step(m);
                }
            }
            return progress;
        }
    }
}
