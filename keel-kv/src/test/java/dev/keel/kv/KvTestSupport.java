package dev.keel.kv;

import dev.keel.core.Role;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;

/** Waiting helpers shared by the in-process cluster tests: poll with a deadline, never sleep to synchronise. */
final class KvTestSupport {
    private KvTestSupport() {}

    /** Polls {@code probe} until it returns a value other than null or false, or fails after {@code deadline}. */
    static <T> T await(String what, Duration deadline, Supplier<T> probe) {
        long end = System.nanoTime() + deadline.toNanos();
        while (System.nanoTime() < end) {
            T v = probe.get();
            if (v != null && !Boolean.FALSE.equals(v)) return v;
            try {
                // Poll interval of a wait with a deadline, not synchronisation by sleeping.
                Thread.sleep(Duration.ofMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
        throw new AssertionError("timed out after " + deadline + " waiting for " + what);
    }

    /** The id of the leader every live node agrees on. */
    static int awaitLeader(Map<Integer, KvServer> servers, Duration deadline) {
        return await("a leader all live nodes agree on", deadline, () -> {
            int leader = 0;
            for (KvServer s : servers.values()) {
                int l = s.raft().status().leaderId();
                if (l == 0 || (leader != 0 && l != leader) || !servers.containsKey(l)) return null;
                leader = l;
            }
            return servers.get(leader).raft().status().role() == Role.LEADER ? leader : null;
        });
    }
}
