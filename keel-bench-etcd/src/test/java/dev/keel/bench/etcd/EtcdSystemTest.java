package dev.keel.bench.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keel.bench.harness.KvDriver;
import dev.keel.bench.harness.KvSystem;
import dev.keel.bench.harness.ProcStat;
import dev.keel.bench.harness.Result;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class EtcdSystemTest {

    /**
     * A random base port per test (below Linux's ephemeral range, which starts at 32768), so parallel builds and
     * sockets left in TIME_WAIT by an earlier run do not clash. Node i uses base + 10*i and + 1, i = 1..3.
     */
    private static int basePort() {
        return 20_000 + 100 * ThreadLocalRandom.current().nextInt(120);
    }

    private static void assumeEtcd() {
        assumeTrue(EtcdSystem.findEtcd().isPresent(), "no etcd binary on PATH or at /usr/bin/etcd (apt-get install etcd-server)");
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void putsAndGetsThroughTwoClientsThenStopsTheServers(@TempDir Path dir) throws Exception {
        assumeEtcd();
        List<Long> pids;
        try (EtcdSystem etcd = new EtcdSystem()) {
            etcd.start(3, dir, basePort());
            assertThat(etcd.describe()).contains("etcd 3.", "election timeout 1000 ms", "linearizable");
            pids = etcd.serverPids();
            assertThat(pids).hasSize(3).allSatisfy(p -> assertThat(alive(p)).as("pid %d alive", p).isTrue());
            // Starting three members and committing the readiness put takes well over one 10 ms clock tick.
            assertThat(ProcStat.cpuSeconds(pids)).isPositive();

            try (KvSystem.Client a = etcd.client(); KvSystem.Client b = etcd.client()) {
                for (int i = 0; i < 5; i++) a.put("k" + i, ("value-" + i).getBytes(StandardCharsets.UTF_8));
                // Read through the other client: a linearizable get sees every put that completed before it.
                for (int i = 0; i < 5; i++) {
                    assertThat(new String(b.get("k" + i), StandardCharsets.UTF_8)).isEqualTo("value-" + i);
                }
                b.put("k0", new byte[] {1, 2, 3});
                assertThat(a.get("k0")).containsExactly(1, 2, 3);
                assertThat(a.get("missing")).isNull();
            }
        }
        assertThat(pids).allSatisfy(p -> assertThat(alive(p)).as("pid %d gone after close", p).isFalse());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void driverRunsPutsAndGetsWithoutErrors(@TempDir Path dir) throws Exception {
        assumeEtcd();
        try (EtcdSystem etcd = new EtcdSystem()) {
            etcd.start(3, dir, basePort());
            KvDriver driver = new KvDriver(etcd, 100, 256);
            driver.preload();
            for (String op : List.of("put", "get")) {
                Result r = driver.run(op, 4, 0.5, 1.0);
                assertThat(r.system()).isEqualTo("etcd");
                assertThat(r.mode()).isEqualTo(op + "-4");
                assertThat(r.ops()).as(op).isPositive();
                assertThat(r.errors()).as(op).isZero();
            }
        }
    }

    @Test
    void missingBinaryTellsHowToInstallIt(@TempDir Path dir) throws Exception {
        try (EtcdSystem etcd = new EtcdSystem(dir.resolve("no-such-etcd"))) {
            assertThatThrownBy(() -> etcd.start(3, dir, basePort())).hasMessageContaining("apt-get install etcd-server");
            assertThat(etcd.serverPids()).isEmpty();
        }
    }
}
