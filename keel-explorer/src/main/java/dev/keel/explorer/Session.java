package dev.keel.explorer;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.InvariantViolation;
import dev.keel.core.Message;
import dev.keel.core.ProposeResult;
import dev.keel.core.RaftNode;
import dev.keel.core.Role;
import dev.keel.sim.ManualCluster;
import dev.keel.sim.SafetyViolation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * One explorer session: a {@link ManualCluster} plus the history of actions that built it.
 *
 * <p>The cluster is always exactly what its header and the first {@link #step()} actions of the
 * history give, so the history is the session: replaying its text gives the same state, and going
 * back to step k rebuilds the cluster from the header and the first k actions (the simulator is
 * deterministic, so nothing else is needed). Actions after the current step are kept until a new
 * action is taken there, so one can scrub back and forth through a history.
 *
 * <p>The simulator's safety checker runs after every step. When a Raft property breaks (a
 * {@link SafetyViolation}, or a core {@link InvariantViolation}) the action is kept in the history
 * (it is what broke it), the violation is recorded with the nodes and entries it names, and the
 * session refuses further actions until one steps back or starts again.
 *
 * <p>Not thread-safe: the server calls it under one lock.
 */
public final class Session {
    /** Outcome lines kept for the page's event list. */
    static final int LOG_LINES_MAX = 300;
    /** Leader changes kept for the page. */
    static final int LEADER_CHANGES_MAX = 50;

    /** A broken property: which one, its message, and the step, nodes and entries (index/term) it names. */
    public record Violation(String property, String message, int step, String action, List<Integer> nodes,
                            List<String> entries) {}

    private final Action.Header header;
    private final List<Action> history = new ArrayList<>();
    private int step;
    private ManualCluster cluster;
    private Violation violation;
    private long nextReadContext;
    private final Deque<String> log = new ArrayDeque<>();
    private final Deque<String> leaderChanges = new ArrayDeque<>();
    /** leaderOfTerm seen so far in this rebuild, to report each new leader once. */
    private final Map<Long, Integer> leadersSeen = new LinkedHashMap<>();
    /** The highest message id seen in flight after an action, to count the messages the next one sends. */
    private long highestIdSeen;

    public Session(Action.Header header) {
        this.header = header;
        rebuild(0);
    }

    /** A 3-node cluster, the page's first view. */
    public static Session standard() {
        return new Session(new Action.Header(3, 3, 1, dev.keel.core.TestMutation.NONE));
    }

    /**
     * A session from a history's text: a header line, then one action per line. Every line is
     * parsed before anything runs, and every action must run (a violation may end it early; later
     * lines are kept as the history's future).
     *
     * @throws IllegalArgumentException naming the first bad line by number
     */
    public static Session replay(String text) {
        String[] lines = text.split("\r?\n", -1);
        Action.Header header = null;
        List<Action> actions = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            if (Action.isComment(lines[i])) continue;
            try {
                if (header == null) {
                    header = Action.Header.parse(lines[i]);
                } else {
                    actions.add(Action.parse(lines[i]));
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("line " + (i + 1) + ": " + e.getMessage(), e);
            }
        }
        if (header == null) throw new IllegalArgumentException("empty history: it starts with `cluster N [seed=S]`");
        Session s = new Session(header);
        for (int i = 0; i < actions.size(); i++) {
            if (s.violation != null) {
                s.history.addAll(actions.subList(i, actions.size())); // kept to scrub through
                break;
            }
            try {
                s.run(actions.get(i));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("action " + (i + 1) + " `" + actions.get(i) + "`: " + e.getMessage(), e);
            }
        }
        return s;
    }

    public Action.Header header() {
        return header;
    }

    /** How many actions of the history the cluster has taken. */
    public int step() {
        return step;
    }

    /** The whole history (including actions after the current step). */
    public List<Action> history() {
        return List.copyOf(history);
    }

    public Violation violation() {
        return violation;
    }

    public ManualCluster cluster() {
        return cluster;
    }

