package dev.keel.kv.client;

import dev.keel.transport.TestPorts;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.client.Results.GetResult;
import dev.keel.kv.client.Results.WriteResult;
import dev.keel.kv.http.FakeConsensus;
import dev.keel.kv.http.KvHttpApi;
import dev.keel.kv.http.KvHttpApiTest;
import dev.keel.kv.http.KvHttpServer;
import dev.keel.kv.http.KvLimits;
import dev.keel.kv.http.KvMetrics;
import dev.keel.kv.store.KvCommand;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.KeelException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** KeelClient against one node backed by a scriptable fake Raft: typed results, retries, sessions. */
class KeelClientTest {
    private KvStateMachine sm;
    private FakeConsensus consensus;
    private KvHttpServer server;
    private URI base;

    private KeelClient start(long sessionTtlEntries, URI... extraEndpointsFirst) throws IOException {
        sm = new KvStateMachine(sessionTtlEntries, 1000);
        consensus = new FakeConsensus(1, sm);
        int port = TestPorts.free();
        base = URI.create("http://127.0.0.1:" + port);
        KvHttpApi api = new KvHttpApi(1, consensus, sm, Map.of(1, base), KvLimits.DEFAULT, Duration.ofSeconds(5),
                new KvMetrics(1, consensus, sm));
        server = KvHttpServer.start(new InetSocketAddress("127.0.0.1", port), api);
        List<URI> endpoints = new java.util.ArrayList<>(List.of(extraEndpointsFirst));
        endpoints.add(base);
        return KeelClient.builder(endpoints).operationTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(2))
                .backoff(Duration.ofMillis(5), Duration.ofMillis(50)).build();
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    static byte[] b(String s) {
        return s.getBytes(UTF_8);
    }

    @Test
    void typedResultsForEveryOperation() throws IOException {
        try (KeelClient c = start(1_000_000)) {
            WriteResult put = c.put("k", "v1");
            assertThat(put).isEqualTo(new WriteResult(1, 1, 1));
            GetResult got = c.get("k");
            assertThat(got.valueAsString()).isEqualTo("v1");
            assertThat(got.modRevision()).isEqualTo(1);
            assertThat(got.version()).isEqualTo(1);
            assertThat(c.get(b("k"), KeelClient.Consistency.STALE).valueAsString()).isEqualTo("v1");

            assertThat(c.putIfRevision(b("k"), b("v2"), 1).revision()).isEqualTo(2);
            assertThatThrownBy(() -> c.putIfRevision(b("k"), b("v3"), 1))
                    .isInstanceOfSatisfying(KeelClientException.ConditionFailed.class, e -> assertThat(e.currentRevision()).isEqualTo(2));
            assertThatThrownBy(() -> c.putIfAbsent(b("k"), b("v3"))).isInstanceOf(KeelClientException.ConditionFailed.class);
            assertThat(c.putIfAbsent(b("new"), b("n")).version()).isEqualTo(1);
            assertThat(c.putIfValue(b("k"), b("v3"), b("v2")).version()).isEqualTo(3);
            assertThatThrownBy(() -> c.deleteIfValue(b("k"), b("v2"))).isInstanceOf(KeelClientException.ConditionFailed.class);
            // Failed conditions also take a log index: k was last written at index 6, this delete is index 8.
            assertThat(c.deleteIfRevision(b("k"), 6).revision()).isEqualTo(8);
            assertThatThrownBy(() -> c.get("k")).isInstanceOf(KeelClientException.NotFound.class);
            assertThatThrownBy(() -> c.delete("k")).isInstanceOf(KeelClientException.NotFound.class);

            byte[] binKey = {'p', '/', (byte) 0xff, '+', ' ', '%'};
            byte[] binValue = {0, (byte) 0x80, (byte) 0xff};
            c.put(binKey, binValue);
            c.put(b("p/a"), b("1"));
            assertThat(c.get(binKey).value()).isEqualTo(binValue);
            Results.ScanResult scan = c.scan(b("p/"), 10);
            assertThat(scan.items()).extracting(GetResult::key).containsExactly(b("p/a"), binKey);
            assertThat(scan.items().get(1).value()).isEqualTo(binValue);
            assertThat(c.scan(b("p/"), 1).more()).isTrue();
            assertThatThrownBy(() -> c.put(new byte[5000], b("x")))
                    .isInstanceOfSatisfying(KeelClientException.BadRequest.class, e -> assertThat(e.status()).isEqualTo(413));
            assertThat(c.status().leader()).isEqualTo(1);
        }
    }

