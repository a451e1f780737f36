package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.InvariantViolation;
import dev.keel.core.MemoryStorage;
import dev.keel.core.Message;
import dev.keel.core.ProposeResult;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.ReadState;
import dev.keel.core.Ready;
import dev.keel.core.Role;
import dev.keel.core.SnapshotChunk;
import dev.keel.core.SnapshotMeta;
import dev.keel.sim.lin.CheckResult;
import dev.keel.sim.lin.LinearizabilityChecker;
import dev.keel.sim.lin.Operation;
import dev.keel.sim.lin.RegisterModel;
import dev.keel.sim.lin.RegisterOp;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;
import java.io.ByteArrayOutputStream;

/**
 * One seeded run of a simulated Keel cluster: the grown-up form of an in-memory cluster. A single
 * {@code long} seed decides the cluster size, network delays, loss, duplication and reordering,
 * partitions (symmetric and one-way), crashes and restarts, and the client load; the same seed
 * and options always replay the same run, event for event (see {@link SimResult#digest()}).
 *
 * <p>The run has a fault phase, then a liveness phase in which every fault heals. The
 * {@link SafetyChecker} runs after every event; at the end the clients' history is checked for
 * linearizability per key.
 *
 * <p>Time is in units; a node ticks every {@link #TICK_UNITS} units (each node at its own phase).
 * Persisting a Ready takes a random 0-3 units: a crash before then loses it, which is how "log
 * writes not yet synced" are lost.
 */
public final class Simulation {
    public static final int TICK_UNITS = 10;
    private static final long MAX_EVENTS = 20_000_000;
    private static final int ATTEMPT_TIMEOUT_UNITS = 40 * TICK_UNITS;
    private static final int OP_TIMEOUT_UNITS = 120 * TICK_UNITS;

    private enum Kind { TICK, DELIVER, PERSIST, OWN_WRITE_DONE, CLIENT_REQUEST, CLIENT_RESPONSE, CLIENT_ATTEMPT_TIMEOUT,
        CLIENT_NEXT, NEMESIS, RESTART, HEAL_ALL }

    private record Event(long time, long seq, Kind kind, int node, Object payload) {}

    private final long seed;
    private final SimOptions options;
    private final SplittableRandom rng;
    private final Digest digest = new Digest();
    private final SafetyChecker checker = new SafetyChecker();
    private final PriorityQueue<Event> queue = new PriorityQueue<>((a, b) ->
            a.time != b.time ? Long.compare(a.time, b.time) : Long.compare(a.seq, b.seq));
    private long eventSeq;
    private long now;
    private long events;
    private final ArrayDeque<String> trace;
    /** Protocol events for trace validation against the TLA+ spec; null (no cost) unless runTraced. */
    private final TraceRecorder tla;

    // The world.
    private final int n; // every simulated node, members or not
    private final boolean membershipChangesOn;
    private int membershipChanges;
    private int transfers;
    private final SimNode[] nodes; // index = node id - 1
    private final boolean[][] blocked; // blocked[from-1][to-1]: the link drops everything
    private double lossRate;
    private final double dupRate;
    private final int maxDelayUnits;
    private final double slowRate;
    private final RaftConfig baseConfig;

    // Faults chosen by the seed.
    private final boolean partitionsOn;
    private final boolean crashesOn;
    private final boolean lossOn;
    private final int nemesisEveryUnits;
    private final double crashAfterPersistRate;
    /** This seed runs keel-storage's real DurableLog on temporary directories instead of memory. */
    private final boolean realStorage;
    private final java.nio.file.Path tempDir;
    /** Take a snapshot and compact once this many entries were applied since the last (0: never). */
    private final int snapshotEvery;
    /**
     * This seed's leaders carry out their Readys before their own write is durable, as Keel's server
     * does with parallelLeaderSync (RaftNode.advanceBeforeDurable, thesis §10.2.1); the write lands
     * 0-3 units later (now and then much later), or is lost in a crash (SimOptions.parallelLeaderWrites).
     * Drawn from its own stream, so seeds without it run as before.
     */
    private final boolean leaderWritesInParallel;
    private boolean faultPhase = true;
    private int crashes;
    private int partitions;

    // Clients.
    private final SimClient[] clients;
    private final String[] keys;
    private final List<Operation> history = new ArrayList<>();
    private long nextValue = 1;
    private long nextContext = 1;
    private int opsOk;
    private int opsInfo;

