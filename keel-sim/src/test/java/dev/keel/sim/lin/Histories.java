package dev.keel.sim.lin;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Generators of register-map histories that are linearizable by construction. */
final class Histories {

    private Histories() {
    }

    /** A generated history plus which of its operations are completed reads (for mutation tests). */
    record Generated(List<Operation> ops, List<Integer> completedReads) {
    }

    /**
     * Runs {@code count} random operations one after another on a real map (operation i takes effect
     * at instant {@code 10 * i}), then widens every interval by up to {@code maxWiden} on each side,
     * so intervals overlap while still containing the true linearization point. With probability
     * {@code pendingRate} an operation's response is lost (it still took effect) and another pending
     * operation that never took effect is added.
     */
    static Generated widenedSequential(Random rnd, int count, int keys, int valueRange, long maxWiden,
            double pendingRate) {
        Map<String, Long> map = new HashMap<>();
        List<Operation> ops = new ArrayList<>();
        List<Integer> completedReads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long point = 10L * i + 1_000;
            String key = "k" + rnd.nextInt(keys);
            RegisterOp input = randomOp(rnd, key, map, valueRange);
            Object output = apply(map, input);
            long call = point - (maxWiden == 0 ? 0 : rnd.nextLong(maxWiden + 1));
            long ret = point + (maxWiden == 0 ? 0 : rnd.nextLong(maxWiden + 1));
            int client = rnd.nextInt(5);
            if (rnd.nextDouble() < pendingRate) {
                // Took effect, but the client never heard back: outputs are unknown.
                ops.add(Operation.pending(client, call, input));
                // And a timed-out operation that never took effect at all.
                long phantomCall = point - (maxWiden == 0 ? 0 : rnd.nextLong(maxWiden + 1));
                ops.add(Operation.pending(rnd.nextInt(5), phantomCall, randomOp(rnd, key, map, valueRange)));
            } else {
                if (input instanceof RegisterOp.Read) {
                    completedReads.add(ops.size());
                }
                ops.add(Operation.completed(client, call, ret, input, output));
            }
        }
        return new Generated(ops, completedReads);
    }

    /**
     * A realistic history: {@code clients} clients each issue operations back to back with random
     * latencies, each taking effect at a random instant inside its interval; about 2% time out.
     * Written values are unique unless {@code valueRange > 0}, which draws them from a small domain
     * (making reads ambiguous and the search harder).
     */
    static List<Operation> concurrentClients(Random rnd, int total, int clients, int keys, int valueRange) {
        record Planned(int client, long call, long ret, long point, RegisterOp input, boolean pending,
                boolean takesEffect) {
        }
        List<Planned> planned = new ArrayList<>();
        long[] clock = new long[clients];
        Map<String, Long> lastSeen = new HashMap<>();
        long unique = 0;
        for (int i = 0; i < total; i++) {
            int c = i % clients;
            long call = clock[c] + rnd.nextInt(5);
            long latency = 1 + rnd.nextInt(30);
            long point = call + rnd.nextLong(latency + 1);
            boolean pending = rnd.nextDouble() < 0.02;
            String key = "k" + rnd.nextInt(keys);
            int kind = rnd.nextInt(10);
            long value = valueRange > 0 ? rnd.nextInt(valueRange) : ++unique;
            RegisterOp input;
            if (kind < 4) {
                input = new RegisterOp.Read(key);
            } else if (kind < 8) {
                input = new RegisterOp.Write(key, value);
            } else {
                Long seen = lastSeen.get(key);
                long expected = seen != null && rnd.nextBoolean() ? seen : rnd.nextInt(Math.max(1, valueRange));
                input = new RegisterOp.Cas(key, expected, value);
            }
            lastSeen.put(key, value);
            planned.add(new Planned(c, call, call + latency, point, input, pending, !pending || rnd.nextBoolean()));
            clock[c] = call + latency + (pending ? 50 : 0);
        }
        // Outputs come from executing the operations in linearization-point order on a real map.
        List<Planned> byPoint = new ArrayList<>(planned);
        byPoint.sort(Comparator.comparingLong(Planned::point));
        Map<String, Long> map = new HashMap<>();
        Map<Planned, Object> outputs = new HashMap<>();
        for (Planned p : byPoint) {
            if (p.takesEffect()) {
                outputs.put(p, apply(map, p.input()));
            }
        }
        List<Operation> ops = new ArrayList<>();
        for (Planned p : planned) {
            ops.add(p.pending()
                    ? Operation.pending(p.client(), p.call(), p.input())
                    : Operation.completed(p.client(), p.call(), p.ret(), p.input(), outputs.get(p)));
        }
        return ops;
    }

    private static RegisterOp randomOp(Random rnd, String key, Map<String, Long> map, int valueRange) {
        return switch (rnd.nextInt(3)) {
            case 0 -> new RegisterOp.Read(key);
            case 1 -> new RegisterOp.Write(key, rnd.nextInt(valueRange));
            default -> {
                Long current = map.get(key);
                long expected = current != null && rnd.nextBoolean() ? current : rnd.nextInt(valueRange);
                yield new RegisterOp.Cas(key, expected, rnd.nextInt(valueRange));
            }
        };
    }

    /** Applies an operation to a real map and returns the output a client would see. */
    static Object apply(Map<String, Long> map, RegisterOp op) {
        return switch (op) {
            case RegisterOp.Write w -> {
                map.put(w.key(), w.value());
                yield null;
            }
            case RegisterOp.Read r -> map.get(r.key());
            case RegisterOp.Cas c -> {
                Long current = map.get(c.key());
                boolean ok = current != null && current == c.expected();
                if (ok) {
                    map.put(c.key(), c.value());
                }
                yield ok;
            }
        };
    }
}
