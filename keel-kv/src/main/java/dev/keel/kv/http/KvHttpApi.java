package dev.keel.kv.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
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
import dev.keel.server.ServerStatus;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 * (CONDITION_FAILED), 413 (KEY_TOO_LARGE, VALUE_TOO_LARGE, BODY_TOO_LARGE), 503 (NO_LEADER,
 * UNAVAILABLE, REJECTED, NOT_COMMITTED, SHUTTING_DOWN: not applied, safe to retry), 504 (TIMEOUT:
 * outcome unknown; retry only with a session). 500 means a bug, never bad input.
 *
 * <p>Threads: one virtual thread per request; handlers block on futures, which is cheap there.
 */
public final class KvHttpApi implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(KvHttpApi.class);

    public static final String CLIENT_ID = "Keel-Client-Id";
    public static final String SEQUENCE = "Keel-Sequence";
    public static final String FORWARDED_BY = "Keel-Forwarded-By";
    public static final String LEADER = "Keel-Leader";
    static final String KV_PREFIX = "/v1/kv/";
    private static final List<String> FORWARDED_HEADERS = List.of("If-Match", "If-None-Match", CLIENT_ID, SEQUENCE, "Content-Type");
    private static final List<String> RELAYED_HEADERS = List.of("Content-Type", "ETag", LEADER, "Keel-Revision");

    private final int nodeId;
    private final Consensus consensus;
    private final KvStateMachine stateMachine;
    private final Map<Integer, URI> httpMembers;
    private final KvLimits limits;
    private final Duration requestTimeout;
    private final KvMetrics metrics;
    private final HttpClient forwardClient;
    private final ObjectMapper json = new ObjectMapper();

    /**
     * @param httpMembers every member's HTTP base URI (for example {@code http://10.0.0.1:8081}), this node's too
     * @param requestTimeout the longest a request waits for a commit, a read index or a forwarded answer;
     *     beyond it the answer is 504. Make it longer than the server's proposal timeout so the
     *     runtime's own, more precise, Timeout comes first
     */
    public KvHttpApi(int nodeId, Consensus consensus, KvStateMachine stateMachine, Map<Integer, URI> httpMembers,
                     KvLimits limits, Duration requestTimeout, KvMetrics metrics) {
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
        this.forwardClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(Math.min(2_000, requestTimeout.toMillis())))
                .followRedirects(HttpClient.Redirect.NEVER).build();
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
        String route = "unknown";
        try {
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            addLeaderHeader(ex);
            if (path == null) throw new HttpError(400, "BAD_REQUEST", "request target has no path");
            if (path.startsWith(KV_PREFIX)) {
                route = "kv_key";
                byte[] key = parseKey(path.substring(KV_PREFIX.length()));
                Map<String, byte[]> query = query(ex);
                switch (method) {
                    case "GET" -> get(ex, key, query);
                    case "PUT" -> write(ex, Op.PUT, key, query);
                    case "DELETE" -> write(ex, Op.DELETE, key, query);
                    default -> throw methodNotAllowed(ex, "GET, PUT, DELETE");
                }
            } else if (path.equals("/v1/kv")) {
                route = "kv_scan";
                if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
                scan(ex, query(ex));
            } else if (path.equals("/v1/status")) {
                route = "status";
                if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
                sendJson(ex, 200, statusJson());
            } else if (path.equals("/health")) {
                route = "health";
                if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
                health(ex);
            } else if (path.equals("/metrics")) {
                route = "metrics";
                if (!method.equals("GET")) throw methodNotAllowed(ex, "GET");
                send(ex, 200, metrics.scrape().getBytes(StandardCharsets.UTF_8), "text/plain; version=0.0.4; charset=utf-8");
            } else {
                throw new HttpError(404, "NO_ROUTE", "no such resource: " + path);
            }
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
            metrics.request(m, route, ex.getResponseCode(), start);
            ex.close();
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
        KvStateMachine.View view = stateMachine.view();
        KvEntry e = view.get(key);
        ex.getResponseHeaders().set("Keel-Revision", Long.toString(view.revision()));
        if (e == null) throw new HttpError(404, "NOT_FOUND", "key not found");
        ex.getResponseHeaders().set("ETag", etag(e.modRevision()));
        ex.getResponseHeaders().set("Keel-Create-Revision", Long.toString(e.createRevision()));
        ex.getResponseHeaders().set("Keel-Version", Long.toString(e.version()));
        send(ex, 200, e.value(), "application/octet-stream");
    }

    private void scan(HttpExchange ex, Map<String, byte[]> query) throws HttpError, IOException {
        byte[] prefix = query.getOrDefault("prefix", new byte[0]);
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
        if (c == Consistency.STALE) return;
        // LEASE: same call; the runtime answers it from the leader's lease when configured with leaseReads.
        await(consensus.linearizableRead(), "read index");
    }

    private <T> T await(CompletableFuture<T> f, String what) throws HttpError {
        try {
            return f.get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw failure(e.getCause());
        } catch (TimeoutException e) {
            throw new HttpError(504, "TIMEOUT", what + " not done within " + requestTimeout.toMillis()
                    + " ms; a write may still apply");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "SHUTTING_DOWN", "interrupted");
        }
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
                case KeelException.Rejected rj -> new HttpError(503, "REJECTED", rj.getMessage());
                case KeelException.NotCommitted nc -> new HttpError(503, "NOT_COMMITTED", nc.getMessage());
                case KeelException.ShuttingDown sd -> new HttpError(503, "SHUTTING_DOWN", sd.getMessage());
            };
        }
        log.warn("node={} unexpected failure: {}", nodeId, t.toString(), t);
        return new HttpError(500, "INTERNAL", "internal error: " + t);
    }

    // ---------------------------------------------------------------- writes

    private void write(HttpExchange ex, Op op, byte[] key, Map<String, byte[]> query) throws HttpError, IOException {
        byte[] body = op == Op.PUT ? readBody(ex) : null;
        if (body != null && body.length > limits.valueMaxBytes()) {
            throw new HttpError(413, "VALUE_TOO_LARGE", "value of " + body.length + " bytes exceeds the limit of "
                    + limits.valueMaxBytes());
        }
        Condition condition = condition(ex, query);
        long[] session = session(ex);
        KvCommand command = new KvCommand(op, key, body == null ? new byte[0] : body, condition, session[0], session[1]);

        boolean forwarded = ex.getRequestHeaders().containsKey(FORWARDED_BY);
        int leader = consensus.status().leaderId();
        if (!forwarded && leader != 0 && leader != nodeId) {
            forward(ex, leader, body);
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
                forward(ex, h, body);
                return;
            }
            throw e;
        }
        metrics.committed(start);
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
    private void forward(HttpExchange ex, int leader, byte[] body) throws HttpError, IOException {
        URI base = httpMembers.get(leader);
        if (base == null) throw new HttpError(503, "NO_LEADER", "leader " + leader + " has no known HTTP address").with("leader", leader);
        String rawQuery = ex.getRequestURI().getRawQuery();
        URI target = URI.create(base.toString().replaceAll("/+$", "") + ex.getRequestURI().getRawPath()
                + (rawQuery == null ? "" : "?" + rawQuery));
        HttpRequest.Builder b = HttpRequest.newBuilder(target).timeout(requestTimeout)
                .method(ex.getRequestMethod(), body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        for (String h : FORWARDED_HEADERS) {
            String v = ex.getRequestHeaders().getFirst(h);
            if (v != null) b.header(h, v);
        }
        b.header(FORWARDED_BY, Integer.toString(nodeId));
        metrics.forwarded();
        HttpResponse<byte[]> r;
        try {
            r = forwardClient.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpConnectTimeoutException | ConnectException e) {
            throw new HttpError(503, "UNAVAILABLE", "leader " + leader + " at " + base + " unreachable: " + e).with("leader", leader);
        } catch (HttpTimeoutException e) {
            throw new HttpError(504, "TIMEOUT", "leader " + leader + " did not answer within " + requestTimeout.toMillis()
                    + " ms; the write may still apply").with("leader", leader);
        } catch (IOException e) {
            throw new HttpError(504, "TIMEOUT", "connection to leader " + leader + " failed mid-request (" + e
                    + "); the write may have applied").with("leader", leader);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "SHUTTING_DOWN", "interrupted while forwarding");
        }
        for (String h : RELAYED_HEADERS) {
            r.headers().firstValue(h).ifPresent(v -> ex.getResponseHeaders().set(h, v));
        }
        send(ex, r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse("application/json"));
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
        URI leaderUri = httpMembers.get(s.leaderId());
        if (leaderUri != null) out.put("leaderHttp", leaderUri.toString());
        out.put("commitIndex", s.commitIndex());
        out.put("appliedIndex", s.appliedIndex());
        out.put("lastIndex", s.lastIndex());
        out.put("snapshotIndex", s.snapshotIndex());
        List<Map<String, Object>> members = new ArrayList<>();
        for (Map.Entry<Integer, URI> m : new TreeMap<>(httpMembers).entrySet()) {
            members.add(Map.of("id", m.getKey(), "http", m.getValue().toString()));
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
        URI leader = httpMembers.get(consensus.status().leaderId());
        if (leader != null) ex.getResponseHeaders().set(LEADER, leader.toString());
    }

    private static String etag(long revision) {
        return "\"" + revision + "\"";
    }

    private void sendError(HttpExchange ex, HttpError e) {
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