    private Simulation(long seed, SimOptions options, TraceRecorder tla) {
        this.seed = seed;
        this.options = options;
        this.tla = tla;
        this.rng = new SplittableRandom(seed);
        this.trace = options.traceLines() > 0 ? new ArrayDeque<>() : null;
        int[] sizes = {1, 3, 3, 3, 5, 5, 5, 7};
        int initialVoters = options.nodes() > 0 ? options.nodes() : sizes[rng.nextInt(sizes.length)];
        // Some seeds change the membership while everything else goes wrong: spare nodes start
        // outside the cluster and may be added as learners, promoted, removed and added again.
        this.membershipChangesOn = rng.nextInt(3) == 0;
        int spares = membershipChangesOn ? rng.nextInt(3) : 0;
        this.n = initialVoters + spares;
        int[] voters = IntStream.rangeClosed(1, initialVoters).toArray();
        boolean preVote = rng.nextInt(4) != 0;
        boolean checkQuorum = rng.nextInt(4) != 0;
        boolean lease = checkQuorum && rng.nextInt(3) == 0;
        this.baseConfig = RaftConfig.builder(1, IntStream.of(voters).boxed().toList())
                .electionTimeoutTicks(10)
                .heartbeatIntervalTicks(1 + rng.nextInt(3))
                .maxEntriesPerAppend(new int[] {1, 1, 2, 3, 8, 64, 1024}[rng.nextInt(7)])
                .maxBytesPerAppend(64 + rng.nextInt(4096))
                .maxInflightAppends(1 + rng.nextInt(8))
                .maxUncommittedBytes(256 + rng.nextInt(8192))
                .snapshotChunkBytes(1 + rng.nextInt(rng.nextBoolean() ? 16 : 512))
                .maxInflightSnapshotChunks(1 + rng.nextInt(4))
                .preVote(preVote)
                .checkQuorum(checkQuorum)
                .leaseReads(lease)
                .clockDriftTicks(2)
                .maxLearnerLagEntries(rng.nextInt(3) == 0 ? 1000 : rng.nextInt(20))
                .mutation(options.mutation())
                .build();
        this.dupRate = rng.nextInt(3) == 0 ? rng.nextDouble() * 0.05 : 0;
        this.maxDelayUnits = 1 + rng.nextInt(rng.nextInt(4) == 0 ? 60 : 20);
        this.slowRate = rng.nextInt(3) == 0 ? rng.nextDouble() * 0.05 : 0;
        this.lossOn = rng.nextInt(3) != 0;
        this.lossRate = lossOn ? rng.nextDouble() * 0.1 : 0;
        this.partitionsOn = rng.nextInt(5) != 0;
        this.crashesOn = rng.nextInt(5) != 0;
        this.nemesisEveryUnits = (20 + rng.nextInt(200)) * TICK_UNITS / 10;
        this.crashAfterPersistRate = crashesOn && rng.nextBoolean() ? rng.nextDouble() * 0.01 : 0;
        this.snapshotEvery = rng.nextInt(4) == 0 ? 0 : 3 + rng.nextInt(60);
        this.leaderWritesInParallel = options.parallelLeaderWrites().applies(() -> new SplittableRandom(seed ^ 0x5EEDL).nextBoolean());
        if (tla != null && options.parallelLeaderWrites() != SimOptions.Seeds.NEVER) {
            throw new IllegalArgumentException("recording a trace needs parallelLeaderWrites NEVER: the TLA+ spec persists a Ready in one step");
        }
        this.realStorage = options.realStorage().applies(() -> rng.nextInt(10) == 0);
        try {
            this.tempDir = realStorage ? java.nio.file.Files.createTempDirectory("keel-sim-" + seed + "-") : null;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot create a temporary directory for seed " + seed, e);
        }
        this.blocked = new boolean[n][n];
        this.nodes = new SimNode[n];
        for (int i = 0; i < n; i++) {
            nodes[i] = new SimNode(i + 1, rng.split());
        }
        int keyCount = 1 + rng.nextInt(3);
        this.keys = new String[keyCount];
        for (int i = 0; i < keyCount; i++) keys[i] = "k" + i;
        this.clients = new SimClient[1 + rng.nextInt(5)];
        for (int i = 0; i < clients.length; i++) clients[i] = new SimClient(i + 1);
        if (tla != null) tla.header(IntStream.rangeClosed(1, n).toArray(), preVote, checkQuorum);
    }

    /** Runs one seed to the end and reports; never throws for a protocol failure. */
    public static SimResult run(long seed, SimOptions options) {
        return new Simulation(seed, options, null).run();
    }

    /**
     * Runs one seed like {@link #run}, recording its protocol events in {@code recorder} for trace
     * validation (spec/KeelTrace.tla). Recording draws no random numbers, so the run is the same.
     */
    public static SimResult runTraced(long seed, SimOptions options, TraceRecorder recorder) {
        return new Simulation(seed, options, java.util.Objects.requireNonNull(recorder)).run();
    }

    /** Trace lines a {@link #frameAt} frame keeps when the options ask for none. */
    static final int FRAME_TRACE_LINES = 40;
    /** Stop after this many events ({@link #frameAt}); MAX_VALUE runs to the end. */
    private long stopAt = Long.MAX_VALUE;
    private SimFrame frame;

    /**
     * Runs a seed again from the start up to {@code event} events (or until it ends) and returns the
     * state there: the explorer scrubs through a seed's run this way. The seed decides everything,
     * so frames of one seed and options are consistent with each other and with {@link #run}.
     */
    public static SimFrame frameAt(long seed, SimOptions options, long event) {
        if (event < 0) throw new IllegalArgumentException("event " + event + " < 0");
        // The trace is only recorded, never consulted: keeping more or fewer lines changes no decision.
        Simulation s = new Simulation(seed, options.traceLines() > 0 ? options : options.withTraceLines(FRAME_TRACE_LINES), null);
        s.stopAt = event;
        s.run();
        return s.frame;
    }

