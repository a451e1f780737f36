package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.sim.lin.CheckResult;
import dev.keel.sim.lin.LinearizabilityChecker;
import dev.keel.sim.lin.Operation;
import dev.keel.sim.lin.RegisterModel;
import dev.keel.sim.lin.RegisterOp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The checks of a fault run, each reading only the recorded history (so that anyone can re-run them
 * on a saved file): linearizability of the registers, the set's durability, the bank's invariant.
 */
public final class Checkers {

    /** How many items of a list a summary prints before eliding the rest. */
    private static final int SHOWN = 20;

    private Checkers() {
    }

    /** The verdict of one check. */
    public enum Validity { VALID, INVALID, UNKNOWN }

    /**
     * @param name     the check
     * @param validity its verdict
     * @param summary  one line: what was checked and found
     * @param detail   for INVALID, what is wrong (the failing window, the lost elements, ...); else ""
     */
    public record Result(String name, Validity validity, String summary, String detail) {
        public boolean valid() {
            return validity == Validity.VALID;
        }
    }

    /** An invoke with its completion (ok, fail or info); an invoke never completed has completion null. */
    record Op(Event invoke, Event completion) {
        String type() {
            return completion == null ? Event.INFO : completion.type();
        }
    }

    /** Pairs each client's invoke with its next completion, in history order. */
    static void pairs(List<Event> events, Consumer<Op> sink) {
        Map<Integer, Event> open = new HashMap<>();
        for (Event e : events) {
            if (e.isNemesis()) continue;
            if (e.type().equals(Event.INVOKE)) {
                Event previous = open.put(e.client(), e);
                if (previous != null) sink.accept(new Op(previous, null)); // a client that never heard back
            } else {
                Event inv = open.remove(e.client());
                if (inv == null) throw new IllegalArgumentException("client " + e.client() + " completed " + e.f()
                        + " at " + e.time() + " ns without an invoke");
                if (!inv.f().equals(e.f())) throw new IllegalArgumentException("client " + e.client() + " invoked "
                        + inv.f() + " but completed " + e.f() + " at " + e.time() + " ns");
                sink.accept(new Op(inv, e));
            }
        }
        open.values().forEach(inv -> sink.accept(new Op(inv, null)));
    }

    /**
     * Linearizability of the registers (reads, writes, compare-and-sets), key by key, with the
     * simulator's checker. A compare-and-set refused with 412 is a completed operation that returned
     * false (it observed another value); other failures did not happen and are left out; an unknown
     * write or compare-and-set may take effect at any time after its invoke, or never.
     */
    public static Result register(List<Event> events, long maxSteps) {
        List<Operation> ops = new ArrayList<>();
        int[] counts = new int[3];
        List<String> garbled = new ArrayList<>();
        pairs(events, op -> {
            Event inv = op.invoke();
            String f = inv.f();
            if (!f.equals("read") && !f.equals("write") && !f.equals("cas")) return;
            String type = op.type();
            long call = inv.time();
            int client = inv.client();
            switch (f) {
                case "read" -> {
                    if (!type.equals(Event.OK)) return;
                    JsonNode v = op.completion().value();
                    if (v != null && !v.canConvertToLong()) {
                        garbled.add(inv.key() + " read " + v + " at " + op.completion().time() + " ns");
                        return;
                    }
                    counts[0]++;
                    ops.add(Operation.completed(client, call, op.completion().time(), new RegisterOp.Read(inv.key()),
                            v == null ? null : v.longValue()));
                }
                case "write" -> {
                    RegisterOp w = new RegisterOp.Write(inv.key(), inv.value().longValue());
                    if (type.equals(Event.OK)) ops.add(Operation.completed(client, call, op.completion().time(), w, null));
                    else if (type.equals(Event.INFO)) ops.add(Operation.pending(client, call, w));
                    counts[1]++;
                }
                default -> {
                    RegisterOp c = new RegisterOp.Cas(inv.key(), inv.value().get(0).longValue(), inv.value().get(1).longValue());
                    if (type.equals(Event.OK)) {
                        ops.add(Operation.completed(client, call, op.completion().time(), c, true));
                    } else if (type.equals(Event.FAIL) && op.completion().error() != null
                            && op.completion().error().startsWith("412")) {
                        ops.add(Operation.completed(client, call, op.completion().time(), c, false));
                    } else if (type.equals(Event.INFO)) {
                        ops.add(Operation.pending(client, call, c));
                    }
                    counts[2]++;
                }
            }
        });
        long keys = ops.stream().map(o -> ((RegisterOp) o.input()).key()).distinct().count();
        String summary = ops.size() + " operations (" + counts[0] + " reads ok, " + counts[1] + " writes, " + counts[2]
                + " compare-and-sets) on " + keys + " keys";
        if (!garbled.isEmpty()) {
            return new Result("register", Validity.INVALID, summary + "; values nobody wrote", String.join("\n", garbled));
        }
        if (ops.isEmpty()) return new Result("register", Validity.UNKNOWN, "no register operations", "");
        CheckResult r = LinearizabilityChecker.check(new RegisterModel(), ops, maxSteps);
        return switch (r.verdict()) {
            case OK -> new Result("register", Validity.VALID, summary + ": linearizable", "");
            case ILLEGAL -> new Result("register", Validity.INVALID, summary + ": NOT linearizable (key " + r.failingKey() + ")",
                    "key " + r.failingKey() + ": " + r.explanation());
            case UNKNOWN -> new Result("register", Validity.UNKNOWN, summary + ": search budget of " + maxSteps
                    + " steps exhausted at key " + r.failingKey(), r.explanation());
        };
    }