    @Test
    void aWriteThatTimedOutButCommittedIsRetriedInItsSessionAndAppliesOnce() throws IOException {
        try (KeelClient c = start(1_000_000)) {
            c.put("warm", "up");
            // The command commits, but the server reports a timeout (as when the commit was slow):
            // the client retries with the same (clientId, sequence) and gets the first answer.
            consensus.failNext(new KeelException.Timeout("slow"), true);
            WriteResult r = c.put("once", "1");
            assertThat(r.version()).isEqualTo(1);
            assertThat(sm.view().get(b("once")).version()).as("applied once").isEqualTo(1);
            assertThat(consensus.submits()).isEqualTo(3);

            // A put that timed out is retried, then a conditional put that committed is not re-evaluated.
            consensus.failNext(new KeelException.Timeout("slow"), true);
            assertThat(c.putIfAbsent(b("cas"), b("x")).version()).as("the retry returns the saved success, not a 412").isEqualTo(1);
        }
    }

    @Test
    void notAppliedFailuresAreRetried() throws IOException {
        try (KeelClient c = start(1_000_000)) {
            consensus.failNext(new KeelException.Rejected("busy"), false);
            consensus.failNext(new KeelException.NotCommitted("lost"), false);
            assertThat(c.put("k", "v").revision()).isEqualTo(1);
            assertThat(consensus.submits()).isEqualTo(3);
        }
    }

    @Test
    void unreachableEndpointsAreSkipped() throws IOException {
        URI dead = URI.create("http://127.0.0.1:" + TestPorts.free());
        try (KeelClient c = start(1_000_000, dead)) {
            assertThat(c.put("k", "v").revision()).isEqualTo(1);
            assertThat(c.get("k").valueAsString()).isEqualTo("v");
        }
    }

    @Test
    void noLeaderUntilTheDeadlineIsUnavailable() throws IOException {
        start(1_000_000).close();
        {
            consensus.setLeader(0);
            KeelClient quick = KeelClient.builder(List.of(base)).operationTimeout(Duration.ofMillis(300))
                    .requestTimeout(Duration.ofMillis(200)).backoff(Duration.ofMillis(5), Duration.ofMillis(20)).build();
            assertThatThrownBy(() -> quick.put("k", "v")).isInstanceOf(KeelClientException.Unavailable.class);
            assertThatThrownBy(() -> quick.get("k")).isInstanceOf(KeelClientException.Unavailable.class);
            quick.close();
            assertThat(sm.view().keyCount()).isZero();
        }
    }

    @Test
    void anExpiredSessionIsReplacedWhenTheWriteCannotHaveApplied() throws IOException {
        try (KeelClient c = start(3)) {
            c.put("a", "1"); // session s, sequence 1, at index 1
            for (int i = 0; i < 5; i++) consensus.submit(KvCodec_put("filler" + i)); // index 6: s idle > 3 entries
            assertThat(sm.view().sessionCount()).isZero();
            // Sequence 2 of the dropped session gets SESSION_EXPIRED; the client moves the write to a new session.
            assertThat(c.put("a", "2").version()).isEqualTo(2);
            assertThat(sm.view().sessionCount()).isEqualTo(1);
        }
    }

    private static byte[] KvCodec_put(String key) {
        return dev.keel.kv.store.KvCodec.encode(KvCommand.put(b(key), b("x")));
    }
}