    private SimResult run() {
        String violation = null;
        try {
            for (SimNode node : nodes) {
                node.start();
                schedule(1 + rng.nextInt(TICK_UNITS), Kind.TICK, node.id, null);
            }
            for (SimClient c : clients) schedule(rng.nextInt(5 * TICK_UNITS), Kind.CLIENT_NEXT, c.id, null);
            if (partitionsOn || crashesOn || lossOn) schedule(nemesisEveryUnits, Kind.NEMESIS, 0, null);
            long healAt = (long) options.faultTicks() * TICK_UNITS;
            schedule(healAt, Kind.HEAL_ALL, 0, null);
            long livenessUnits = (long) options.livenessTicks() * TICK_UNITS;
            long deadline = healAt + livenessUnits;
            while (true) {
                if (events >= stopAt) break; // a frame: the state after stopAt events
                Event e = queue.poll();
                if (e == null) throw new SafetyViolation("Simulator", "event queue ran dry");
                if (e.time > deadline) {
                    // Within the bound a leader must lead and every client's final write complete;
                    // after that, members behind the leader may take longer to catch up (one entry
                    // per round trip with the slowest batching), but must never stop catching up.
                    if (!leaderAndFinalWrites || e.time > healAt + 20 * livenessUnits
                            || e.time > catchUpProgressAt + livenessUnits) {
                        throw new SafetyViolation("Liveness", livenessReport());
                    }
                }
                now = e.time;
                events++;
                if (events > MAX_EVENTS) throw new SafetyViolation("Simulator", "more than " + MAX_EVENTS + " events");
                digest.mix(e.time);
                digest.mix(e.kind.ordinal());
                digest.mix(e.node);
                handle(e);
                checker.afterStep(liveRafts());
                if (!faultPhase && livenessReached()) break;
                if (!faultPhase && leaderAndFinalWrites) {
                    long behind = slowestMemberApplied();
                    if (behind > slowestApplied) {
                        slowestApplied = behind;
                        catchUpProgressAt = e.time;
                    }
                }
            }
            if (events >= stopAt) throw new StoppedForFrame();
            CheckResult lin = LinearizabilityChecker.check(new RegisterModel(), history, 5_000_000);
            if (lin.verdict() == dev.keel.sim.lin.Verdict.ILLEGAL) {
                throw new SafetyViolation("Linearizability", "key " + lin.failingKey() + "\n" + lin.explanation());
            }
        } catch (SafetyViolation v) {
            violation = v.getMessage();
        } catch (InvariantViolation v) {
            violation = "CoreInvariant: " + v.getMessage();
        } catch (StoppedForFrame stopped) {
            // frameAt: the run stopped before its end on purpose; nothing is checked at the end.
        }
        if (stopAt != Long.MAX_VALUE) frame = captureFrame(violation);
        for (SimNode node : nodes) node.disk.close();
        if (tempDir != null) tempDir.toFile().delete();
        return new SimResult(seed, digest.value(), n, events, checker.leaderTerms(), checker.maxCommitted(), opsOk,
                opsInfo, crashes, partitions, snapshotsTaken, snapshotsInstalled, membershipChanges, violation, violation == null ? -1 : events,
                trace == null ? List.of() : List.copyOf(trace));
    }

    /** Thrown to skip the end-of-run checks when a frame stopped the run early. */
    private static final class StoppedForFrame extends RuntimeException {
        StoppedForFrame() {
            super(null, null, false, false);
        }
    }

    private SimFrame captureFrame(String violation) {
        List<SimFrame.NodeView> views = new ArrayList<>();
        for (SimNode nd : nodes) {
            List<Integer> reaches = new ArrayList<>();
            for (int o = 0; o < n; o++) if (o == nd.id - 1 || !blocked[nd.id - 1][o]) reaches.add(o + 1);
            RaftNode r = nd.raft;
            if (r == null) {
                views.add(new SimFrame.NodeView(nd.id, false, "DOWN", 0, 0, 0, 0, 0, 0, 0, List.of(), reaches, Map.of()));
                continue;
            }
            List<Entry> log = new ArrayList<>();
            for (long i = Math.max(r.firstIndex(), r.lastIndex() - SimFrame.LOG_ENTRIES_MAX + 1); i <= r.lastIndex(); i++) {
                log.add(r.entry(i));
            }
            int timeout = r.role() == dev.keel.core.Role.LEADER ? r.config().electionTimeoutTicks()
                    : r.randomizedElectionTimeoutTicks();
            views.add(new SimFrame.NodeView(nd.id, true, r.role().name(), r.currentTerm(), r.votedFor(), r.leaderId(),
                    r.commitIndex(), r.lastApplied(), r.electionElapsedTicks(), timeout, List.copyOf(log), reaches,
                    Map.copyOf(nd.kv)));
        }
        List<Event> pending = new ArrayList<>();
        for (Event e : queue) if (e.kind == Kind.DELIVER) pending.add(e);
        pending.sort((a, b) -> a.time != b.time ? Long.compare(a.time, b.time) : Long.compare(a.seq, b.seq));
        List<SimFrame.InFlightView> messages = new ArrayList<>();
        for (Event e : pending) messages.add(new SimFrame.InFlightView(e.seq, e.time, (Message) e.payload));
        boolean ended = violation != null || events < stopAt;
        return new SimFrame(seed, events, now, violation, ended, trace == null ? List.of() : List.copyOf(trace),
                List.copyOf(views), List.copyOf(messages));
    }

    // ---------------------------------------------------------------- events

    private void schedule(long delay, Kind kind, int node, Object payload) {
        queue.add(new Event(now + delay, eventSeq++, kind, node, payload));
    }

    private void handle(Event e) {
        switch (e.kind) {
            case TICK -> {
                SimNode node = node(e.node);
                if (node.raft != null) {
                    trace(e, "tick");
                    node.raft.tick();
                    if (tla != null) tla.node("tick", node.id, node.raft);
                    node.afterInput();
                }
                schedule(TICK_UNITS, Kind.TICK, e.node, null);
            }
            case DELIVER -> {
                Message m = (Message) e.payload;
                digest.mix(m);
                SimNode node = node(e.node);
                if (node.raft == null) { // delivered to a crashed node: lost
                    if (tla != null) tla.lost(m);
                    return;
                }
                trace(e, "deliver " + m);
                node.raft.step(m);
                if (tla != null) tla.recv(node.id, m, node.raft);
                node.afterInput();
            }
            case PERSIST -> {
                SimNode node = node(e.node);
                if (node.raft == null || (long) e.payload != node.incarnation) return;
                node.persistScheduled = false;
                node.processReadys();
            }
            case OWN_WRITE_DONE -> {
                SimNode node = node(e.node);
                if (node.raft == null || (long) e.payload != node.incarnation) return;
                if (node.maybeCrashBeforeLanding()) return;
                node.landOwnWrite();
                node.afterInput();
            }
            case CLIENT_REQUEST -> clientRequest(node(e.node), (ClientRequest) e.payload, e);
            case CLIENT_RESPONSE -> clients[e.node - 1].onResponse((ClientResponse) e.payload);
            case CLIENT_ATTEMPT_TIMEOUT -> clients[e.node - 1].onAttemptTimeout((long[]) e.payload);
            case CLIENT_NEXT -> {
                if (e.payload == null) clients[e.node - 1].startOp();
                else clients[e.node - 1].retry((long) e.payload);
            }
            case NEMESIS -> {
                if (!faultPhase) return;
                nemesis();
                schedule(nemesisEveryUnits / 2 + rng.nextInt(nemesisEveryUnits), Kind.NEMESIS, 0, null);
            }
            case RESTART -> {
                SimNode node = node(e.node);
                if (node.raft == null) {
                    trace(e, "restart");
                    node.start();
                }
            }
            case HEAL_ALL -> {
                trace(e, "heal all: liveness phase");
                faultPhase = false;
                lossRate = 0;
                for (boolean[] row : blocked) java.util.Arrays.fill(row, false);
                for (SimNode node : nodes) if (node.raft == null) node.start();
                for (SimClient c : clients) c.finalPhase = true;
            }
        }
    }