    /**
     * The set: every acknowledged add is in the final read; nothing never added is; nothing whose
     * add failed (Keel said it was not applied) is. Adds with unknown outcome may go either way.
     */
    public static Result set(List<Event> events) {
        TreeSet<Long> ok = new TreeSet<>();
        TreeSet<Long> failed = new TreeSet<>();
        TreeSet<Long> unknown = new TreeSet<>();
        List<JsonNode> finals = new ArrayList<>();
        pairs(events, op -> {
            switch (op.invoke().f()) {
                case "add" -> {
                    long e = op.invoke().value().longValue();
                    switch (op.type()) {
                        case Event.OK -> ok.add(e);
                        case Event.FAIL -> failed.add(e);
                        default -> unknown.add(e);
                    }
                }
                case "read-all" -> {
                    if (op.type().equals(Event.OK)) finals.add(op.completion().value());
                }
                default -> {
                }
            }
        });
        int attempts = ok.size() + failed.size() + unknown.size();
        if (attempts == 0) return new Result("set", Validity.UNKNOWN, "no set operations", "");
        if (finals.isEmpty()) {
            return new Result("set", Validity.UNKNOWN, attempts + " adds but no successful final read", "");
        }
        TreeSet<Long> read = new TreeSet<>();
        for (JsonNode e : finals.get(finals.size() - 1)) read.add(e.longValue());
        TreeSet<Long> lost = new TreeSet<>(ok);
        lost.removeAll(read);
        TreeSet<Long> unexpected = new TreeSet<>(read);
        unexpected.removeAll(ok);
        unexpected.removeAll(failed);
        unexpected.removeAll(unknown);
        TreeSet<Long> failedPresent = new TreeSet<>(failed);
        failedPresent.retainAll(read);
        TreeSet<Long> recovered = new TreeSet<>(unknown);
        recovered.retainAll(read);
        String summary = attempts + " adds: " + ok.size() + " acknowledged, " + failed.size() + " failed, " + unknown.size()
                + " unknown (" + recovered.size() + " of them present); final read " + read.size() + " elements; lost "
                + lost.size() + ", unexpected " + unexpected.size() + ", failed-but-present " + failedPresent.size();
        if (lost.isEmpty() && unexpected.isEmpty() && failedPresent.isEmpty()) {
            return new Result("set", Validity.VALID, summary, "");
        }
        return new Result("set", Validity.INVALID, summary, "lost (acknowledged, absent): " + shown(lost)
                + "\nunexpected (never added): " + shown(unexpected)
                + "\nfailed but present (Keel said not applied): " + shown(failedPresent));
    }

    /** The bank: every successful read sees {@code accounts} non-negative balances summing to {@code total}. */
    public static Result bank(List<Event> events, int accounts, long total) {
        List<String> bad = new ArrayList<>();
        int[] reads = new int[1];
        int[] transfers = new int[3];
        pairs(events, op -> {
            switch (op.invoke().f()) {
                case "read-accounts" -> {
                    if (!op.type().equals(Event.OK)) return;
                    reads[0]++;
                    JsonNode v = op.completion().value();
                    long sum = 0;
                    boolean wellFormed = v != null && v.isArray() && v.size() == accounts;
                    boolean negative = false;
                    if (wellFormed) {
                        for (JsonNode b : v) {
                            sum += b.longValue();
                            negative |= b.longValue() < 0;
                        }
                    }
                    if (!wellFormed || sum != total || negative) {
                        bad.add("client " + op.invoke().client() + " read " + v + " (total " + sum + ", expected " + total
                                + ") at " + op.completion().time() + " ns from node " + op.completion().node());
                    }
                }
                case "transfer" -> transfers[op.type().equals(Event.OK) ? 0 : op.type().equals(Event.FAIL) ? 1 : 2]++;
                default -> {
                }
            }
        });
        if (reads[0] == 0 && transfers[0] + transfers[1] + transfers[2] == 0) {
            return new Result("bank", Validity.UNKNOWN, "no bank operations", "");
        }
        String summary = reads[0] + " reads, transfers " + transfers[0] + " ok / " + transfers[1] + " failed / " + transfers[2]
                + " unknown; " + bad.size() + " reads with a wrong total or a negative balance";
        if (reads[0] == 0) return new Result("bank", Validity.UNKNOWN, summary, "");
        return bad.isEmpty() ? new Result("bank", Validity.VALID, summary, "")
                : new Result("bank", Validity.INVALID, summary, String.join("\n", bad.subList(0, Math.min(SHOWN, bad.size()))));
    }

    private static String shown(TreeSet<Long> s) {
        if (s.isEmpty()) return "none";
        List<Long> first = new ArrayList<>();
        for (Long l : s) {
            if (first.size() == SHOWN) break;
            first.add(l);
        }
        return first + (s.size() > SHOWN ? " and " + (s.size() - SHOWN) + " more" : "");
    }
}
