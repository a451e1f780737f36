package dev.keel.bench.compare;

import dev.keel.bench.harness.RecoveryResult;
import dev.keel.core.Role;
import dev.keel.kv.store.KvCodec;
import dev.keel.kv.store.KvCommand;
import dev.keel.kv.store.KvResult;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerConfig;
import dev.keel.server.ServerStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongFunction;
import java.util.stream.Stream;

/**
 * Keel's snapshot and restart time versus state size and log length (the benchmark issue's "scale
 * curves"), one {@link RecoveryResult} line per point on standard output; progress on standard error.
 *
 * <p>Each point runs one {@link RaftServer} whose configuration has this node as its only member,
 * with {@link KvStateMachine} (the KV store's state machine, so snapshots are what a user's state
 * looks like) and a durable log with sync on, in a fresh directory that is deleted afterwards. One
 * node isolates the local cost: a snapshot or restart involves no network, and a leader's restart is
 * what every node of a cluster pays before it can catch up.
 *
 * <ul>
 *   <li>{@code state} curve: load S MiB of distinct keys (4 KiB values) through {@link RaftServer#submit}
 *       with many in flight; the snapshot threshold ({@code snapshotEveryEntries}, no byte trigger) is
 *       set just past the load, so the snapshot is triggered by one last command whose proposal starts
 *       the clock; the clock stops when the node's snapshot index reaches it (the file forced and
 *       renamed, the log compacted). Then close, and time {@link RaftServer#start} on the same
 *       directory with the same configuration until the node is leader and has applied its last index.</li>
 *   <li>{@code log} curve: snapshots off; load L commands (256-byte values over a fixed 65,536 keys,
 *       so the state stays small and the curve is log length alone), close, and time the restart,
 *       which replays the whole log through {@link KvStateMachine#apply}.</li>
 * </ul>
 *
 * <p>The page cache is warm (the data was just written): this is a process restart on a running
 * machine; {@code RecoveryBenchmark} measures a log open with a cold cache. The restart includes one
 * election timeout (100-200 ms here), which a lone node waits before it campaigns, and the log after
 * the snapshot is replayed only after it: the log's commit index reaches the disk only with a new
 * term or vote, so the node learns what is committed by committing its new term's entry. Each point
 * reports the restart of median time among {@code --restarts}, split into {@code RaftServer.start}
 * (open and check the log, read and restore the snapshot), the wait for leadership, and the replay. Status is
 * published once per event-loop turn, so times are good to about 10 ms (one tick).
 *
 * <pre>
 * java -Xmx12g -cp keel-bench/target/keel-benchmarks.jar dev.keel.bench.compare.RecoveryCurve \
 *     --dir /work/tmp --state-mib 64,256,1024,2048 --log-entries 100000,1000000,4000000
 * </pre>
 */
public final class RecoveryCurve {

    private static final int NODE_ID = 1;
    /** Distinct keys of the log curve: enough for a real tree, few enough that the state stays about 20 MiB. */
    private static final int LOG_KEYS = 65_536;
    /**
     * Room for the entries the node itself appends before the load (its first term's entry): the
     * snapshot threshold is the load's size plus this, and filler commands make up the difference.
     */
    private static final int THRESHOLD_SLACK = 64;
    /** Election timeout in 10 ms ticks: 100-200 ms, the wait of a lone node after its restart. */
    private static final int ELECTION_TICKS = 10;
    /** Bound on the load's bytes in flight: well under the server's 64 MiB of uncommitted entries. */
    private static final long IN_FLIGHT_BYTES = 8L << 20;

    private final Path base;
    private final int stateValueBytes;
    private final int logValueBytes;
    private final int restarts;

