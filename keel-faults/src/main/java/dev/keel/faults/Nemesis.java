package dev.keel.faults;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The faults of a run, one at a time on a seeded schedule: a quiet spell, a fault held for a while,
 * healed, and again. Every start and stop is written to the history, so the report can shade it and
 * a reader can line up odd operations with what the cluster was going through.
 */
public final class Nemesis {

    /** The kinds of fault; {@code --nemesis} takes their names. */
    public enum Fault {
        /** Network partitions: random halves, the leader isolated, a bridge, or one-way cuts. */
        PARTITION,
        /** SIGKILL of the leader or another node, restarted when the fault ends. */
        KILL,
        /** SIGSTOP of the leader or another node for longer than an election timeout, then SIGCONT. */
        PAUSE,
        /** Slow, lossy links ({@link Network#slow}). */
        SLOW,
        /** Remove a follower from the configuration under load, then add it back and promote it. */
        MEMBERSHIP,
        /** SIGKILL of every node at once, then all restarted. */
        RESTART_ALL;

        public String cliName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Fault parse(String s) {
            for (Fault f : values()) if (f.cliName().equals(s.trim().toLowerCase(Locale.ROOT))) return f;
            throw new IllegalArgumentException("unknown nemesis '" + s + "': partition, kill, pause, slow, membership or restart-all");
        }
    }

    private final List<Fault> faults;
    private final ProcessCluster cluster;
    private final Network network;
    private final History history;
    private final SplittableRandom random;
    private final Duration quiet;
    private final Duration hold;
    private final TreeSet<Integer> removed = new TreeSet<>();
    private Runnable undo = () -> { };
    private Fault active;
    private int faultsRun;

    public Nemesis(List<Fault> faults, ProcessCluster cluster, Network network, History history, long seed,
                   Duration quiet, Duration hold) {
        if (faults.isEmpty()) throw new IllegalArgumentException("no faults to inject");
        this.faults = List.copyOf(faults);
        this.cluster = cluster;
        this.network = network;
        this.history = history;
        this.random = new SplittableRandom(seed);
        this.quiet = quiet;
        this.hold = hold;
    }

    public int faultsRun() {
        return faultsRun;
    }

    /** Runs the schedule until {@code endNanos} (System.nanoTime), then heals whatever is active. */
    public void run(long endNanos) throws InterruptedException {
        try {
            while (System.nanoTime() < endNanos) {
                sleepUntil(Math.min(endNanos, System.nanoTime() + jitter(quiet)));
                if (System.nanoTime() >= endNanos) break;
                Fault f = faults.get(random.nextInt(faults.size()));
                try {
                    start(f);
                } catch (IOException | RuntimeException e) {
                    history.nemesis(f.cliName(), false, "could not start: " + e);
                    heal();
                    continue;
                }
                sleepUntil(Math.min(endNanos, System.nanoTime() + jitter(hold)));
                heal();
            }
        } finally {
            heal();
        }
    }

    private long jitter(Duration d) {
        long n = d.toNanos();
        return n / 2 + random.nextLong(Math.max(1, n));
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left;
        while ((left = nanos - System.nanoTime()) > 0) Thread.sleep(Math.max(1, Math.min(left / 1_000_000, 200)));
    }

    private List<Integer> running() {
        List<Integer> out = new ArrayList<>();
        for (int id : cluster.ids()) if (cluster.isRunning(id) && !removed.contains(id)) out.add(id);
        return out;
    }

    /** A node to hurt, and whether it led when chosen (for the history). */
    private record Target(int id, boolean leader) {
        String describe() {
            return "node " + id + (leader ? " (the leader)" : "");
        }
    }

    /** The leader half the time (the interesting target), another node otherwise. */
    private Target target() {
        int leader = cluster.leader();
        List<Integer> nodes = running();
        int id = leader != 0 && random.nextBoolean() ? leader : nodes.get(random.nextInt(nodes.size()));
        return new Target(id, id == leader);
    }

    void start(Fault f) throws IOException, InterruptedException {
        active = f;
        faultsRun++;
        switch (f) {
            case PARTITION -> partition();
            case KILL -> {
                Target t = target();
                cluster.kill(t.id());
                history.nemesis(f.cliName(), true, "SIGKILL " + t.describe());
                undoBy(f, () -> cluster.start(t.id()), "restarted node " + t.id());
            }
            case PAUSE -> {
                Target t = target();
                cluster.pause(t.id());
                history.nemesis(f.cliName(), true, "SIGSTOP " + t.describe());
                undoBy(f, () -> cluster.resume(t.id()), "SIGCONT node " + t.id());
            }
            case SLOW -> {
                List<Integer> nodes = new ArrayList<>(cluster.ids());
                Collections.shuffle(nodes, new java.util.Random(random.nextLong()));
                List<Integer> chosen = nodes.subList(0, 1 + random.nextInt(nodes.size()));
                String what = network.slow(new TreeSet<>(chosen));
                history.nemesis(f.cliName(), true, what);
                undoBy(f, network::fast, "links back to normal");
            }
            case MEMBERSHIP -> membership();
            case RESTART_ALL -> {
                for (int id : cluster.ids()) cluster.kill(id);
                history.nemesis(f.cliName(), true, "SIGKILL every node");
                for (int id : cluster.ids()) cluster.start(id);
                undo = () -> history.nemesis(f.cliName(), false, "every node restarted");
            }
        }
    }