    /** The history's text: the header, then one action per line (all of it, past the current step too). */
    public String historyText() {
        StringBuilder sb = new StringBuilder(header.toString()).append('\n');
        for (Action a : history) sb.append(a).append('\n');
        return sb.toString();
    }

    /**
     * Parses and runs one action line at the current step, discarding any history after it.
     *
     * @return what happened, in one or more lines
     * @throws IllegalArgumentException for a line that does not parse or names what does not exist
     * @throws IllegalStateException when the action cannot run now (a node is down, no leader, a violation stopped the session)
     */
    public String apply(String line) {
        return apply(Action.parse(line));
    }

    public String apply(Action action) {
        if (violation != null) {
            throw new IllegalStateException("stopped by " + violation.property() + " at step " + violation.step()
                    + "; step back or start again");
        }
        if (step < history.size()) history.subList(step, history.size()).clear();
        return run(action);
    }

    /** Moves to step k of the history (0 = the fresh cluster) by replaying its first k actions. */
    public void seek(int k) {
        if (k < 0 || k > history.size()) {
            throw new IllegalArgumentException("step " + k + " outside 0.." + history.size());
        }
        rebuild(k);
    }

    private void rebuild(int k) {
        cluster = new ManualCluster(header.size(), header.voters(), header.seed(), b -> b.mutation(header.mutation()));
        step = 0;
        violation = null;
        nextReadContext = 1;
        log.clear();
        leaderChanges.clear();
        leadersSeen.clear();
        highestIdSeen = 0;
        List<Action> todo = List.copyOf(history.subList(0, k));
        for (Action a : todo) {
            execute(a); // a past action that ran once runs again: the simulator is deterministic
            if (violation != null) break;
        }
    }

    /** Runs an action, appends it to the history when it ran (or broke a property). */
    private String run(Action action) {
        String outcome;
        try {
            outcome = execute(action);
        } catch (RuntimeException e) {
            // The action may have changed part of the cluster before failing (deliver all stopping
            // at its bound): rebuild it from the history, which does not include the action.
            rebuild(step);
            throw e;
        }
        history.add(action);
        return outcome;
    }

    /** Runs one action on the cluster at the current step and advances the step. */
    private String execute(Action action) {
        List<String> before = snapshotLines();
        long idBefore = highestIdSeen;
        String what;
        SafetyViolation broken = null;
        InvariantViolation coreBroken = null;
        try {
            what = perform(action);
        } catch (SafetyViolation e) {
            broken = e;
            what = "VIOLATION " + e.getMessage();
        } catch (InvariantViolation e) {
            coreBroken = e;
            what = "VIOLATION core invariant: " + e.getMessage();
        }
        step++;
        StringBuilder sb = new StringBuilder(what);
        if (broken != null) {
            violation = violation(broken.property(), broken.getMessage(), action);
        } else if (coreBroken != null) {
            violation = violation("CoreInvariant", coreBroken.getMessage(), action);
        } else {
            for (String ev : cluster.takeEvents()) sb.append('\n').append(ev);
            List<String> after = snapshotLines();
            for (int i = 0; i < after.size(); i++) {
                if (!after.get(i).equals(before.get(i))) sb.append('\n').append(after.get(i));
            }
            int sent = 0;
            for (ManualCluster.InFlight f : cluster.inFlight()) {
                if (f.id() > idBefore) sent++;
                highestIdSeen = Math.max(highestIdSeen, f.id());
            }
            if (sent > 0) sb.append('\n').append(sent).append(sent == 1 ? " message" : " messages").append(" sent");
            noteLeaders();
        }
        String outcome = sb.toString();
        addLog(step + ": " + action + " -> " + outcome.replace("\n", "; "));
        return outcome;
    }

