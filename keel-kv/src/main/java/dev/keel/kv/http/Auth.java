package dev.keel.kv.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.store.KeyValue;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.kv.store.ScanResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Users, their credentials and roles: the rules the HTTP API enforces when a node runs with
 * authentication ({@code KvConfig.tokenAuth}).
 *
 * <p><b>Where the rules live.</b> Each user is one key under {@link #RESERVED_PREFIX} in the KV
 * store itself, its value a small JSON document. So the rules are replicated through Raft like any
 * other write, apply in the same order on every node, survive restarts and leader changes, and are
 * in every snapshot, with no second state machine. The HTTP key API refuses the reserved prefix to
 * everyone (400 RESERVED_KEY) and scans skip it; only {@code /v1/auth} writes it.
 *
 * <p><b>Credentials.</b> A bearer token is {@code keel_} followed by 43 base64url characters (256
 * random bits from {@link SecureRandom}); only its SHA-256 is stored, and a presented token is
 * matched by hashing it and comparing the digests in constant time. A user may instead (or also)
 * authenticate with a TLS client certificate from the cluster's trusted CA whose subject CN is the
 * user's name ({@code "cert": true}).
 *
 * <p><b>Roles.</b> {@code read}: GET a key and scan, within the user's key prefix ("" is every key),
 * and read status, members and metrics. {@code readwrite}: also PUT and DELETE within the prefix.
 * {@code admin}: everything, including membership, leadership transfer and user management.
 */
public final class Auth {
    /** The reserved key namespace: bytes FF FF FF then {@code keel/auth/}, sorting after ordinary keys. */
    public static final byte[] RESERVED_PREFIX = concat(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF},
            "keel/auth/".getBytes(StandardCharsets.US_ASCII));
    static final byte[] USERS_PREFIX = concat(RESERVED_PREFIX, "users/".getBytes(StandardCharsets.US_ASCII));
    public static final String TOKEN_PREFIX = "keel_";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();

    private Auth() {}

    public enum Role {
        READ,
        READWRITE,
        ADMIN;

        public static Role parse(String text) {
            return switch (text) {
                case "read" -> READ;
                case "readwrite" -> READWRITE;
                case "admin" -> ADMIN;
                default -> throw new IllegalArgumentException("role '" + text + "' must be read, readwrite or admin");
            };
        }

        public String text() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One user.
     *
     * @param prefix the keys this user may touch (every key starting with it); empty for all. Ignored for admins
     * @param tokenSha256 the SHA-256 of the user's token, or null for none
     * @param cert whether a client certificate with this name as its CN authenticates the user
     */
    public record User(String name, Role role, byte[] prefix, byte[] tokenSha256, boolean cert) {
        public User {
            checkName(name);
            if (role == null || prefix == null) throw new IllegalArgumentException("role and prefix are required");
            if (tokenSha256 != null && tokenSha256.length != 32) throw new IllegalArgumentException("token hash must be 32 bytes");
        }

        /** Whether this user may read ({@code write} false) or write {@code key}. */
        public boolean allows(byte[] key, boolean write) {
            if (role == Role.ADMIN) return true;
            if (write && role != Role.READWRITE) return false;
            return startsWith(key, prefix);
        }

        /** Whether every key starting with {@code scanPrefix} is readable by this user. */
        public boolean allowsScan(byte[] scanPrefix) {
            return role == Role.ADMIN || startsWith(scanPrefix, prefix);
        }
    }

    static void checkName(String name) {
        if (name == null || !name.matches("[A-Za-z0-9._@-]{1,64}")) {
            throw new IllegalArgumentException("user name '" + name + "' must be 1-64 of [A-Za-z0-9._@-]");
        }
    }

    /** A fresh token: {@code keel_} and 256 random bits, base64url without padding. */
    public static String newToken() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    public static byte[] userKey(String name) {
        checkName(name);
        return concat(USERS_PREFIX, name.getBytes(StandardCharsets.US_ASCII));
    }

    public static boolean isReserved(byte[] key) {
        return startsWith(key, RESERVED_PREFIX);
    }

    /** Whether keys starting with {@code prefix} may include reserved ones. */
    static boolean mayCoverReserved(byte[] prefix) {
        return startsWith(RESERVED_PREFIX, prefix) || startsWith(prefix, RESERVED_PREFIX);
    }

    static byte[] encode(User u) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", u.name());
        m.put("role", u.role().text());
        m.put("prefix", Base64.getEncoder().encodeToString(u.prefix()));
        if (u.tokenSha256() != null) m.put("tokenSha256", HexFormat.of().formatHex(u.tokenSha256()));
        m.put("cert", u.cert());
        try {
            return JSON.writeValueAsBytes(m);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A stored user; null if the stored value is not one (never written by Keel: ignored, not trusted). */
    static User decode(byte[] value) {
        try {
            JsonNode n = JSON.readTree(value);
            String token = n.hasNonNull("tokenSha256") ? n.get("tokenSha256").asText() : null;
            return new User(n.get("name").asText(), Role.parse(n.get("role").asText()),
                    Base64.getDecoder().decode(n.get("prefix").asText()), token == null ? null : HexFormat.of().parseHex(token),
                    n.path("cert").asBoolean(false));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The users as the state machine holds them now, with an index by token hash. */
    static final class Table {
        final Map<String, User> byName;
        private final Map<String, User> byTokenHash;
        /** What this table was built from: the users' count and highest modRevision. */
        final long version;

        private Table(Map<String, User> byName, long version) {
            this.byName = byName;
            this.version = version;
            Map<String, User> t = new java.util.HashMap<>();
            for (User u : byName.values()) if (u.tokenSha256() != null) t.put(HexFormat.of().formatHex(u.tokenSha256()), u);
            this.byTokenHash = t;
        }

        static final Table EMPTY = new Table(Map.of(), 0);

        /** The user whose token this is, or null. */
        User byToken(String token) {
            byte[] h = sha256(token);
            User u = byTokenHash.get(HexFormat.of().formatHex(h));
            // The map finds the candidate by the digest; the digests are compared again in constant time.
            return u != null && MessageDigest.isEqual(u.tokenSha256(), h) ? u : null;
        }

        boolean hasAdmin() {
            return byName.values().stream().anyMatch(u -> u.role() == Role.ADMIN);
        }
    }

    /**
     * The current table, rebuilt only when the users' keys changed since {@code cached} (a scan of
     * the reserved prefix per call: a few users cost microseconds).
     */
    static Table table(KvStateMachine.View view, Table cached) {
        ScanResult r = view.scan(USERS_PREFIX, 10_000);
        long version = r.items().size();
        for (KeyValue kv : r.items()) version = version * 31 + kv.entry().modRevision();
        if (cached != null && cached.version == version) return cached;
        Map<String, User> users = new TreeMap<>();
        for (KeyValue kv : r.items()) {
            User u = decode(kv.entry().value());
            if (u != null && Arrays.equals(kv.key(), userKey(u.name()))) users.put(u.name(), u);
        }
        return new Table(Map.copyOf(users), version);
    }

    static List<Map<String, Object>> describe(Table t) {
        return t.byName.values().stream().map(u -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", u.name());
            m.put("role", u.role().text());
            m.put("prefix", new String(u.prefix(), StandardCharsets.UTF_8));
            m.put("token", u.tokenSha256() != null);
            m.put("cert", u.cert());
            return m;
        }).toList();
    }

    static boolean startsWith(byte[] a, byte[] prefix) {
        return a.length >= prefix.length && Arrays.equals(a, 0, prefix.length, prefix, 0, prefix.length);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
