package dev.keel.explorer;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One line of the explorer's action language: what a person did to the simulated cluster, in a
 * form that can be read, edited and replayed. {@link #toString()} gives the canonical line, and
 * {@code parse(a.toString())} equals {@code a}.
 *
 * <pre>
 * tick [COUNT] [@NODE]     every live node (or only NODE) ticks COUNT times (default 1)
 * timeout NODE             NODE's election timer fires now (it campaigns)
 * deliver ID | deliver all deliver message #ID, or every message until the network is quiet
 * drop ID                  remove message #ID from the network
 * dup ID                   put a copy of message #ID at the end of the network
 * crash NODE | restart NODE
 * partition 1,2|3          groups separated by '|'; a node in no group is alone
 * heal
 * put KEY VALUE @NODE      a client write sent to NODE
 * read @NODE               a linearizable read (ReadIndex) sent to NODE
 * transfer NODE            the current leader hands leadership to NODE
 * add NODE | remove NODE   the current leader adds a member (a newcomer as a learner, a learner as
 *                          a voter) or removes one
 * </pre>
 *
 * A history starts with a {@link Header} line, {@code cluster N [voters=V] [seed=S]
 * [mutation=M]}. Blank lines and lines starting with {@code #} are comments.
 */
public sealed interface Action {

    /** The first line of a history: which cluster the actions run on. */
    record Header(int size, int voters, long seed, dev.keel.core.TestMutation mutation) {
        public static final int SIZE_MIN = 1;
        public static final int SIZE_MAX = 7;

        public Header {
            if (size < SIZE_MIN || size > SIZE_MAX) {
                throw new IllegalArgumentException("cluster size " + size + " outside " + SIZE_MIN + ".." + SIZE_MAX);
            }
            if (voters < 1 || voters > size) {
                throw new IllegalArgumentException("voters " + voters + " outside 1.." + size);
            }
            if (mutation == null) mutation = dev.keel.core.TestMutation.NONE;
        }

        @Override
        public String toString() {
            return "cluster " + size + (voters != size ? " voters=" + voters : "") + " seed=" + seed
                    + (mutation != dev.keel.core.TestMutation.NONE ? " mutation=" + mutation : "");
        }

        public static Header parse(String line) {
            String[] w = words(line);
            if (w.length < 2 || !w[0].equals("cluster")) {
                throw new IllegalArgumentException("a history starts with `cluster N [voters=V] [seed=S]`, not `"
                        + line.strip() + "`");
            }
            int size = integer(w[1], "cluster size");
            int voters = size;
            long seed = 1;
            dev.keel.core.TestMutation mutation = dev.keel.core.TestMutation.NONE;
            for (int i = 2; i < w.length; i++) {
                String[] kv = w[i].split("=", 2);
                if (kv.length != 2) throw new IllegalArgumentException("expected key=value, got `" + w[i] + "`");
                switch (kv[0]) {
                    case "voters" -> voters = integer(kv[1], "voters");
                    case "seed" -> seed = longValue(kv[1], "seed");
                    case "mutation" -> {
                        try {
                            mutation = dev.keel.core.TestMutation.valueOf(kv[1]);
                        } catch (IllegalArgumentException e) {
                            throw new IllegalArgumentException("unknown mutation `" + kv[1] + "` (one of "
                                    + java.util.Arrays.toString(dev.keel.core.TestMutation.values()) + ")");
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown cluster option `" + kv[0]
                            + "` (voters, seed, mutation)");
                }
            }
            return new Header(size, voters, seed, mutation);
        }
    }

    /** Every live node ticks {@code count} times in id order, or only {@code node} when it is not 0. */
    record Tick(int count, int node) implements Action {
        public static final int COUNT_MAX = 1000;

        public Tick {
            if (count < 1 || count > COUNT_MAX) throw new IllegalArgumentException("tick count " + count + " outside 1.." + COUNT_MAX);
        }

        @Override
        public String toString() {
            return "tick" + (count != 1 ? " " + count : "") + (node != 0 ? " @" + node : "");
        }
    }

    record Timeout(int node) implements Action {
        @Override
        public String toString() {
            return "timeout " + node;
        }
    }

    /** Delivers message {@code id}, or every message until quiet when {@code id} is 0. */
    record Deliver(long id) implements Action {
        @Override
        public String toString() {
            return "deliver " + (id == 0 ? "all" : Long.toString(id));
        }
    }

    record Drop(long id) implements Action {
        @Override
        public String toString() {
            return "drop " + id;
        }
    }

    record Duplicate(long id) implements Action {
        @Override
        public String toString() {
            return "dup " + id;
        }
    }

    record Crash(int node) implements Action {
        @Override
        public String toString() {
            return "crash " + node;
        }
    }

    record Restart(int node) implements Action {
        @Override
        public String toString() {
            return "restart " + node;
        }
    }

    /** Groups of nodes that cannot reach each other. */
    record Partition(List<Set<Integer>> groups) implements Action {
        public Partition {
            groups = List.copyOf(groups.stream().map(g -> (Set<Integer>) java.util.Collections.unmodifiableSet(new LinkedHashSet<>(g))).toList());
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("partition ");
            for (int i = 0; i < groups.size(); i++) {
                if (i > 0) sb.append('|');
                sb.append(String.join(",", groups.get(i).stream().map(String::valueOf).toList()));
            }
            return sb.toString();
        }
    }

    record Heal() implements Action {
        @Override
        public String toString() {
            return "heal";
        }
    }

    record Put(String key, String value, int node) implements Action {
        @Override
        public String toString() {
            return "put " + key + " " + value + " @" + node;
        }
    }

    record Read(int node) implements Action {
        @Override
        public String toString() {
            return "read @" + node;
        }
    }

    record Transfer(int node) implements Action {
        @Override
        public String toString() {
            return "transfer " + node;
        }
    }

    /** Adds ({@code add}: a newcomer as a learner, a learner as a voter) or removes a member, through the current leader. */
    record Membership(boolean add, int node) implements Action {
        @Override
        public String toString() {
            return (add ? "add " : "remove ") + node;
        }
    }

    /** The verbs, for error messages. */
    String VERBS = "tick, timeout, deliver, drop, dup, crash, restart, partition, heal, put, read, transfer, add, remove";

    /**
     * Parses one action line (not a header, not a comment).
     *
     * @throws IllegalArgumentException naming what is wrong and what was expected
     */
    static Action parse(String line) {
        String[] w = words(line);
        if (w.length == 0) throw new IllegalArgumentException("empty action");
        String verb = w[0];
        return switch (verb) {
            case "tick" -> {
                int count = 1;
                int node = 0;
                for (int i = 1; i < w.length; i++) {
                    if (w[i].startsWith("@")) {
                        if (node != 0) throw usage(line, "tick [COUNT] [@NODE]");
                        node = nodeId(w[i].substring(1));
                    } else if (i == 1) {
                        count = integer(w[i], "tick count");
                    } else {
                        throw usage(line, "tick [COUNT] [@NODE]");
                    }
                }
                yield new Tick(count, node);
            }
            case "timeout", "campaign" -> new Timeout(oneNode(w, line, verb + " NODE"));
            case "deliver" -> {
                arity(w, 2, line, "deliver ID | deliver all");
                yield new Deliver(w[1].equals("all") ? 0 : messageId(w[1]));
            }
            case "drop" -> {
                arity(w, 2, line, "drop ID");
                yield new Drop(messageId(w[1]));
            }
            case "dup", "duplicate" -> {
                arity(w, 2, line, "dup ID");
                yield new Duplicate(messageId(w[1]));
            }
            case "crash" -> new Crash(oneNode(w, line, "crash NODE"));
            case "restart" -> new Restart(oneNode(w, line, "restart NODE"));
            case "partition" -> {
                if (w.length < 2) throw usage(line, "partition 1,2|3");
                // Spaces between groups are allowed too: `partition 1,2 | 3` and `partition 1,2 3`.
                String spec = String.join(" ", java.util.Arrays.copyOfRange(w, 1, w.length)).replace("|", " | ");
                List<Set<Integer>> groups = new ArrayList<>();
                for (String g : spec.split("[|\\s]+")) {
                    if (g.isEmpty()) continue;
                    Set<Integer> group = new LinkedHashSet<>();
                    for (String id : g.split(",")) {
                        if (id.isEmpty()) continue;
                        if (!group.add(nodeId(id))) throw new IllegalArgumentException("node " + id + " twice in `" + g + "`");
                    }
                    if (!group.isEmpty()) groups.add(group);
                }
                if (groups.isEmpty()) throw usage(line, "partition 1,2|3");
                yield new Partition(groups);
            }
            case "heal" -> {
                arity(w, 1, line, "heal");
                yield new Heal();
            }
            case "put" -> {
                arity(w, 4, line, "put KEY VALUE @NODE");
                yield new Put(w[1], w[2], target(w[3], line, "put KEY VALUE @NODE"));
            }
            case "read" -> {
                arity(w, 2, line, "read @NODE");
                yield new Read(target(w[1], line, "read @NODE"));
            }
            case "transfer" -> new Transfer(oneNode(w, line, "transfer NODE"));
            case "add" -> new Membership(true, oneNode(w, line, "add NODE"));
            case "remove" -> new Membership(false, oneNode(w, line, "remove NODE"));
            default -> throw new IllegalArgumentException("unknown action `" + verb + "` (one of: " + VERBS + ")");
        };
    }

    /** True for lines a history skips: blank, or a comment starting with '#'. */
    static boolean isComment(String line) {
        String s = line.strip();
        return s.isEmpty() || s.startsWith("#");
    }

    private static String[] words(String line) {
        String s = line.strip();
        return s.isEmpty() ? new String[0] : s.split("\\s+");
    }

    private static IllegalArgumentException usage(String line, String form) {
        return new IllegalArgumentException("cannot read `" + line.strip() + "`: expected `" + form + "`");
    }

    private static void arity(String[] w, int n, String line, String form) {
        if (w.length != n) throw usage(line, form);
    }

    private static int oneNode(String[] w, String line, String form) {
        arity(w, 2, line, form);
        return nodeId(w[1].startsWith("@") ? w[1].substring(1) : w[1]);
    }

    private static int target(String word, String line, String form) {
        if (!word.startsWith("@")) throw usage(line, form);
        return nodeId(word.substring(1));
    }

    private static int nodeId(String s) {
        String t = s.startsWith("n") ? s.substring(1) : s;
        int id = integer(t, "node id");
        if (id < 1) throw new IllegalArgumentException("node id " + id + " < 1");
        return id;
    }

    private static long messageId(String s) {
        long id = longValue(s.startsWith("#") ? s.substring(1) : s, "message id");
        if (id < 1) throw new IllegalArgumentException("message id " + id + " < 1");
        return id;
    }

    private static int integer(String s, String what) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " `" + s + "` is not a number");
        }
    }

    private static long longValue(String s, String what) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " `" + s + "` is not a number");
        }
    }
}
