package dev.keel.kv.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.server.ServerStatus;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code GET /v1/status/stream}: this node's status as server-sent events, for dashboards such as
 * the Keel Explorer's live mode. Read-only.
 *
 * <p>Each event is {@code event: status} with one JSON object: id, role, term, leader,
 * commitIndex, appliedIndex, lastIndex, snapshotIndex, voters and learners, on a leader each
 * follower's matchIndex and lag (lastIndex - matchIndex), and the last {@value #LEADER_CHANGES_MAX}
 * leader changes this node saw ({term, leader, atMillis}; leader 0 when it lost track of one).
 *
 * <p>Pushed on change, with a rate cap: every {@value #INTERVAL_MS} ms each stream compares the
 * node's status (a snapshot the event loop publishes anyway, cheap to read) with what it last sent
 * and sends only if it differs, so a busy leader whose commitIndex moves constantly sends at most
 * {@code 1000 / INTERVAL_MS} events a second, and an idle cluster sends none; a comment line every
 * {@value #KEEPALIVE_MS} ms finds dead connections. At most {@value #STREAMS_MAX} streams are open
 * at once (503 beyond): one browser tab per node is the intended load.
 *
 * <p>Answers carry {@code Access-Control-Allow-Origin: *} so a page from another origin (the
 * explorer, served by {@code keel explore}) can open the stream: it exposes only what
 * {@code /v1/status} already shows to anyone who can reach the port.
 */
final class StatusStream {
    static final String PATH = "/v1/status/stream";
    static final long INTERVAL_MS = 100;
    static final long KEEPALIVE_MS = 15_000;
    static final int STREAMS_MAX = 64;
    static final int LEADER_CHANGES_MAX = 20;
    /** What the browser waits before reconnecting a broken stream. */
    static final long RETRY_MS = 1_000;

    private final Consensus consensus;
    private final ObjectMapper json = new ObjectMapper();
    private final AtomicInteger open = new AtomicInteger();
    /** The connections streaming now, closed by {@link #closeAll()} when the server stops. */
    private final java.util.Set<Channel> channels = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Guarded by itself; written by the Raft event loop's leader listener. */
    private final ArrayDeque<long[]> leaderChanges = new ArrayDeque<>(); // {term, leader, atMillis}

    StatusStream(Consensus consensus) {
        this.consensus = consensus;
        consensus.addLeaderListener(this::leaderChanged);
    }

    /** Streams now open (for tests). */
    int openStreams() {
        return open.get();
    }

    private void leaderChanged(int leader) {
        // Called from the Raft loop before it republishes its status, so the term may be the one
        // before the election; snapshot() corrects it once the status catches up.
        long term = consensus.status().term();
        synchronized (leaderChanges) {
            leaderChanges.addLast(new long[] {term, leader, System.currentTimeMillis()});
            if (leaderChanges.size() > LEADER_CHANGES_MAX) leaderChanges.removeFirst();
        }
    }

    /** The status an event carries, as a tree for the JSON encoder. */
    Map<String, Object> snapshot() {
        ServerStatus s = consensus.status();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", s.nodeId());
        out.put("role", s.role().name());
        out.put("term", s.term());
        out.put("leader", s.leaderId());
        out.put("commitIndex", s.commitIndex());
        out.put("appliedIndex", s.appliedIndex());
        out.put("lastIndex", s.lastIndex());
        out.put("snapshotIndex", s.snapshotIndex());
        out.put("voters", Arrays.stream(s.membership().voters()).boxed().toList());
        out.put("learners", Arrays.stream(s.membership().learners()).boxed().toList());
        List<Map<String, Object>> followers = new ArrayList<>();
        for (Map.Entry<Integer, Long> f : new TreeMap<>(s.followerMatchIndex()).entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", f.getKey());
            m.put("matchIndex", f.getValue());
            m.put("lag", Math.max(0, s.lastIndex() - f.getValue()));
            followers.add(m);
        }
        out.put("followers", followers);
        List<Map<String, Object>> changes = new ArrayList<>();
        synchronized (leaderChanges) {
            long[] last = leaderChanges.peekLast();
            if (last != null && last[1] == s.leaderId() && last[0] < s.term()) last[0] = s.term();
            for (long[] c : leaderChanges) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("term", c[0]);
                m.put("leader", (int) c[1]);
                m.put("atMillis", c[2]);
                changes.add(m);
            }
        }
        out.put("leaderChanges", changes);
        return out;
    }

    /**
     * Answers a stream request on its channel: the response head now, then events from the
     * channel's event loop until the client goes away. Answers 503 when {@link #STREAMS_MAX} are open.
     */
    void serve(Channel ch) {
        if (open.incrementAndGet() > STREAMS_MAX) {
            open.decrementAndGet();
            byte[] body = ("{\"error\":\"" + STREAMS_MAX + " status streams already open\",\"code\":\"UNAVAILABLE\"}")
                    .getBytes(StandardCharsets.UTF_8);
            var r = new io.netty.handler.codec.http.DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.SERVICE_UNAVAILABLE, Unpooled.wrappedBuffer(body));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            r.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, "*");
            r.headers().set(HttpHeaderNames.CONNECTION, "close");
            ch.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        head.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        head.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        HttpUtil.setTransferEncodingChunked(head, true);
        ch.write(head);
        ch.writeAndFlush(chunk("retry: " + RETRY_MS + "\n\n"));
        Pusher pusher = new Pusher(ch);
        ScheduledFuture<?> task = ch.eventLoop().scheduleAtFixedRate(pusher, 0, INTERVAL_MS, TimeUnit.MILLISECONDS);
        channels.add(ch);
        ch.closeFuture().addListener(f -> {
            task.cancel(false);
            channels.remove(ch);
            open.decrementAndGet();
        });
    }

    /**
     * Ends every open stream (the server is stopping). Stopping the event loops alone leaves the
     * sockets open, and a browser would wait on a stream that never speaks again instead of
     * reconnecting elsewhere.
     */
    void closeAll() {
        for (Channel ch : channels) ch.close().syncUninterruptibly();
    }

    private static DefaultHttpContent chunk(String text) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
    }

    /** One stream's periodic check: send the status if it changed, or a keep-alive comment if long quiet. */
    private final class Pusher implements Runnable {
        private final Channel ch;
        private String lastSent;
        private long lastWriteNanos = System.nanoTime();

        Pusher(Channel ch) {
            this.ch = ch;
        }

        @Override
        public void run() {
            if (!ch.isActive()) return;
            // A client that does not read would make us buffer without bound: skip until it drains.
            if (!ch.isWritable()) return;
            String data;
            try {
                data = json.writeValueAsString(snapshot());
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("status is not JSON-encodable", e);
            }
            long now = System.nanoTime();
            if (!data.equals(lastSent)) {
                lastSent = data;
                lastWriteNanos = now;
                ch.writeAndFlush(chunk("event: status\ndata: " + data + "\n\n")).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            } else if (now - lastWriteNanos >= TimeUnit.MILLISECONDS.toNanos(KEEPALIVE_MS)) {
                lastWriteNanos = now;
                ch.writeAndFlush(chunk(": keep-alive\n\n")).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            }
        }
    }
}
