package dev.keel.kv.store;

import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvResult.ErrorCode;
import dev.keel.server.StateMachine;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * The replicated key-value store: byte keys (ordered as unsigned bytes) to byte values, with a
 * cluster-wide revision per change and exactly-once client sessions (thesis §6.3).
 *
 * <h2>Revisions</h2>
 * Every change is stamped with the log index of the command that made it, so revisions increase
 * monotonically and are the same on every node. A key carries {@code createRevision},
 * {@code modRevision} and {@code version} (puts since creation); the store's revision is the index
 * of its latest change. Commands whose condition fails, deletes of absent keys and refused commands
 * change nothing and take no revision.
 *
 * <h2>Sessions and their expiry</h2>
 * A write may carry (clientId, sequence). The store keeps, per client, the last sequence applied
 * and its encoded result; the same (clientId, sequence) committed again (a client's retry after a
 * timeout, or a duplicate proposal) returns the saved result without applying again. A session
 * begins with sequence 1; an unknown client with a later sequence gets {@code SESSION_EXPIRED}
 * (its session was dropped, so a retry could apply twice), and a sequence below the last gets
 * {@code STALE_SEQUENCE} (only the last result is kept, so a client has at most one write in flight
 * per session).
 *
 * <p>The clock for expiry is the log index ("log time"): every node applies the same indexes, so
 * every node expires the same sessions at the same point, and a restarted node or one restored
 * from a snapshot agrees. Rule: before applying the command at index {@code i}, every session whose
 * last activity was at an index {@code < i - sessionTtlEntries} is dropped; and after applying,
 * if more than {@code maxSessions} remain, the least recently active one is dropped. The trade-off
 * against a leader-supplied wall-clock timestamp (the other option of thesis §6.3): log time needs
 * no clock agreement and cannot be thrown off by a leader whose clock jumps, but a session's
 * lifetime in seconds depends on write traffic: with the default 1,000,000 entries, about 100 s at
 * 10,000 writes/s and about 3 hours at 100 writes/s. A quiet cluster keeps sessions longer, which
 * costs only memory, and {@code maxSessions} bounds that (100,000 sessions of about 150 bytes is
 * about 15 MiB). Both parameters must be equal on every node, like the code itself.
 *
 * <h2>Snapshots</h2>
 * The whole state (data, sessions, counters) lives in one immutable {@link State} of persistent
 * sorted maps ({@link PersistentSortedMap}): an apply builds a new state sharing all but O(log n)
 * nodes with the old one and publishes it through a volatile field. {@link #snapshot()} therefore
 * only grabs the current state (O(1) on the apply thread) and the writer streams it on a background
 * thread while applies continue. The trade-off: every write allocates about log2(n) small nodes
 * (20 at a million keys) and reads chase pointers, instead of a mutable TreeMap that a snapshot
 * would have to copy (seconds for a few hundred MB, all on the apply thread) or lock.
 * Snapshot format: {@link #SNAPSHOT_MAGIC}, a u16 version, then the state and a CRC32C.
 *
 * <h2>Threads</h2>
 * {@link #apply}, {@link #snapshot} and {@link #restore} run one at a time, in log order (on the
 * server's apply thread, or its event loop for a small batch; see {@code StateMachine}); readers
 * on any thread call {@link #view()} and get an immutable, point-in-time view.
 */
public final class KvStateMachine implements StateMachine {
    /** Default idle lifetime of a session, in log entries; see the class comment. */
    public static final long DEFAULT_SESSION_TTL_ENTRIES = 1_000_000;
    /** Default bound on live sessions; beyond it the least recently active is dropped. */
    public static final int DEFAULT_MAX_SESSIONS = 100_000;

    /** "KVSM": first four bytes of a KV snapshot. */
    public static final int SNAPSHOT_MAGIC = 0x4B56534D;
    public static final short SNAPSHOT_FORMAT = 1;

    /** Unsigned lexicographic byte order: "a" < "ab" < "b" < (byte) 0xff. */
    public static final Comparator<byte[]> KEY_ORDER = Arrays::compareUnsigned;

    private final long sessionTtlEntries;
    private final int maxSessions;
    private volatile State state = State.EMPTY;

    /**
     * One session's memory.
     *
     * @param lastActiveIndex the log index of the client's latest command, the expiry clock's reading
     */
    record Session(long lastSequence, byte[] lastResult, long lastActiveIndex) {}

    /**
     * Everything replicated, immutable.
     *
     * <p>Invariants: {@code revision <= lastIndex}; every entry's modRevision {@code <= revision};
     * {@code sessionsByActivity} maps each session's lastActiveIndex to its clientId and has exactly
     * as many entries as {@code sessions}.
     *
     * @param lastIndex the index of the last command applied (the expiry clock)
     * @param revision the index of the last change to {@code data}
     */
    record State(PersistentSortedMap<byte[], KvEntry> data, PersistentSortedMap<Long, Session> sessions,
                 PersistentSortedMap<Long, Long> sessionsByActivity, long lastIndex, long revision) {
        static final State EMPTY = new State(PersistentSortedMap.empty(KEY_ORDER),
                PersistentSortedMap.empty(Comparator.naturalOrder()), PersistentSortedMap.empty(Comparator.naturalOrder()),
                0, 0);
    }

    public KvStateMachine() {
        this(DEFAULT_SESSION_TTL_ENTRIES, DEFAULT_MAX_SESSIONS);
    }

    /**
     * @param sessionTtlEntries drop a session idle for more than this many log entries (see class comment)
     * @param maxSessions keep at most this many sessions
     */
    public KvStateMachine(long sessionTtlEntries, int maxSessions) {
        if (sessionTtlEntries <= 0) throw new IllegalArgumentException("sessionTtlEntries " + sessionTtlEntries + " must be positive");
        if (maxSessions <= 0) throw new IllegalArgumentException("maxSessions " + maxSessions + " must be positive");
        this.sessionTtlEntries = sessionTtlEntries;
        this.maxSessions = maxSessions;
    }

    // ---------------------------------------------------------------- apply

    @Override
    public byte[] apply(long index, byte[] command) {
        State s = state;
        if (index <= s.lastIndex) {
            // The server applies each index once, in order: anything else is a bug, not bad input.
            throw new IllegalStateException("apply index " + index + " <= lastIndex " + s.lastIndex);
        }
        s = expireIdle(s, index);
        Applied a = applyDecoded(s, index, command);
        State next = a.state;
        if (next.sessions.size() > maxSessions) next = dropOldestSession(next);
        state = next;
        return a.result;
    }

    /** Convenience for tests and tools: encodes, applies, decodes. */
    public KvResult apply(long index, KvCommand command) {
        return KvCodec.decodeResult(apply(index, KvCodec.encode(command)));
    }

    private record Applied(State state, byte[] result) {}

    private Applied applyDecoded(State s, long index, byte[] bytes) {
        KvCommand c;
        try {
            c = KvCodec.decodeCommand(bytes);
        } catch (KvCodec.MalformedException e) {
            return new Applied(withClock(s, index), KvCodec.encode(new KvResult.Error(ErrorCode.BAD_COMMAND, e.getMessage())));
        }
        if (c.clientId() == KvCommand.NO_SESSION) {
            Change ch = execute(s.data, index, c);
            return new Applied(new State(ch.data, s.sessions, s.sessionsByActivity, index,
                    ch.changed ? index : s.revision), KvCodec.encode(ch.result));
        }
        Session session = s.sessions.get(c.clientId());
        if (session == null && c.sequence() != 1) {
            return new Applied(withClock(s, index), KvCodec.encode(new KvResult.Error(ErrorCode.SESSION_EXPIRED,
                    "session of client " + c.clientId() + " is unknown (expired, or never began with sequence 1); "
                            + "sequence " + c.sequence() + " was not applied now")));
        }
        if (session != null && c.sequence() == session.lastSequence) {
            // Thesis §6.3: a duplicate gets the saved answer and is not executed again.
            State touched = touch(s, c.clientId(), session, new Session(session.lastSequence, session.lastResult, index));
            return new Applied(touched, session.lastResult);
        }
        if (session != null && c.sequence() < session.lastSequence) {
            return new Applied(withClock(s, index), KvCodec.encode(new KvResult.Error(ErrorCode.STALE_SEQUENCE,
                    "sequence " + c.sequence() + " of client " + c.clientId() + " is older than its last, "
                            + session.lastSequence + ", whose result alone is kept")));
        }
        Change ch = execute(s.data, index, c);
        byte[] result = KvCodec.encode(ch.result);
        State withData = new State(ch.data, s.sessions, s.sessionsByActivity, index, ch.changed ? index : s.revision);
        return new Applied(touch(withData, c.clientId(), session, new Session(c.sequence(), result, index)), result);
    }

    private static State withClock(State s, long index) {
        return new State(s.data, s.sessions, s.sessionsByActivity, index, s.revision);
    }

    /** Replaces {@code old} (null for a new session) with {@code updated} and advances the clock. */
    private static State touch(State s, long clientId, Session old, Session updated) {
        PersistentSortedMap<Long, Long> byActivity = s.sessionsByActivity;
        if (old != null) byActivity = byActivity.remove(old.lastActiveIndex);
        byActivity = byActivity.put(updated.lastActiveIndex, clientId);
        return new State(s.data, s.sessions.put(clientId, updated), byActivity, updated.lastActiveIndex, s.revision);
    }

    private State expireIdle(State s, long index) {
        // Idle for more than sessionTtlEntries: lastActiveIndex < index - sessionTtlEntries.
        long cutoff = index - sessionTtlEntries;
        PersistentSortedMap<Long, Session> sessions = s.sessions;
        PersistentSortedMap<Long, Long> byActivity = s.sessionsByActivity;
        Map.Entry<Long, Long> oldest;
        while ((oldest = byActivity.first()) != null && oldest.getKey() < cutoff) {
            sessions = sessions.remove(oldest.getValue());
            byActivity = byActivity.remove(oldest.getKey());
        }
        return sessions == s.sessions ? s : new State(s.data, sessions, byActivity, s.lastIndex, s.revision);
    }

    private static State dropOldestSession(State s) {
        Map.Entry<Long, Long> oldest = s.sessionsByActivity.first();
        return new State(s.data, s.sessions.remove(oldest.getValue()), s.sessionsByActivity.remove(oldest.getKey()),
                s.lastIndex, s.revision);
    }

    private record Change(PersistentSortedMap<byte[], KvEntry> data, KvResult result, boolean changed) {}

    private static Change execute(PersistentSortedMap<byte[], KvEntry> data, long index, KvCommand c) {
        KvEntry cur = data.get(c.key());
        boolean holds = switch (c.condition()) {
            case Condition.None n -> true;
            case Condition.ModRevision m -> m.modRevision() == 0 ? cur == null : cur != null && cur.modRevision() == m.modRevision();
            case Condition.Value v -> cur != null && Arrays.equals(cur.value(), v.value());
            case Condition.Exists e -> cur != null;
        };
        if (!holds) return new Change(data, new KvResult.ConditionFailed(cur == null ? 0 : cur.modRevision()), false);
        return switch (c.op()) {
            case PUT -> {
                KvEntry next = cur == null
                        ? new KvEntry(c.value(), index, index, 1)
                        : new KvEntry(c.value(), cur.createRevision(), index, cur.version() + 1);
                yield new Change(data.put(c.key(), next), new KvResult.Ok(index, next.createRevision(), next.version()), true);
            }
            case DELETE -> cur == null
                    ? new Change(data, new KvResult.NotFound(), false)
                    : new Change(data.remove(c.key()), new KvResult.Ok(index, cur.createRevision(), cur.version()), true);
        };
    }

    // ---------------------------------------------------------------- reads

    /** An immutable point-in-time view for reads; cheap, callable from any thread. */
    public View view() {
        return new View(state);
    }

    /** Reads of one state. Arrays handed out are shared: do not modify them. */
    public static final class View {
        private final State s;

        private View(State s) {
            this.s = s;
        }

        /** The key's entry, or null when absent. */
        public KvEntry get(byte[] key) {
            return s.data.get(key);
        }

        /**
         * Keys starting with {@code prefix} (all keys for an empty prefix) in unsigned byte order,
         * at most {@code limit}.
         */
        public ScanResult scan(byte[] prefix, int limit) {
            if (limit <= 0) throw new IllegalArgumentException("limit " + limit + " must be positive");
            List<KeyValue> items = new ArrayList<>(Math.min(limit, 1024));
            Iterator<Map.Entry<byte[], KvEntry>> it = s.data.iterator(prefix.length == 0 ? null : prefix);
            boolean more = false;
            while (it.hasNext()) {
                Map.Entry<byte[], KvEntry> e = it.next();
                if (!startsWith(e.getKey(), prefix)) break;
                if (items.size() == limit) {
                    more = true;
                    break;
                }
                items.add(new KeyValue(e.getKey(), e.getValue()));
            }
            return new ScanResult(items, more, s.revision);
        }

        /** The index of the latest change. */
        public long revision() {
            return s.revision;
        }

        /** The index of the last command applied. */
        public long lastIndex() {
            return s.lastIndex;
        }

        public int keyCount() {
            return s.data.size();
        }

        public int sessionCount() {
            return s.sessions.size();
        }

        /** The session's last sequence, or 0 when the client has no session; for tests and tools. */
        public long lastSequence(long clientId) {
            Session session = s.sessions.get(clientId);
            return session == null ? 0 : session.lastSequence;
        }
    }

    static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    // ---------------------------------------------------------------- snapshots

    /**
     * Captures the current state in O(1): the writer streams that immutable state, so applies may
     * continue meanwhile. Format v1, big-endian:
     * <pre>
     *   u32 magic "KVSM", u16 format = 1
     *   i64 lastIndex, i64 revision
     *   i64 key count, then per key in order: i32 len, key; i32 len, value; i64 createRevision,
     *       i64 modRevision, i64 version
     *   i64 session count, then per session by clientId: i64 clientId, i64 lastSequence,
     *       i64 lastActiveIndex, i32 len, saved result
     *   u32 CRC32C of all the bytes before it
     * </pre>
     * Equal states write equal bytes.
     */
    @Override
    public SnapshotWriter snapshot() {
        State s = state;
        return out -> write(s, out);
    }

    private static void write(State s, OutputStream raw) throws IOException {
        CRC32C crc = new CRC32C();
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new CheckedOutputStream(raw, crc), 1 << 16));
        out.writeInt(SNAPSHOT_MAGIC);
        out.writeShort(SNAPSHOT_FORMAT);
        out.writeLong(s.lastIndex);
        out.writeLong(s.revision);
        out.writeLong(s.data.size());
        for (Map.Entry<byte[], KvEntry> e : s.data) {
            KvEntry v = e.getValue();
            out.writeInt(e.getKey().length);
            out.write(e.getKey());
            out.writeInt(v.value().length);
            out.write(v.value());
            out.writeLong(v.createRevision());
            out.writeLong(v.modRevision());
            out.writeLong(v.version());
        }
        out.writeLong(s.sessions.size());
        for (Map.Entry<Long, Session> e : s.sessions) {
            Session session = e.getValue();
            out.writeLong(e.getKey());
            out.writeLong(session.lastSequence);
            out.writeLong(session.lastActiveIndex);
            out.writeInt(session.lastResult.length);
            out.write(session.lastResult);
        }
        out.flush(); // through to raw, so crc now covers every byte
        new DataOutputStream(raw).writeInt((int) crc.getValue());
        raw.flush();
    }

    /**
     * Replaces the whole state with a snapshot's. Checks magic, version, every length, key order and
     * the CRC before anything is replaced; on a bad snapshot throws IOException and keeps the old state.
     */
    @Override
    public void restore(InputStream raw) throws IOException {
        state = read(raw);
    }

    private static State read(InputStream raw) throws IOException {
        CRC32C crc = new CRC32C();
        BufferedInputStream buffered = new BufferedInputStream(raw, 1 << 16);
        DataInputStream in = new DataInputStream(new CheckedInputStream(buffered, crc));
        try {
            int magic = in.readInt();
            if (magic != SNAPSHOT_MAGIC) {
                throw new IOException(String.format("snapshot magic 0x%08x, expected 0x%08x", magic, SNAPSHOT_MAGIC));
            }
            short format = in.readShort();
            if (format != SNAPSHOT_FORMAT) throw new IOException("snapshot format " + format + ", expected " + SNAPSHOT_FORMAT);
            long lastIndex = in.readLong();
            long revision = in.readLong();
            if (lastIndex < 0 || revision < 0 || revision > lastIndex) {
                throw new IOException("snapshot revision " + revision + " / lastIndex " + lastIndex + " inconsistent");
            }
            long keyCount = count(in.readLong(), "key");
            List<byte[]> keys = new ArrayList<>();
            List<KvEntry> entries = new ArrayList<>();
            for (long i = 0; i < keyCount; i++) {
                byte[] key = readBytes(in, "key");
                if (key.length == 0) throw new IOException("empty key at position " + i);
                byte[] value = readBytes(in, "value");
                long create = in.readLong();
                long mod = in.readLong();
                long version = in.readLong();
                if (create <= 0 || mod < create || version <= 0 || mod > revision) {
                    throw new IOException("key " + i + " has bad counters create=" + create + " mod=" + mod + " version="
                            + version + " (revision " + revision + ")");
                }
                keys.add(key);
                entries.add(new KvEntry(value, create, mod, version));
            }
            long sessionCount = count(in.readLong(), "session");
            List<Long> clientIds = new ArrayList<>();
            List<Session> sessions = new ArrayList<>();
            PersistentSortedMap<Long, Long> byActivity = PersistentSortedMap.empty(Comparator.naturalOrder());
            for (long i = 0; i < sessionCount; i++) {
                long clientId = in.readLong();
                long lastSequence = in.readLong();
                long lastActive = in.readLong();
                byte[] result = readBytes(in, "session result");
                if (clientId == KvCommand.NO_SESSION || lastSequence <= 0 || lastActive <= 0 || lastActive > lastIndex) {
                    throw new IOException("session " + clientId + " has bad fields seq=" + lastSequence + " active=" + lastActive);
                }
                if (byActivity.containsKey(lastActive)) throw new IOException("two sessions active at index " + lastActive);
                byActivity = byActivity.put(lastActive, clientId);
                clientIds.add(clientId);
                sessions.add(new Session(lastSequence, result, lastActive));
            }
            int expectedCrc = (int) crc.getValue();
            int storedCrc = new DataInputStream(buffered).readInt();
            if (storedCrc != expectedCrc) {
                throw new IOException(String.format("snapshot CRC32C 0x%08x, computed 0x%08x", storedCrc, expectedCrc));
            }
            if (buffered.read() != -1) throw new IOException("trailing bytes after snapshot");
            try {
                return new State(PersistentSortedMap.fromSorted(KEY_ORDER, keys, entries),
                        PersistentSortedMap.fromSorted(Comparator.naturalOrder(), clientIds, sessions), byActivity,
                        lastIndex, revision);
            } catch (IllegalArgumentException e) {
                throw new IOException("snapshot keys or sessions out of order: " + e.getMessage(), e);
            }
        } catch (EOFException e) {
            throw new IOException("snapshot truncated", e);
        }
    }

    private static long count(long n, String what) throws IOException {
        if (n < 0 || n > Integer.MAX_VALUE) throw new IOException(what + " count " + n + " out of range");
        return n;
    }

    private static byte[] readBytes(DataInputStream in, String what) throws IOException {
        int len = in.readInt();
        if (len < 0) throw new IOException(what + " length " + len + " < 0");
        // readNBytes grows its buffer as bytes arrive, so a corrupt huge length cannot allocate it all.
        byte[] b = in.readNBytes(len);
        if (b.length != len) throw new EOFException(what + " truncated: " + b.length + " of " + len + " bytes");
        return b;
    }

    /** Checks the state's invariants; for tests. */
    public void checkInvariants() {
        State s = state;
        s.data.checkInvariants();
        s.sessions.checkInvariants();
        s.sessionsByActivity.checkInvariants();
        if (s.revision > s.lastIndex) throw new IllegalStateException("revision " + s.revision + " > lastIndex " + s.lastIndex);
        if (s.sessions.size() != s.sessionsByActivity.size()) {
            throw new IllegalStateException("sessions " + s.sessions.size() + " != activity index " + s.sessionsByActivity.size());
        }
        if (s.sessions.size() > maxSessions) throw new IllegalStateException("sessions " + s.sessions.size() + " > max " + maxSessions);
        s.sessionsByActivity.forEach((active, clientId) -> {
            Session session = s.sessions.get(clientId);
            if (session == null || session.lastActiveIndex != active) {
                throw new IllegalStateException("activity index " + active + " -> client " + clientId + " disagrees with " + session);
            }
            if (active < s.lastIndex - sessionTtlEntries) {
                throw new IllegalStateException("session " + clientId + " idle since " + active + " outlived ttl at " + s.lastIndex);
            }
        });
        s.data.forEach((k, v) -> {
            if (v.modRevision() > s.revision) {
                throw new IllegalStateException("modRevision " + v.modRevision() + " > revision " + s.revision);
            }
        });
    }
}
