package dev.keel.bench.compare;

import dev.keel.bench.harness.RaftSystem;
import dev.keel.bench.harness.Setup;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerConfig;
import dev.keel.server.StateMachine;
import dev.keel.transport.LocalNetwork;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * Keel in the side-by-side benchmark: {@link RaftServer}s in this JVM over Keel's Netty transport on
 * loopback, each with its durable log ({@code fdatasync} once per batch: group commit). In the
 * in-memory table the log has sync off and lives on tmpfs ({@code /dev/shm}) when there is one, so
 * nothing waits for a disk, and the nodes talk through a {@link LocalNetwork} (message objects
 * handed over in the JVM), as the in-memory peer's adapter does.
 */
public final class KeelSystem implements RaftSystem {

    private final List<RaftServer> servers = new ArrayList<>();
    private final List<Counter> counters = new ArrayList<>();
    private Setup setup;
    private volatile RaftServer leader;
    /** The tmpfs directory of an in-memory run; it holds RAM, so close() removes it. */
    private Path tmpfsDir;

    /** The trivial state machine: counts applied commands. */
    static final class Counter implements StateMachine {
        volatile long applied;

        @Override
        public byte[] apply(long index, byte[] command) {
            applied++;
            return null;
        }

        @Override
        public SnapshotWriter snapshot() {
            long v = applied;
            return out -> new DataOutputStream(out).writeLong(v);
        }

        @Override
        public void restore(InputStream in) throws IOException {
            applied = new DataInputStream(in).readLong();
        }
    }

    /**
     * The in-memory table's Keel keeps its log in memory, as MicroRaft does, and snapshots as often
     * as MicroRaft's default (every 50,000 commits). -Dkeel.bench.memoryLog=tmpfs runs it instead on
     * its segmented log with sync off on tmpfs (the table's setup before startInMemory; A/B runs only).
     */
    static final boolean TMPFS_LOG = "tmpfs".equals(System.getProperty("keel.bench.memoryLog"));
    static final long MEMORY_SNAPSHOT_EVERY_ENTRIES = 50_000;

    @Override
    public String name() {
        return "keel";
    }

    @Override
    public String describe() {
        return (setup.durable() ? "durable segmented log, fdatasync once per batch (group commit)"
                : TMPFS_LOG ? "log with sync off on " + (Files.isDirectory(Path.of("/dev/shm")) ? "tmpfs" : "disk")
                : "log and snapshots in memory (RaftServer.startInMemory), a snapshot every " + MEMORY_SNAPSHOT_EVERY_ENTRIES
                        + " entries (MicroRaft's default commit count)")
                + (setup.durable() ? "; Netty TCP on loopback" : "; in-JVM LocalNetwork handing message objects over (as MicroRaft's "
                        + "adapter does; the durable table uses TCP)")
                + "; election timeout " + setup.electionTimeoutMinMillis() + "-"
                + 2 * setup.electionTimeoutMinMillis() + " ms (10 ms ticks); pre-vote and check-quorum on; "
                + (setup.durable() || TMPFS_LOG ? "snapshots off; " : "")
                + "other settings at Keel's defaults";
    }

    @Override
    public void start(Setup s) throws Exception {
        this.setup = s;
        Map<Integer, InetSocketAddress> members = new TreeMap<>();
        for (int id = 1; id <= s.nodes(); id++) members.put(id, new InetSocketAddress("127.0.0.1", s.port(id)));
        boolean inMemory = !s.durable() && !TMPFS_LOG;
        if (!s.durable() && TMPFS_LOG && Files.isDirectory(Path.of("/dev/shm"))) {
            tmpfsDir = Files.createTempDirectory(Path.of("/dev/shm"), "keel-bench-");
        }
        Path base = tmpfsDir != null ? tmpfsDir : s.dir();
        // -Dkeel.bench.tcp=true keeps TCP in the in-memory run too: with sync off, that separates a
        // commit's network and thread cost from its disk's when profiling (not used by the report).
        LocalNetwork network = s.durable() || Boolean.getBoolean("keel.bench.tcp") ? null : new LocalNetwork();
        for (int id = 1; id <= s.nodes(); id++) {
            ServerConfig config = ServerConfig.builder(id, "bench", members, base.resolve("n" + id))
                    .electionTimeoutTicks(Math.max(10, s.electionTimeoutMinMillis() / 10))
                    // In memory the log must be compacted, or it fills the heap within the run.
                    .snapshotEveryEntries(inMemory ? MEMORY_SNAPSHOT_EVERY_ENTRIES : 0).snapshotEveryBytes(Long.MAX_VALUE)
                    .sync(s.durable())
                    // For A/B runs only; the tables use Keel's defaults.
                    .busyPollMicros(Integer.getInteger("keel.bench.busyPollMicros", ServerConfig.BUSY_POLL_MICROS_DEFAULT))
                    .parallelLeaderSync(Boolean.getBoolean("keel.bench.parallelLeaderSync"))
                    .build();
            Counter c = new Counter();
            counters.add(c);
            // In memory, the nodes talk through an in-JVM network, as the in-memory peer does: the table
            // then compares the protocol and runtime, not TCP against object hand-over.
            servers.add(inMemory ? RaftServer.startInMemory(config, c, network) : RaftServer.start(config, c, network));
        }
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (RaftServer server : servers) {
                if (server.status().leaderId() == server.config().nodeId()) {
                    // Leadership is real once a command commits through it.
                    try {
                        server.submit(new byte[1]).get();
                        leader = server;
                        return;
                    } catch (Exception e) {
                        break;
                    }
                }
            }
            Thread.sleep(20); // polling for the first election
        }
        throw new IllegalStateException("no Keel leader within 60 s");
    }

    @Override
    public CompletableFuture<Void> submit(byte[] command) {
        return leader.submit(command).thenApply(r -> null);
    }

    long leaderApplied() {
        return counters.get(servers.indexOf(leader)).applied;
    }

    @Override
    public void close() throws IOException {
        for (RaftServer s : servers) s.close();
        if (tmpfsDir != null) {
            try (var walk = Files.walk(tmpfsDir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
