package dev.keel.sim;

import dev.keel.core.ProposeResult;
import dev.keel.core.RaftConfig;
import dev.keel.core.RaftNode;
import dev.keel.core.Role;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Parses and runs scenario files in etcd's datadriven style: each command line is followed by
 * {@code ----}, its expected output and a blank line; lines starting with {@code #} before a
 * command are comments.
 *
 * <p>Output of a command: what it reports itself (a propose result, delivered messages...), then
 * events (reads confirmed, messages a partition dropped at send), then the one-line state of every
 * node whose state changed, then every message the command put in flight. {@code ok} if nothing.
 * {@code status} and {@code stabilize} print every node.
 */
final class ScenarioRunner {

    /** One command of a file: the text before it (comments, blank lines), its line, its expected output. */
    record Block(List<String> preamble, String command, int lineNumber, List<String> expected) {}

    /** Reads a scenario file into blocks. */
    static List<Block> parse(String fileName, List<String> lines) {
        List<Block> blocks = new ArrayList<>();
        List<String> preamble = new ArrayList<>();
        int i = 0;
        while (i < lines.size()) {
            String line = lines.get(i);
            if (line.isBlank() || line.startsWith("#")) {
                preamble.add(line);
                i++;
                continue;
            }
            int commandLine = i + 1;
            i++;
            if (i >= lines.size() || !lines.get(i).equals("----")) {
                throw new IllegalArgumentException(fileName + ":" + commandLine + ": expected ---- after command `"
                        + line + "`");
            }
            i++;
            List<String> expected = new ArrayList<>();
            while (i < lines.size() && !lines.get(i).isEmpty()) expected.add(lines.get(i++));
            if (i < lines.size()) i++; // the blank line ending the output
            blocks.add(new Block(List.copyOf(preamble), line.strip(), commandLine, expected));
            preamble.clear();
        }
        if (!preamble.isEmpty()) {
            blocks.add(new Block(List.copyOf(preamble), null, lines.size(), List.of()));
        }
        return blocks;
    }

    /** Renders blocks back into a file, with the given outputs in place of the expected ones. */
    static String render(List<Block> blocks, List<List<String>> outputs) {
        StringBuilder sb = new StringBuilder();
        for (int b = 0; b < blocks.size(); b++) {
            Block block = blocks.get(b);
            for (String p : block.preamble()) sb.append(p).append('\n');
            if (block.command() == null) continue;
            sb.append(block.command()).append('\n').append("----\n");
            for (String o : outputs.get(b)) sb.append(o).append('\n');
            sb.append('\n');
        }
        // No trailing blank line at the end of the file.
        while (sb.length() >= 2 && sb.charAt(sb.length() - 1) == '\n' && sb.charAt(sb.length() - 2) == '\n') {
            sb.setLength(sb.length() - 1);
        }
        return sb.toString();
    }

    private ManualCluster cluster;

    /** Runs one command and returns its output lines (never empty). */
    List<String> run(String command) {
        String[] w = command.split("\\s+");
        String verb = w[0];
        if (verb.equals("cluster")) {
            newCluster(w);
            return List.of("ok");
        }
        if (cluster == null) throw new IllegalStateException("`cluster N` must come first");

        List<String> before = new ArrayList<>();
        for (int id = 1; id <= cluster.size(); id++) before.add(cluster.describe(id));
        Set<Long> inFlightBefore = new HashSet<>();
        for (ManualCluster.InFlight f : cluster.inFlight()) inFlightBefore.add(f.id());

        List<String> out = new ArrayList<>();
        boolean allNodes = false;
        switch (verb) {
            case "campaign" -> {
                arity(w, 2, 2);
                cluster.campaign(node(w[1]));
            }
            case "tick" -> {
                arity(w, 2, 3);
                cluster.tick(node(w[1]), w.length == 3 ? Integer.parseInt(w[2]) : 1);
            }
            case "propose" -> {
                if (w.length < 3) throw new IllegalArgumentException("usage: propose N command...");
                String text = command.strip().split("\\s+", 3)[2];
                out.add(switch (cluster.propose(node(w[1]), text)) {
                    case ProposeResult.Accepted a -> "accepted index=" + a.index() + " term=" + a.term();
                    case ProposeResult.NotLeader nl -> "not leader"
                            + (nl.leaderHint() == RaftNode.NONE ? ", no leader known" : ", leader hint n" + nl.leaderHint());
                    case ProposeResult.Rejected r -> "rejected " + r.reason() + ": " + r.detail();
                });
            }
            case "members" -> {
                // members N voters=1,2,3 [learners=4,5]: node N (the leader) proposes this configuration.
                if (w.length < 3) throw new IllegalArgumentException("usage: members N voters=1,2 [learners=3]");
                int[] voters = new int[0];
                int[] learners = new int[0];
                for (int i = 2; i < w.length; i++) {
                    String[] kv = w[i].split("=", 2);
                    int[] ids = kv.length < 2 || kv[1].isEmpty() ? new int[0]
                            : java.util.Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt).toArray();
                    switch (kv[0]) {
                        case "voters" -> voters = ids;
                        case "learners" -> learners = ids;
                        default -> throw new IllegalArgumentException("unknown members option `" + kv[0] + "`");
                    }
                }
                out.add(result(cluster.changeMembership(node(w[1]), new dev.keel.core.Membership(voters, new int[0], learners))));
            }
            case "transfer" -> {
                arity(w, 3, 3);
                out.add(result(cluster.transferLeadership(node(w[1]), node(w[2]))));
            }
            case "read" -> {
                arity(w, 3, 3);
                int n = node(w[1]);
                boolean accepted = cluster.read(n, Long.parseLong(w[2]));
                out.add(accepted ? "read accepted" : "read refused: no leader known");
            }
            case "deliver" -> {
                arity(w, 1, 2);
                List<ManualCluster.Delivery> ds;
                if (w.length == 1) {
                    ds = cluster.deliverAll();
                } else if (w[1].startsWith("#")) {
                    ds = List.of(cluster.deliver(msgId(w[1])));
                } else {
                    int[] link = link(w[1]);
                    ds = cluster.deliver(link[0], link[1]);
                }
                if (ds.isEmpty()) out.add("no messages to deliver");
                for (ManualCluster.Delivery d : ds) out.add(d.toString());
            }
            case "drop" -> {
                arity(w, 1, 2);
                List<ManualCluster.InFlight> dropped;
                if (w.length == 1 || w[1].equals("all")) {
                    dropped = cluster.dropAll();
                } else if (w[1].startsWith("#")) {
                    dropped = List.of(cluster.drop(msgId(w[1])));
                } else {
                    int[] link = link(w[1]);
                    dropped = cluster.drop(link[0], link[1]);
                }
                if (dropped.isEmpty()) out.add("no messages to drop");
                for (ManualCluster.InFlight f : dropped) out.add("dropped " + f);
            }
            case "dup" -> {
                arity(w, 2, 2);
                long id = msgId(w[1]);
                ManualCluster.InFlight copy = cluster.duplicate(id);
                out.add("#" + copy.id() + " is a copy of #" + id);
            }
            case "partition" -> {
                if (w.length < 2) throw new IllegalArgumentException("usage: partition 1,2 3,4,5");
                List<Set<Integer>> groups = new ArrayList<>();
                for (int i = 1; i < w.length; i++) {
                    Set<Integer> g = new LinkedHashSet<>();
                    for (String s : w[i].split(",")) g.add(node(s));
                    groups.add(g);
                }
                @SuppressWarnings("unchecked")
                Set<Integer>[] array = groups.toArray(new Set[0]);
                cluster.partition(array);
            }
            case "heal" -> {
                arity(w, 1, 1);
                cluster.heal();
            }
            case "crash" -> {
                arity(w, 2, 2);
                cluster.crash(node(w[1]));
            }
            case "restart" -> {
                arity(w, 2, 2);
                cluster.restart(node(w[1]));
            }
            case "stabilize" -> {
                arity(w, 1, 1);
                int n = cluster.stabilize();
                out.add(n + " messages delivered or dropped");
                allNodes = true;
            }
            case "status" -> {
                arity(w, 1, 1);
                allNodes = true;
            }
            case "msgs" -> {
                arity(w, 1, 1);
                for (ManualCluster.InFlight f : cluster.inFlight()) out.add(f.toString());
                if (out.isEmpty()) out.add("no messages in flight");
                return out;
            }
            case "progress" -> {
                arity(w, 2, 2);
                int n = node(w[1]);
                RaftNode r = cluster.node(n);
                if (r == null || r.role() != Role.LEADER) {
                    out.add("n" + n + " is not leader");
                } else {
                    for (int p = 1; p <= cluster.size(); p++) if (p != n) out.add(r.progressOf(p));
                }
                return out;
            }
            case "kv" -> {
                arity(w, 2, 2);
                int n = node(w[1]);
                out.add("n" + n + ": " + (cluster.isUp(n) ? cluster.kv(n).toString() : "DOWN"));
                return out;
            }
            default -> throw new IllegalArgumentException("unknown command `" + verb + "`");
        }

        out.addAll(cluster.takeEvents());
        for (int id = 1; id <= cluster.size(); id++) {
            String now = cluster.describe(id);
            if (allNodes || !now.equals(before.get(id - 1))) out.add(now);
        }
        for (ManualCluster.InFlight f : cluster.inFlight()) {
            if (!inFlightBefore.contains(f.id())) out.add(f.toString());
        }
        if (out.isEmpty()) out.add("ok");
        return out;
    }

    private static String result(ProposeResult r) {
        return switch (r) {
            case ProposeResult.Accepted a -> "accepted index=" + a.index() + " term=" + a.term();
            case ProposeResult.NotLeader nl -> "not leader"
                    + (nl.leaderHint() == RaftNode.NONE ? ", no leader known" : ", leader hint n" + nl.leaderHint());
            case ProposeResult.Rejected rj -> "rejected " + rj.reason() + ": " + rj.detail();
        };
    }

    private void newCluster(String[] w) {
        if (w.length < 2) throw new IllegalArgumentException("usage: cluster N [prevote=false] [checkquorum=false] "
                + "[maxentries=K] [seed=S]");
        int n = Integer.parseInt(w[1]);
        int voters = n;
        long seed = 1;
        List<UnaryOperator<RaftConfig.Builder>> opts = new ArrayList<>();
        for (int i = 2; i < w.length; i++) {
            String[] kv = w[i].split("=", 2);
            if (kv.length != 2) throw new IllegalArgumentException("option `" + w[i] + "` is not key=value");
            switch (kv[0]) {
                case "prevote" -> {
                    boolean v = bool(kv[1]);
                    opts.add(b -> b.preVote(v));
                }
                case "checkquorum" -> {
                    boolean v = bool(kv[1]);
                    opts.add(b -> b.checkQuorum(v));
                }
                case "maxentries" -> {
                    int v = Integer.parseInt(kv[1]);
                    opts.add(b -> b.maxEntriesPerAppend(v));
                }
                case "seed" -> seed = Long.parseLong(kv[1]);
                case "voters" -> voters = Integer.parseInt(kv[1]);
                default -> throw new IllegalArgumentException("unknown cluster option `" + kv[0] + "`");
            }
        }
        cluster = new ManualCluster(n, voters, seed, b -> {
            for (UnaryOperator<RaftConfig.Builder> o : opts) b = o.apply(b);
            return b;
        });
    }

    private static boolean bool(String s) {
        return switch (s) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("expected true or false, got `" + s + "`");
        };
    }

    private int node(String s) {
        int id = Integer.parseInt(s);
        if (id < 1 || id > cluster.size()) throw new IllegalArgumentException("no node " + s);
        return id;
    }

    private static long msgId(String s) {
        if (!s.startsWith("#")) throw new IllegalArgumentException("expected #id, got `" + s + "`");
        return Long.parseLong(s.substring(1));
    }

    /** {@code A->B}, either side may be {@code *} (any node, returned as 0). */
    private int[] link(String s) {
        String[] p = s.split("->", -1);
        if (p.length != 2) throw new IllegalArgumentException("expected #id or A->B, got `" + s + "`");
        return new int[] {p[0].equals("*") ? 0 : node(p[0]), p[1].equals("*") ? 0 : node(p[1])};
    }

    private static void arity(String[] w, int min, int max) {
        if (w.length < min || w.length > max) {
            throw new IllegalArgumentException("`" + String.join(" ", w) + "`: wrong number of arguments");
        }
    }
}
