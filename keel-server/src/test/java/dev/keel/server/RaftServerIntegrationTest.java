package dev.keel.server;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Role;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Three real nodes over loopback TCP with durable storage. */
class RaftServerIntegrationTest {
    /** A map of strings: "k=v" sets k; returns the previous value. */
    static final class MapMachine implements StateMachine {
        final TreeMap<String, String> map = new TreeMap<>();
        volatile long applied;

        @Override
        public synchronized byte[] apply(long index, byte[] command) {
            String s = new String(command, StandardCharsets.UTF_8);
            int eq = s.indexOf('=');
            String prev = map.put(s.substring(0, eq), s.substring(eq + 1));
            applied = index;
            return prev == null ? new byte[0] : prev.getBytes(StandardCharsets.UTF_8);
        }

        synchronized String get(String k) {
            return map.get(k);
        }

        @Override
        public synchronized SnapshotWriter snapshot() {
            TreeMap<String, String> copy = new TreeMap<>(map);
            return out -> {
                DataOutputStream d = new DataOutputStream(out);
                d.writeInt(copy.size());
                for (var e : copy.entrySet()) {
                    d.writeUTF(e.getKey());
                    d.writeUTF(e.getValue());
                }
                d.flush();
            };
        }

        @Override
        public synchronized void restore(InputStream in) throws IOException {
            DataInputStream d = new DataInputStream(in);
            map.clear();
            int n = d.readInt();
            for (int i = 0; i < n; i++) map.put(d.readUTF(), d.readUTF());
        }
    }

    @TempDir
    Path dir;
    Map<Integer, InetSocketAddress> members = new TreeMap<>();
    Map<Integer, InetSocketAddress> spare = new TreeMap<>();
    Map<Integer, RaftServer> servers = new HashMap<>();
    Map<Integer, MapMachine> machines = new HashMap<>();

    @BeforeEach
    void ports() throws IOException {
        for (int id = 1; id <= 5; id++) {
            InetSocketAddress a = TestPorts.loopback();
            if (id <= 3) members.put(id, a);
            else spare.put(id, a);
        }
    }

    @AfterEach
    void stop() {
        servers.values().forEach(RaftServer::close);
    }

    void start(int id, long snapshotEvery) throws IOException {
        ServerConfig c = ServerConfig.builder(id, "test", members, dir.resolve("n" + id))
                .tickMillis(10).electionTimeoutTicks(30).heartbeatIntervalTicks(3)
                .snapshotEveryEntries(snapshotEvery).proposalTimeoutMillis(5000).peerMaxFrameBytes(peerMaxFrameBytes)
                .parallelLeaderSync(parallelLeaderSync).build();
        MapMachine m = new MapMachine();
        machines.put(id, m);
        servers.put(id, inMemory ? RaftServer.startInMemory(c, m, network) : RaftServer.start(c, m, network));
    }

    int peerMaxFrameBytes = ServerConfig.PEER_MAX_FRAME_BYTES_DEFAULT;
    boolean parallelLeaderSync;
    /** Nodes started by {@link #start} keep their log and snapshots in memory. */
    boolean inMemory;

    /** Null: TCP; else every node started by {@link #start} joins this in-process network. */
    dev.keel.transport.LocalNetwork network;