    private void partition() throws IOException {
        List<Integer> nodes = new ArrayList<>(cluster.ids());
        Collections.shuffle(nodes, new java.util.Random(random.nextLong()));
        int leader = cluster.leader();
        String what;
        switch (random.nextInt(4)) {
            case 0 -> {
                List<Integer> minority = nodes.subList(0, nodes.size() / 2);
                List<Integer> majority = nodes.subList(nodes.size() / 2, nodes.size());
                cutBetween(minority, majority);
                what = "halves " + new TreeSet<>(minority) + " | " + new TreeSet<>(majority);
            }
            case 1 -> {
                int l = leader != 0 ? leader : nodes.get(0);
                List<Integer> others = new ArrayList<>(cluster.ids());
                others.remove(Integer.valueOf(l));
                cutBetween(List.of(l), others);
                what = "isolate " + (leader != 0 ? "the leader " : "node ") + l;
            }
            case 2 -> {
                int bridge = nodes.get(0);
                List<Integer> rest = nodes.subList(1, nodes.size());
                List<Integer> a = rest.subList(0, rest.size() / 2);
                List<Integer> b = rest.subList(rest.size() / 2, rest.size());
                cutBetween(a, b);
                what = "bridge: " + new TreeSet<>(a) + " and " + new TreeSet<>(b) + " both reach only node " + bridge;
            }
            default -> {
                int l = leader != 0 ? leader : nodes.get(0);
                for (int other : cluster.ids()) if (other != l) network.cut(l, other);
                what = "one-way: node " + l + (leader != 0 ? " (the leader)" : "") + " cannot send to anyone, but hears everyone";
            }
        }
        history.nemesis(Fault.PARTITION.cliName(), true, what);
        undoBy(Fault.PARTITION, network::heal, "healed");
    }

    private interface IoAction {
        void run() throws IOException;
    }

    /** What ends the active fault: {@code action}, then a stop event saying {@code done}. */
    private void undoBy(Fault f, IoAction action, String done) {
        undo = () -> {
            try {
                action.run();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("ending " + f.cliName() + " (" + done + ")", e);
            }
            history.nemesis(f.cliName(), false, done);
        };
    }

    private void cutBetween(List<Integer> a, List<Integer> b) throws IOException {
        for (int x : a) {
            for (int y : b) {
                network.cut(x, y);
                network.cut(y, x);
            }
        }
    }

    private KeelClient admin() {
        List<URI> uris = new ArrayList<>();
        for (int id : running()) uris.add(cluster.clientUri(id));
        return KeelClient.builder(uris).operationTimeout(Duration.ofSeconds(20)).build();
    }

    /**
     * Removes a follower (never below three voters), then adds it back as a learner and promotes it.
     * The removed node keeps running with its data: when it comes back it catches up from the leader.
     */
    private void membership() {
        int leader = cluster.leader();
        List<Integer> candidates = new ArrayList<>(running());
        candidates.remove(Integer.valueOf(leader));
        if (leader == 0 || candidates.isEmpty()) {
            history.nemesis(Fault.MEMBERSHIP.cliName(), true, "skipped: no leader or too few voters");
            undo = () -> history.nemesis(Fault.MEMBERSHIP.cliName(), false, "nothing to undo");
            return;
        }
        int id = candidates.get(random.nextInt(candidates.size()));
        String detail;
        try (KeelClient c = admin()) {
            c.removeMember(id);
            removed.add(id);
            detail = "removed node " + id + " from the configuration";
        } catch (KeelClientException e) {
            detail = "removing node " + id + " failed: " + e.getMessage();
        }
        history.nemesis(Fault.MEMBERSHIP.cliName(), true, detail);
        undo = () -> {
            if (!removed.contains(id)) {
                history.nemesis(Fault.MEMBERSHIP.cliName(), false, "node " + id + " was not removed");
                return;
            }
            String result;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                try (KeelClient c = admin()) {
                    // An earlier attempt may have got further than its answer said (a timeout after
                    // the change committed): start from what the configuration is now.
                    var members = c.members();
                    if (!members.voters().contains(id)) {
                        if (!members.learners().contains(id)) {
                            java.net.InetSocketAddress peer = network.peerListen(id);
                            c.addMember(id, peer.getHostString() + ":" + peer.getPort(), cluster.clientUri(id), true);
                        }
                        c.promote(id);
                    }
                    removed.remove(id);
                    result = "node " + id + " added back and promoted";
                    break;
                } catch (KeelClientException e) {
                    if (System.nanoTime() > deadline) {
                        result = "could not add node " + id + " back: " + e.getMessage();
                        break;
                    }
                    try {
                        Thread.sleep(500); // a change in flight or no leader: try again shortly
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        result = "interrupted adding node " + id + " back";
                        break;
                    }
                }
            }
            history.nemesis(Fault.MEMBERSHIP.cliName(), false, result);
        };
    }

    /** Ends the active fault, if any. */
    public void heal() {
        if (active == null) return;
        Fault f = active;
        Runnable u = undo;
        active = null;
        undo = () -> { };
        try {
            u.run();
        } catch (RuntimeException e) {
            // Record and go on: the run's final phase restarts and heals everything anyway.
            history.nemesis(f.cliName(), false, "ending the fault failed: " + e);
        }
    }

    /** Whether some node is still out of the configuration (a membership fault that could not be undone). */
    public boolean anyRemoved() {
        return !removed.isEmpty();
    }
}