    private void trace(Event e, String what) {
        if (trace == null) return;
        if (trace.size() == options.traceLines()) trace.pollFirst();
        trace.addLast("t=" + e.time + " #" + events + " n" + e.node + " " + what);
    }

    private void traceNote(String what) {
        if (trace == null) return;
        if (trace.size() == options.traceLines()) trace.pollFirst();
        trace.addLast("t=" + now + " #" + events + " " + what);
    }

    private SimNode node(int id) {
        return nodes[id - 1];
    }

    private RaftNode[] liveRafts() {
        RaftNode[] out = new RaftNode[n];
        for (int i = 0; i < n; i++) out[i] = nodes[i].raft;
        return out;
    }

    /** Hands a message to the network; returns how many copies will be delivered (0: lost). */
    private int send(Message m) {
        if (blocked[m.from() - 1][m.to() - 1]) return 0;
        if (lossRate > 0 && rng.nextDouble() < lossRate) return 0;
        schedule(delay(), Kind.DELIVER, m.to(), m);
        if (dupRate > 0 && rng.nextDouble() < dupRate) {
            schedule(delay(), Kind.DELIVER, m.to(), m);
            return 2;
        }
        return 1;
    }

    /** Mostly short delays; in some seeds a few messages linger for up to three election timeouts,
     * so stale requests and responses arrive long after their term. */
    private long delay() {
        if (slowRate > 0 && rng.nextDouble() < slowRate) return 1 + rng.nextInt(30 * TICK_UNITS);
        return 1 + rng.nextInt(maxDelayUnits);
    }

    // ---------------------------------------------------------------- faults

