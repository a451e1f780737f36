package dev.keel.kv.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.keel.kv.client.HttpTransport;
import dev.keel.kv.client.NettyHttpTransport;
import dev.keel.kv.store.KeyValue;
import dev.keel.kv.store.KvCodec;
import dev.keel.kv.store.KvCommand;
import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvCommand.Op;
import dev.keel.kv.store.KvEntry;
import dev.keel.kv.store.KvResult;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.kv.store.ScanResult;
import dev.keel.server.KeelException;
import dev.keel.server.RaftServer;
import dev.keel.server.ServerStatus;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import io.netty.handler.ssl.SslContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API of one KV node, as a {@link HttpHandler} for the JDK's HTTP server.
 *
 * <pre>
 * PUT    /v1/kv/{key}          body = raw value. Conditions (at most one): If-Match: "&lt;rev&gt;" (the key's
 *                              modRevision must equal rev; 0 = must not exist), If-Match: * (must exist),
 *                              If-None-Match: * (create only), ?prevValue=&lt;value&gt; (current value must equal).
 *                              200 {"revision","createRevision","version"} with ETag "&lt;revision&gt;";
 *                              412 {"error","code":"CONDITION_FAILED","revision":current} (0 = absent)
 * DELETE /v1/kv/{key}          same conditions; 200 {"revision",...}; 404 if absent; 412
 * GET    /v1/kv/{key}          raw value; ETag "&lt;modRevision&gt;", Keel-Create-Revision, Keel-Version,
 *                              Keel-Revision (the store's); 404 if absent. ?consistency=linearizable|lease|stale
 * GET    /v1/kv?prefix=&amp;limit=&amp;encoding=utf8|base64&amp;consistency=
 *                              {"revision","more","encoding","items":[{"key","value","createRevision",
 *                              "modRevision","version"}]}
 * GET    /v1/status            this node's id, role, term, leader, indexes, members, KV counters
 * GET    /v1/status/stream     the same as server-sent events, pushed on change (see StatusStream)
 * GET    /v1/members           {"voters":[..],"learners":[..],"outgoing":[..],"leader":N,
 *                              "members":[{"id","peer":"host:port","http":"http://..","role":"voter|learner"}]}
 *                              (this node's latest configuration; "outgoing" is non-empty only while joint)
 * POST   /v1/members           body {"id":4,"peer":"host:port","http":"http://host:port","learner":true}: adds
 *                              the node as a learner ("http" optional); with "learner":false (the default)
 *                              then promotes it once caught up, retrying until the request timeout.
 *                              200 with the new membership (as GET). Idempotent for a member at the same peer
 * POST   /v1/members/{id}/promote   learner to voter once caught up (200 with the membership)
 * DELETE /v1/members/{id}      removes a voter (the leader too: it steps down once the change commits) or learner
 * POST   /v1/leader/transfer?to=N   moves leadership to voter N; 200 {"leader":N,"previous":M} once N leads
 * GET    /health               200 {"live":true,"ready":true} once a leader is known, else 503
 * GET    /metrics              Prometheus text format
 * </pre>
 *
 * <p><b>Keys</b> are the URL-decoded bytes of the path after {@code /v1/kv/} (slashes included:
 * {@code /v1/kv/a/b} is key {@code a/b}; {@code %FF} is byte 0xFF); see {@link UrlBytes}.
 *
 * <p><b>Scan encoding.</b> With {@code encoding=utf8} (the default) keys and values are JSON strings
 * when they are valid UTF-8; an item whose key or value is not gets both base64-encoded and
 * {@code "base64": true}. With {@code encoding=base64} every key and value is base64. Clients that
 * store binary data should ask for base64 (the Java client does).
 *
 * <p><b>Consistency of reads.</b> {@code linearizable} (default) waits for a ReadIndex (thesis
 * §6.4) and then reads local state, on any node: a read sees every write that completed before it
 * began. {@code lease} currently takes the same path; it becomes a leader lease read (thesis §6.4.1)
 * when the server runs with {@code leaseReads}, which the runtime applies inside
 * {@code linearizableRead()}. {@code stale} reads local state at once: fast and available without
 * a leader, but may miss recent writes (a partitioned follower can be arbitrarily behind).
 *
 * <p><b>Any node takes any request.</b> A write to a follower is forwarded over HTTP to the leader
 * (at most one hop, marked with {@code Keel-Forwarded-By}) and the leader's answer is relayed.
 * Responses carry {@code Keel-Leader: <http base URI>} when a leader is known.
 *
 * <p><b>Sessions.</b> With {@code Keel-Client-Id: <nonzero long>} and {@code Keel-Sequence: <n >= 1>}
 * a write is exactly-once: a retry with the same pair, through any node, returns the first answer
 * without applying again (thesis §6.3; see {@link KvStateMachine} for expiry). Without them a write
 * is applied each time it commits, so retrying one after a 504 may apply it twice.
 *
 * <p><b>Errors</b> are JSON {@code {"error": "...", "code": "..."}}: 400 (BAD_KEY, BAD_REQUEST,
 * BAD_SESSION), 404 (NOT_FOUND, NO_ROUTE), 405, 409 (SESSION_EXPIRED, STALE_SEQUENCE), 412
 * (CONDITION_FAILED), 413 (KEY_TOO_LARGE, VALUE_TOO_LARGE, BODY_TOO_LARGE, COMMAND_TOO_LARGE), 503 (NO_LEADER,
 * UNAVAILABLE, REJECTED, NOT_COMMITTED: not applied, safe to retry; SHUTTING_DOWN: this node is
 * stopping, and a write it had already proposed may still commit through another leader), 504
 * (TIMEOUT: outcome unknown; retry only with a session). 500 means a bug, never bad input.
 *
 * <p><b>Membership</b> requests go to the leader like writes (a follower forwards them) and are
 * answered once the change is committed. 400 bad input, 404 a member that does not exist (promote,
 * delete, transfer), 409 MEMBERSHIP_CHANGE_PENDING (another change, or this new leader's first
 * commit, is in progress: retry shortly), 409 ALREADY_MEMBER / ALREADY_VOTER / NOT_A_VOTER /
 * INVALID_MEMBERSHIP (the request contradicts the configuration), 503 NOT_CAUGHT_UP (the learner is
 * still catching up: promote it later), 503 NO_LEADER, 504 TIMEOUT (may still complete).
 * <b>Members' HTTP addresses</b> (for forwarding, {@code Keel-Leader} and {@code /v1/members}) come
 * from the replicated address book first, then from the static {@code httpMembers}; each new
 * leader replicates the static addresses the book lacks, so nodes added later learn them.
 *
 * <p>Threads: see {@link #dispatch}. A key's GET, PUT and DELETE run on the connection's event loop
 * and continue there when their future completes; other requests run {@link #handle} on a virtual
 * thread each and block on futures, which is cheap there.
 */
public final class KvHttpApi implements HttpHandler, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KvHttpApi.class);

    /**
     * A deliberately broken mode for the fault harness's self-test only: linearizable and lease
     * reads are served from this node's local state with no ReadIndex round, so a follower or a
     * deposed leader answers stale values. The harness must find the violation; nothing else may set
     * this system property.
     */
    static final String UNSAFE_LOCAL_READS_PROPERTY = "keel.test.unsafeLocalReads";
    private final boolean unsafeLocalReads = Boolean.getBoolean(UNSAFE_LOCAL_READS_PROPERTY);

    public static final String CLIENT_ID = "Keel-Client-Id";
    public static final String SEQUENCE = "Keel-Sequence";
    public static final String FORWARDED_BY = "Keel-Forwarded-By";
    public static final String LEADER = "Keel-Leader";
    static final String KV_PREFIX = "/v1/kv/";
    static final String MEMBERS_PREFIX = "/v1/members/";
    /** A cert-authenticated user's name, set by a follower forwarding the request; trusted only from a node certificate. */
    public static final String FORWARDED_PRINCIPAL = "Keel-Forwarded-Principal";
    static final String AUTH_USERS = "/v1/auth/users";
    private static final String USER_ATTRIBUTE = "keel.user";
    private static final List<String> FORWARDED_HEADERS = List.of("If-Match", "If-None-Match", CLIENT_ID, SEQUENCE, "Content-Type",
            "Authorization");
    private static final List<String> RELAYED_HEADERS = List.of("Content-Type", "ETag", LEADER, "Keel-Revision");

    private final int nodeId;
    private final Consensus consensus;
    private final KvStateMachine stateMachine;
    private final Map<Integer, URI> httpMembers;
    private final KvLimits limits;
    private final Duration requestTimeout;
    private final KvMetrics metrics;
    private final SslContext forwardTls;
    /** Made at the first forward (a leader never needs one); closed by {@link #close()}. */
    private HttpTransport forwardTransport;
    private boolean closed;
    private final ObjectMapper json = new ObjectMapper();
    private final List<LeaderWaiter> leaderWaiters = new CopyOnWriteArrayList<>();
    private final StatusStream statusStream;
    private volatile boolean authRequired;
    private volatile byte[] bootstrapTokenHash;
    private volatile Auth.Table authTable = Auth.Table.EMPTY;

    /** A leadership transfer waiting for {@code target} to lead. */
    private record LeaderWaiter(int target, CompletableFuture<Void> moved) {}

    /**
     * @param httpMembers the HTTP base URIs known from configuration (for example {@code http://10.0.0.1:8081}), this
     *     node's too; the replicated address book takes precedence, these fill its gaps (bootstrap members)
     * @param requestTimeout the longest a request waits for a commit, a read index or a forwarded answer;
     *     beyond it the answer is 504. Make it longer than the server's proposal timeout so the
     *     runtime's own, more precise, Timeout comes first
     */
    public KvHttpApi(int nodeId, Consensus consensus, KvStateMachine stateMachine, Map<Integer, URI> httpMembers,
                     KvLimits limits, Duration requestTimeout, KvMetrics metrics) {
        this(nodeId, consensus, stateMachine, httpMembers, limits, requestTimeout, metrics, null);
    }

    /**
     * @param forwardTls the TLS client context for forwarding to an https leader (trusting the cluster's
     *     CA, host names verified), or null for the JDK's default trust
     */
    public KvHttpApi(int nodeId, Consensus consensus, KvStateMachine stateMachine, Map<Integer, URI> httpMembers,
                     KvLimits limits, Duration requestTimeout, KvMetrics metrics, SslContext forwardTls) {
        if (!httpMembers.containsKey(nodeId)) {
            throw new IllegalArgumentException("httpMembers " + httpMembers.keySet() + " lack this node " + nodeId);
        }
        this.nodeId = nodeId;
        this.consensus = consensus;
        this.stateMachine = stateMachine;
        this.httpMembers = Map.copyOf(httpMembers);
        this.limits = limits;
        this.requestTimeout = requestTimeout;
        this.metrics = metrics;
        this.forwardTls = forwardTls;
        consensus.addLeaderListener(this::leaderChanged);
        this.statusStream = new StatusStream(consensus);
        if (unsafeLocalReads) {
            log.warn("node={} {}=true: linearizable reads are served from local state WITHOUT ReadIndex; this breaks "
                    + "linearizability on purpose and exists only for the fault harness's self-test", nodeId,
                    UNSAFE_LOCAL_READS_PROPERTY);
        }
    }

    /** The {@code /v1/status/stream} handler, which the server runs on the connection itself (it never ends). */
    StatusStream statusStream() {
        return statusStream;
    }

    /** A failure to report as JSON with this status. */
    private static final class HttpError extends Exception {
        final int status;
        final String code;
        final Map<String, Object> extra = new LinkedHashMap<>();

        HttpError(int status, String code, String message) {
            super(message, null, false, false);
            this.status = status;
            this.code = code;
        }

        HttpError with(String name, Object value) {
            extra.put(name, value);
            return this;
        }
    }

    private enum Consistency {
        LINEARIZABLE,
        LEASE,
        STALE
    }

    // ---------------------------------------------------------------- dispatch

    @Override
    public void handle(HttpExchange ex) {
        long start = System.nanoTime();
        String[] route = {"unknown"};
        complete(ex, start, route, () -> serve(ex, route));
    }

    /**
     * Serves a request from its connection's event loop ({@code loop}, which must not block). The
     * hot requests run there without a thread of their own: a key's GET, and a PUT or DELETE that
     * this node proposes itself; they continue on {@code loop} when their commit or read index
     * completes. Everything else (forwarding to the leader, scans, membership, status) may block, so
     * it runs {@link #handle} on {@code blocking}.
     *
     * <p>Why: profiles of the KV benchmark showed a virtual thread per request costing the leader
     * about a seventh of its CPU per write: its start, its timed park on the commit future (one
     * delay-scheduler entry each), and the wake-ups in between. An answer now costs one hand-off
     * back to the loop. Both paths share the request parsing and the answers below.
     */
    public void dispatch(HttpExchange ex, ScheduledExecutorService loop, Executor blocking) {
        if (tokenUnknownOnFollower(ex)) {
            // The token may belong to a user the leader created a moment ago and this follower has
            // not applied yet: catch up to the leader's commit index first (a ReadIndex barrier, as
            // a linearizable read takes), so that a new user's first request never gets a 401
            // from a lagging follower. Then decide as usual; if the barrier fails, decide anyway.
            // Unknown tokens are the only ones that pay it, bounded by the in-flight limit per client.
            consensus.linearizableRead().orTimeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .whenComplete((index, failure) -> loop.execute(() -> route(ex, loop, blocking)));
            return;
        }
        route(ex, loop, blocking);
    }

    /** True when authentication is on, this node follows a known leader, and it knows no user with the request's bearer token. */
    private boolean tokenUnknownOnFollower(HttpExchange ex) {
        if (!authRequired) return false;
        String token = bearerToken(ex.getRequestHeaders().getFirst("Authorization"));
        if (token == null) return false;
        int leader = consensus.status().leaderId();
        if (leader == 0 || leader == nodeId) return false;
        return authTable().byToken(token) == null;
    }

    /** The token of an {@code Authorization: Bearer <token>} header, or null for any other header or none. */
    private static String bearerToken(String authorization) {
        return authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7) ? authorization.substring(7).trim() : null;
    }

    private void route(HttpExchange ex, ScheduledExecutorService loop, Executor blocking) {
        String path = ex.getRequestURI().getRawPath();
        if (path != null && path.startsWith(KV_PREFIX)) {
            switch (ex.getRequestMethod()) {
                case "GET" -> {
                    getOnLoop(ex, loop);
                    return;
                }
                case "PUT", "DELETE" -> {
                    if (writeOnLoop(ex, loop, blocking)) return;
                }
                default -> {
                }
            }
        }
        blocking.execute(() -> handle(ex));
    }

    /** The work that answers a request; failures become its error response. */
    @FunctionalInterface
    private interface Step {
        void run() throws HttpError, IOException;
    }

    /**
     * Runs {@code step}, answers any failure with its JSON error, counts the request under
     * {@code route[0]} and completes the exchange (which writes the response).
     */
    private void complete(HttpExchange ex, long start, String[] route, Step step) {
        try {
            step.run();
        } catch (HttpError e) {
            sendError(ex, e);
        } catch (IOException e) {
            // The client went away, or the response could not be written: nothing to tell anyone.
            log.debug("node={} http exchange failed: {}", nodeId, e.toString());
        } catch (RuntimeException e) {
            log.warn("node={} http {} {} failed: {}", nodeId, ex.getRequestMethod(), ex.getRequestURI(), e.toString(), e);
            sendError(ex, new HttpError(500, "INTERNAL", "internal error: " + e));
        } finally {
            // Tags only from fixed sets: a client must not be able to mint new time series.
            String m = switch (ex.getRequestMethod()) {
                case "GET", "PUT", "DELETE", "POST", "HEAD" -> ex.getRequestMethod();
                default -> "OTHER";
            };
            metrics.request(m, route[0], ex.getResponseCode(), start);
            ex.close();
        }
    }

    /** Routes a request to its handler, naming the route for the metrics in {@code route[0]}. */
    private void serve(HttpExchange ex, String[] route) throws HttpError, IOException {
        String path = ex.getRequestURI().getRawPath();
        String method = ex.getRequestMethod();
        addLeaderHeader(ex);
        if (path == null) throw new HttpError(400, "BAD_REQUEST", "request target has no path");
        // Liveness probes need no credentials; everything else does when authentication is on.
        Auth.User user = path.equals("/health") ? null : authenticate(ex);
        if (path.startsWith(KV_PREFIX)) {
            route[0] = "kv_key";
            byte[] key = parseKey(path.substring(KV_PREFIX.length()));
            authorizeKey(user, key, !method.equals("GET"));
            Map<String, byte[]> query = query(ex);
            switch (method) {
                case "GET" -> get(ex, key, query);
                case "PUT" -> write(ex, Op.PUT, key, query);
                case "DELETE" -> write(ex, Op.DELETE, key, query);
                default -> throw methodNotAllowed(ex, "GET, PUT, DELETE");
            }
        } else if (path.equals("/v1/kv")) {
            route[0] = "kv_scan";
            if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
            scan(ex, query(ex), user);
        } else if (path.equals("/v1/members")) {
            route[0] = "members";
            switch (method) {
                case "GET" -> sendJson(ex, 200, membersJson());
                case "POST" -> {
                    requireAdmin(user);
                    addMember(ex);
                }
                default -> throw methodNotAllowed(ex, "GET, POST");
            }
        } else if (path.startsWith(MEMBERS_PREFIX)) {
            route[0] = "member";
            requireAdmin(user);
            String rest = path.substring(MEMBERS_PREFIX.length());
            if (rest.endsWith("/promote")) {
                if (!method.equals("POST")) throw methodNotAllowed(ex, "POST");
                promoteMember(ex, memberId(rest.substring(0, rest.length() - "/promote".length())));
            } else {
                if (!method.equals("DELETE")) throw methodNotAllowed(ex, "DELETE");
                removeMember(ex, memberId(rest));
            }
        } else if (path.equals("/v1/leader/transfer")) {
            route[0] = "leader_transfer";
            if (!method.equals("POST")) throw methodNotAllowed(ex, "POST");
            requireAdmin(user);
            transferLeader(ex, query(ex));
        } else if (path.equals(AUTH_USERS) || path.startsWith(AUTH_USERS + "/")) {
            route[0] = "auth";
            requireAdmin(user);
            authUsers(ex, path, method);
        } else if (path.equals("/v1/status")) {
            route[0] = "status";
            if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
            sendJson(ex, 200, statusJson());
        } else if (path.equals("/health")) {
            route[0] = "health";
            if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
            health(ex);
        } else if (path.equals("/metrics")) {
            route[0] = "metrics";
            if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
            send(ex, 200, metrics.scrape().getBytes(StandardCharsets.UTF_8), "text/plain; version=0.0.4; charset=utf-8");
        } else {
            throw new HttpError(404, "NO_ROUTE", "no such resource: " + path);
        }
    }

    private static HttpError methodNotAllowed(HttpExchange ex, String allow) {
        ex.getResponseHeaders().set("Allow", allow);
        return new HttpError(405, "METHOD_NOT_ALLOWED", ex.getRequestMethod() + " not allowed; use " + allow);
    }

    private byte[] parseKey(String raw) throws HttpError {
        byte[] key;
        try {
            key = UrlBytes.decode(raw, false);
        } catch (UrlBytes.BadEncodingException e) {
            throw new HttpError(400, "BAD_KEY", "key is not valid percent-encoding: " + e.getMessage());
        }
        if (key.length == 0) throw new HttpError(400, "BAD_KEY", "empty key");
        if (Auth.isReserved(key)) {
            throw new HttpError(400, "RESERVED_KEY", "keys starting with bytes FF FF FF 'keel/auth/' are reserved for Keel's users; "
                    + "manage users through /v1/auth/users");
        }
        if (key.length > limits.keyMaxBytes()) {
            throw new HttpError(413, "KEY_TOO_LARGE", "key of " + key.length + " bytes exceeds the limit of " + limits.keyMaxBytes());
        }
        return key;
    }

    private static Map<String, byte[]> query(HttpExchange ex) throws HttpError {
        try {
            return UrlBytes.parseQuery(ex.getRequestURI().getRawQuery());
        } catch (UrlBytes.BadEncodingException e) {
            throw new HttpError(400, "BAD_REQUEST", "query is not valid percent-encoding: " + e.getMessage());
        }
    }

    private static String text(Map<String, byte[]> query, String name) {
        byte[] v = query.get(name);
        return v == null ? null : new String(v, StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- reads

    private void get(HttpExchange ex, byte[] key, Map<String, byte[]> query) throws HttpError, IOException {
        awaitRead(consistency(query));
        answerGet(ex, key);
    }

    /** A key's GET on the loop: parsed now, answered once its read index is applied (at once for stale reads). */
    private void getOnLoop(HttpExchange ex, ScheduledExecutorService loop) {
        long start = System.nanoTime();
        String[] route = {"kv_key"};
        byte[] key;
        Consistency c;
        try {
            addLeaderHeader(ex);
            key = parseKey(ex.getRequestURI().getRawPath().substring(KV_PREFIX.length()));
            authorizeKey(authenticate(ex), key, false);
            c = consistency(query(ex));
        } catch (HttpError | RuntimeException e) {
            fail(ex, start, route, e);
            return;
        }
        if (c == Consistency.STALE || unsafeLocalReads) {
            complete(ex, start, route, () -> answerGet(ex, key));
            return;
        }
        // LEASE: same call; the runtime answers it from the leader's lease when configured with leaseReads.
        whenDone(consensus.linearizableRead(), "read index", loop, ex, start, route,
                (index, failure) -> complete(ex, start, route, () -> {
                    if (failure != null) throw failure(failure);
                    answerGet(ex, key);
                }));
    }

    /**
     * A PUT or DELETE on the loop, when this node proposes it itself (it leads, no leader is known,
     * or a follower forwarded it here); false leaves the request to {@link #handle}, which forwards
     * it to the leader. A proposal refused because leadership moved is forwarded from
     * {@code blocking}, as {@link #write} does.
     */
    private boolean writeOnLoop(HttpExchange ex, ScheduledExecutorService loop, Executor blocking) {
        boolean forwarded = ex.getRequestHeaders().containsKey(FORWARDED_BY);
        int leader = consensus.status().leaderId();
        if (!forwarded && leader != 0 && leader != nodeId) return false;
        long start = System.nanoTime();
        String[] route = {"kv_key"};
        Op op = ex.getRequestMethod().equals("PUT") ? Op.PUT : Op.DELETE;
        KvCommand command;
        try {
            addLeaderHeader(ex);
            byte[] key = parseKey(ex.getRequestURI().getRawPath().substring(KV_PREFIX.length()));
            authorizeKey(authenticate(ex), key, true);
            command = command(ex, op, key, query(ex));
        } catch (HttpError | IOException | RuntimeException e) {
            fail(ex, start, route, e);
            return true;
        }
        long proposed = System.nanoTime();
        metrics.proposed();
        whenDone(consensus.submit(KvCodec.encode(command)), "commit", loop, ex, start, route, (result, failure) -> {
            if (failure == null) {
                metrics.committed(proposed);
                complete(ex, start, route, () -> answerWrite(ex, op, result));
                return;
            }
            HttpError e = failure(failure);
            if (!forwarded && e.extra.get("leader") instanceof Integer h && h != 0 && h != nodeId) {
                try {
                    blocking.execute(() -> complete(ex, start, route,
                            () -> forward(ex, h, op == Op.PUT ? command.value() : null, requestTimeout)));
                    return;
                } catch (RejectedExecutionException stopping) {
                    // The server is closing: answer the refusal as it is.
                }
            }
            complete(ex, start, route, () -> {
                throw e;
            });
        });
        return true;
    }

    /** Answers a failure met before the request could be started. */
    private void fail(HttpExchange ex, long start, String[] route, Exception e) {
        complete(ex, start, route, () -> {
            if (e instanceof HttpError h) throw h;
            if (e instanceof IOException io) throw io;
            throw (RuntimeException) e;
        });
    }

    /** How a request continues once what it waits for completes: {@code failure} is null on success. */
    @FunctionalInterface
    private interface Then<T> {
        void accept(T value, Throwable failure);
    }

    /**
     * Continues a request on its loop once {@code f} completes, or answers 504 if it has not within
     * the request timeout. The timer and the continuation both run on the loop, so exactly one of
     * them answers, and cancelling the timer there costs no hand-off.
     */
    private <T> void whenDone(CompletableFuture<T> f, String what, ScheduledExecutorService loop, HttpExchange ex, long start,
                              String[] route, Then<T> then) {
        boolean[] answered = {false};
        ScheduledFuture<?> timer = loop.schedule(() -> {
            if (answered[0]) return;
            answered[0] = true;
            complete(ex, start, route, () -> {
                throw timedOut(what);
            });
        }, requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
        f.whenCompleteAsync((value, failure) -> {
            if (answered[0]) return;
            answered[0] = true;
            timer.cancel(false);
            then.accept(value, failure instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : failure);
        }, loop);
    }

    /** Answers a GET from the state machine as it is now. */
    private void answerGet(HttpExchange ex, byte[] key) throws HttpError, IOException {
        KvStateMachine.View view = stateMachine.view();
        KvEntry e = view.get(key);
        ex.getResponseHeaders().set("Keel-Revision", Long.toString(view.revision()));
        if (e == null) throw new HttpError(404, "NOT_FOUND", "key not found");
        ex.getResponseHeaders().set("ETag", etag(e.modRevision()));
        ex.getResponseHeaders().set("Keel-Create-Revision", Long.toString(e.createRevision()));
        ex.getResponseHeaders().set("Keel-Version", Long.toString(e.version()));
        send(ex, 200, e.value(), "application/octet-stream");
    }

    private void scan(HttpExchange ex, Map<String, byte[]> query, Auth.User user) throws HttpError, IOException {
        byte[] prefix = query.getOrDefault("prefix", new byte[0]);
        if (Auth.isReserved(prefix)) throw new HttpError(400, "RESERVED_KEY", "the prefix names Keel's reserved keys");
        if (user != null && !user.allowsScan(prefix)) {
            metrics.rejected("forbidden");
            throw new HttpError(403, "FORBIDDEN", "user '" + user.name() + "' may read only keys starting with '"
                    + new String(user.prefix(), StandardCharsets.UTF_8) + "'; give a prefix within it");
        }
        if (prefix.length > limits.keyMaxBytes()) {
            throw new HttpError(413, "KEY_TOO_LARGE", "prefix of " + prefix.length + " bytes exceeds the key limit of "
                    + limits.keyMaxBytes());
        }
        int limit = limits.scanLimitDefault();
        String limitText = text(query, "limit");
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText);
            } catch (NumberFormatException e) {
                throw new HttpError(400, "BAD_REQUEST", "limit '" + limitText + "' is not a number");
            }
            if (limit <= 0 || limit > limits.scanLimitMax()) {
                throw new HttpError(400, "BAD_REQUEST", "limit " + limit + " must be in 1.." + limits.scanLimitMax());
            }
        }
        String encoding = text(query, "encoding");
        boolean base64 = false;
        if (encoding != null && !encoding.equals("utf8")) {
            if (!encoding.equals("base64")) throw new HttpError(400, "BAD_REQUEST", "encoding must be utf8 or base64");
            base64 = true;
        }
        awaitRead(consistency(query));
        ScanResult r = stateMachine.view().scan(prefix, limit);
        List<Map<String, Object>> items = new ArrayList<>(r.items().size());
        Base64.Encoder b64 = Base64.getEncoder();
        for (KeyValue kv : r.items()) {
            if (Auth.isReserved(kv.key())) continue; // never listed; they sort after every ordinary key
            Map<String, Object> item = new LinkedHashMap<>();
            String k = base64 ? null : utf8(kv.key());
            String v = base64 ? null : utf8(kv.entry().value());
            if (k == null || v == null) {
                item.put("key", b64.encodeToString(kv.key()));
                item.put("value", b64.encodeToString(kv.entry().value()));
                if (!base64) item.put("base64", true);
            } else {
                item.put("key", k);
                item.put("value", v);
            }
            item.put("createRevision", kv.entry().createRevision());
            item.put("modRevision", kv.entry().modRevision());
            item.put("version", kv.entry().version());
            items.add(item);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("revision", r.revision());
        body.put("more", r.more());
        body.put("encoding", base64 ? "base64" : "utf8");
        body.put("items", items);
        ex.getResponseHeaders().set("Keel-Revision", Long.toString(r.revision()));
        sendJson(ex, 200, body);
    }

    private static String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static Consistency consistency(Map<String, byte[]> query) throws HttpError {
        String c = text(query, "consistency");
        if (c == null) return Consistency.LINEARIZABLE;
        return switch (c) {
            case "linearizable" -> Consistency.LINEARIZABLE;
            case "lease" -> Consistency.LEASE;
            case "stale" -> Consistency.STALE;
            default -> throw new HttpError(400, "BAD_REQUEST", "consistency '" + c + "' must be linearizable, lease or stale");
        };
    }

    private void awaitRead(Consistency c) throws HttpError {
        if (c == Consistency.STALE || unsafeLocalReads) return;
        // LEASE: same call; the runtime answers it from the leader's lease when configured with leaseReads.
        await(consensus.linearizableRead(), "read index");
    }

    private <T> T await(CompletableFuture<T> f, String what) throws HttpError {
        try {
            return f.get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw failure(e.getCause());
        } catch (TimeoutException e) {
            throw timedOut(what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "SHUTTING_DOWN", "interrupted");
        }
    }

    private HttpError timedOut(String what) {
        return new HttpError(504, "TIMEOUT", what + " not done within " + requestTimeout.toMillis() + " ms; a write may still apply");
    }

    private HttpError failure(Throwable t) {
        if (t instanceof KeelException ke) {
            metrics.proposalFailed(switch (ke) {
                case KeelException.NotLeader n -> "not_leader";
                case KeelException.Timeout n -> "timeout";
                case KeelException.Rejected n -> "rejected";
                case KeelException.NotCommitted n -> "not_committed";
                case KeelException.ShuttingDown n -> "shutting_down";
            });
            return switch (ke) {
                case KeelException.NotLeader nl -> new HttpError(503, "NO_LEADER", nl.getMessage()).with("leader", nl.leaderHint());
                case KeelException.Timeout to -> new HttpError(504, "TIMEOUT", to.getMessage());
                case KeelException.Rejected rj -> rejected(rj.getMessage());
                case KeelException.NotCommitted nc -> new HttpError(503, "NOT_COMMITTED", nc.getMessage());
                case KeelException.ShuttingDown sd -> new HttpError(503, "SHUTTING_DOWN", sd.getMessage());
            };
        }
        log.warn("node={} unexpected failure: {}", nodeId, t.toString(), t);
        return new HttpError(500, "INTERNAL", "internal error: " + t);
    }

    /** The runtime's refusals carry the core's reason first (see RaftServer); membership ones have their own codes. */
    private static HttpError rejected(String message) {
        String m = message == null ? "" : message;
        if (m.contains("MEMBERSHIP_CHANGE_PENDING")) {
            return new HttpError(409, "MEMBERSHIP_CHANGE_PENDING", "a membership change is in progress (" + m + "); retry shortly");
        }
        if (m.contains("NOT_CAUGHT_UP")) return new HttpError(503, "NOT_CAUGHT_UP", m);
        if (m.contains("INVALID_MEMBERSHIP")) return new HttpError(409, "INVALID_MEMBERSHIP", m);
        // The encoded command (key, value and framing) exceeds the core's maxBytesPerAppend, which
        // can happen just under the value limit: it never fits, so no retry-inviting 503.
        if (m.startsWith("TOO_LARGE")) return new HttpError(413, "COMMAND_TOO_LARGE", m + "; send a smaller value");
        return new HttpError(503, "REJECTED", m);
    }

    // ---------------------------------------------------------------- writes

    private void write(HttpExchange ex, Op op, byte[] key, Map<String, byte[]> query) throws HttpError, IOException {
        KvCommand command = command(ex, op, key, query);
        byte[] body = op == Op.PUT ? command.value() : null;
        boolean forwarded = ex.getRequestHeaders().containsKey(FORWARDED_BY);
        int leader = consensus.status().leaderId();
        if (!forwarded && leader != 0 && leader != nodeId) {
            forward(ex, leader, body, requestTimeout);
            return;
        }
        long start = System.nanoTime();
        metrics.proposed();
        byte[] result;
        try {
            result = await(consensus.submit(KvCodec.encode(command)), "commit");
        } catch (HttpError e) {
            Object hint = e.extra.get("leader");
            if (!forwarded && hint instanceof Integer h && h != 0 && h != nodeId) {
                forward(ex, h, body, requestTimeout);
                return;
            }
            throw e;
        }
        metrics.committed(start);
        answerWrite(ex, op, result);
    }

    /** The command a PUT or DELETE asks for: body, condition and session checked. */
    private KvCommand command(HttpExchange ex, Op op, byte[] key, Map<String, byte[]> query) throws HttpError, IOException {
        byte[] body = op == Op.PUT ? readBody(ex) : null;
        if (body != null && body.length > limits.valueMaxBytes()) {
            throw new HttpError(413, "VALUE_TOO_LARGE", "value of " + body.length + " bytes exceeds the limit of "
                    + limits.valueMaxBytes());
        }
        Condition condition = condition(ex, query);
        long[] session = session(ex);
        return new KvCommand(op, key, body == null ? new byte[0] : body, condition, session[0], session[1]);
    }

    /** Answers a committed write with the state machine's result. */
    private void answerWrite(HttpExchange ex, Op op, byte[] result) throws HttpError, IOException {
        KvResult r;
        try {
            r = KvCodec.decodeResult(result);
        } catch (KvCodec.MalformedException e) {
            throw new HttpError(500, "INTERNAL", "undecodable state machine result: " + e.getMessage());
        }
        switch (r) {
            case KvResult.Ok ok -> {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("revision", ok.revision());
                out.put("createRevision", ok.createRevision());
                out.put("version", ok.version());
                if (op == Op.PUT) ex.getResponseHeaders().set("ETag", etag(ok.revision()));
                sendJson(ex, 200, out);
            }
            case KvResult.ConditionFailed cf -> {
                if (cf.modRevision() != 0) ex.getResponseHeaders().set("ETag", etag(cf.modRevision()));
                throw new HttpError(412, "CONDITION_FAILED", cf.modRevision() == 0 ? "condition failed: key absent"
                        : "condition failed: key is at revision " + cf.modRevision()).with("revision", cf.modRevision());
            }
            case KvResult.NotFound nf -> throw new HttpError(404, "NOT_FOUND", "key not found");
            case KvResult.Error err -> throw switch (err.code()) {
                case BAD_COMMAND -> new HttpError(400, "BAD_REQUEST", err.message());
                case SESSION_EXPIRED -> new HttpError(409, "SESSION_EXPIRED", err.message());
                case STALE_SEQUENCE -> new HttpError(409, "STALE_SEQUENCE", err.message());
            };
        }
    }

    private byte[] readBody(HttpExchange ex) throws HttpError, IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw new HttpError(400, "BAD_REQUEST", "Content-Length '" + length + "' is not a number");
            }
            if (n > limits.bodyMaxBytes()) {
                throw new HttpError(413, "BODY_TOO_LARGE", "body of " + n + " bytes exceeds the limit of " + limits.bodyMaxBytes());
            }
        }
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(limits.bodyMaxBytes() + 1);
            if (b.length > limits.bodyMaxBytes()) {
                throw new HttpError(413, "BODY_TOO_LARGE", "body exceeds the limit of " + limits.bodyMaxBytes() + " bytes");
            }
            return b;
        }
    }

    private Condition condition(HttpExchange ex, Map<String, byte[]> query) throws HttpError {
        List<Condition> conditions = new ArrayList<>();
        String ifMatch = ex.getRequestHeaders().getFirst("If-Match");
        if (ifMatch != null) {
            String v = ifMatch.trim();
            if (v.equals("*")) {
                conditions.add(new Condition.Exists());
            } else {
                conditions.add(new Condition.ModRevision(revision(v, "If-Match")));
            }
        }
        String ifNoneMatch = ex.getRequestHeaders().getFirst("If-None-Match");
        if (ifNoneMatch != null) {
            if (!ifNoneMatch.trim().equals("*")) {
                throw new HttpError(400, "BAD_REQUEST", "If-None-Match on a write must be *, not '" + ifNoneMatch + "'");
            }
            conditions.add(new Condition.ModRevision(0));
        }
        byte[] prevValue = query.get("prevValue");
        if (prevValue != null) {
            if (prevValue.length > limits.valueMaxBytes()) {
                throw new HttpError(413, "VALUE_TOO_LARGE", "prevValue of " + prevValue.length + " bytes exceeds the limit of "
                        + limits.valueMaxBytes());
            }
            conditions.add(new Condition.Value(prevValue));
        }
        if (conditions.size() > 1) {
            throw new HttpError(400, "BAD_REQUEST", "at most one of If-Match, If-None-Match and prevValue");
        }
        return conditions.isEmpty() ? KvCommand.NONE : conditions.getFirst();
    }

    private static long revision(String etag, String header) throws HttpError {
        String v = etag.startsWith("W/") ? etag.substring(2) : etag;
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) v = v.substring(1, v.length() - 1);
        try {
            long rev = Long.parseLong(v);
            if (rev < 0) throw new NumberFormatException();
            return rev;
        } catch (NumberFormatException e) {
            throw new HttpError(400, "BAD_REQUEST", header + " '" + etag + "' is not a revision such as \"42\"");
        }
    }

    private static long[] session(HttpExchange ex) throws HttpError {
        String client = ex.getRequestHeaders().getFirst(CLIENT_ID);
        String sequence = ex.getRequestHeaders().getFirst(SEQUENCE);
        if (client == null && sequence == null) return new long[] {KvCommand.NO_SESSION, 0};
        if (client == null || sequence == null) {
            throw new HttpError(400, "BAD_SESSION", CLIENT_ID + " and " + SEQUENCE + " must be given together");
        }
        long c;
        long s;
        try {
            c = Long.parseLong(client.trim());
            s = Long.parseLong(sequence.trim());
        } catch (NumberFormatException e) {
            throw new HttpError(400, "BAD_SESSION", CLIENT_ID + " and " + SEQUENCE + " must be decimal longs");
        }
        if (c == KvCommand.NO_SESSION) throw new HttpError(400, "BAD_SESSION", CLIENT_ID + " must not be 0");
        if (s < 1) throw new HttpError(400, "BAD_SESSION", SEQUENCE + " " + s + " must be at least 1");
        return new long[] {c, s};
    }

    /**
     * Relays a write to the leader and its answer back. A connection refused means the request was
     * never sent (503, safe to retry); no answer in time means it may have applied (504).
     */
    private void forward(HttpExchange ex, int leader, byte[] body, Duration timeout) throws HttpError, IOException {
        URI base = httpOf(leader);
        if (base == null) throw new HttpError(503, "NO_LEADER", "leader " + leader + " has no known HTTP address").with("leader", leader);
        String rawQuery = ex.getRequestURI().getRawQuery();
        String pathAndQuery = ex.getRequestURI().getRawPath() + (rawQuery == null ? "" : "?" + rawQuery);
        base = URI.create(base.toString().replaceAll("/+$", ""));
        Map<String, String> headers = new LinkedHashMap<>();
        for (String h : FORWARDED_HEADERS) {
            String v = ex.getRequestHeaders().getFirst(h);
            if (v != null) headers.put(h, v);
        }
        headers.put(FORWARDED_BY, Integer.toString(nodeId));
        if (ex.getAttribute(USER_ATTRIBUTE) instanceof Auth.User u && !headers.containsKey("Authorization")) {
            // Authenticated here by its certificate, which the leader cannot see: vouch for it with ours.
            headers.put(FORWARDED_PRINCIPAL, u.name());
        }
        metrics.forwarded();
        HttpTransport.Response r;
        try {
            r = forwardTransport().send(base, ex.getRequestMethod(), pathAndQuery, body, headers, timeout.toNanos());
        } catch (ConnectException e) {
            // Nothing was sent (the transport connects, and finishes TLS, before writing).
            throw new HttpError(503, "UNAVAILABLE", "leader " + leader + " at " + base + " unreachable: " + e).with("leader", leader);
        } catch (HttpTimeoutException e) {
            throw new HttpError(504, "TIMEOUT", "leader " + leader + " did not answer within " + timeout.toMillis()
                    + " ms; the write may still apply").with("leader", leader);
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) throw new HttpError(503, "SHUTTING_DOWN", "interrupted while forwarding");
            throw new HttpError(504, "TIMEOUT", "connection to leader " + leader + " failed mid-request (" + e
                    + "); the write may have applied").with("leader", leader);
        }
        for (String h : RELAYED_HEADERS) {
            r.headers().firstValue(h).ifPresent(v -> ex.getResponseHeaders().set(h, v));
        }
        send(ex, r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse("application/json"));
    }

    /**
     * The connections to leaders. Keel's own client transport rather than the JDK's HttpClient: when
     * a leader's HTTPS server restarted, the JDK client could send a forward on a stale pooled
     * connection and wait out the whole request timeout; this transport drops a connection as soon
     * as the server closes it. One event loop thread: it only encodes, writes and decodes.
     */
    private synchronized HttpTransport forwardTransport() throws ConnectException {
        if (closed) throw new ConnectException("node " + nodeId + " is shutting down");
        if (forwardTransport == null) {
            forwardTransport = new NettyHttpTransport(Duration.ofMillis(Math.min(2_000, requestTimeout.toMillis())), 1, forwardTls);
        }
        return forwardTransport;
    }

    KvMetrics metrics() {
        return metrics;
    }

    /** Closes the connections to leaders; forwards in flight fail. Call after the HTTP server has stopped. */
    @Override
    public synchronized void close() {
        closed = true;
        if (forwardTransport != null) forwardTransport.close();
    }

    // ---------------------------------------------------------------- authentication

    /**
     * Turns authentication on (call before serving): every request but {@code /health} then needs a
     * bearer token or a client certificate of a user (401 otherwise), and a role allowing it (403).
     *
     * @param bootstrapToken the first admin's token, or null: when this node leads and no user
     *     {@code root} exists yet, it creates {@code root} (admin) with this token's hash
     */
    public void requireAuthentication(String bootstrapToken) {
        bootstrapTokenHash = bootstrapToken == null ? null : Auth.sha256(bootstrapToken);
        authRequired = true;
        if (bootstrapToken != null && consensus.status().leaderId() == nodeId) {
            Thread.ofVirtual().name("keel-auth-bootstrap-" + nodeId).start(this::bootstrapAuth);
        }
    }

    private Auth.Table authTable() {
        Auth.Table t = Auth.table(stateMachine.view(), authTable);
        authTable = t;
        return t;
    }

    /** The request's user; null when authentication is off. */
    private Auth.User authenticate(HttpExchange ex) throws HttpError {
        if (!authRequired) return null;
        Auth.Table t = authTable();
        Auth.User user;
        String authorization = ex.getRequestHeaders().getFirst("Authorization");
        java.security.cert.X509Certificate cert = ex instanceof NettyExchange ne ? ne.peerCertificate() : null;
        if (authorization != null) {
            String token = bearerToken(authorization);
            if (token == null) throw unauthenticated("the Authorization header must be 'Bearer <token>'");
            user = t.byToken(token);
            if (user == null) throw unauthenticated("invalid or revoked token");
        } else if (cert != null) {
            String forwardedFor = ex.getRequestHeaders().getFirst(FORWARDED_PRINCIPAL);
            // Only another node (a certificate naming keel://node/N) may vouch for a user it authenticated.
            String name = forwardedFor != null && dev.keel.transport.TlsFiles.nodeIdOf(cert).isPresent() ? forwardedFor : commonName(cert);
            user = name == null ? null : t.byName.get(name);
            if (user == null || !user.cert()) {
                throw unauthenticated("client certificate " + (name == null ? "without a CN" : "CN=" + name)
                        + " is not a user who may authenticate by certificate");
            }
        } else {
            throw unauthenticated("authentication required: send 'Authorization: Bearer <token>' or a client certificate");
        }
        ex.setAttribute(USER_ATTRIBUTE, user);
        return user;
    }

    /**
     * Why a status stream may not be opened, or null if it may: always without authentication;
     * with it, for a valid bearer token (in the Authorization header, or in the
     * {@code access_token} query parameter, since a browser's EventSource cannot set headers) or
     * the client certificate of a user who may authenticate by certificate. Any user may read
     * status, as with {@code GET /v1/status}.
     */
    String statusStreamRefusal(String authorization, String accessToken, java.security.cert.X509Certificate cert) {
        if (!authRequired) return null;
        Auth.Table t = authTable();
        String token = bearerToken(authorization);
        if (token == null) token = accessToken;
        if (token != null) return t.byToken(token) != null ? null : "invalid or revoked token";
        if (cert != null) {
            String name = commonName(cert);
            Auth.User user = name == null ? null : t.byName.get(name);
            return user != null && user.cert() ? null : "client certificate " + (name == null ? "without a CN" : "CN=" + name)
                    + " is not a user who may authenticate by certificate";
        }
        return "authentication required: send 'Authorization: Bearer <token>', an access_token query parameter or a client "
                + "certificate";
    }

    private HttpError unauthenticated(String message) {
        metrics.rejected("unauthenticated");
        return new HttpError(401, "UNAUTHENTICATED", message);
    }

    private void authorizeKey(Auth.User user, byte[] key, boolean write) throws HttpError {
        if (user == null || user.allows(key, write)) return;
        metrics.rejected("forbidden");
        String prefix = new String(user.prefix(), StandardCharsets.UTF_8);
        throw new HttpError(403, "FORBIDDEN", "user '" + user.name() + "' (" + user.role().text() + ") may not "
                + (write ? "write" : "read") + " this key" + (user.role() == Auth.Role.READ && write ? ": the role is read-only"
                : ": allowed keys start with '" + prefix + "'"));
    }

    private void requireAdmin(Auth.User user) throws HttpError {
        if (user == null || user.role() == Auth.Role.ADMIN) return;
        metrics.rejected("forbidden");
        throw new HttpError(403, "FORBIDDEN", "user '" + user.name() + "' (" + user.role().text() + ") is not an admin");
    }

    private static String commonName(java.security.cert.X509Certificate cert) {
        try {
            for (javax.naming.ldap.Rdn rdn : new javax.naming.ldap.LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) return rdn.getValue().toString();
            }
        } catch (javax.naming.InvalidNameException e) {
            return null;
        }
        return null;
    }

    /**
     * {@code GET /v1/auth/users} lists users (never tokens); {@code POST /v1/auth/users} with
     * {@code {"name","role":"read|readwrite|admin","prefix":"","newToken":true,"cert":false}} creates or
     * replaces one, keeping its token unless {@code newToken} (then the new token is in the answer,
     * the only time it is shown); {@code DELETE /v1/auth/users/{name}} revokes one.
     */
    private void authUsers(HttpExchange ex, String path, String method) throws HttpError, IOException {
        if (path.equals(AUTH_USERS)) {
            switch (method) {
                case "GET" -> {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("enabled", authRequired);
                    out.put("users", Auth.describe(authTable()));
                    sendJson(ex, 200, out);
                }
                case "POST" -> {
                    byte[] body = readBody(ex);
                    UserRequest req = parseUser(body);
                    admin(ex, body, deadline -> putUser(req));
                }
                default -> throw methodNotAllowed(ex, "GET, POST");
            }
            return;
        }
        if (!method.equals("DELETE")) throw methodNotAllowed(ex, "DELETE");
        String name = path.substring(AUTH_USERS.length() + 1);
        try {
            Auth.checkName(name);
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "BAD_REQUEST", e.getMessage());
        }
        admin(ex, null, deadline -> {
            Auth.Table t = authTable();
            Auth.User u = t.byName.get(name);
            if (u == null) throw new HttpError(404, "NOT_FOUND", "no user '" + name + "'");
            if (name.equals("root")) {
                throw new HttpError(409, "ROOT_USER", "root, the bootstrap admin, cannot be revoked (a new leader would create "
                        + "it again from the bootstrap token file); give it a new token with newToken instead");
            }
            if (u.role() == Auth.Role.ADMIN && t.byName.values().stream().filter(x -> x.role() == Auth.Role.ADMIN).count() == 1) {
                throw new HttpError(409, "LAST_ADMIN", "'" + name + "' is the last admin");
            }
            await(consensus.submit(KvCodec.encode(KvCommand.delete(Auth.userKey(name)))), "commit");
            log.info("node={} revoked user '{}'", nodeId, name);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("revoked", name);
            return out;
        });
    }

    /** The request body parsed as JSON; a 400 naming {@code example} if it is not JSON. */
    private JsonNode jsonBody(byte[] body, String example) throws HttpError {
        try {
            return json.readTree(body);
        } catch (IOException e) {
            throw new HttpError(400, "BAD_REQUEST", "body is not JSON" + example);
        }
    }

    private record UserRequest(String name, Auth.Role role, byte[] prefix, boolean newToken, boolean cert) {}

    private UserRequest parseUser(byte[] body) throws HttpError {
        String example = "; send {\"name\":\"alice\",\"role\":\"readwrite\",\"prefix\":\"app/\",\"newToken\":true}";
        JsonNode n = jsonBody(body, example);
        if (n == null || !n.isObject() || !n.path("name").isTextual() || !n.path("role").isTextual()) {
            throw new HttpError(400, "BAD_REQUEST", "\"name\" and \"role\" are required" + example);
        }
        try {
            Auth.checkName(n.get("name").asText());
            byte[] prefix = n.path("prefix").asText("").getBytes(StandardCharsets.UTF_8);
            if (prefix.length > limits.keyMaxBytes()) throw new IllegalArgumentException("prefix longer than the key limit");
            return new UserRequest(n.get("name").asText(), Auth.Role.parse(n.get("role").asText()), prefix,
                    n.path("newToken").asBoolean(false), n.path("cert").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "BAD_REQUEST", e.getMessage());
        }
    }

    /** On the leader: writes the user, with a new token if asked; the answer shows the token once. */
    private Object putUser(UserRequest req) throws HttpError {
        Auth.Table t = authTable();
        Auth.User old = t.byName.get(req.name());
        String token = req.newToken() ? Auth.newToken() : null;
        byte[] hash = token != null ? Auth.sha256(token) : old == null ? null : old.tokenSha256();
        if (hash == null && !req.cert()) {
            throw new HttpError(400, "BAD_REQUEST", "user '" + req.name() + "' would have no credential: ask for newToken or cert");
        }
        if (old != null && old.role() == Auth.Role.ADMIN && req.role() != Auth.Role.ADMIN
                && t.byName.values().stream().filter(x -> x.role() == Auth.Role.ADMIN).count() == 1) {
            throw new HttpError(409, "LAST_ADMIN", "'" + req.name() + "' is the last admin");
        }
        Auth.User u = new Auth.User(req.name(), req.role(), req.prefix(), hash, req.cert());
        await(consensus.submit(KvCodec.encode(KvCommand.put(Auth.userKey(u.name()), Auth.encode(u)))), "commit");
        log.info("node={} {} user '{}' role={} prefix='{}'{}", nodeId, old == null ? "added" : "updated", u.name(), u.role().text(),
                new String(u.prefix(), StandardCharsets.UTF_8), token != null ? " with a new token" : "");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", u.name());
        out.put("role", u.role().text());
        out.put("prefix", new String(u.prefix(), StandardCharsets.UTF_8));
        out.put("cert", u.cert());
        if (token != null) out.put("token", token);
        return out;
    }

    /**
     * On a new leader with a bootstrap token: creates {@code root} (admin) unless it exists. The
     * create-only condition makes it happen once in the cluster's life, whichever node leads first.
     */
    private void bootstrapAuth() {
        byte[] hash = bootstrapTokenHash;
        if (hash == null || authTable().byName.containsKey("root")) return;
        KvCommand create = KvCommand.put(Auth.userKey("root"), Auth.encode(new Auth.User("root", Auth.Role.ADMIN, new byte[0], hash, false)))
                .withCondition(new Condition.ModRevision(0));
        try {
            KvResult r = KvCodec.decodeResult(consensus.submit(KvCodec.encode(create)).get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS));
            if (r instanceof KvResult.Ok) log.info("node={} created the first admin user 'root' from the bootstrap token", nodeId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            log.debug("node={} could not create the bootstrap admin (the next leader will): {}", nodeId, e.toString());
        }
    }

    // ---------------------------------------------------------------- membership

    /** A member's HTTP base URI: the replicated address book's first, then the static configuration's; null if unknown. */
    URI httpOf(int id) {
        if (id <= 0) return null;
        RaftServer.Member m = consensus.memberAddress(id);
        if (m != null && !m.http().isEmpty()) {
            try {
                return URI.create(m.http());
            } catch (IllegalArgumentException e) {
                log.debug("node={} replicated HTTP address of {} is not a URI: {}", nodeId, id, m.http());
            }
        }
        return httpMembers.get(id);
    }

    /** On the event loop: wake transfers waiting for this leader; a new leader here publishes missing HTTP addresses. */
    private void leaderChanged(int leader) {
        for (LeaderWaiter w : leaderWaiters) {
            if (w.target() == leader) w.moved().complete(null);
        }
        if (leader == nodeId) Thread.ofVirtual().name("keel-publish-http-" + nodeId).start(this::publishHttpAddresses);
        if (leader == nodeId && bootstrapTokenHash != null) Thread.ofVirtual().name("keel-auth-bootstrap-" + nodeId).start(this::bootstrapAuth);
    }

    /**
     * Replicates the HTTP addresses this node knows from its configuration that the address book
     * lacks (the bootstrap members'), and its own if the book has another, so that nodes added
     * later can reach every member. Best effort: a failure (leadership lost) leaves it to the next leader.
     */
    private void publishHttpAddresses() {
        try {
            Map<Integer, RaftServer.Member> book = consensus.memberAddresses();
            dev.keel.core.Membership membership = consensus.status().membership();
            for (Map.Entry<Integer, URI> e : new TreeMap<>(httpMembers).entrySet()) {
                int id = e.getKey();
                RaftServer.Member known = book.get(id);
                String http = e.getValue().toString();
                if (known == null || !membership.contains(id) || known.http().equals(http)) continue;
                if (!known.http().isEmpty() && id != nodeId) continue; // the replicated address wins
                consensus.publishAddress(id, known.peer(), http).get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
                log.info("node={} replicated the HTTP address of node {}: {}", nodeId, id, http);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            log.debug("node={} could not replicate HTTP addresses (the next leader will): {}", nodeId, e.toString());
        }
    }

    private Map<String, Object> membersJson() {
        ServerStatus s = consensus.status();
        dev.keel.core.Membership m = s.membership();
        Map<Integer, RaftServer.Member> book = consensus.memberAddresses();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("voters", m.voters());
        out.put("learners", m.learners());
        out.put("outgoing", m.outgoing());
        out.put("leader", s.leaderId());
        List<Map<String, Object>> members = new ArrayList<>();
        for (int id : m.members()) {
            Map<String, Object> member = new LinkedHashMap<>();
            member.put("id", id);
            RaftServer.Member known = book.get(id);
            member.put("peer", known == null ? "" : hostPort(known.peer()));
            URI http = httpOf(id);
            member.put("http", http == null ? "" : http.toString());
            member.put("role", m.isLearner(id) ? "learner" : "voter");
            members.add(member);
        }
        out.put("members", members);
        return out;
    }

    static String hostPort(InetSocketAddress a) {
        String host = a.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    private static int memberId(String text) throws HttpError {
        if (text.isEmpty() || text.length() > 10 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new HttpError(400, "BAD_REQUEST", "member id '" + text + "' must be a positive integer");
        }
        long id = Long.parseLong(text);
        if (id <= 0 || id > Integer.MAX_VALUE) {
            throw new HttpError(400, "BAD_REQUEST", "member id " + text + " must be in 1.." + Integer.MAX_VALUE);
        }
        return (int) id;
    }

    /** A parsed {@code POST /v1/members} body. */
    private record AddRequest(int id, InetSocketAddress peer, String http, boolean learner) {}

    private AddRequest parseAdd(byte[] body) throws HttpError {
        String example = "; send {\"id\":4,\"peer\":\"host:port\",\"http\":\"http://host:port\",\"learner\":true}";
        JsonNode n = jsonBody(body, example);
        if (n == null || !n.isObject()) throw new HttpError(400, "BAD_REQUEST", "body must be a JSON object" + example);
        JsonNode id = n.get("id");
        if (id == null || id.isNull()) throw new HttpError(400, "BAD_REQUEST", "\"id\" is required" + example);
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() <= 0) {
            throw new HttpError(400, "BAD_REQUEST", "\"id\" must be a positive integer, not " + id);
        }
        JsonNode peer = n.get("peer");
        if (peer == null || !peer.isTextual()) throw new HttpError(400, "BAD_REQUEST", "\"peer\" (the node's Raft host:port) is required" + example);
        JsonNode http = n.get("http");
        if (http != null && !http.isNull() && !http.isTextual()) {
            throw new HttpError(400, "BAD_REQUEST", "\"http\" must be a string such as \"http://10.0.0.4:8084\"");
        }
        JsonNode learner = n.get("learner");
        if (learner != null && !learner.isNull() && !learner.isBoolean()) {
            throw new HttpError(400, "BAD_REQUEST", "\"learner\" must be true or false");
        }
        return new AddRequest(id.intValue(), parsePeer(peer.asText()),
                http == null || http.isNull() ? "" : parseHttp(http.asText()),
                learner != null && learner.asBoolean());
    }

    /** host:port or [v6]:port, port 1-65535. */
    static InetSocketAddress parsePeer(String text) throws HttpError {
        String t = text.trim();
        int colon = t.lastIndexOf(':');
        if (colon < 1 || colon == t.length() - 1) throw new HttpError(400, "BAD_REQUEST", "peer '" + text + "' is not host:port");
        String host = t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        if (host.isEmpty() || host.chars().anyMatch(c -> c <= ' ' || c == '/' || c == '@')) {
            throw new HttpError(400, "BAD_REQUEST", "peer '" + text + "' has no valid host");
        }
        int port;
        try {
            port = Integer.parseInt(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new HttpError(400, "BAD_REQUEST", "port of peer '" + text + "' is not a number");
        }
        if (port < 1 || port > 65535) throw new HttpError(400, "BAD_REQUEST", "port " + port + " of peer '" + text + "' is outside 1-65535");
        return new InetSocketAddress(host, port);
    }

    /** An http(s) base URI with a host and port, normalised without a trailing slash; "" stays "". */
    static String parseHttp(String text) throws HttpError {
        String t = text.trim();
        if (t.isEmpty()) return "";
        URI u;
        try {
            u = new URI(t);
        } catch (java.net.URISyntaxException e) {
            throw new HttpError(400, "BAD_REQUEST", "http '" + text + "' is not a URI: " + e.getMessage());
        }
        if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
            throw new HttpError(400, "BAD_REQUEST", "http '" + text + "' must start with http:// or https://");
        }
        if (u.getHost() == null || u.getPort() < 1 || u.getPort() > 65535) {
            throw new HttpError(400, "BAD_REQUEST", "http '" + text + "' must name a host and a port, as in http://10.0.0.4:8084");
        }
        if ((u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/")) || u.getRawQuery() != null
                || u.getRawFragment() != null || u.getRawUserInfo() != null) {
            throw new HttpError(400, "BAD_REQUEST", "http '" + text + "' must be a base URI (scheme, host and port only)");
        }
        return u.getScheme() + "://" + u.getRawAuthority();
    }

    /** A membership request's work, run on the leader before {@code deadlineNanos}; returns the JSON answer. */
    @FunctionalInterface
    private interface AdminOp {
        Object run(long deadlineNanos) throws HttpError;
    }

    /**
     * Runs a membership request on the leader: a follower forwards it (once); a node that knows no
     * leader, or that was forwarded to but no longer leads, answers 503 NO_LEADER.
     */
    private void admin(HttpExchange ex, byte[] body, AdminOp op) throws HttpError, IOException {
        boolean forwarded = ex.getRequestHeaders().containsKey(FORWARDED_BY);
        ServerStatus s = consensus.status();
        if (s.role() != dev.keel.core.Role.LEADER || s.leaderId() != nodeId) {
            int leader = s.leaderId();
            if (!forwarded && leader != 0 && leader != nodeId) {
                // The leader's own budget is requestTimeout; give its answer time to arrive.
                forward(ex, leader, body, requestTimeout.plusSeconds(2));
                return;
            }
            throw new HttpError(503, "NO_LEADER", leader == 0 || leader == nodeId ? "no leader known; retry shortly"
                    : "not the leader; node " + leader + " is").with("leader", leader);
        }
        Object out;
        try {
            out = op.run(System.nanoTime() + requestTimeout.toNanos());
        } catch (HttpError e) {
            Object hint = e.extra.get("leader");
            if (!forwarded && e.code.equals("NO_LEADER") && hint instanceof Integer h && h != 0 && h != nodeId) {
                forward(ex, h, body, requestTimeout.plusSeconds(2));
                return;
            }
            throw e;
        }
        addLeaderHeader(ex); // leadership may have moved (a transfer, or this leader removed)
        sendJson(ex, 200, out);
    }

    private void awaitChange(CompletableFuture<Void> f, String what, long deadlineNanos) throws HttpError {
        long millis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
        try {
            f.get(millis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw failure(e.getCause());
        } catch (TimeoutException e) {
            throw new HttpError(504, "TIMEOUT", what + " not done within " + requestTimeout.toMillis() + " ms; it may still complete");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "SHUTTING_DOWN", "interrupted");
        }
    }

    private void addMember(HttpExchange ex) throws HttpError, IOException {
        byte[] body = readBody(ex);
        AddRequest req = parseAdd(body);
        admin(ex, body, deadline -> {
            dev.keel.core.Membership m = consensus.status().membership();
            RaftServer.Member known = consensus.memberAddresses().get(req.id());
            if (!m.contains(req.id())) {
                awaitChange(consensus.addLearner(req.id(), req.peer(), req.http()), "adding node " + req.id() + " as a learner", deadline);
                log.info("node={} added node {} (peer {}, http '{}') as a learner", nodeId, req.id(), hostPort(req.peer()), req.http());
                // Its configuration entry is committed: once the learner has it too, it is alive and following.
                if (!req.learner()) {
                    promoteWhenCaughtUp(req.id(), deadline, consensus.status().commitIndex());
                    return membersJson();
                }
            } else {
                if (known != null && !samePeer(known.peer(), req.peer())) {
                    throw new HttpError(409, "ALREADY_MEMBER", "node " + req.id() + " is already a member with peer "
                            + hostPort(known.peer()) + ", not " + hostPort(req.peer()) + "; remove it first to move it");
                }
                if (m.isVoter(req.id()) && req.learner()) {
                    throw new HttpError(409, "ALREADY_VOTER", "node " + req.id() + " is already a voter; remove it to make it a learner");
                }
                if (!req.http().isEmpty() && (known == null || !req.http().equals(known.http()))) {
                    awaitChange(consensus.publishAddress(req.id(), req.peer(), req.http()), "updating node " + req.id() + "'s address", deadline);
                }
            }
            if (!req.learner()) promoteWhenCaughtUp(req.id(), deadline, 1);
            return membersJson();
        });
    }

    private static boolean samePeer(InetSocketAddress a, InetSocketAddress b) {
        return a.getPort() == b.getPort() && a.getHostString().equalsIgnoreCase(b.getHostString());
    }

    private void promoteMember(HttpExchange ex, int id) throws HttpError, IOException {
        admin(ex, null, deadline -> {
            if (!consensus.status().membership().contains(id)) throw notMember(id);
            promoteWhenCaughtUp(id, deadline, 1);
            return membersJson();
        });
    }

    private static HttpError notMember(int id) {
        return new HttpError(404, "NOT_FOUND", "node " + id + " is not a member");
    }

    /**
     * Promotes a learner (nothing to do for a voter), retrying while it catches up or another change
     * finishes, until the deadline; then 503 NOT_CAUGHT_UP (it stays a learner) or 409.
     *
     * <p>First the learner must have acknowledged entry {@code minMatch} (at least one entry): the
     * core's catch-up check compares lag in entries only, so on a short log it would pass for a
     * learner that never answered (not running, wrong address), and promoting that would make a
     * dead voter.
     */
    private void promoteWhenCaughtUp(int id, long deadlineNanos, long minMatch) throws HttpError {
        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(20);
        while (true) {
            dev.keel.core.Membership m = consensus.status().membership();
            if (m.isVoter(id) && !m.isJoint()) return;
            if (!m.contains(id)) throw notMember(id);
            try {
                Long match = consensus.status().followerMatchIndex().get(id);
                if (match == null || match < Math.max(1, minMatch)) {
                    RaftServer.Member known = consensus.memberAddresses().get(id);
                    throw new HttpError(503, "NOT_CAUGHT_UP", "learner " + id + " has acknowledged " + (match == null ? 0 : Math.max(0, match))
                            + " of the " + Math.max(1, minMatch) + " entries it needs before promotion: is it running and reachable at "
                            + (known == null ? "its peer address" : hostPort(known.peer())) + "?");
                }
                awaitChange(consensus.promote(id), "promoting node " + id, deadlineNanos);
                log.info("node={} promoted node {} to voter", nodeId, id);
                return;
            } catch (HttpError e) {
                boolean retry = e.code.equals("NOT_CAUGHT_UP") || e.code.equals("MEMBERSHIP_CHANGE_PENDING");
                if (!retry || System.nanoTime() + pauseNanos >= deadlineNanos) {
                    if (e.code.equals("NOT_CAUGHT_UP")) {
                        throw new HttpError(503, "NOT_CAUGHT_UP", "node " + id + " is a learner but has not caught up within "
                                + requestTimeout.toMillis() + " ms (" + e.getMessage() + "); it keeps receiving the log: promote it later "
                                + "with POST /v1/members/" + id + "/promote (bin/keel members promote --id " + id + ")");
                    }
                    throw e;
                }
            }
            java.util.concurrent.locks.LockSupport.parkNanos(pauseNanos); // a retry delay on the request's virtual thread
            pauseNanos = Math.min(pauseNanos * 2, TimeUnit.MILLISECONDS.toNanos(200));
            if (Thread.currentThread().isInterrupted()) throw new HttpError(503, "SHUTTING_DOWN", "interrupted");
        }
    }

    private void removeMember(HttpExchange ex, int id) throws HttpError, IOException {
        admin(ex, null, deadline -> {
            if (!consensus.status().membership().contains(id)) throw notMember(id);
            awaitChange(consensus.removeMember(id), "removing node " + id, deadline);
            log.info("node={} removed node {}", nodeId, id);
            return membersJson();
        });
    }

    private void transferLeader(HttpExchange ex, Map<String, byte[]> query) throws HttpError, IOException {
        String toText = text(query, "to");
        if (toText == null) throw new HttpError(400, "BAD_REQUEST", "give the new leader as ?to=<node id>");
        int to = memberId(toText);
        admin(ex, null, deadline -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("leader", to);
            out.put("previous", nodeId);
            if (to == nodeId) return out;
            dev.keel.core.Membership m = consensus.status().membership();
            if (!m.contains(to)) throw notMember(to);
            if (!m.isVoter(to)) {
                throw new HttpError(409, "NOT_A_VOTER", "node " + to + " is a learner; promote it before it can lead");
            }
            LeaderWaiter w = new LeaderWaiter(to, new CompletableFuture<>());
            leaderWaiters.add(w);
            try {
                awaitChange(consensus.transferLeadership(to), "transferring leadership to " + to, deadline);
                if (consensus.status().leaderId() != to) {
                    awaitChange(w.moved(), "leadership transfer to node " + to + " (is it caught up and reachable?)", deadline);
                }
            } finally {
                leaderWaiters.remove(w);
            }
            log.info("node={} handed leadership to node {}", nodeId, to);
            return out;
        });
    }

    // ---------------------------------------------------------------- status

    private Map<String, Object> statusJson() {
        ServerStatus s = consensus.status();
        KvStateMachine.View v = stateMachine.view();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", s.nodeId());
        out.put("role", s.role().name());
        out.put("term", s.term());
        out.put("leader", s.leaderId());
        URI leaderUri = httpOf(s.leaderId());
        if (leaderUri != null) out.put("leaderHttp", leaderUri.toString());
        out.put("commitIndex", s.commitIndex());
        out.put("appliedIndex", s.appliedIndex());
        out.put("lastIndex", s.lastIndex());
        out.put("snapshotIndex", s.snapshotIndex());
        List<Map<String, Object>> members = new ArrayList<>();
        for (int id : s.membership().members()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            URI uri = httpOf(id);
            if (uri != null) m.put("http", uri.toString());
            members.add(m);
        }
        out.put("members", members);
        Map<String, Object> kv = new LinkedHashMap<>();
        kv.put("revision", v.revision());
        kv.put("keys", v.keyCount());
        kv.put("sessions", v.sessionCount());
        out.put("kv", kv);
        return out;
    }

    private void health(HttpExchange ex) throws IOException {
        ServerStatus s = consensus.status();
        boolean ready = s.leaderId() != 0;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("live", true);
        out.put("ready", ready);
        out.put("role", s.role().name());
        out.put("leader", s.leaderId());
        sendJson(ex, ready ? 200 : 503, out);
    }

    // ---------------------------------------------------------------- responses

    private void addLeaderHeader(HttpExchange ex) {
        int leader = consensus.status().leaderId();
        RaftServer.Member member = leader > 0 ? consensus.memberAddress(leader) : null;
        LeaderHeader h = leaderHeader;
        if (h.leader() != leader || h.member() != member) {
            // Every response carries this header: parse the address only when the leader or its entry changes.
            URI uri = httpOf(leader);
            h = new LeaderHeader(leader, member, uri == null ? null : uri.toString());
            leaderHeader = h;
        }
        if (h.value() != null) ex.getResponseHeaders().set(LEADER, h.value());
    }

    /** The Keel-Leader value for {@code leader} as its address book entry {@code member} gives it (null: none known). */
    private record LeaderHeader(int leader, RaftServer.Member member, String value) {}

    private volatile LeaderHeader leaderHeader = new LeaderHeader(-1, null, null);

    private static String etag(long revision) {
        return "\"" + revision + "\"";
    }

    private void sendError(HttpExchange ex, HttpError e) {
        if (e.status == 401) ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"keel\"");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("error", e.getMessage());
        out.put("code", e.code);
        out.putAll(e.extra);
        try {
            sendJson(ex, e.status, out);
        } catch (IOException io) {
            log.debug("node={} could not send error {}: {}", nodeId, e.status, io.toString());
        }
    }

    private void sendJson(HttpExchange ex, int status, Object body) throws IOException {
        send(ex, status, json.writeValueAsBytes(body), "application/json");
    }

    private static void send(HttpExchange ex, int status, byte[] body, String contentType) throws IOException {
        if (ex.getResponseCode() != -1) return; // already answered (an error after a relayed response)
        ex.getResponseHeaders().set("Content-Type", contentType);
        // -1: no body (Content-Length: 0); 0 would mean chunked.
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (var out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