    private String perform(Action action) {
        return switch (action) {
            case Action.Tick t -> {
                for (int i = 0; i < t.count(); i++) {
                    if (t.node() != 0) {
                        cluster.tick(t.node(), 1);
                    } else {
                        for (int id = 1; id <= cluster.size(); id++) if (cluster.isUp(id)) cluster.tick(id, 1);
                    }
                }
                yield (t.node() == 0 ? "every live node" : "n" + t.node()) + " ticked " + t.count()
                        + (t.count() == 1 ? " time" : " times");
            }
            case Action.Timeout t -> {
                requireUp(t.node());
                cluster.campaign(t.node());
                yield "n" + t.node() + " timed out";
            }
            case Action.Deliver d -> {
                if (d.id() == 0) {
                    List<ManualCluster.Delivery> ds = cluster.deliverAll();
                    yield ds.isEmpty() ? "no messages in flight" : ds.size() + " messages taken off the network";
                }
                yield cluster.deliver(d.id()).toString();
            }
            case Action.Drop d -> "dropped " + cluster.drop(d.id());
            case Action.Duplicate d -> {
                ManualCluster.InFlight copy = cluster.duplicate(d.id());
                yield "#" + copy.id() + " is a copy of #" + d.id();
            }
            case Action.Crash c -> {
                cluster.crash(c.node());
                yield "n" + c.node() + " crashed";
            }
            case Action.Restart r -> {
                cluster.restart(r.node());
                yield "n" + r.node() + " restarted";
            }
            case Action.Partition p -> {
                @SuppressWarnings("unchecked")
                Set<Integer>[] groups = p.groups().toArray(new Set[0]);
                cluster.partition(groups);
                yield "partitioned " + p.toString().substring("partition ".length());
            }
            case Action.Heal h -> {
                cluster.heal();
                yield "healed";
            }
            case Action.Put p -> {
                requireUp(p.node());
                yield describe(cluster.propose(p.node(), "put " + p.key() + " " + p.value()));
            }
            case Action.Read r -> {
                requireUp(r.node());
                long ctx = nextReadContext++;
                yield cluster.read(r.node(), ctx) ? "read ctx=" + ctx + " started at n" + r.node()
                        : "read refused at n" + r.node() + ": no leader known";
            }
            case Action.Transfer t -> {
                checkId(t.node());
                int leader = leader();
                yield "n" + leader + " transfers to n" + t.node() + ": " + describe(cluster.transferLeadership(leader, t.node()));
            }
            case Action.Membership m -> {
                checkId(m.node());
                int leader = leader();
                dev.keel.core.Membership now = cluster.node(leader).membership();
                if (now.isJoint()) throw new IllegalStateException("n" + leader + " is in joint consensus; wait for it to end");
                TreeSet<Integer> voters = new TreeSet<>(IntStream.of(now.voters()).boxed().toList());
                TreeSet<Integer> learners = new TreeSet<>(IntStream.of(now.learners()).boxed().toList());
                // Thesis §4.2.1: a new server joins as a non-voting learner and catches up before
                // it counts in majorities, so `add` makes a newcomer a learner and a learner a voter.
                if (m.add()) {
                    if (voters.contains(m.node())) throw new IllegalStateException("n" + m.node() + " is already a voter");
                    if (!learners.remove(m.node())) learners.add(m.node());
                    else voters.add(m.node());
                } else if (!voters.remove(m.node()) && !learners.remove(m.node())) {
                    throw new IllegalStateException("n" + m.node() + " is not a member");
                }
                var target = new dev.keel.core.Membership(ints(voters), new int[0], ints(learners));
                yield "n" + leader + " proposes voters " + voters + (learners.isEmpty() ? "" : " learners " + learners) + ": " + describe(cluster.changeMembership(leader, target));
            }
        };
    }

