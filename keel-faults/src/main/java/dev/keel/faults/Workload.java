package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * What the clients of a fault run do, through the public HTTP API. Each client runs one operation
 * at a time: it records the invoke, sends one request, and records ok, fail or info.
 */
public sealed interface Workload permits Workload.Register, Workload.Set, Workload.Bank {

    String name();

    /** Before the clients start, with the cluster healthy (for example the bank opens its accounts). */
    default void setUp(Target target) throws InterruptedException {
    }

    /**
     * One operation by {@code client} against its node; returns how it ended, so that the client
     * can back off after a refusal instead of spinning on a node that has no leader.
     */
    KvHttp.Outcome step(int client, Target target, SplittableRandom random);

    /** After the faults are healed: the final reads that the checks need. */
    default void finalReads(int client, Target target) throws InterruptedException {
    }

    /** Where a client sends its request, and the history to record in. */
    record Target(int node, URI uri, KvHttp http, History history) {
    }

    static Workload named(String name, int clients) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "register" -> new Register(Math.max(2, clients / 2), 120);
            case "set" -> new Set();
            case "bank" -> new Bank(5, 100);
            default -> throw new IllegalArgumentException("unknown workload '" + name + "': register, set or bank");
        };
    }

    private static Event invoke(Target t, int client, String f, String key, JsonNode value) {
        return t.history().record(client, Event.INVOKE, f, key, value, t.node(), null);
    }

    private static KvHttp.Outcome complete(Target t, int client, KvHttp.Outcome outcome, String f, String key, JsonNode value,
                                           String error) {
        String type = switch (outcome) {
            case OK -> Event.OK;
            case FAIL -> Event.FAIL;
            case INFO -> Event.INFO;
        };
        t.history().record(client, type, f, key, value, t.node(), outcome == KvHttp.Outcome.OK ? null : error);
        return outcome;
    }

    /**
     * Per-key registers holding small numbers (0-4, so compare-and-set often succeeds and the
     * checker's memo stays small): read, write and compare-and-set by value, checked for
     * linearizability key by key. Keys are retired after {@code opsPerKey} operations and replaced
     * by fresh ones, which keeps every key's history short enough to check exhaustively (Jepsen's
     * "independent keys").
     */
    final class Register implements Workload {
        private final int opsPerKey;
        private final AtomicReferenceArray<String> keys;
        private final AtomicLongArray opsOnKey;
        private final AtomicLong nextKey = new AtomicLong();

        Register(int activeKeys, int opsPerKey) {
            this.opsPerKey = opsPerKey;
            this.keys = new AtomicReferenceArray<>(activeKeys);
            this.opsOnKey = new AtomicLongArray(activeKeys);
            for (int i = 0; i < activeKeys; i++) keys.set(i, "r" + nextKey.getAndIncrement());
        }

        @Override
        public String name() {
            return "register";
        }

        private String pickKey(SplittableRandom random) {
            int slot = random.nextInt(keys.length());
            String key = keys.get(slot);
            if (opsOnKey.incrementAndGet(slot) == opsPerKey) {
                keys.set(slot, "r" + nextKey.getAndIncrement());
                opsOnKey.set(slot, 0);
            }
            return key;
        }

        @Override
        public KvHttp.Outcome step(int client, Target t, SplittableRandom random) {
            String key = pickKey(random);
            return switch (random.nextInt(3)) {
                case 0 -> {
                    invoke(t, client, "read", key, null);
                    KvHttp.Reply r = t.http().get(t.uri(), key);
                    KvHttp.Outcome o = r.readOutcome();
                    JsonNode v = null;
                    if (o == KvHttp.Outcome.OK && r.status() == 200) {
                        try {
                            v = History.number(Long.parseLong(r.text()));
                        } catch (NumberFormatException e) {
                            // Nobody writes anything but numbers here: a garbled value is a finding.
                            yield complete(t, client, KvHttp.Outcome.OK, "read", key, History.nodes().textNode(r.text()), null);
                        }
                    }
                    yield complete(t, client, o, "read", key, v, r.error());
                }
                case 1 -> {
                    long v = random.nextInt(5);
                    invoke(t, client, "write", key, History.number(v));
                    KvHttp.Reply r = t.http().put(t.uri(), key, Long.toString(v));
                    yield complete(t, client, r.writeOutcome(), "write", key, History.number(v), r.error());
                }
                default -> {
                    long expected = random.nextInt(5);
                    long v = random.nextInt(5);
                    invoke(t, client, "cas", key, History.array(expected, v));
                    KvHttp.Reply r = t.http().cas(t.uri(), key, Long.toString(expected), Long.toString(v));
                    KvHttp.Outcome o = complete(t, client, r.writeOutcome(), "cas", key, History.array(expected, v), r.error());
                    yield r.status() == 412 ? KvHttp.Outcome.OK : o; // a lost race is no reason to back off
                }
            };
        }
    }

    /**
     * An append-only set: each add creates its own key {@code s/<bucket>/<element>} with a unique
     * element, and after the faults every bucket is read back with one linearizable scan. Every
     * acknowledged add must be there; an element never attempted must not.
     */
    final class Set implements Workload {
        static final int BUCKET = 1_000;
        private final AtomicLong next = new AtomicLong();

        @Override
        public String name() {
            return "set";
        }

        static String key(long element) {
            return "s/" + (element / BUCKET) + "/" + element;
        }

        @Override
        public KvHttp.Outcome step(int client, Target t, SplittableRandom random) {
            long e = next.getAndIncrement();
            String key = key(e);
            invoke(t, client, "add", key, History.number(e));
            KvHttp.Reply r = t.http().put(t.uri(), key, "1");
            return complete(t, client, r.writeOutcome(), "add", key, History.number(e), r.error());
        }

        /** Reads every bucket, retrying each until it succeeds or the deadline passes. */
        @Override
        public void finalReads(int client, Target t) throws InterruptedException {
            long buckets = next.get() / BUCKET + 1;
            invoke(t, client, "read-all", null, null);
            ArrayNode all = History.nodes().arrayNode();
            long deadline = System.nanoTime() + 60_000_000_000L;
            for (long b = 0; b < buckets; b++) {
                KvHttp.Reply r;
                while (true) {
                    r = t.http().scan(t.uri(), "s/" + b + "/", BUCKET + 1);
                    if (r.status() == 200) break;
                    if (System.nanoTime() > deadline) {
                        complete(t, client, KvHttp.Outcome.FAIL, "read-all", null, null, "bucket " + b + ": " + r.error());
                        return;
                    }
                    Thread.sleep(200); // the cluster is recovering: try again shortly
                }
                try {
                    for (JsonNode item : History.JSON.readTree(r.body()).path("items")) {
                        String k = item.path("key").asText();
                        all.add(Long.parseLong(k.substring(k.lastIndexOf('/') + 1)));
                    }
                } catch (java.io.IOException | NumberFormatException ex) {
                    complete(t, client, KvHttp.Outcome.FAIL, "read-all", null, null, "bucket " + b + " unreadable: " + ex);
                    return;
                }
            }
            complete(t, client, KvHttp.Outcome.OK, "read-all", null, all, null);
        }
    }

    /**
     * A bank: {@code accounts} balances in one key (a comma-separated list), moved between accounts
     * by read then compare-and-set on the revision read. Every read must see the same total and no
     * negative balance; a lost or doubled update would change the total.
     */
    final class Bank implements Workload {
        static final String KEY = "bank";
        final int accounts;
        final long initialBalance;

        Bank(int accounts, long initialBalance) {
            this.accounts = accounts;
            this.initialBalance = initialBalance;
        }

        @Override
        public String name() {
            return "bank";
        }

        long total() {
            return accounts * initialBalance;
        }

        @Override
        public void setUp(Target t) throws InterruptedException {
            List<String> balances = new ArrayList<>();
            for (int i = 0; i < accounts; i++) balances.add(Long.toString(initialBalance));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (true) {
                KvHttp.Reply r = t.http().create(t.uri(), KEY, String.join(",", balances));
                if (r.status() == 200 || r.status() == 412) return; // 412: created by an earlier attempt
                if (System.nanoTime() > deadline) throw new IllegalStateException("could not open the bank: " + r.error());
                Thread.sleep(200); // the cluster is still electing: try again shortly
            }
        }

        static long[] parse(String text) {
            String[] parts = text.split(",");
            long[] out = new long[parts.length];
            for (int i = 0; i < parts.length; i++) out[i] = Long.parseLong(parts[i].trim());
            return out;
        }

        /** Reads the balances; whether the read succeeded. */
        private boolean read(int client, Target t) {
            invoke(t, client, "read-accounts", KEY, null);
            KvHttp.Reply r = t.http().get(t.uri(), KEY);
            if (r.status() != 200) {
                complete(t, client, r.readOutcome() == KvHttp.Outcome.OK ? KvHttp.Outcome.FAIL : r.readOutcome(),
                        "read-accounts", KEY, null, r.error());
                return false;
            }
            ArrayNode a = History.nodes().arrayNode();
            try {
                for (long b : parse(r.text())) a.add(b);
            } catch (NumberFormatException e) {
                complete(t, client, KvHttp.Outcome.OK, "read-accounts", KEY, History.nodes().textNode(r.text()), null);
                return true;
            }
            complete(t, client, KvHttp.Outcome.OK, "read-accounts", KEY, a, null);
            return true;
        }

        @Override
        public KvHttp.Outcome step(int client, Target t, SplittableRandom random) {
            if (random.nextBoolean()) {
                return read(client, t) ? KvHttp.Outcome.OK : KvHttp.Outcome.FAIL;
            }
            int from = random.nextInt(accounts);
            int to = (from + 1 + random.nextInt(accounts - 1)) % accounts;
            long amount = 1 + random.nextInt(5);
            ObjectNode v = History.nodes().objectNode();
            v.put("from", from);
            v.put("to", to);
            v.put("amount", amount);
            invoke(t, client, "transfer", KEY, v);
            KvHttp.Reply current = t.http().get(t.uri(), KEY);
            if (current.status() != 200 || current.etag() < 0) {
                return complete(t, client, KvHttp.Outcome.FAIL, "transfer", KEY, v, "reading balances: " + current.error());
            }
            long[] b = parse(current.text());
            if (b[from] < amount) {
                complete(t, client, KvHttp.Outcome.FAIL, "transfer", KEY, v, "insufficient funds");
                return KvHttp.Outcome.OK;
            }
            b[from] -= amount;
            b[to] += amount;
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < b.length; i++) s.append(i == 0 ? "" : ",").append(b[i]);
            KvHttp.Reply r = t.http().putIfRevision(t.uri(), KEY, current.etag(), s.toString());
            KvHttp.Outcome o = complete(t, client, r.writeOutcome(), "transfer", KEY, v, r.error());
            return r.status() == 412 ? KvHttp.Outcome.OK : o; // a lost race is no reason to back off
        }

        @Override
        public void finalReads(int client, Target t) throws InterruptedException {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline) {
                if (read(client, t)) return;
                Thread.sleep(200); // the cluster is recovering: try again shortly
            }
        }
    }
}
