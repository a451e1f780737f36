package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Disk full: a 2 MiB tmpfs is mounted (needs root and a working {@code mount}; skipped with a
 * message otherwise) and filled until the log fails. The log must then refuse every write, and
 * after the file system grows the reopened log must hold every entry synced before the failure.
 */
class DiskFullTest {
    private static int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        if (p.exitValue() != 0) System.err.println(String.join(" ", cmd) + ": " + out.strip());
        return p.exitValue();
    }

    @Test
    @DisplayName("disk full: the log fails cleanly and keeps refusing; after space returns every synced entry is there")
    void diskFull() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "skipped: the disk-full test mounts a tmpfs and needs root");
        Path mnt = Files.createTempDirectory("keel-diskfull");
        Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt.toString()) == 0,
                "skipped: `mount -t tmpfs` failed (no privilege for mounts in this environment)");
        try {
            Path dir = mnt.resolve("data");
            Random rnd = new Random(5);
            List<Entry> synced = new ArrayList<>();
            StorageFailedException failure = null;
            StorageConfig cfg = StorageConfig.builder(1, "full").segmentBytes(256 << 10).cacheBytes(1 << 20).build();
            DurableLog log = DurableLog.open(dir, cfg);
            long term = 1;
            for (int batch = 0; batch < 10_000 && failure == null; batch++) {
                List<Entry> entries = TestFiles.entries(rnd, log.lastIndex() + 1, log.lastIndex() + 8, term, 4000);
                try {
                    if (batch % 20 == 0) log.setHardState(new HardState(++term, 1, log.lastIndex()));
                    log.append(entries);
                    log.sync();
                    synced.addAll(entries);
                } catch (StorageFailedException e) {
                    failure = e;
                }
            }
            assertThat(failure).as("filling 2 MiB must fail").isNotNull();
            assertThat(failure.getCause()).isInstanceOf(IOException.class);
            assertThat(failure.path().toString()).startsWith(dir.toString());
            assertThat(failure.getMessage()).contains("stop the node");
            assertThat(log.failed()).isTrue();
            assertThat(synced).isNotEmpty();
            assertThat(log.durableIndex()).isGreaterThanOrEqualTo(synced.size());
            DurableLog failed = log;
            Entry next = Entry.normal(log.lastIndex() + 1, term, new byte[] {1});
            assertThatThrownBy(() -> failed.append(List.of(next))).isInstanceOf(StorageFailedException.class)
                    .hasMessageContaining("failed earlier");
            assertThatThrownBy(failed::sync).isInstanceOf(StorageFailedException.class);
            assertThatThrownBy(() -> failed.setHardState(new HardState(99, 1, 0))).isInstanceOf(StorageFailedException.class);
            log.close(); // does not try to sync a failed log

            assertThat(run("mount", "-o", "remount,size=16m", mnt.toString())).isZero();
            try (DurableLog again = DurableLog.open(dir, cfg)) {
                assertThat(again.lastIndex()).isGreaterThanOrEqualTo(synced.size());
                assertThat(again.entries(1, synced.size() + 1, Long.MAX_VALUE)).isEqualTo(synced);
                assertThat(again.hardState().currentTerm()).isGreaterThanOrEqualTo(term - 1);
                // and it works again
                again.append(TestFiles.entries(rnd, again.lastIndex() + 1, again.lastIndex() + 8, term, 4000));
                again.sync();
            }
        } finally {
            run("umount", mnt.toString());
            TestFiles.deleteDir(mnt);
        }
    }
}