    private RecoveryCurve(Path base, int stateValueBytes, int logValueBytes, int restarts) {
        this.base = base;
        this.stateValueBytes = stateValueBytes;
        this.logValueBytes = logValueBytes;
        this.restarts = restarts;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(System.getProperty("keel.bench.dir", System.getProperty("java.io.tmpdir")));
        List<Long> stateMiB = List.of(64L, 256L, 1024L, 2048L);
        List<Long> logEntries = List.of(100_000L, 1_000_000L, 4_000_000L);
        int stateValueBytes = 4096;
        int logValueBytes = 256;
        int restarts = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dir" -> dir = Path.of(args[++i]);
                case "--quick" -> {
                    stateMiB = List.of(16L, 64L);
                    logEntries = List.of(10_000L, 100_000L);
                }
                case "--state-mib" -> stateMiB = longs(args[++i]);
                case "--log-entries" -> logEntries = longs(args[++i]);
                case "--state-value-bytes" -> stateValueBytes = Integer.parseInt(args[++i]);
                case "--log-value-bytes" -> logValueBytes = Integer.parseInt(args[++i]);
                case "--restarts" -> restarts = Integer.parseInt(args[++i]);
                case "-h", "--help" -> {
                    System.out.println("""
                            RecoveryCurve [--dir DIR] [--quick] [--state-mib 64,256,1024,2048] [--log-entries 100000,1000000,4000000]
                                          [--state-value-bytes 4096] [--log-value-bytes 256] [--restarts 3]
                              --dir     where the data goes (default -Dkeel.bench.dir, else java.io.tmpdir); a real disk, not tmpfs
                              --quick   --state-mib 16,64 --log-entries 10000,100000
                              --restarts  restarts per point; the median is reported
                              an empty list (--state-mib "") skips that curve""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (try --help)");
            }
        }
        if (restarts < 1) throw new IllegalArgumentException("--restarts " + restarts + " must be at least 1");
        Files.createDirectories(dir);
        String fsType = Files.getFileStore(dir).type();
        if (fsType.equals("tmpfs") && !Boolean.getBoolean("keel.bench.allowTmpfs")) {
            // There fsync is free and the "disk" is RAM: the curve would measure neither.
            throw new IllegalStateException(dir + " is on tmpfs: choose a real disk with --dir or -Dkeel.bench.dir "
                    + "(or -Dkeel.bench.allowTmpfs=true)");
        }
        Path base = Files.createTempDirectory(dir, "keel-recovery-");
        RecoveryCurve curve = new RecoveryCurve(base, stateValueBytes, logValueBytes, restarts);
        System.out.println("DESCRIBE " + curve.describe(fsType));
        System.out.flush();
        try {
            for (long mib : stateMiB) curve.point("state", mib, () -> curve.stateSize(mib));
            for (long entries : logEntries) curve.point("log", entries, () -> curve.logLength(entries));
        } finally {
            deleteTree(base);
        }
    }

    private static List<Long> longs(String csv) {
        List<Long> out = new ArrayList<>();
        for (String s : csv.split(",")) if (!s.isBlank()) out.add(Long.parseLong(s.trim()));
        return out;
    }

    private String describe(String fsType) {
        return String.format(Locale.ROOT, "one RaftServer alone in its configuration (one node isolates the local cost: no network in "
                + "snapshot or restart) with the KV store's KvStateMachine; durable log, fsync on, on %s (%s); election timeout "
                + "%d-%d ms (10 ms ticks), waited once by each restart before the log after the snapshot is replayed; "
                + "state curve: distinct keys with %d-byte values, snapshot triggered by snapshotEveryEntries set just past "
                + "the load; log curve: snapshots off, %d-byte values over %,d keys; restart times are the median of %d "
                + "restarts with the same configuration and a warm page cache; heap %d MiB",
                fsType, base.getParent(), ELECTION_TICKS * 10, ELECTION_TICKS * 20, stateValueBytes, logValueBytes, LOG_KEYS,
                restarts, Runtime.getRuntime().maxMemory() >> 20);
    }

    @FunctionalInterface
    private interface Measurement {
        RecoveryResult run() throws Exception;
    }

    /** Runs one point; a failure is reported as a PROBLEM line and the curve goes on with the next point. */
    private void point(String kind, long x, Measurement m) {
        try {
            RecoveryResult r = m.run();
            System.out.println(r.line());
        } catch (Exception | OutOfMemoryError e) {
            System.out.println("PROBLEM recovery " + kind + " " + x + ": " + e);
            e.printStackTrace();
        } finally {
            System.out.flush();
            try (Stream<Path> dirs = Files.list(base)) {
                for (Path p : dirs.toList()) deleteTree(p); // gigabytes: never leave them for the next point
            } catch (IOException e) {
                System.err.println("recovery: could not clean " + base + ": " + e);
            }
        }
    }

    // ---------------------------------------------------------------- state size curve

    private RecoveryResult stateSize(long stateMiB) throws Exception {
        long maxHeapMiB = Runtime.getRuntime().maxMemory() >> 20;
        // The live state plus, while loading, the log's entries in flight and the garbage of the
        // persistent map's path copies: refuse rather than measure a thrashing collector.
        if (stateMiB * 5 / 2 > maxHeapMiB) {
            throw new IllegalStateException(stateMiB + " MiB of state needs about " + stateMiB * 5 / 2 + " MiB of heap, have "
                    + maxHeapMiB + " (raise -Xmx)");
        }
        long entries = Math.ceilDiv(stateMiB << 20, stateValueBytes);
        long snapshotThreshold = entries + THRESHOLD_SLACK;
        Path dir = base.resolve("state-" + stateMiB);
        ServerConfig config = config(dir, snapshotThreshold);
        byte[][] values = values(stateValueBytes);

        KvStateMachine sm = new KvStateMachine();
        RaftServer server = RaftServer.start(config, sm);
        RecoveryResult result;
        try {
            awaitLeader(server);
            progress("state %d MiB: loading %,d keys of %d bytes", stateMiB, entries, stateValueBytes);
            long loadStart = System.nanoTime();
            load(server, entries, i -> KvCodec.encode(KvCommand.put(key(i), values[(int) (i & 15)])), inFlight(stateValueBytes));
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            long heapBytes = heapAfterGc();
            progress("state %d MiB: loaded in %.1f s, heap %d MiB", stateMiB, loadSeconds, heapBytes >> 20);

            // Fill up to one entry below the threshold, so that one command of our own crosses it.
            ServerStatus s = awaitApplied(server, server.status().lastIndex());
            long fillers = snapshotThreshold - 1 - s.lastIndex();
            if (fillers < 0) {
                throw new IllegalStateException("the node appended " + (s.lastIndex() - entries) + " entries of its own, more than "
                        + THRESHOLD_SLACK + ": a snapshot ran during the load");
            }
            byte[] filler = KvCodec.encode(KvCommand.put(bytes("filler"), new byte[8]));
            load(server, fillers, i -> filler, 64);
            awaitApplied(server, snapshotThreshold - 1);
            if (server.status().snapshotIndex() != 0) throw new IllegalStateException("a snapshot ran before the threshold");

            long snapshotStart = System.nanoTime();
            server.submit(KvCodec.encode(KvCommand.put(bytes("trigger"), new byte[8]))).get();
            while (server.status().snapshotIndex() < snapshotThreshold) {
                // A failed snapshot is only logged by the server: do not wait for it forever.
                if (System.nanoTime() - snapshotStart > 600_000_000_000L) throw new IllegalStateException("no snapshot in 600 s");
                Thread.sleep(1); // polling the snapshot's end: a benchmark, not a test
            }
            double snapshotMillis = (System.nanoTime() - snapshotStart) / 1e6;
            long snapshotBytes = snapshotFileBytes(dir);
            progress("state %d MiB: snapshot %.0f ms, %d MiB", stateMiB, snapshotMillis, snapshotBytes >> 20);

            server.close();
            server = null;
            sm = null; // the restart must not find the old state still on the heap
            long dataBytes = treeBytes(dir);
            long expectedKeys = entries + 1 + (fillers > 0 ? 1 : 0); // the load's, the trigger's, the fillers' one
            Restart r = timeRestarts(config, expectedKeys, "state " + stateMiB + " MiB");
            result = new RecoveryResult("state", stateMiB, entries, stateValueBytes, loadSeconds, heapBytes, snapshotMillis,
                    snapshotBytes, dataBytes, r.openMillis(), r.leaderMillis(), r.restartMillis(), restarts);
        } finally {
            if (server != null) server.close();
        }
        return result;
    }

    // ---------------------------------------------------------------- log length curve

    private RecoveryResult logLength(long entries) throws Exception {
        Path dir = base.resolve("log-" + entries);
        ServerConfig config = config(dir, 0);
        byte[][] values = values(logValueBytes);
        KvStateMachine sm = new KvStateMachine();
        RaftServer server = RaftServer.start(config, sm);
        RecoveryResult result;
        try {
            awaitLeader(server);
            progress("log %,d entries: loading %d-byte values", entries, logValueBytes);
            long loadStart = System.nanoTime();
            load(server, entries, i -> KvCodec.encode(KvCommand.put(key(i % LOG_KEYS), values[(int) (i & 15)])),
                    inFlight(logValueBytes));
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            long heapBytes = heapAfterGc();
            progress("log %,d entries: loaded in %.1f s", entries, loadSeconds);

            awaitApplied(server, server.status().lastIndex());
            server.close();
            server = null;
            sm = null;
            long dataBytes = treeBytes(dir);
            Restart r = timeRestarts(config, Math.min(entries, LOG_KEYS), "log " + entries + " entries");
            result = new RecoveryResult("log", entries, entries, logValueBytes, loadSeconds, heapBytes, -1, 0, dataBytes,
                    r.openMillis(), r.leaderMillis(), r.restartMillis(), restarts);
            progress("log %,d entries: %.0f entries/s replayed", entries, result.entriesPerSecond());
        } finally {
            if (server != null) server.close();
        }
        return result;
    }

    // ---------------------------------------------------------------- helpers

    /** One restart's times, each from the call of {@link RaftServer#start}. */
    private record Restart(double openMillis, double leaderMillis, double restartMillis) {}

    /**
     * Restarts the closed node {@link #restarts} times on its directory and returns the restart of
     * median total time, with its own breakdown (medians taken part by part would not add up). Each
     * restart must find {@code expectedKeys} keys. Several, because one fsync of the open can take
     * from 1 to 300 ms on a shared disk.
     */
    private Restart timeRestarts(ServerConfig config, long expectedKeys, String what) throws Exception {
        List<Restart> runs = new ArrayList<>();
        for (int i = 0; i < restarts; i++) {
            Restart r = restart(config, expectedKeys);
            runs.add(r);
            progress("%s: restart %d: %.0f ms (start() returned at %.0f ms, leader at %.0f ms)", what, i + 1, r.restartMillis(),
                    r.openMillis(), r.leaderMillis());
        }
        runs.sort(Comparator.comparingDouble(Restart::restartMillis));
        return runs.get((runs.size() - 1) / 2);
    }

    /**
     * Starts the node again on its directory and times it until it leads and has applied its whole
     * log, its new term's first entry included; closes it again.
     */
    private static Restart restart(ServerConfig config, long expectedKeys) throws Exception {
        System.gc(); // the closed node's state is garbage now; do not charge its collection to the restart
        KvStateMachine sm = new KvStateMachine();
        long start = System.nanoTime();
        RaftServer server = RaftServer.start(config, sm);
        try {
            double openMillis = (System.nanoTime() - start) / 1e6;
            // The moment of the election, from the event loop itself: its status is published only
            // after it has handed every committed entry to the apply thread, which for a long log is
            // seconds after it became leader. The first election is an election timeout away, so
            // the listener is in place long before it.
            AtomicLong leaderNanos = new AtomicLong();
            server.addLeaderListener(id -> {
                if (id == NODE_ID) leaderNanos.compareAndSet(0, System.nanoTime());
            });
            long lastIndexAtOpen = server.status().lastIndex();
            long deadline = start + 600_000_000_000L;
            while (true) {
                ServerStatus s = server.status();
                if (s.role() == Role.LEADER) leaderNanos.compareAndSet(0, System.nanoTime()); // had the listener come too late
                // The log's commit index is rewritten on disk only with a new term or vote, so a
                // restarted node learns what is committed only once it leads and commits its new
                // term's entry: the replay follows the election. Done: leader, and past the log it
                // opened, its new term's entry committed and applied.
                if (s.role() == Role.LEADER && s.appliedIndex() > lastIndexAtOpen && s.appliedIndex() == s.lastIndex()) break;
                if (System.nanoTime() > deadline) throw new IllegalStateException("restart not done in 600 s: " + s);
                Thread.sleep(1); // polling: a benchmark, not a test
            }
            double restartMillis = (System.nanoTime() - start) / 1e6;
            int keys = sm.view().keyCount();
            if (keys != expectedKeys) throw new IllegalStateException("restart found " + keys + " keys, expected " + expectedKeys);
            return new Restart(openMillis, (leaderNanos.get() - start) / 1e6, restartMillis);
        } finally {
            server.close();
        }
    }

    private ServerConfig config(Path dir, long snapshotEveryEntries) throws IOException {
        Map<Integer, InetSocketAddress> members = Map.of(NODE_ID, new InetSocketAddress("127.0.0.1", freePort()));
        return ServerConfig.builder(NODE_ID, "recovery", members, dir)
                .electionTimeoutTicks(ELECTION_TICKS).heartbeatIntervalTicks(2)
                .snapshotEveryEntries(snapshotEveryEntries).snapshotEveryBytes(0)
                // A big load can queue seconds of applies behind a proposal: it must not time out.
                .proposalTimeoutMillis(120_000)
                .sync(true)
                .build();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static int inFlight(int valueBytes) {
        return (int) Math.max(64, Math.min(4096, IN_FLIGHT_BYTES / valueBytes));
    }

    /**
     * Submits {@code count} commands, at most {@code inFlight} outstanding, and waits for them all;
     * fails on the first refused, failed or unexpected result.
     */
    private static void load(RaftServer server, long count, LongFunction<byte[]> command, int inFlight) throws Exception {
        Semaphore permits = new Semaphore(inFlight);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong failures = new AtomicLong();
        long reportEvery = Math.max(1, count / 10);
        long start = System.nanoTime();
        for (long i = 0; i < count && failure.get() == null; i++) {
            permits.acquire();
            server.submit(command.apply(i)).whenComplete((bytes, e) -> {
                Throwable bad = e;
                if (bad == null && !(KvCodec.decodeResult(bytes) instanceof KvResult.Ok)) {
                    bad = new IllegalStateException("unexpected result " + KvCodec.decodeResult(bytes));
                }
                if (bad != null) {
                    failures.incrementAndGet();
                    failure.compareAndSet(null, bad);
                }
                permits.release();
            });
            if (count >= 100_000 && (i + 1) % reportEvery == 0) {
                progress("  %,d of %,d (%.0f/s)", i + 1, count, (i + 1) / ((System.nanoTime() - start) / 1e9));
            }
        }
        permits.acquire(inFlight); // every outstanding command has completed
        if (failure.get() != null) {
            throw new IllegalStateException(failures.get() + " commands failed, first: " + failure.get(), failure.get());
        }
    }

    private static void awaitLeader(RaftServer server) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (server.status().role() != Role.LEADER) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("no leader in 60 s: " + server.status());
            Thread.sleep(5);
        }
    }

    private static ServerStatus awaitApplied(RaftServer server, long index) throws InterruptedException {
        long deadline = System.nanoTime() + 600_000_000_000L;
        while (true) {
            ServerStatus s = server.status();
            if (s.appliedIndex() >= index) return s;
            if (System.nanoTime() > deadline) throw new IllegalStateException("index " + index + " not applied in 600 s: " + s);
            Thread.sleep(1);
        }
    }

    /** A few random values, shared among commands: their content costs nothing to vary and nothing compresses it. */
    private static byte[][] values(int valueBytes) {
        SplittableRandom rnd = new SplittableRandom(11);
        byte[][] v = new byte[16][valueBytes];
        for (byte[] b : v) for (int i = 0; i < b.length; i++) b[i] = (byte) rnd.nextInt(256);
        return v;
    }

    /** "k" and ten digits: distinct, in the same order as the numbers. */
    static byte[] key(long i) {
        byte[] k = new byte[11];
        k[0] = 'k';
        for (int p = 10; p >= 1; p--) {
            k[p] = (byte) ('0' + i % 10);
            i /= 10;
        }
        return k;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The size of the newest snapshot file ({@code snapshots/snap-<index>-<term>.snap}). */
    private static long snapshotFileBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("snap-.*\\.snap"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()))
                    .map(p -> {
                        try {
                            return Files.size(p);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    })
                    .orElseThrow(() -> new IllegalStateException("no snapshot file under " + dir));
        }
    }

    private static long treeBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            long total = 0;
            for (Path p : files.filter(Files::isRegularFile).toList()) total += Files.size(p);
            return total;
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private static void progress(String format, Object... args) {
        System.err.println("recovery: " + String.format(Locale.ROOT, format, args));
    }
}