    static void await(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.onSpinWait();
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /** Submits an idempotent write to the current leader, retrying while leadership moves. */
    void write(String command) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                servers.get(leader()).submit(b(command)).get(10, TimeUnit.SECONDS);
                return;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException
                     | NullPointerException e) {
                if (System.nanoTime() > deadline) throw new AssertionError("write " + command + " kept failing", e);
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
            }
        }
    }

    /** A node that reports itself leader, read in one pass (leadership can move between two looks). */
    int leader() {
        int[] found = new int[1];
        await("a leader", () -> {
            for (RaftServer s : servers.values()) {
                ServerStatus st = s.status();
                if (st.role() == Role.LEADER) {
                    found[0] = st.nodeId();
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Records how it is called: applies must come in log order and never overlap, whichever thread
     * makes them (the apply thread, or the event loop for a small batch while that thread is idle).
     */
    static final class OrderMachine implements StateMachine {
        private final java.util.concurrent.atomic.AtomicBoolean inside = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.Set<String> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final java.util.List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
        private long last; // plain: each call must happen-before the next
        volatile long applied;
        /** Work per apply, so that batches queue for the apply thread while small ones keep coming. */
        volatile long busyNanos;

        @Override
        public byte[] apply(long index, byte[] command) {
            if (!inside.compareAndSet(false, true)) violations.add("apply at " + index + " overlapped another");
            if (index <= last) violations.add("apply at " + index + " after " + last);
            last = index;
            threads.add(Thread.currentThread().getName().replaceAll("-[0-9-]+$", ""));
            long until = System.nanoTime() + busyNanos;
            while (System.nanoTime() - until < 0) Thread.onSpinWait();
            applied = index;
            inside.set(false);
            return command;
        }

        @Override
        public SnapshotWriter snapshot() {
            return out -> { };
        }

        @Override
        public void restore(InputStream in) {
        }
    }

    @Test
    void appliesInLogOrderAndNeverConcurrentlyOnTheLoopOrTheApplyThread() throws Exception {
        Map<Integer, OrderMachine> order = new HashMap<>();
        for (int id = 1; id <= 3; id++) {
            ServerConfig c = ServerConfig.builder(id, "test", members, dir.resolve("n" + id))
                    .tickMillis(10).electionTimeoutTicks(30).heartbeatIntervalTicks(3).proposalTimeoutMillis(10_000).build();
            OrderMachine m = new OrderMachine();
            order.put(id, m);
            servers.put(id, RaftServer.start(c, m, network));
        }
        RaftServer leader = servers.get(leader());
        // One at a time: each commit is a batch of one, which the loop applies itself.
        for (int i = 0; i < 200; i++) leader.submit(b("one-" + i)).get(10, TimeUnit.SECONDS);
        // A burst, applied slowly: batches of hundreds queue for the apply thread, while a second
        // client's proposals, one at a time, commit in batches small enough for the loop (which
        // must then leave them to the apply thread, behind the queued ones).
        order.values().forEach(m -> m.busyNanos = 20_000);
        java.util.List<java.util.concurrent.CompletableFuture<byte[]>> burst = new java.util.ArrayList<>();
        for (int i = 0; i < 2000; i++) burst.add(leader.submit(b("burst-" + i)));
        for (int i = 0; i < 100; i++) leader.submit(b("single-" + i)).get(20, TimeUnit.SECONDS);
        for (var f : burst) f.get(20, TimeUnit.SECONDS);
        long lastIndex = leader.status().commitIndex();
        await("every node applied the log", () -> order.values().stream().allMatch(m -> m.applied >= lastIndex));

        java.util.Set<String> threads = new java.util.TreeSet<>();
        for (OrderMachine m : order.values()) {
            assertThat(m.violations).isEmpty();
            threads.addAll(m.threads);
        }
        assertThat(order.get(leader.config().nodeId()).threads).contains("keel-raft");
        assertThat(threads).containsExactlyInAnyOrder("keel-raft", "keel-apply");
    }

    @Test
    void writesReadsFailoverAndCatchUp() throws Exception {
        for (int id = 1; id <= 3; id++) start(id, 0);
        int l = leader();
        RaftServer leader = servers.get(l);
        for (int i = 0; i < 100; i++) leader.submit(b("k" + i + "=v" + i)).get(10, TimeUnit.SECONDS);
        assertThat(new String(leader.submit(b("k1=again")).get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8)).isEqualTo("v1");

        // A follower refuses with a hint, and serves a linearizable read.
        int f = l % 3 + 1;
        assertThatThrownBy(() -> servers.get(f).submit(b("x=1")).join())
                .isInstanceOf(CompletionException.class).hasCauseInstanceOf(KeelException.NotLeader.class);
        servers.get(f).linearizableRead().get(10, TimeUnit.SECONDS);
        assertThat(machines.get(f).get("k1")).isEqualTo("again");

        // Kill the leader: a new one is elected and writes continue.
        servers.remove(l).close();
        int l2 = leader();
        assertThat(l2).isNotEqualTo(l);
        servers.get(l2).submit(b("after=failover")).get(10, TimeUnit.SECONDS);

        // The old leader restarts from its disk and catches up from the log.
        start(l, 0);
        await("old leader caught up", () -> "failover".equals(machines.get(l).get("after")));
        assertThat(machines.get(l).get("k99")).isEqualTo("v99");
    }

    @Test
    void aClusterOnALocalNetworkElectsCommitsFailsOverAndCatchesUp() throws Exception {
        network = new dev.keel.transport.LocalNetwork();
        for (int id = 1; id <= 3; id++) start(id, 0);
        int l = leader();
        for (int i = 0; i < 50; i++) servers.get(l).submit(b("k" + i + "=v" + i)).get(10, TimeUnit.SECONDS);
        assertThat(servers.get(l).transport().stats().peers().values()).allSatisfy(p -> assertThat(p.sent()).isPositive());
        servers.remove(l).close();
        int l2 = leader();
        assertThat(l2).isNotEqualTo(l);
        write("after=failover");
        start(l, 0); // rejoins the same network: the id is free again once its first run stopped
        await("old leader caught up", () -> "failover".equals(machines.get(l).get("after")));
        assertThat(machines.get(l).get("k49")).isEqualTo("v49");
    }

    @Test
    void inMemoryNodesCommitCompactAndBringANewNodeInByTheLeadersSnapshotWithoutTouchingTheDisk() throws Exception {
        network = new dev.keel.transport.LocalNetwork();
        inMemory = true;
        // Two of three make a majority. The third starts only after the log is compacted: a node in
        // memory must never restart under its id, but one that never ran may join empty.
        start(1, 20);
        start(2, 20);
        int l = leader();
        for (int i = 0; i < 200; i++) servers.get(l).submit(b("m" + i + "=" + i)).get(10, TimeUnit.SECONDS);
        await("leader compacted", () -> servers.get(l).status().snapshotIndex() > 0);
        start(3, 20);
        await("new node restored", () -> "199".equals(machines.get(3).get("m199")));
        assertThat(machines.get(3).get("m0")).isEqualTo("0");
        assertThat(servers.get(3).status().snapshotIndex()).isPositive();
        servers.get(l).submit(b("later=1")).get(10, TimeUnit.SECONDS);
        await("new node applies after the install", () -> "1".equals(machines.get(3).get("later")));
        for (int id = 1; id <= 3; id++) assertThat(dir.resolve("n" + id)).doesNotExist();
    }

    @Test
    void inMemoryRefusesParallelLeaderSync() {
        network = new dev.keel.transport.LocalNetwork();
        inMemory = true;
        parallelLeaderSync = true;
        assertThatThrownBy(() -> start(1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nothing to force");
    }

    @Test
    void followerCatchesUpFromSnapshotAfterCompaction() throws Exception {
        for (int id = 1; id <= 3; id++) start(id, 20);
        int l = leader();
        int f = l % 3 + 1;
        servers.remove(f).close();
        for (int i = 0; i < 200; i++) servers.get(l).submit(b("s" + i + "=" + i)).get(10, TimeUnit.SECONDS);
        await("leader compacted", () -> servers.get(l).status().snapshotIndex() > 0);
        start(f, 20);
        await("follower restored", () -> "199".equals(machines.get(f).get("s199")));
        assertThat(machines.get(f).get("s0")).isEqualTo("0");
        assertThat(servers.get(f).status().snapshotIndex()).isPositive();
        // And it stays in step afterwards.
        servers.get(l).submit(b("later=1")).get(10, TimeUnit.SECONDS);
        await("follower applies after install", () -> "1".equals(machines.get(f).get("later")));
    }

    @Test
    void withParallelLeaderSyncWritesSurviveFailoverCompactionAndARestartOfAll() throws Exception {
        parallelLeaderSync = true;
        for (int id = 1; id <= 3; id++) start(id, 20); // compaction waits for the leader's force under way
        int l = leader();
        List<java.util.concurrent.CompletableFuture<byte[]>> inFlight = new ArrayList<>();
        for (int i = 0; i < 200; i++) inFlight.add(servers.get(l).submit(b("q" + i + "=" + i)));
        for (var f : inFlight) f.get(10, TimeUnit.SECONDS);
        await("leader compacted", () -> servers.get(l).status().snapshotIndex() > 0);
        servers.remove(l).close(); // leadership moves: the new leader's first Ready waits for nothing of the old
        write("after=failover");
        start(l, 20);
        await("old leader caught up", () -> "failover".equals(machines.get(l).get("after")));
        for (int id = 1; id <= 3; id++) servers.remove(id).close();
        for (int id = 1; id <= 3; id++) start(id, 20);
        int l2 = leader();
        servers.get(l2).linearizableRead().get(10, TimeUnit.SECONDS);
        for (int i = 0; i < 200; i++) assertThat(machines.get(l2).get("q" + i)).isEqualTo(String.valueOf(i));
        assertThat(machines.get(l2).get("after")).isEqualTo("failover");
    }

    @Test
    void restartOfAllNodesKeepsEverything() throws Exception {
        for (int id = 1; id <= 3; id++) start(id, 0);
        int l = leader();
        for (int i = 0; i < 50; i++) servers.get(l).submit(b("p" + i + "=" + i)).get(10, TimeUnit.SECONDS);
        for (int id = 1; id <= 3; id++) servers.remove(id).close();
        for (int id = 1; id <= 3; id++) start(id, 0);
        int l2 = leader();
        servers.get(l2).linearizableRead().get(10, TimeUnit.SECONDS);
        for (int i = 0; i < 50; i++) assertThat(machines.get(l2).get("p" + i)).isEqualTo(String.valueOf(i));
        assertThat(Files.exists(dir.resolve("n1"))).isTrue();
    }

    @Test
    void badConfigIsAClearError() {
        assertThatThrownBy(() -> ServerConfig.builder(4, "test", members, dir).build())
                .hasMessageContaining("do not include this node 4");
        assertThatThrownBy(() -> ServerConfig.builder(1, "bad id!", members, dir).build())
                .hasMessageContaining("clusterId");
        assertThatThrownBy(() -> ServerConfig.builder(1, "t", members, dir).electionTimeoutTicks(3).heartbeatIntervalTicks(3).build())
                .hasMessageContaining("electionTimeoutTicks (3) must exceed heartbeatIntervalTicks (3)");
        assertThatThrownBy(() -> ServerConfig.builder(1, "t", members, dir).peerMaxFrameBytes(1 << 20).build())
                .hasMessageContaining("peerMaxFrameBytes (1048576) must be in [4194304, 33554432]");
    }

    /**
     * With the smallest frame limit (4 MiB) a command of nearly 1 MiB (the largest the core takes)
     * still replicates, while a connection
     * announcing a 5 MiB frame, after a valid hello, is closed before the frame is read; the cluster
     * goes on committing.
     */
    @Test
    void thePeerFrameLimitRefusesLargerFramesAndLetsNormalTrafficThrough() throws Exception {
        peerMaxFrameBytes = ServerConfig.PEER_MAX_FRAME_BYTES_MIN;
        for (int id = 1; id <= 3; id++) start(id, 0);
        String big = "x".repeat(1_000_000);
        write("big=" + big);
        await("the 1 MB value on every node", () -> machines.values().stream().allMatch(m -> big.equals(m.get("big"))));

        try (java.net.Socket rogue = new java.net.Socket(members.get(1).getAddress(), members.get(1).getPort())) {
            rogue.setSoTimeout(10_000);
            java.io.OutputStream out = rogue.getOutputStream();
            out.write(dev.keel.transport.Handshake.encodeHello("test", 2)); // a configured peer's id: the hello passes
            out.write(java.nio.ByteBuffer.allocate(4).putInt(5 << 20).array()); // then a 5 MiB length prefix
            out.write(new byte[64 << 10]); // and the start of a body the node must not wait for
            out.flush();
            InputStream in = rogue.getInputStream();
            int r;
            try {
                do {
                    r = in.read(); // the hello's answer, if any, then the close
                } while (r >= 0);
            } catch (java.net.SocketException reset) {
                r = -1; // closed with unread bytes: a reset is a close too
            }
            assertThat(r).isEqualTo(-1);
        }
        write("after=1");
        await("a write after the rogue frame on every node", () -> machines.values().stream().allMatch(m -> "1".equals(m.get("after"))));
    }

    void startJoining(int id) throws IOException {
        Map<Integer, InetSocketAddress> contact = new TreeMap<>(members);
        contact.put(id, spare.get(id));
        ServerConfig c = ServerConfig.builder(id, "test", contact, dir.resolve("n" + id))
                .tickMillis(10).electionTimeoutTicks(30).heartbeatIntervalTicks(3)
                .snapshotEveryEntries(0).proposalTimeoutMillis(5000).joining(true).build();
        MapMachine m = new MapMachine();
        machines.put(id, m);
        servers.put(id, RaftServer.start(c, m));
    }

    /** Retries a membership change the leader refuses for now (a change pending, a learner catching up). */
    void change(java.util.function.Function<RaftServer, java.util.concurrent.CompletableFuture<Void>> op) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            RaftServer leader = servers.get(leader());
            try {
                op.apply(leader).get(10, TimeUnit.SECONDS);
                return;
            } catch (Exception e) {
                if (System.nanoTime() > deadline) throw new AssertionError("membership change kept failing", e);
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
            }
        }
    }

    @Test
    void growReplaceAndShrinkWhileWriting() throws Exception {
        for (int id = 1; id <= 3; id++) start(id, 0);
        int written = 0;
        for (; written < 20; written++) write("w" + written + "=" + written);
        // Grow to five: each new node joins as a learner, catches up, then is promoted (thesis §4.2.1).
        for (int id = 4; id <= 5; id++) {
            final int n = id;
            startJoining(n);
            change(l -> l.addLearner(n, spare.get(n)));
            change(l -> l.promote(n));
            for (int k = 0; k < 10; k++, written++) write("w" + written + "=" + written);
        }
        assertThat(servers.get(leader()).status().membership().voters()).containsExactly(1, 2, 3, 4, 5);
        // Shrink back to three by removing two of the original nodes (the leader too, if it is one).
        for (int id = 1; id <= 2; id++) {
            final int n = id;
            change(l -> l.removeMember(n));
            await("node " + n + " out", () -> {
                RaftServer l = servers.get(leader());
                return l != null && !l.status().membership().contains(n);
            });
            servers.remove(n).close();
        }
        for (int k = 0; k < 10; k++, written++) write("w" + written + "=" + written);
        RaftServer leader = servers.get(leader());
        assertThat(leader.status().membership().voters()).containsExactly(3, 4, 5);
        // Leadership transfer to another voter.
        int target = leader.status().nodeId() == 5 ? 4 : 5;
        leader.transferLeadership(target).get(10, TimeUnit.SECONDS);
        await("transfer to " + target, () -> servers.get(target).status().role() == Role.LEADER);
        // Nothing acknowledged was lost, on any remaining node.
        servers.get(target).linearizableRead().get(10, TimeUnit.SECONDS);
        for (int id : new int[] {3, 4, 5}) {
            final int n = id;
            final int all = written;
            await("node " + n + " has every write", () -> String.valueOf(all - 1).equals(machines.get(n).get("w" + (all - 1))));
            for (int k = 0; k < written; k++) assertThat(machines.get(n).get("w" + k)).isEqualTo(String.valueOf(k));
        }
    }

    @Test
    void lostMajorityRecoveredOnOneSurvivor() throws Exception {
        for (int id = 1; id <= 3; id++) start(id, 0);
        for (int i = 0; i < 20; i++) servers.get(leader()).submit(b("r" + i + "=" + i)).get(10, TimeUnit.SECONDS);
        await("node 1 has every write", () -> "19".equals(machines.get(1).get("r19")));
        // Nodes 2 and 3 are lost for good; node 1 alone cannot commit anything.
        servers.remove(2).close();
        servers.remove(3).close();
        servers.remove(1).close();
        Recovery.Result r = Recovery.forceMembership(dir.resolve("n1"), 1, "test", dev.keel.core.Membership.of(1));
        assertThat(r.membership().voters()).containsExactly(1);
        start(1, 0);
        await("survivor leads alone", () -> servers.get(1).status().role() == Role.LEADER);
        servers.get(1).submit(b("after=recovery")).get(10, TimeUnit.SECONDS);
        for (int i = 0; i < 20; i++) assertThat(machines.get(1).get("r" + i)).isEqualTo(String.valueOf(i));
        assertThat(machines.get(1).get("after")).isEqualTo("recovery");
        assertThatThrownBy(() -> Recovery.forceMembership(dir.resolve("n9"), 9, "test", dev.keel.core.Membership.of(1)))
                .hasMessageContaining("must include this node 9");
    }
}