    private void nemesis() {
        int choice = rng.nextInt(10);
        if (choice < 4 && partitionsOn) {
            for (boolean[] row : blocked) java.util.Arrays.fill(row, false);
            partitions++;
            switch (rng.nextInt(4)) {
                case 0 -> { // random halves, symmetric
                    boolean[] side = new boolean[n];
                    for (int i = 0; i < n; i++) side[i] = rng.nextBoolean();
                    for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) if (side[a] != side[b]) blocked[a][b] = true;
                    traceNote("partition halves " + java.util.Arrays.toString(side));
                }
                case 1 -> { // isolate the leader (or a random node)
                    int victim = currentLeaderOrRandom();
                    for (int o = 0; o < n; o++) {
                        if (o != victim) {
                            blocked[victim][o] = true;
                            blocked[o][victim] = true;
                        }
                    }
                    traceNote("isolate n" + (victim + 1));
                }
                case 2 -> { // one-way: a node can send but not receive, or the reverse
                    int victim = currentLeaderOrRandom();
                    boolean out = rng.nextBoolean();
                    for (int o = 0; o < n; o++) {
                        if (o != victim) {
                            if (out) blocked[victim][o] = true;
                            else blocked[o][victim] = true;
                        }
                    }
                    traceNote("one-way " + (out ? "from" : "to") + " n" + (victim + 1));
                }
                default -> traceNote("heal partition");
            }
        } else if (choice < 7 && crashesOn) {
            int victim = rng.nextInt(3) == 0 ? currentLeaderOrRandom() : rng.nextInt(n);
            SimNode node = nodes[victim];
            if (node.raft != null) {
                crashes++;
                traceNote("crash n" + node.id);
                node.crash();
                // Sometimes back at once (a process restart), sometimes after a long outage.
                long down = rng.nextBoolean() ? 1 + rng.nextInt(3 * TICK_UNITS) : (5 + rng.nextInt(80)) * TICK_UNITS;
                schedule(down, Kind.RESTART, node.id, null);
            }
        } else if (choice == 9 && membershipChangesOn) {
            changeMembership();
        } else if (choice < 9 && lossOn) {
            lossRate = rng.nextDouble() * 0.2;
            traceNote("loss " + lossRate);
        }
    }

    /** Asks the leader for a random membership change: add or remove a learner, promote, remove, replace. */
    private void changeMembership() {
        SimNode leader = null;
        for (SimNode node : nodes) if (node.raft != null && node.raft.role() == Role.LEADER) leader = node;
        if (leader == null) return;
        dev.keel.core.Membership m = leader.raft.membership();
        java.util.List<Integer> voters = new java.util.ArrayList<>(IntStream.of(m.voters()).boxed().toList());
        java.util.List<Integer> learners = new java.util.ArrayList<>(IntStream.of(m.learners()).boxed().toList());
        java.util.List<Integer> outside = new java.util.ArrayList<>();
        for (int id = 1; id <= n; id++) if (!m.contains(id)) outside.add(id);
        String what;
        int op = rng.nextInt(6);
        if (op == 5) {
            // Thesis §3.10: hand leadership to another voter, lagging or not.
            java.util.List<Integer> others = new java.util.ArrayList<>(voters);
            others.remove(Integer.valueOf(leader.id));
            if (others.isEmpty()) return;
            int to = others.get(rng.nextInt(others.size()));
            ProposeResult r = leader.raft.transferLeadership(to);
            traceNote("transfer: n" + leader.id + " -> n" + to + " " + r);
            if (r instanceof ProposeResult.Accepted) transfers++;
            leader.afterInput();
            return;
        }
        switch (op) {
            case 0 -> {
                if (outside.isEmpty()) return;
                int id = outside.get(rng.nextInt(outside.size()));
                learners.add(id);
                what = "add learner n" + id;
            }
            case 1 -> {
                if (learners.isEmpty()) return;
                int id = learners.remove(rng.nextInt(learners.size()));
                voters.add(id);
                what = "promote n" + id;
            }
            case 2 -> {
                if (voters.size() <= 1) return;
                int id = voters.remove(rng.nextInt(voters.size()));
                what = "remove voter n" + id;
            }
            case 3 -> {
                if (learners.isEmpty() || voters.size() <= 1) return;
                int in = learners.remove(rng.nextInt(learners.size()));
                int out = voters.remove(rng.nextInt(voters.size()));
                voters.add(in);
                what = "replace n" + out + " by n" + in + " (joint)";
            }
            default -> {
                if (learners.isEmpty()) return;
                int id = learners.remove(rng.nextInt(learners.size()));
                what = "remove learner n" + id;
            }
        }
        dev.keel.core.Membership target = new dev.keel.core.Membership(
                voters.stream().mapToInt(Integer::intValue).toArray(), new int[0],
                learners.stream().mapToInt(Integer::intValue).toArray());
        ProposeResult r = leader.raft.changeMembership(target);
        traceNote("membership: n" + leader.id + " " + what + " -> " + r);
        if (r instanceof ProposeResult.Accepted) {
            membershipChanges++;
            if (tla != null) tla.config(leader.id);
        }
        leader.afterInput();
    }

    private int currentLeaderOrRandom() {
        for (int i = 0; i < n; i++) {
            if (nodes[i].raft != null && nodes[i].raft.role() == Role.LEADER) return i;
        }
        return rng.nextInt(n);
    }

    // ---------------------------------------------------------------- liveness

    /** Set once, after healing, a single leader leads and every client's final write completed. */
    private boolean leaderAndFinalWrites;
    private long slowestApplied = -1;
    private long catchUpProgressAt;

    private long slowestMemberApplied() {
        SimNode leader = null;
        for (SimNode node : nodes) if (node.raft != null && node.raft.role() == Role.LEADER) leader = node;
        if (leader == null) return slowestApplied;
        long min = Long.MAX_VALUE;
        for (int id : leader.raft.membership().members()) {
            RaftNode r = node(id).raft;
            min = Math.min(min, r == null ? 0 : r.lastApplied());
        }
        return min;
    }

    private boolean livenessReached() {
        for (SimClient c : clients) if (!c.finalWriteDone) return false;
        int leaders = 0;
        for (SimNode node : nodes) if (node.raft != null && node.raft.role() == Role.LEADER) leaders++;
        if (leaders == 1) leaderAndFinalWrites = true;
        SimNode leader = null;
        for (SimNode node : nodes) {
            if (node.raft == null) return false;
            if (node.raft.role() == Role.LEADER) {
                if (leader != null) return false;
                leader = node;
            }
        }
        if (leader == null) return false;
        // Every member of the leader's configuration has applied the leader's whole log; nodes
        // removed from the cluster are left behind, as they should be.
        long commit = leader.raft.commitIndex();
        if (leader.raft.lastIndex() != commit || leader.raft.membership().isJoint()) return false;
        for (int id : leader.raft.membership().members()) {
            RaftNode r = node(id).raft;
            if (r.commitIndex() != commit || r.lastApplied() != commit || r.lastIndex() != commit) return false;
        }
        return true;
    }

    private String livenessReport() {
        StringBuilder sb = new StringBuilder("no stable leader, completed final writes and converged logs within "
                + options.livenessTicks() + " ticks after healing:");
        for (SimNode node : nodes) sb.append("\n  ").append(node.raft == null ? "n" + node.id + " down" : node.raft.status());
        for (SimClient c : clients) sb.append("\n  client ").append(c.id).append(" finalWriteDone=").append(c.finalWriteDone);
        return sb.toString();
    }

    // ---------------------------------------------------------------- nodes

    /** A simulated server: the core, its durable storage and a register state machine. */
    private final class SimNode {
        final int id;
        final SplittableRandom random;
        final SimDisk disk; // survives crashes
        RaftNode raft; // null while crashed
        long incarnation;
        boolean persistScheduled;
        /** A leader's writes handed off before they were durable, oldest first: a crash loses them. */
        final ArrayDeque<Ready> ownWrites = new ArrayDeque<>();
        /** Copies the network scheduled of each message of the Ready being sent (trace recording only). */
        final List<Integer> tlaCopies = new ArrayList<>();
        TreeMap<String, Long> kv = new TreeMap<>();
        /** The snapshot being received from the leader (the partial file on disk). */
        ByteArrayOutputStream receiving = new ByteArrayOutputStream();
        /** Writes waiting to apply, by log index. */
        final Map<Long, List<long[]>> pendingWrites = new HashMap<>(); // {client, op, term}
        /** Reads by context: {client, op, keyIndex}. */
        final Map<Long, long[]> pendingReads = new HashMap<>();
        /** Confirmed reads waiting for the state machine to reach their index: {context, readIndex}. */
        final List<long[]> readsAwaitingApply = new ArrayList<>();

        SimNode(int id, SplittableRandom random) {
            this.id = id;
            this.random = random;
            this.disk = realStorage ? new SimDisk.Durable(tempDir.resolve("n" + id), id) : new SimDisk.Memory();
        }

        RaftConfig nodeConfig() {
            // Same settings as the base, with this node's id.
            return baseConfig.toBuilder(id).build();
        }

        void start() {
            incarnation++;
            disk.reopen();
            kv = decodeState(disk.snapshotData());
            receiving = new ByteArrayOutputStream();
            pendingWrites.clear();
            pendingReads.clear();
            readsAwaitingApply.clear();
            persistScheduled = false;
            ownWrites.clear();
            raft = new RaftNode(nodeConfig(), disk.storage(), random.split());
            if (tla != null) tla.node("start", id, raft);
            checker.onStart(raft);
            afterInput();
        }

        void crash() {
            if (tla != null) tla.crash(id);
            // Writes under way may have reached the disk before the power went, in order, or not.
            for (int land = ownWrites.isEmpty() ? 0 : rng.nextInt(ownWrites.size() + 1); land > 0; land--) {
                Ready w = ownWrites.poll();
                disk.persist(w.hardState(), w.entries());
            }
            ownWrites.clear();
            raft = null; // volatile state and unpersisted Readys are gone
            disk.crash();
            incarnation++;
        }

        void afterInput() {
            if (!persistScheduled && raft.hasReady()) {
                persistScheduled = true;
                schedule(rng.nextInt(4), Kind.PERSIST, id, incarnation);
            }
        }

        void processReadys() {
            while (raft.hasReady()) {
                Ready rd = raft.ready();
                // 0. Snapshot data from the leader; an installed snapshot replaces log prefix and state.
                for (SnapshotChunk c : rd.snapshotChunks()) {
                    if (c.offset() == 0) receiving.reset();
                    if (c.offset() != receiving.size()) {
                        throw new SafetyViolation("SnapshotTransfer", "node " + id + " got chunk at " + c.offset()
                                + " after " + receiving.size() + " bytes");
                    }
                    receiving.writeBytes(c.data());
                    SnapshotMeta install = rd.snapshotToInstall();
                    if (install != null && c.meta().equals(install) && c.offset() + c.data().length == install.sizeBytes()) {
                        installSnapshot(install); // before a later chunk of a newer snapshot starts over
                    }
                }
                // A leader applies first, as Ready allows and Keel's server does: committed means durable
                // on a majority, so an acknowledged write must survive a crash in the write below.
                boolean leader = rd.role() == Role.LEADER;
                if (leader) applyCommitted(rd);
                HardState hs = rd.hardState();
                HardState onDisk = disk.storage().hardState();
                if (leaderWritesInParallel && leader && rd.snapshotChunks().isEmpty()
                        && (hs == null || (hs.currentTerm() == onDisk.currentTerm() && hs.votedFor() == onDisk.votedFor()))) {
                    if (!handOffOwnWrite(rd)) return; // crashed
                    continue;
                }
                finishOwnWrites(); // in order, and before advance() declares them durable
                // 1. Persist in the order keel-storage syncs in: term and vote first (entries of a new
                // term must never be on disk under an older term), then the entries, then the commit
                // index (it speaks of this Ready's entries, not of the stale ones they replace).
                checker.onPersist(raft, rd.entries());
                if (!rd.entries().isEmpty() && maybeTornWrite(hs, rd.entries())) return;
                if (rd.mustPersist()) disk.persist(hs, rd.entries());
                tlaCopies.clear();
                if (rd.mustPersist() && maybeCrashAt("after persist, before send", rd, List.of())) return;
                // 2. Only then send.
                for (Message m : rd.messages()) {
                    checker.onSend(m);
                    int copies = send(m);
                    if (tla != null) tlaCopies.add(copies);
                }
                if (!rd.messages().isEmpty() && maybeCrashAt("after send", rd, rd.messages())) return;
                // 3. Apply, and 4. queue the reads to serve once applied.
                if (!leader) applyCommitted(rd);
                for (long ctx : rd.abortedReads()) {
                    long[] r = pendingReads.remove(ctx);
                    if (r != null) respond(r[0], r[1], ClientResponse.retry());
                }
                raft.advance(rd);
                if (tla != null) tla.persist(id, rd.messages(), tlaCopies, raft, false);
                serveReads();
                maybeSnapshot();
            }
        }

        /**
         * A leader's Ready whose write is under way (thesis §10.2.1): sent and applied now, the write
         * lands at an OWN_WRITE_DONE event, and only then does the leader count its own copy.
         */
        boolean handOffOwnWrite(Ready rd) {
            checker.onPersist(raft, rd.entries());
            for (Message m : rd.messages()) {
                checker.onSend(m);
                send(m);
            }
            if (!rd.messages().isEmpty() && maybeCrashAt("after send, own write under way", rd, rd.messages())) return false;
            if (rd.hardState() != null || !rd.entries().isEmpty()) {
                ownWrites.add(rd);
                // Usually as quick as a follower's write; now and then a slow disk, slower than the
                // network, so that acknowledgements commit entries the leader itself has not landed.
                int units = rng.nextInt(4) == 0 ? rng.nextInt(4 * maxDelayUnits + 4) : rng.nextInt(4);
                schedule(units, Kind.OWN_WRITE_DONE, id, incarnation);
            }
            for (long ctx : rd.abortedReads()) {
                long[] r = pendingReads.remove(ctx);
                if (r != null) respond(r[0], r[1], ClientResponse.retry());
            }
            raft.advanceBeforeDurable(rd);
            serveReads();
            maybeSnapshot();
            return true;
        }

        /** The oldest write under way lands on the disk and is reported durable. */
        void landOwnWrite() {
            Ready w = ownWrites.poll();
            if (w == null) return; // finished early by finishOwnWrites
            disk.persist(w.hardState(), w.entries());
            if (!w.entries().isEmpty()) {
                Entry last = w.entries().get(w.entries().size() - 1);
                raft.persisted(last.index(), last.term());
            }
        }

        /**
         * Power loss while the leader's own write was being forced: entries that the followers'
         * acknowledgements may already have committed are not on this disk, and must not be needed.
         */
        boolean maybeCrashBeforeLanding() {
            if (!faultPhase || crashAfterPersistRate == 0 || rng.nextDouble() >= crashAfterPersistRate * 20) return false;
            crashes++;
            traceNote("crash n" + id + " before its own write landed");
            crash();
            schedule(1 + rng.nextInt(3 * TICK_UNITS), Kind.RESTART, id, null);
            return true;
        }

        /** Lands every write under way, before any other write or compaction (Keel's server does the same). */
        void finishOwnWrites() {
            while (!ownWrites.isEmpty()) landOwnWrite();
        }

        void installSnapshot(SnapshotMeta meta) {
            byte[] data = receiving.toByteArray();
            receiving.reset();
            CRC32C crc = new CRC32C();
            crc.update(data);
            if (data.length != meta.sizeBytes() || (int) crc.getValue() != meta.crc32c()) {
                throw new SafetyViolation("SnapshotTransfer", "node " + id + " was told to install " + meta
                        + " but received " + data.length + " bytes with crc " + Integer.toHexString((int) crc.getValue()));
            }
            checker.onRestore(raft, meta);
            TreeMap<String, Long> restored = decodeState(data);
            TreeMap<String, Long> expected = referenceState(meta.index());
            if (!restored.equals(expected)) {
                throw new SafetyViolation("SnapshotSafety", "node " + id + " installed " + meta + " holding " + restored
                        + " but the committed log up to " + meta.index() + " gives " + expected);
            }
            disk.install(meta, data);
            kv = restored;
            snapshotsInstalled++;
        }

        /** Log compaction (thesis §5.1): snapshot the state machine at the applied index, drop the log prefix. */
        void maybeSnapshot() {
            long applied = raft.lastApplied();
            if (snapshotEvery == 0 || applied - disk.storage().snapshot().index() < snapshotEvery) return;
            finishOwnWrites(); // the leader may have applied entries its own write has not landed yet
            byte[] data = encodeState(kv);
            CRC32C crc = new CRC32C();
            crc.update(data);
            SnapshotMeta meta = new SnapshotMeta(applied, raft.term(applied), raft.membershipAt(applied), data.length,
                    (int) crc.getValue());
            disk.compact(meta, data);
            if (tla != null) tla.compact(id, applied);
            snapshotsTaken++;
        }

        /**
         * Crashes at the narrow windows where durability bugs hide (a vote persisted but not yet
         * sent, entries acknowledged a moment ago), which crashes at random times rarely hit.
         */
        boolean maybeCrashAt(String where, Ready rd, List<Message> sent) {
            if (!faultPhase || crashAfterPersistRate == 0 || rng.nextDouble() >= crashAfterPersistRate) return false;
            if (tla != null) tla.persist(id, sent, tlaCopies, raft, true);
            crashes++;
            traceNote("crash n" + id + " " + where);
            crash();
            schedule(1 + rng.nextInt(3 * TICK_UNITS), Kind.RESTART, id, null);
            return true;
        }

        /**
         * Power loss in the middle of a write: the term and vote and a prefix of the entries reached
         * the disk, the rest did not. Nothing of this Ready was acknowledged, so nothing may be missed.
         */
        boolean maybeTornWrite(HardState hs, List<Entry> entries) {
            if (!faultPhase || crashAfterPersistRate == 0 || rng.nextDouble() >= crashAfterPersistRate / 2) return false;
            int kept = rng.nextInt(entries.size());
            disk.tornPersist(hs, entries, kept);
            if (tla != null) tla.torn(id, entries.get(0).index(), kept);
            crashes++;
            traceNote("crash n" + id + " torn write: " + kept + " of " + entries.size() + " entries persisted");
            crash();
            schedule(1 + rng.nextInt(3 * TICK_UNITS), Kind.RESTART, id, null);
            return true;
        }

        void applyCommitted(Ready rd) {
            for (Entry e : rd.committedEntries()) apply(e);
            for (ReadState rs : rd.readStates()) {
                readsAwaitingApply.add(new long[] {rs.context(), rs.readIndex()});
            }
        }

        void apply(Entry e) {
            checker.onApply(raft, e);
            applyTo(kv, e);
            List<long[]> waiting = pendingWrites.remove(e.index());
            if (waiting != null) {
                for (long[] w : waiting) {
                    // Our entry committed iff the entry applied at its index has its term.
                    respond(w[0], w[1], w[2] == e.term() ? ClientResponse.ok(null) : ClientResponse.retry());
                }
            }
        }

        void serveReads() {
            Iterator<long[]> it = readsAwaitingApply.iterator();
            while (it.hasNext()) {
                long[] r = it.next();
                if (raft.lastApplied() >= r[1]) {
                    it.remove();
                    long[] req = pendingReads.remove(r[0]);
                    if (req != null) respond(req[0], req[1], ClientResponse.ok(kv.get(keys[(int) req[2]])));
                }
            }
        }

        void respond(long client, long op, ClientResponse resp) {
            schedule(1 + rng.nextInt(5), Kind.CLIENT_RESPONSE, (int) client, resp.forOp(op));
        }
    }

    private int snapshotsTaken;
    private int snapshotsInstalled;

    private static byte[] encodeState(TreeMap<String, Long> kv) {
        StringBuilder sb = new StringBuilder();
        kv.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static TreeMap<String, Long> decodeState(byte[] data) {
        TreeMap<String, Long> kv = new TreeMap<>();
        for (String line : new String(data, StandardCharsets.UTF_8).split("\n")) {
            if (line.isEmpty()) continue;
            int eq = line.indexOf('=');
            kv.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
        }
        return kv;
    }

    /** The register state after applying the committed log up to index: what a snapshot at index must hold. */
    private TreeMap<String, Long> referenceState(long index) {
        TreeMap<String, Long> kv = new TreeMap<>();
        for (long i = 1; i <= index; i++) {
            Entry e = checker.committedEntry(i);
            if (e == null) throw new SafetyViolation("SnapshotSafety", "snapshot at " + index + " beyond committed " + (i - 1));
            applyTo(kv, e);
        }
        return kv;
    }

    private static void applyTo(Map<String, Long> kv, Entry e) {
        if (e.type() == EntryType.NORMAL) {
            String[] parts = new String(e.data(), StandardCharsets.UTF_8).split(" ");
            kv.put(parts[1], Long.parseLong(parts[2]));
        }
    }

    // ---------------------------------------------------------------- clients

    private record ClientRequest(int client, long op, boolean write, int key, long value) {}

    private record ClientResponse(long op, Outcome outcome, Long value, int leaderHint) {
        enum Outcome { OK, REDIRECT, RETRY }

        static ClientResponse ok(Long value) {
            return new ClientResponse(0, Outcome.OK, value, 0);
        }

        static ClientResponse retry() {
            return new ClientResponse(0, Outcome.RETRY, null, 0);
        }

        static ClientResponse redirect(int hint) {
            return new ClientResponse(0, Outcome.REDIRECT, null, hint);
        }

        ClientResponse forOp(long op) {
            return new ClientResponse(op, outcome, value, leaderHint);
        }
    }

    private void clientRequest(SimNode node, ClientRequest req, Event e) {
        digest.mix(req.client());
        digest.mix(req.op());
        if (node.raft == null) return; // the request is lost; the client times out
        trace(e, "client " + req.client() + " " + (req.write() ? "put " + keys[req.key()] + "=" + req.value()
                : "get " + keys[req.key()]));
        if (req.write()) {
            byte[] cmd = ("put " + keys[req.key()] + " " + req.value()).getBytes(StandardCharsets.UTF_8);
            ProposeResult r = node.raft.propose(cmd);
            if (tla != null) tla.node("propose", node.id, node.raft);
            switch (r) {
                case ProposeResult.Accepted a -> node.pendingWrites.computeIfAbsent(a.index(), k -> new ArrayList<>())
                        .add(new long[] {req.client(), req.op(), a.term()});
                case ProposeResult.NotLeader nl -> node.respond(req.client(), req.op(), ClientResponse.redirect(nl.leaderHint()));
                case ProposeResult.Rejected rj -> node.respond(req.client(), req.op(), ClientResponse.retry());
            }
        } else {
            long ctx = nextContext++;
            boolean accepted = node.raft.readIndex(ctx);
            if (tla != null) tla.node("read", node.id, node.raft);
            if (accepted) {
                node.pendingReads.put(ctx, new long[] {req.client(), req.op(), req.key()});
            } else {
                node.respond(req.client(), req.op(), ClientResponse.redirect(node.raft.leaderId()));
            }
        }
        node.afterInput();
    }

    /**
     * A client runs one operation at a time. Reads retry until they succeed or the operation times
     * out (a read has no effect, so an abandoned one is left out of the history). A write is retried
     * only after answers proving it was not appended; once an attempt's fate is unknown, the
     * operation ends as indeterminate ("info") and is checked as possibly taking effect at any time.
     */
    private final class SimClient {
        final int id;
        long op; // current operation id, 0 when idle
        boolean write;
        int key;
        long value;
        long invokeTime;
        int leaderGuess = 1;
        boolean finalPhase;
        boolean finalWriteStarted;
        boolean finalWriteDone;
        boolean attemptOutstanding;
        long attempt;

        SimClient(int id) {
            this.id = id;
        }

        void startOp() {
            if (op != 0) return;
            if (finalPhase) {
                if (finalWriteDone) return;
                finalWriteStarted = true;
                write = true;
            } else {
                write = rng.nextBoolean();
            }
            op = ++opCounter;
            key = rng.nextInt(keys.length);
            value = write ? nextValue++ : 0;
            invokeTime = now;
            attempt = 0;
            sendAttempt();
        }

        void sendAttempt() {
            attempt++;
            attemptOutstanding = true;
            int target = leaderGuess != 0 ? leaderGuess : 1 + rng.nextInt(n);
            schedule(1 + rng.nextInt(5), Kind.CLIENT_REQUEST, target, new ClientRequest(id, op, write, key, value));
            schedule(ATTEMPT_TIMEOUT_UNITS, Kind.CLIENT_ATTEMPT_TIMEOUT, id, new long[] {op, attempt});
        }

        void onResponse(ClientResponse r) {
            if (r.op() != op || !attemptOutstanding) return; // late answer to an old operation or attempt
            attemptOutstanding = false;
            switch (r.outcome()) {
                case OK -> finish(r.value());
                case REDIRECT -> {
                    leaderGuess = r.leaderHint() != 0 ? r.leaderHint() : 1 + rng.nextInt(n);
                    retryLater(r.leaderHint() != 0 ? 1 : 2 * TICK_UNITS);
                }
                case RETRY -> retryLater(2 * TICK_UNITS);
            }
        }

        void retryLater(long delay) {
            if (now + delay - invokeTime > OP_TIMEOUT_UNITS) {
                abandon(false);
                return;
            }
            schedule(delay, Kind.CLIENT_NEXT, id, op);
        }

        void retry(long which) {
            if (which == op && !attemptOutstanding) sendAttempt();
        }

        void onAttemptTimeout(long[] which) {
            if (which[0] != op || which[1] != attempt || !attemptOutstanding) return;
            attemptOutstanding = false;
            leaderGuess = 1 + rng.nextInt(n);
            if (write) {
                abandon(true); // it may have been appended: its fate is unknown
            } else {
                retryLater(1);
            }
        }

        void abandon(boolean mayHaveTakenEffect) {
            if (write && mayHaveTakenEffect) {
                history.add(new Operation(id, invokeTime, Operation.PENDING, new RegisterOp.Write(keys[key], value), null));
                opsInfo++;
            }
            op = 0;
            schedule(1 + rng.nextInt(3 * TICK_UNITS), Kind.CLIENT_NEXT, id, null);
        }

        void finish(Long readValue) {
            history.add(new Operation(id, invokeTime, now,
                    write ? new RegisterOp.Write(keys[key], value) : new RegisterOp.Read(keys[key]),
                    write ? null : readValue));
            opsOk++;
            if (finalPhase && finalWriteStarted && write) finalWriteDone = true;
            op = 0;
            schedule(1 + rng.nextInt(3 * TICK_UNITS), Kind.CLIENT_NEXT, id, null);
        }
    }

    private long opCounter;
}