    private static int[] ints(TreeSet<Integer> s) {
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String describe(ProposeResult r) {
        return switch (r) {
            case ProposeResult.Accepted a -> "accepted at index " + a.index() + " in term " + a.term();
            case ProposeResult.NotLeader nl -> "not leader" + (nl.leaderHint() == RaftNode.NONE ? ", no leader known"
                    : ", leader hint n" + nl.leaderHint());
            case ProposeResult.Rejected rj -> "rejected " + rj.reason() + ": " + rj.detail();
        };
    }

    /** The live leader of the highest term. */
    private int leader() {
        int best = 0;
        long bestTerm = -1;
        for (int id = 1; id <= cluster.size(); id++) {
            RaftNode r = cluster.node(id);
            if (r != null && r.role() == Role.LEADER && r.currentTerm() > bestTerm) {
                best = id;
                bestTerm = r.currentTerm();
            }
        }
        if (best == 0) throw new IllegalStateException("no leader: elect one first");
        return best;
    }

    private void requireUp(int id) {
        checkId(id);
        if (!cluster.isUp(id)) throw new IllegalStateException("n" + id + " is down");
    }

    private void checkId(int id) {
        if (id < 1 || id > cluster.size()) {
            throw new IllegalArgumentException("no node " + id + " (nodes are 1.." + cluster.size() + ")");
        }
    }

    private static final Pattern NODE_REF = Pattern.compile("\\b(?:node|nodes|leader|for|and) (\\d+)");
    private static final Pattern ENTRY_REF = Pattern.compile("\\b(\\d+)/(\\d+)\\b");

    private Violation violation(String property, String message, Action action) {
        return violation(property, message, step, action.toString(), cluster.size());
    }

    /** A violation from a checker's message ("Property: detail"), with the nodes and entries it names. */
    static Violation violationOf(String message, int step, String action, int size) {
        int colon = message.indexOf(':');
        return violation(colon > 0 ? message.substring(0, colon) : "Violation", message, step, action, size);
    }

    private static Violation violation(String property, String message, int step, String action, int size) {
        TreeSet<Integer> nodes = new TreeSet<>();
        Matcher m = NODE_REF.matcher(message);
        while (m.find()) {
            int id = Integer.parseInt(m.group(1));
            if (id >= 1 && id <= size) nodes.add(id);
        }
        List<String> entries = new ArrayList<>();
        Matcher e = ENTRY_REF.matcher(message);
        while (e.find()) entries.add(e.group(1) + "/" + e.group(2));
        return new Violation(property, message, step, action, List.copyOf(nodes), List.copyOf(entries));
    }

    private List<String> snapshotLines() {
        List<String> out = new ArrayList<>();
        for (int id = 1; id <= cluster.size(); id++) {
            RaftNode r = cluster.node(id);
            out.add(r == null ? "n" + id + " down"
                    : "n" + id + " " + r.role() + " term=" + r.currentTerm() + " commit=" + r.commitIndex());
        }
        return out;
    }


    private void noteLeaders() {
        for (int id = 1; id <= cluster.size(); id++) {
            RaftNode r = cluster.node(id);
            if (r != null && r.role() == Role.LEADER && leadersSeen.putIfAbsent(r.currentTerm(), id) == null) {
                leaderChanges.addLast("step " + step + ": n" + id + " leader of term " + r.currentTerm());
                if (leaderChanges.size() > LEADER_CHANGES_MAX) leaderChanges.removeFirst();
            }
        }
    }

    private void addLog(String line) {
        log.addLast(line);
        if (log.size() > LOG_LINES_MAX) log.removeFirst();
    }

    // ---------------------------------------------------------------- the page's view

    /** Everything the page draws, as a tree of maps and lists for the JSON encoder. */
    public Map<String, Object> state() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("mode", "sim");
        s.put("header", header.toString());
        s.put("size", header.size());
        s.put("seed", header.seed());
        s.put("step", step);
        s.put("historyLength", history.size());
        List<String> lines = new ArrayList<>();
        for (Action a : history) lines.add(a.toString());
        s.put("history", lines);
        s.put("electionTimeoutTicks", cluster.size() == 0 ? 0 : configTimeout());
        List<Map<String, Object>> nodes = new ArrayList<>();
        for (int id = 1; id <= cluster.size(); id++) nodes.add(nodeState(id));
        s.put("nodes", nodes);
        s.put("members", members());
        List<Map<String, Object>> messages = new ArrayList<>();
        for (ManualCluster.InFlight f : cluster.inFlight()) messages.add(messageState(f));
        s.put("messages", messages);
        s.put("log", List.copyOf(log));
        s.put("leaderChanges", List.copyOf(leaderChanges));
        s.put("violation", violation);
        return s;
    }

