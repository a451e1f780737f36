package dev.keel.kv.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.kv.client.HttpTransport.Response;
import dev.keel.kv.client.Results.GetResult;
import dev.keel.kv.client.Results.Member;
import dev.keel.kv.client.Results.Members;
import dev.keel.kv.client.Results.NodeStatus;
import dev.keel.kv.client.Results.ScanResult;
import dev.keel.kv.client.Results.WriteResult;
import dev.keel.transport.TlsFiles;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client of a Keel KV cluster over its HTTP API.
 *
 * <p><b>Finding the leader.</b> Any node accepts any request (followers forward writes), so the
 * client starts with the first endpoint, then prefers the node each response names in
 * {@code Keel-Leader}, and moves to the next endpoint when one is unreachable or has no leader.
 *
 * <p><b>Retries are safe.</b> Every write runs in a client session (thesis §6.3): a random 64-bit
 * client id and a sequence number that grows by one per write. A write that times out, or whose
 * connection breaks, is retried with the same (id, sequence), through any node, until the
 * operation deadline; the cluster applies it once and answers every retry with the first result.
 * A session carries one write at a time, so concurrent callers each take a session from a pool.
 * If a session expires on the cluster (see {@code KvStateMachine}) before a write's first attempt
 * arrives, the write moves to a fresh session transparently; if it expires while an earlier attempt's
 * outcome is unknown, the call fails with {@link KeelClientException.SessionExpired}.
 *
 * <p><b>Failures</b> are typed: {@link KeelClientException.ConditionFailed} (with the current
 * revision), {@link KeelClientException.NotFound}, {@link KeelClientException.Unavailable} (did not
 * apply), {@link KeelClientException.Timeout} (may have applied), {@link KeelClientException.BadRequest}.
 *
 * <p><b>Membership</b> ({@link #members()}, {@link #addMember}, {@link #promote}, {@link #removeMember},
 * {@link #transferLeader}) goes through any node (followers forward to the leader). A change is
 * retried while it surely did not apply (no leader, node unreachable, another change in progress);
 * an attempt that may have applied ends the call with {@link KeelClientException.Timeout}, so check
 * with {@link #members()}. One attempt may wait the whole operation timeout, since adding a voter
 * waits for it to catch up.
 *
 * <p>Requests go over pooled keep-alive HTTP/1.1 connections on a Netty event loop thread (see
 * {@code NettyHttpTransport}: the JDK's HttpClient cost as much CPU per request as the leader did).
 *
 * <p>Thread-safe; share one instance. {@link #close()} releases its HTTP connections.
 */
public final class KeelClient implements AutoCloseable {
    /** How fresh a read must be. See the server's API documentation. */
    public enum Consistency {
        /** Sees every write completed before the read began (ReadIndex). The default. */
        LINEARIZABLE,
        /** A leader-lease read where the cluster enables it; otherwise as LINEARIZABLE. */
        LEASE,
        /** Whatever the serving node has applied: may be old, works without a leader. */
        STALE
    }

    private final List<URI> endpoints;
    private final HttpTransport http;
    private final Duration requestTimeout;
    private final Duration operationTimeout;
    private final Duration backoffMin;
    private final Duration backoffMax;
    /** "Bearer <token>", or null. */
    private final String authorization;
    private final ObjectMapper json = new ObjectMapper();
    private final AtomicInteger preferred = new AtomicInteger();
    private final ConcurrentLinkedDeque<Session> idleSessions = new ConcurrentLinkedDeque<>();
    private final SecureRandom random = new SecureRandom();

    /** One session; used by one write at a time. */
    private static final class Session {
        final long clientId;
        /** The last sequence the cluster answered; the next write uses lastSequence + 1. */
        long lastSequence;

        Session(long clientId) {
            this.clientId = clientId;
        }
    }

    private KeelClient(Builder b) {
        this.endpoints = List.copyOf(b.endpoints);
        this.requestTimeout = b.requestTimeout;
        this.operationTimeout = b.operationTimeout;
        this.backoffMin = b.backoffMin;
        this.backoffMax = b.backoffMax;
        this.authorization = b.token == null ? null : "Bearer " + b.token;
        // One event loop thread: it only encodes, writes and decodes, while the callers wait.
        io.netty.handler.ssl.SslContext tls = b.trustedCa == null && b.clientCert == null ? null
                : TlsFiles.clientContext(b.trustedCa, "trusted CA file", b.clientCert, "client certificate file", b.clientKey,
                        "client key file", true);
        this.http = new NettyHttpTransport(b.connectTimeout, 1, tls);
    }

    /** @param endpoints the HTTP base URIs of some or all nodes, such as {@code http://127.0.0.1:8081} */
    public static Builder builder(List<URI> endpoints) {
        return new Builder(endpoints);
    }

    /** Options with their defaults. */
    public static final class Builder {
        private final List<URI> endpoints;
        private Duration requestTimeout = Duration.ofSeconds(7);
        private Duration operationTimeout = Duration.ofSeconds(30);
        private Duration connectTimeout = Duration.ofSeconds(1);
        private Duration backoffMin = Duration.ofMillis(20);
        private Duration backoffMax = Duration.ofSeconds(1);
        private Path trustedCa;
        private Path clientCert;
        private Path clientKey;
        private String token;

        private Builder(List<URI> endpoints) {
            if (endpoints == null || endpoints.isEmpty()) throw new IllegalArgumentException("no endpoints");
            List<URI> normalized = new ArrayList<>();
            for (URI u : endpoints) normalized.add(URI.create(u.toString().replaceAll("/+$", "")));
            this.endpoints = normalized;
        }

        /**
         * How long one attempt waits for an answer (default 7 s). Keep it above the servers'
         * proposal timeout (5 s by default), so a slow commit is reported by the server as 504
         * rather than cut off here.
         */
        public Builder requestTimeout(Duration d) {
            requestTimeout = positive(d, "requestTimeout");
            return this;
        }

        /**
         * How long one call may take in all, retries included (default 30 s: several elections'
         * worth). Each attempt waits at most the smaller of this budget's rest and requestTimeout.
         */
        public Builder operationTimeout(Duration d) {
            operationTimeout = positive(d, "operationTimeout");
            return this;
        }

        /** How long to wait for a TCP connection (default 1 s); then the next endpoint is tried. */
        public Builder connectTimeout(Duration d) {
            connectTimeout = positive(d, "connectTimeout");
            return this;
        }

        /** Retry delays double from {@code min} to {@code max}, with jitter (defaults 20 ms, 1 s). */
        public Builder backoff(Duration min, Duration max) {
            backoffMin = positive(min, "backoff min");
            backoffMax = positive(max, "backoff max");
            if (max.compareTo(min) < 0) throw new IllegalArgumentException("backoff max " + max + " < min " + min);
            return this;
        }

        /**
         * For https endpoints: trust only the CA certificate(s) in this PEM file (a cluster's own CA, as
         * {@code keel certs} makes), instead of the JDK's default trust store. Host names are still
         * verified: the servers' certificates must name the hosts in the endpoints.
         */
        public Builder trustedCa(Path caPem) {
            trustedCa = Objects.requireNonNull(caPem, "caPem");
            return this;
        }

        /**
         * Authenticate every request with this bearer token (as {@code bin/keel auth} issues them) on
         * clusters running with authentication. Send tokens over HTTPS only: over plain HTTP anyone on
         * the path can read and reuse them.
         */
        public Builder token(String token) {
            if (token == null || token.isBlank() || token.chars().anyMatch(c -> c <= ' ' || c > '~')) {
                throw new IllegalArgumentException("a token is printable ASCII without spaces");
            }
            this.token = token;
            return this;
        }

        /** For https endpoints: present this certificate (PEM) with its key (unencrypted PKCS#8 PEM) when asked. */
        public Builder clientCertificate(Path certPem, Path keyPem) {
            clientCert = Objects.requireNonNull(certPem, "certPem");
            clientKey = Objects.requireNonNull(keyPem, "keyPem");
            return this;
        }

        private static Duration positive(Duration d, String name) {
            if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + " must be positive: " + d);
            return d;
        }

        /** @throws IllegalArgumentException if a TLS file is missing or bad (the message names it) */
        public KeelClient build() {
            return new KeelClient(this);
        }
    }

    // ---------------------------------------------------------------- writes

    public WriteResult put(byte[] key, byte[] value) {
        return write("PUT", key, value, Map.of(), null);
    }

    public WriteResult put(String key, String value) {
        return put(utf8(key), utf8(value));
    }

    /** Creates the key; {@link KeelClientException.ConditionFailed} if it exists. */
    public WriteResult putIfAbsent(byte[] key, byte[] value) {
        return write("PUT", key, value, Map.of("If-None-Match", "*"), null);
    }

    /** Compare-and-set: applies only if the key's modRevision is {@code modRevision} (0: only if absent). */
    public WriteResult putIfRevision(byte[] key, byte[] value, long modRevision) {
        return write("PUT", key, value, Map.of("If-Match", "\"" + modRevision + "\""), null);
    }

    /** Compare-and-set: applies only if the key exists with exactly {@code expected} as its value. */
    public WriteResult putIfValue(byte[] key, byte[] value, byte[] expected) {
        return write("PUT", key, value, Map.of(), expected);
    }

    /** Deletes the key; {@link KeelClientException.NotFound} if absent. */
    public WriteResult delete(byte[] key) {
        return write("DELETE", key, null, Map.of(), null);
    }

    public WriteResult delete(String key) {
        return delete(utf8(key));
    }

    public WriteResult deleteIfRevision(byte[] key, long modRevision) {
        return write("DELETE", key, null, Map.of("If-Match", "\"" + modRevision + "\""), null);
    }

    public WriteResult deleteIfValue(byte[] key, byte[] expected) {
        return write("DELETE", key, null, Map.of(), expected);
    }

    private WriteResult write(String method, byte[] key, byte[] value, Map<String, String> headers, byte[] prevValue) {
        String path = "/v1/kv/" + encode(key, true) + (prevValue == null ? "" : "?prevValue=" + encode(prevValue, false));
        long deadline = System.nanoTime() + operationTimeout.toNanos();
        Session session = acquireSession();
        long sequence = session.lastSequence + 1;
        boolean maybeApplied = false; // some attempt of this write may have reached the log
        String lastProblem = "no attempt made";
        for (int attempt = 0; ; attempt++) {
            if (attempt > 0 && !pause(attempt, deadline)) {
                if (maybeApplied) {
                    // The session's next sequence is in doubt; never reuse it.
                    throw new KeelClientException.Timeout(method + " gave no definite answer within " + operationTimeout
                            + "; it may have applied (last: " + lastProblem + ")");
                }
                idleSessions.push(session);
                throw new KeelClientException.Unavailable("UNAVAILABLE", method + " not applied within " + operationTimeout
                        + ": " + lastProblem);
            }
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.put("Keel-Client-Id", Long.toString(session.clientId));
            h.put("Keel-Sequence", Long.toString(sequence));
            URI endpoint = endpoint();
            Response r;
            try {
                r = send(endpoint, method, path, value, h, deadline);
            } catch (ConnectException e) {
                lastProblem = endpoint + " unreachable: " + e;
                moveOn(endpoint);
                continue;
            } catch (IOException e) {
                // Timed out or broke after sending: the write may be in the log. Retry in the same session.
                maybeApplied = true;
                lastProblem = endpoint + ": " + e;
                moveOn(endpoint);
                continue;
            }
            learnLeader(r);
            int status = r.statusCode();
            ErrorBody err = status == 200 ? null : errorBody(r);
            switch (status) {
                case 200 -> {
                    session.lastSequence = sequence;
                    idleSessions.push(session);
                    return writeResult(r);
                }
                case 404, 412 -> {
                    session.lastSequence = sequence;
                    idleSessions.push(session);
                    throw status == 404 ? new KeelClientException.NotFound(err.message)
                            : new KeelClientException.ConditionFailed(err.message, err.revision);
                }
                case 409 -> {
                    if (err.code.equals("SESSION_EXPIRED") && !maybeApplied) {
                        // No attempt of this write can have applied: carry it over to a fresh session.
                        session = newSession();
                        sequence = 1;
                        attempt = -1; // the loop's ++ makes it 0: no pause before the first try in the new session
                        continue;
                    }
                    if (err.code.equals("SESSION_EXPIRED")) throw new KeelClientException.SessionExpired(err.message);
                    throw new KeelClientException.BadRequest(status, err.code, err.message);
                }
                case 503 -> {
                    lastProblem = endpoint + ": " + err.code + " " + err.message;
                    if (!r.headers().firstValue("Keel-Leader").isPresent()) moveOn(endpoint);
                }
                case 504 -> {
                    maybeApplied = true;
                    lastProblem = endpoint + ": " + err.code + " " + err.message;
                }
                default -> {
                    if (status >= 500) {
                        maybeApplied = true;
                        lastProblem = endpoint + ": HTTP " + status + " " + err.message;
                        moveOn(endpoint);
                    } else {
                        // Refused before reaching the log: the sequence is unused, so the session stays good.
                        idleSessions.push(session);
                        throw new KeelClientException.BadRequest(status, err.code, err.message);
                    }
                }
            }
        }
    }

    private Session acquireSession() {
        Session s = idleSessions.poll();
        return s != null ? s : newSession();
    }

    private Session newSession() {
        long id;
        do {
            id = random.nextLong();
        } while (id == 0);
        return new Session(id);
    }

    private WriteResult writeResult(Response r) {
        JsonNode n = parse(r.body());
        return new WriteResult(n.path("revision").asLong(), n.path("createRevision").asLong(), n.path("version").asLong());
    }

    // ---------------------------------------------------------------- reads

    /** A linearizable get; {@link KeelClientException.NotFound} if absent. */
    public GetResult get(byte[] key) {
        return get(key, Consistency.LINEARIZABLE);
    }

    public GetResult get(String key) {
        return get(utf8(key));
    }

    public GetResult get(byte[] key, Consistency consistency) {
        Response r = read("/v1/kv/" + encode(key, true) + "?consistency=" + name(consistency));
        if (r.statusCode() == 404) throw new KeelClientException.NotFound(errorBody(r).message);
        if (r.statusCode() != 200) throw unexpected(r);
        long modRevision = Long.parseLong(r.headers().firstValue("ETag").orElse("\"0\"").replace("\"", ""));
        long create = Long.parseLong(r.headers().firstValue("Keel-Create-Revision").orElse("0"));
        long version = Long.parseLong(r.headers().firstValue("Keel-Version").orElse("0"));
        return new GetResult(key.clone(), r.body(), create, modRevision, version);
    }

    /** Keys starting with {@code prefix}, at most {@code limit}, linearizable. */
    public ScanResult scan(byte[] prefix, int limit) {
        return scan(prefix, limit, Consistency.LINEARIZABLE);
    }

    public ScanResult scan(byte[] prefix, int limit, Consistency consistency) {
        Response r = read("/v1/kv?prefix=" + encode(prefix, false) + "&limit=" + limit + "&encoding=base64&consistency="
                + name(consistency));
        if (r.statusCode() != 200) throw unexpected(r);
        JsonNode n = parse(r.body());
        List<GetResult> items = new ArrayList<>();
        Base64.Decoder b64 = Base64.getDecoder();
        for (JsonNode item : n.path("items")) {
            items.add(new GetResult(b64.decode(item.path("key").asText()), b64.decode(item.path("value").asText()),
                    item.path("createRevision").asLong(), item.path("modRevision").asLong(), item.path("version").asLong()));
        }
        return new ScanResult(List.copyOf(items), n.path("more").asBoolean(), n.path("revision").asLong());
    }

    /** The status of the node the client currently prefers (the leader, once known). */
    public NodeStatus status() {
        Response r = read("/v1/status");
        if (r.statusCode() != 200) throw unexpected(r);
        JsonNode n = parse(r.body());
        return new NodeStatus(n.path("id").asInt(), n.path("role").asText(), n.path("term").asLong(), n.path("leader").asInt(),
                n.path("commitIndex").asLong(), n.path("appliedIndex").asLong(), n.path("lastIndex").asLong(),
                n.path("snapshotIndex").asLong(), n.path("kv").path("revision").asLong());
    }

    // ---------------------------------------------------------------- membership

    /** The cluster's configuration as the answering node (the leader, once known) sees it. */
    public Members members() {
        Response r = read("/v1/members");
        if (r.statusCode() != 200) throw unexpected(r);
        return parseMembers(r.body());
    }

    /**
     * Adds node {@code id} with its Raft address {@code peer} (host:port) and, optionally, its HTTP
     * base URI ({@code http}, may be null). As a learner if {@code learner}; else as a learner that
     * the leader promotes to voter once it has caught up ({@link KeelClientException.Unavailable}
     * with code NOT_CAUGHT_UP if it does not in time: it stays a learner, promote it later).
     * Idempotent for a node already a member at the same peer address.
     */
    public Members addMember(int id, String peer, URI http, boolean learner) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id);
        body.put("peer", peer);
        if (http != null) body.put("http", http.toString());
        body.put("learner", learner);
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return parseMembers(admin("POST", "/v1/members", bytes).body());
    }

    /** Promotes learner {@code id} to voter once it has caught up (nothing to do for a voter). */
    public Members promote(int id) {
        return parseMembers(admin("POST", "/v1/members/" + id + "/promote", null).body());
    }

    /** Removes voter or learner {@code id} ({@link KeelClientException.NotFound} if not a member). */
    public Members removeMember(int id) {
        return parseMembers(admin("DELETE", "/v1/members/" + id, null).body());
    }

    /** Moves leadership to voter {@code id}; returns once it leads. */
    public int transferLeader(int id) {
        return parse(admin("POST", "/v1/leader/transfer?to=" + id, null).body()).path("leader").asInt();
    }

    private Members parseMembers(byte[] body) {
        JsonNode n = parse(body);
        List<Member> members = new ArrayList<>();
        for (JsonNode m : n.path("members")) {
            members.add(new Member(m.path("id").asInt(), m.path("peer").asText(""), m.path("http").asText(""), m.path("role").asText("")));
        }
        return new Members(ints(n.path("voters")), ints(n.path("learners")), ints(n.path("outgoing")), n.path("leader").asInt(), members);
    }

    // ---------------------------------------------------------------- users (admin)

    /** The users as JSON ({@code {"enabled":..,"users":[{"name","role","prefix","token","cert"}]}}); needs an admin. */
    public String authUsers() {
        Response r = read("/v1/auth/users");
        if (r.statusCode() != 200) throw unexpected(r);
        return new String(r.body(), StandardCharsets.UTF_8);
    }

    /**
     * Creates or replaces a user (needs an admin). With {@code newToken} the answer's JSON holds the
     * user's new token, shown this once; otherwise an existing user's token is kept.
     *
     * @param role read, readwrite or admin
     * @param prefix the keys the user may touch ("" for all; ignored for admins)
     * @param cert whether a client certificate with the user's name as CN authenticates it
     */
    public String putUser(String name, String role, String prefix, boolean newToken, boolean cert) {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("name", name);
        req.put("role", role);
        req.put("prefix", prefix);
        req.put("newToken", newToken);
        req.put("cert", cert);
        try {
            return new String(admin("POST", "/v1/auth/users", json.writeValueAsBytes(req)).body(), StandardCharsets.UTF_8);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Revokes a user and its token (needs an admin). */
    public void revokeUser(String name) {
        admin("DELETE", "/v1/auth/users/" + name, null);
    }

    private static List<Integer> ints(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode x : array) out.add(x.asInt());
        return out;
    }

    /**
     * A membership request: retried while it surely did not apply (unreachable, 503 other than
     * NOT_CAUGHT_UP, 409 MEMBERSHIP_CHANGE_PENDING), until the operation deadline. Each attempt
     * may use the rest of the budget.
     */
    private Response admin(String method, String path, byte[] body) {
        long deadline = System.nanoTime() + operationTimeout.toNanos();
        String lastProblem = "no attempt made";
        ErrorBody lastConflict = null;
        Map<String, String> headers = body == null ? Map.of() : Map.of("Content-Type", "application/json");
        for (int attempt = 0; ; attempt++) {
            if (attempt > 0 && !pause(attempt, deadline)) {
                if (lastConflict != null) throw new KeelClientException.BadRequest(409, lastConflict.code, lastConflict.message);
                throw new KeelClientException.Unavailable("UNAVAILABLE", method + " " + path + " not done within " + operationTimeout
                        + ": " + lastProblem);
            }
            URI endpoint = endpoint();
            Response r;
            try {
                r = send(endpoint, method, path, body, headers, deadline, deadline - System.nanoTime());
            } catch (ConnectException e) {
                lastProblem = endpoint + " unreachable: " + e;
                moveOn(endpoint);
                continue;
            } catch (IOException e) {
                throw new KeelClientException.Timeout(method + " " + path + " via " + endpoint + " gave no answer (" + e
                        + "); it may have applied: check the membership");
            }
            learnLeader(r);
            int status = r.statusCode();
            if (status == 200) return r;
            ErrorBody err = errorBody(r);
            lastConflict = null;
            switch (status) {
                case 404 -> throw new KeelClientException.NotFound(err.message);
                case 409 -> {
                    if (!err.code.equals("MEMBERSHIP_CHANGE_PENDING")) throw new KeelClientException.BadRequest(status, err.code, err.message);
                    lastConflict = err;
                    lastProblem = endpoint + ": " + err.code + " " + err.message;
                }
                case 503 -> {
                    if (err.code.equals("NOT_CAUGHT_UP")) throw new KeelClientException.Unavailable(err.code, err.message);
                    lastProblem = endpoint + ": " + err.code + " " + err.message;
                    if (r.headers().firstValue("Keel-Leader").isEmpty()) moveOn(endpoint);
                }
                case 504 -> throw new KeelClientException.Timeout(err.message + " (it may have applied: check the membership)");
                default -> throw new KeelClientException.BadRequest(status, err.code, err.message);
            }
        }
    }

    /** GET with retries on unreachable nodes, 503 and 504 (reads change nothing, so retrying is always safe). */
    private Response read(String path) {
        long deadline = System.nanoTime() + operationTimeout.toNanos();
        String lastProblem = "no attempt made";
        for (int attempt = 0; ; attempt++) {
            if (attempt > 0 && !pause(attempt, deadline)) {
                throw new KeelClientException.Unavailable("UNAVAILABLE", "read not served within " + operationTimeout + ": " + lastProblem);
            }
            URI endpoint = endpoint();
            try {
                Response r = send(endpoint, "GET", path, null, Map.of(), deadline);
                learnLeader(r);
                if (r.statusCode() != 503 && r.statusCode() != 504) return r;
                lastProblem = endpoint + ": HTTP " + r.statusCode() + " " + errorBody(r).message;
                moveOn(endpoint);
            } catch (IOException e) {
                lastProblem = endpoint + ": " + e;
                moveOn(endpoint);
            }
        }
    }

    // ---------------------------------------------------------------- plumbing

    private Response send(URI endpoint, String method, String path, byte[] body, Map<String, String> headers,
                          long deadlineNanos) throws IOException {
        return send(endpoint, method, path, body, headers, deadlineNanos, requestTimeout.toNanos());
    }

    private Response send(URI endpoint, String method, String path, byte[] body, Map<String, String> headers,
                          long deadlineNanos, long attemptNanos) throws IOException {
        long remainingNanos = Math.max(1_000_000, deadlineNanos - System.nanoTime());
        if (authorization != null) {
            Map<String, String> withAuth = new LinkedHashMap<>(headers);
            withAuth.put("Authorization", authorization);
            headers = withAuth;
        }
        return http.send(endpoint, method, path, body, headers, Math.max(1_000_000, Math.min(attemptNanos, remainingNanos)));
    }

    private URI endpoint() {
        return endpoints.get(Math.floorMod(preferred.get(), endpoints.size()));
    }

    private void moveOn(URI failed) {
        int i = endpoints.indexOf(failed);
        if (i >= 0) preferred.compareAndSet(i, (i + 1) % endpoints.size());
    }

    private void learnLeader(Response r) {
        String leader = r.headers().firstValue("Keel-Leader").orElse(null);
        if (leader == null) return;
        LeaderHint last = lastLeaderHint;
        if (!leader.equals(last.header())) {
            // Every response names the leader: parse it only when it changes.
            last = new LeaderHint(leader, endpoints.indexOf(URI.create(leader.replaceAll("/+$", ""))));
            lastLeaderHint = last;
        }
        if (last.endpoint() >= 0 && preferred.get() != last.endpoint()) preferred.set(last.endpoint());
    }

    /** A Keel-Leader header and the index of its endpoint (-1: not one of ours). */
    private record LeaderHint(String header, int endpoint) {}

    private volatile LeaderHint lastLeaderHint = new LeaderHint(null, -1);

    /**
     * Sleeps before retry {@code attempt}; false if the deadline leaves no time for a useful attempt.
     * An attempt needs at least min(requestTimeout, 100 ms): one cut short by the deadline would
     * leave a write's outcome unknown for no good reason.
     */
    private boolean pause(int attempt, long deadlineNanos) {
        long maxNanos = Math.min(backoffMax.toNanos(), backoffMin.toNanos() << Math.min(attempt - 1, 20));
        long sleepNanos = maxNanos / 2 + ThreadLocalRandom.current().nextLong(maxNanos / 2 + 1);
        long attemptMinNanos = Math.min(requestTimeout.toNanos(), 100_000_000L);
        if (System.nanoTime() + sleepNanos + attemptMinNanos >= deadlineNanos) return false;
        try {
            // A retry delay, not synchronisation.
            Thread.sleep(Duration.ofNanos(sleepNanos));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        return true;
    }

    private record ErrorBody(String code, String message, long revision) {}

    private ErrorBody errorBody(Response r) {
        try {
            JsonNode n = json.readTree(r.body());
            return new ErrorBody(n.path("code").asText("HTTP_" + r.statusCode()), n.path("error").asText("HTTP " + r.statusCode()),
                    n.path("revision").asLong());
        } catch (IOException | RuntimeException e) {
            return new ErrorBody("HTTP_" + r.statusCode(), "HTTP " + r.statusCode(), 0);
        }
    }

    private KeelClientException unexpected(Response r) {
        ErrorBody e = errorBody(r);
        return new KeelClientException.BadRequest(r.statusCode(), e.code, e.message);
    }

    private JsonNode parse(byte[] body) {
        try {
            return json.readTree(body);
        } catch (IOException e) {
            throw new KeelClientException.BadRequest(200, "BAD_RESPONSE", "unparseable response: " + e.getMessage());
        }
    }

    private static String name(Consistency c) {
        return c.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** Percent-encodes every byte but RFC 3986's unreserved characters (and '/' in keys, for readable paths). */
    static String encode(byte[] bytes, boolean keepSlash) {
        StringBuilder sb = new StringBuilder(bytes.length + 8);
        for (byte x : bytes) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
                    || c == '~' || (keepSlash && c == '/')) {
                sb.append((char) c);
            } else {
                sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        return sb.toString();
    }

    @Override
    public void close() {
        http.close();
    }
}
