package dev.keel.faults;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;

/**
 * The workloads' view of Keel's public HTTP API: one request per operation, never retried (a retry
 * would hide exactly what the history must show), and every answer classified as certainly done,
 * certainly not done, or unknown.
 */
final class KvHttp {

    /** How an operation ended, from the client's side. */
    enum Outcome { OK, FAIL, INFO }

    /**
     * One answer. {@code status} is 0 when no HTTP answer came; then {@code code} names the
     * exception. {@code etag} is the revision from the ETag header, or -1.
     */
    record Reply(int status, String code, byte[] body, long etag, String detail) {

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /**
         * For an operation that changes state: OK on 2xx; FAIL when Keel says it was not applied
         * (503 with a not-applied code, 412, 404 on a conditional update, connection refused); INFO
         * otherwise (504 timeout, SHUTTING_DOWN, 5xx, a broken connection): it may yet apply.
         */
        Outcome writeOutcome() {
            if (status >= 200 && status < 300) return Outcome.OK;
            if (status == 412 || status == 400 || status == 404 || status == 413) return Outcome.FAIL;
            if (status == 503 && NOT_APPLIED.contains(code)) return Outcome.FAIL;
            if (status == 0 && "CONNECT".equals(code)) return Outcome.FAIL;
            return Outcome.INFO;
        }

        /** For a read: OK on 200 or 404 (absent); FAIL on any refusal; INFO only on a timeout. */
        Outcome readOutcome() {
            if (status == 200 || status == 404) return Outcome.OK;
            if (status == 0 && !"CONNECT".equals(code)) return Outcome.INFO;
            return Outcome.FAIL;
        }

        String error() {
            return status == 0 ? code + ": " + detail : status + " " + code;
        }
    }

    /** 503 codes that Keel documents as "not applied, safe to retry". */
    static final Set<String> NOT_APPLIED = Set.of("NO_LEADER", "UNAVAILABLE", "REJECTED", "NOT_COMMITTED", "NOT_CAUGHT_UP");

    private final HttpClient client;
    private final Duration timeout;

    KvHttp(Duration timeout) {
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(Math.min(1_000, timeout.toMillis()))).build();
    }

    static String path(String key) {
        return "/v1/kv/" + URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20");
    }

    Reply get(URI node, String key) {
        return send(HttpRequest.newBuilder(node.resolve(path(key) + "?consistency=linearizable")).GET());
    }

    Reply put(URI node, String key, String value) {
        return send(HttpRequest.newBuilder(node.resolve(path(key))).PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    /** Compare-and-set by value: applies only if the key holds {@code expected}. */
    Reply cas(URI node, String key, String expected, String value) {
        return send(HttpRequest.newBuilder(node.resolve(path(key) + "?prevValue="
                + URLEncoder.encode(expected, StandardCharsets.UTF_8))).PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    /** Compare-and-set by revision (If-Match). */
    Reply putIfRevision(URI node, String key, long revision, String value) {
        return send(HttpRequest.newBuilder(node.resolve(path(key))).header("If-Match", "\"" + revision + "\"")
                .PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    /** Create only (If-None-Match: *). */
    Reply create(URI node, String key, String value) {
        return send(HttpRequest.newBuilder(node.resolve(path(key))).header("If-None-Match", "*")
                .PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    Reply scan(URI node, String prefix, int limit) {
        return send(HttpRequest.newBuilder(node.resolve("/v1/kv?prefix=" + URLEncoder.encode(prefix, StandardCharsets.UTF_8)
                + "&limit=" + limit + "&consistency=linearizable")).GET());
    }

    private Reply send(HttpRequest.Builder b) {
        try {
            HttpResponse<byte[]> r = client.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofByteArray());
            String code = "";
            if (r.statusCode() >= 300 && r.body().length > 0 && r.body()[0] == '{') {
                try {
                    JsonNode j = History.JSON.readTree(r.body());
                    code = j.path("code").asText("");
                } catch (IOException e) {
                    code = "UNPARSEABLE";
                }
            }
            long etag = r.headers().firstValue("ETag").map(KvHttp::revision).orElse(-1L);
            return new Reply(r.statusCode(), code, r.body(), etag, "");
        } catch (HttpConnectTimeoutException e) {
            // The connection was never made: nothing was sent.
            return new Reply(0, "CONNECT", new byte[0], -1, e.toString());
        } catch (ConnectException e) {
            return new Reply(0, "CONNECT", new byte[0], -1, e.toString());
        } catch (HttpTimeoutException e) {
            return new Reply(0, "TIMEOUT", new byte[0], -1, e.toString());
        } catch (IOException e) {
            return new Reply(0, "IO", new byte[0], -1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Reply(0, "INTERRUPTED", new byte[0], -1, e.toString());
        }
    }

    private static long revision(String etag) {
        try {
            return Long.parseLong(etag.replace("\"", "").trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