    private int configTimeout() {
        for (int id = 1; id <= cluster.size(); id++) {
            RaftNode r = cluster.node(id);
            if (r != null) return r.config().electionTimeoutTicks();
        }
        return 10;
    }

    private Map<String, Object> nodeState(int id) {
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("id", id);
        RaftNode r = cluster.node(id);
        List<Integer> group = new ArrayList<>();
        for (int other = 1; other <= cluster.size(); other++) if (cluster.connected(id, other)) group.add(other);
        n.put("reaches", group);
        if (r == null) {
            var disk = cluster.storage(id);
            HardState hs = disk.hardState();
            n.put("up", false);
            n.put("role", "DOWN");
            n.put("term", hs.currentTerm());
            n.put("vote", hs.votedFor());
            n.put("leader", 0);
            n.put("commit", hs.commitIndex());
            n.put("applied", 0);
            List<Map<String, Object>> log = new ArrayList<>();
            for (long i = disk.firstIndex(); i <= disk.lastIndex(); i++) log.add(entryState(disk.entry(i)));
            n.put("log", log);
            n.put("kv", Map.of());
            return n;
        }
        n.put("up", true);
        n.put("role", r.role().name());
        n.put("term", r.currentTerm());
        n.put("vote", r.votedFor());
        n.put("leader", r.leaderId());
        n.put("commit", r.commitIndex());
        n.put("applied", r.lastApplied());
        n.put("electionElapsedTicks", r.electionElapsedTicks());
        // The leader's timer is check-quorum's (config timeout); the others' is the randomized one.
        n.put("electionTimeoutTicks", r.role() == Role.LEADER ? r.config().electionTimeoutTicks()
                : r.randomizedElectionTimeoutTicks());
        List<Map<String, Object>> log = new ArrayList<>();
        for (long i = r.firstIndex(); i <= r.lastIndex(); i++) log.add(entryState(r.entry(i)));
        n.put("log", log);
        n.put("kv", cluster.kv(id));
        if (r.role() == Role.LEADER) {
            Map<String, Long> match = new LinkedHashMap<>();
            for (int f : r.membership().members()) if (f != id) match.put(Integer.toString(f), r.matchIndex(f));
            n.put("matchIndex", match);
        }
        return n;
    }

    static Map<String, Object> entryState(Entry e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", e.index());
        m.put("term", e.term());
        m.put("type", e.type().name());
        m.put("text", e.type() == EntryType.NORMAL ? new String(e.data(), StandardCharsets.UTF_8) : e.toString());
        return m;
    }

    /** The configuration of the most recent live view: the highest-term leader's, else the first live node's. */
    private Map<String, Object> members() {
        RaftNode view = null;
        for (int id = 1; id <= cluster.size(); id++) {
            RaftNode r = cluster.node(id);
            if (r == null) continue;
            if (view == null || (r.role() == Role.LEADER && (view.role() != Role.LEADER || r.currentTerm() > view.currentTerm()))) {
                view = r;
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        if (view == null) return m;
        var ms = view.membership();
        m.put("voters", Arrays.stream(ms.voters()).boxed().toList());
        m.put("outgoing", Arrays.stream(ms.outgoing()).boxed().toList());
        m.put("learners", Arrays.stream(ms.learners()).boxed().toList());
        m.put("seenBy", view.id());
        return m;
    }

    private Map<String, Object> messageState(ManualCluster.InFlight f) {
        Message msg = f.message();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", f.id());
        m.put("from", msg.from());
        m.put("to", msg.to());
        m.put("type", msg.getClass().getSimpleName());
        m.put("term", msg.term());
        String text = ManualCluster.describe(msg);
        m.put("text", text);
        // The short label drawn on the message: PreVote, RequestVote, AppendEntries...
        String kind = text.substring(text.indexOf(' ') + 1);
        int sp = kind.indexOf(' ');
        m.put("label", sp < 0 ? kind : kind.substring(0, sp));
        m.put("partitioned", !cluster.connected(msg.from(), msg.to()));
        m.put("toDown", !cluster.isUp(msg.to()));
        return m;
    }
}
