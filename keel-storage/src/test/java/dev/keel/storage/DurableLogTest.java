package dev.keel.storage;

import static dev.keel.storage.TestFiles.cfg;
import static dev.keel.storage.TestFiles.commitSnapshot;
import static dev.keel.storage.TestFiles.entries;
import static dev.keel.storage.TestFiles.receiveSnapshot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.SnapshotMeta;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Round trips and the API contract of {@link DurableLog}. */
class DurableLogTest {
    @TempDir
    Path tmp;

    private final Random rnd = new Random(42);

    private DurableLog open(Path dir) {
        return DurableLog.open(dir, cfg().build());
    }

    /** Appends 1..n in batches of up to 7, terms rising every 50 entries, and syncs. */
    private List<Entry> fill(DurableLog log, int n) {
        List<Entry> all = new ArrayList<>();
        long next = log.lastIndex() + 1;
        while (next <= n) {
            long to = Math.min(n, next + rnd.nextInt(7));
            List<Entry> batch = new ArrayList<>();
            for (long i = next; i <= to; i++) batch.add(TestFiles.entry(rnd, i, 1 + i / 50, 120));
            log.append(batch);
            all.addAll(batch);
            next = to + 1;
        }
        log.sync();
        return all;
    }

    @Test
    @DisplayName("append, sync, reopen: the same entries, hard state and terms come back")
    void roundTrip() {
        Path dir = tmp.resolve("data");
        List<Entry> written;
        try (DurableLog log = open(dir)) {
            assertThat(log.recoveryReport().actions()).singleElement().asString().contains("initialized");
            written = fill(log, 300);
            log.setHardState(new HardState(7, 2, 250));
            log.sync();
            assertThat(log.durableIndex()).isEqualTo(300);
        }
        assertThat(TestFiles.segments(dir)).hasSizeGreaterThan(3);
        try (DurableLog log = open(dir)) {
            assertThat(log.recoveryReport().cutTornTail()).isFalse();
            assertThat(log.recoveryReport().actions()).isEmpty();
            assertThat(log.firstIndex()).isEqualTo(1);
            assertThat(log.lastIndex()).isEqualTo(300);
            assertThat(log.durableIndex()).isEqualTo(300);
            assertThat(log.hardState()).isEqualTo(new HardState(7, 2, 250));
            assertThat(log.entries(1, 301, Long.MAX_VALUE)).isEqualTo(written);
            assertThat(log.term(0)).isZero();
            for (Entry e : written) assertThat(log.term(e.index())).isEqualTo(e.term());
            assertThat(log.snapshot()).isEqualTo(SnapshotMeta.NONE);
        }
    }

    @Test
    @DisplayName("writeUnforced: entries readable at once, durable once the force is reported; a truncation since makes the report stale; a new term or vote is refused")
    void writeUnforcedThenForce() throws Exception {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            log.persist(new HardState(1, 1, 0), List.of());
            fill(log, 10);
            List<Entry> more = List.of(TestFiles.entry(rnd, 11, 1, 64), TestFiles.entry(rnd, 12, 1, 64));
            DurableLog.PendingForce f = log.writeUnforced(new HardState(1, 1, 10), more);
            assertThat(f.index()).isEqualTo(12);
            assertThat(log.lastIndex()).isEqualTo(12);
            assertThat(log.durableIndex()).isEqualTo(10);
            assertThat(log.entries(11, 13, Long.MAX_VALUE)).isEqualTo(more);

            Thread t = new Thread(() -> {
                try {
                    f.force();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            t.start();
            t.join();
            log.forced(f);
            assertThat(log.durableIndex()).isEqualTo(12);

            DurableLog.PendingForce stale = log.writeUnforced(null, List.of(TestFiles.entry(rnd, 13, 1, 64)));
            log.append(List.of(TestFiles.entry(rnd, 13, 2, 64))); // a new leader's entry replaces 13
            stale.force();
            log.forced(stale);
            assertThat(log.durableIndex()).as("the force speaks of the replaced entry").isEqualTo(12);

            assertThat(log.writeUnforced(null, List.of())).isNull();
            assertThatThrownBy(() -> log.writeUnforced(new HardState(2, 1, 12), List.of(TestFiles.entry(rnd, 14, 2, 8))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("persist()");
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.lastIndex()).isGreaterThanOrEqualTo(12); // 13 was written, though never forced
            assertThat(log.term(12)).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("CONFIG entries (record type 2) round-trip through append, the cache, the disk and a reopen")
    void configEntriesRoundTrip() {
        Path dir = tmp.resolve("data");
        Membership joint = new Membership(new int[] {1, 2, 4}, new int[] {1, 2, 3}, new int[] {7, 9});
        List<Entry> written = new ArrayList<>();
        written.add(Entry.noop(1, 1));
        written.add(new Entry(2, 1, EntryType.CONFIG, joint.encode()));
        written.add(Entry.normal(3, 1, new byte[] {5, 6}));
        written.add(new Entry(4, 2, EntryType.CONFIG, joint.leaveJoint().encode()));
        written.add(new Entry(5, 2, EntryType.CONFIG, Membership.of(1, 2, 4).encode()));
        try (DurableLog log = DurableLog.open(dir, cfg().cacheBytes(0).build())) {
            log.append(written);
            log.sync();
            assertThat(log.entries(1, 6, Long.MAX_VALUE)).isEqualTo(written); // from disk
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.recoveryReport().actions()).isEmpty();
            List<Entry> back = log.entries(1, 6, Long.MAX_VALUE);
            assertThat(back).isEqualTo(written);
            assertThat(back.get(1).type()).isEqualTo(EntryType.CONFIG);
            assertThat(Membership.decode(back.get(1).data())).isEqualTo(joint);
            assertThat(Membership.decode(back.get(3).data())).isEqualTo(joint.leaveJoint());
        }
    }

    @Test
    @DisplayName("reads from disk (no cache) and from the cache agree, including the maxBytes rule")
    void diskAndCacheReadsAgree() {
        Path cached = tmp.resolve("cached");
        Path uncached = tmp.resolve("uncached");
        List<Entry> written;
        try (DurableLog a = open(cached); DurableLog b = DurableLog.open(uncached, cfg().cacheBytes(0).build())) {
            written = fill(a, 200);
            b.append(written);
            b.sync();
            for (DurableLog log : List.of(a, b)) {
                assertThat(log.entries(1, 201, Long.MAX_VALUE)).isEqualTo(written);
                assertThat(log.entries(10, 10, 0)).isEmpty();
                assertThat(log.entries(10, 20, 0)).containsExactly(written.get(9)); // at least one
                long max = written.get(49).sizeBytes() + written.get(50).sizeBytes();
                assertThat(log.entries(50, 200, max)).containsExactly(written.get(49), written.get(50));
                assertThat(log.entries(50, 200, max - 1)).containsExactly(written.get(49));
            }
        }
        try (DurableLog b = DurableLog.open(uncached, cfg().cacheBytes(0).build())) {
            assertThat(b.memoryBytes()).isLessThan(20_000); // index only
            for (int lo = 1; lo <= 200; lo += 13) {
                for (long max : new long[] {0, 100, 1000, 5000}) {
                    int hi = Math.min(201, lo + 40);
                    List<Entry> expect = new ArrayList<>();
                    long bytes = 0;
                    for (int i = lo; i < hi; i++) {
                        bytes += written.get(i - 1).sizeBytes();
                        if (!expect.isEmpty() && bytes > max) break;
                        expect.add(written.get(i - 1));
                    }
                    assertThat(b.entries(lo, hi, max)).as("[%s, %s) max %s", lo, hi, max).isEqualTo(expect);
                }
            }
        }
    }

    @Test
    @DisplayName("suffix truncation cuts the segment in place and deletes later segments, never rewriting files")
    void suffixTruncationInPlace() throws Exception {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            List<Entry> written = fill(log, 200);
            List<Path> before = TestFiles.segments(dir);
            Path holding = null;
            for (Path p : before) {
                if (Format.segmentBase(p.getFileName().toString()) <= 60) holding = p;
            }
            Object inode = Files.getAttribute(holding, "unix:ino");
            List<Entry> replacement = entries(rnd, 60, 64, 9, 50);
            log.append(replacement);
            assertThat(log.durableIndex()).isEqualTo(59); // the truncation is durable, the new entries not yet
            log.sync();
            assertThat(log.durableIndex()).isEqualTo(64);
            assertThat(Files.getAttribute(holding, "unix:ino")).isEqualTo(inode);
            assertThat(TestFiles.segments(dir)).isEqualTo(before.subList(0, before.indexOf(holding) + 1));
            List<Entry> expect = new ArrayList<>(written.subList(0, 59));
            expect.addAll(replacement);
            assertThat(log.entries(1, 65, Long.MAX_VALUE)).isEqualTo(expect);
            log.close();
            try (DurableLog again = open(dir)) {
                assertThat(again.lastIndex()).isEqualTo(64);
                assertThat(again.entries(1, 65, Long.MAX_VALUE)).isEqualTo(expect);
                assertThat(again.term(60)).isEqualTo(9);
            }
        }
    }

    @Test
    @DisplayName("the hard state file is rewritten only when currentTerm or votedFor change")
    void hardStateWrittenOnlyOnTermOrVote() throws Exception {
        Path dir = tmp.resolve("data");
        Path file = dir.resolve(Format.HARD_STATE_FILE);
        try (DurableLog log = open(dir)) {
            fill(log, 20);
            log.setHardState(new HardState(3, 1, 5));
            log.sync();
            byte[] written = Files.readAllBytes(file);
            assertThat(ByteBuffer.wrap(written).getLong(24)).isEqualTo(5); // commitIndex in the file
            log.setHardState(new HardState(3, 1, 15));
            log.sync();
            assertThat(Files.readAllBytes(file)).isEqualTo(written);
            assertThat(log.hardState()).isEqualTo(new HardState(3, 1, 15));
            log.setHardState(new HardState(4, 0, 18));
            log.sync();
            assertThat(ByteBuffer.wrap(Files.readAllBytes(file)).getLong(24)).isEqualTo(18);
            log.setHardState(new HardState(4, 0, 19));
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.hardState()).isEqualTo(new HardState(4, 0, 18));
        }
    }

    @Test
    @DisplayName("commitIndex is clamped to lastIndex on open")
    void commitIndexClamped() {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            fill(log, 50);
            log.setHardState(new HardState(2, 1, 50));
            log.sync();
            log.append(entries(rnd, 41, 41, 5, 10)); // a new leader cut the log back to 41
            log.sync();
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.lastIndex()).isEqualTo(41);
            assertThat(log.hardState()).isEqualTo(new HardState(2, 1, 41));
        }
    }

    @Test
    @DisplayName("compact drops the prefix, deletes whole segments below it, and survives a reopen")
    void compaction() {
        Path dir = tmp.resolve("data");
        List<Entry> written;
        SnapshotMeta meta;
        try (DurableLog log = open(dir)) {
            written = fill(log, 300);
            int segmentsBefore = TestFiles.segments(dir).size();
            byte[] data = "state at 200".getBytes(StandardCharsets.UTF_8);
            meta = commitSnapshot(log, 200, log.term(200), data);
            log.compact(meta);
            assertThat(log.firstIndex()).isEqualTo(201);
            assertThat(log.lastIndex()).isEqualTo(300);
            assertThat(log.term(200)).isEqualTo(written.get(199).term());
            assertThatThrownBy(() -> log.term(199)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> log.entries(200, 201, 100)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(log.entries(201, 301, Long.MAX_VALUE)).isEqualTo(written.subList(200, 300));
            assertThat(log.snapshot()).isEqualTo(meta);
            assertThat(log.snapshotChunk(200, 0, 100)).isEqualTo(data);
            assertThat(log.snapshotChunk(200, 6, 2)).isEqualTo("at".getBytes(StandardCharsets.UTF_8));
            assertThat(log.snapshotChunk(199, 0, 100)).isNull();
            List<Path> left = TestFiles.segments(dir);
            assertThat(left.size()).isLessThan(segmentsBefore);
            assertThat(Format.segmentBase(left.get(0).getFileName().toString())).isLessThanOrEqualTo(201);
            // older or equal snapshots are ignored; a mismatching one is refused
            log.compact(meta);
            SnapshotMeta wrongTerm = commitSnapshot(log, 250, 99, data);
            assertThatThrownBy(() -> log.compact(wrongTerm)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not match the log");
            SnapshotMeta uncommitted = TestFiles.meta(260, log.term(260), data);
            assertThatThrownBy(() -> log.compact(uncommitted)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not committed");
        }
        // reopening finds the newest snapshot (250/99, committed but never applied): it does not
        // match the log at 250, exactly like an installSnapshot interrupted by a crash
        try (DurableLog log = open(dir)) {
            assertThat(log.snapshot().index()).isEqualTo(250);
            assertThat(log.lastIndex()).isEqualTo(250);
            assertThat(log.recoveryReport().actions()).anySatisfy(a -> assertThat(a).contains("interrupted snapshot installation"));
        }
    }

    @Test
    @DisplayName("compaction survives reopen with the right first index and terms")
    void compactionReopen() {
        Path dir = tmp.resolve("data");
        List<Entry> written;
        try (DurableLog log = open(dir)) {
            written = fill(log, 300);
            log.compact(commitSnapshot(log, 123, log.term(123), new byte[] {1, 2, 3}));
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.firstIndex()).isEqualTo(124);
            assertThat(log.term(123)).isEqualTo(written.get(122).term());
            assertThat(log.entries(124, 301, Long.MAX_VALUE)).isEqualTo(written.subList(123, 300));
            log.append(entries(rnd, 301, 310, 20, 30));
            log.sync();
            assertThat(log.lastIndex()).isEqualTo(310);
        }
    }

    @Test
    @DisplayName("installSnapshot keeps the suffix after a matching entry (Figure 13)")
    void installKeepsMatchingSuffix() {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            List<Entry> written = fill(log, 100);
            SnapshotMeta meta = receiveSnapshot(log, 80, log.term(80), new byte[] {5, 6, 7});
            log.installSnapshot(meta);
            assertThat(log.firstIndex()).isEqualTo(81);
            assertThat(log.lastIndex()).isEqualTo(100);
            assertThat(log.entries(81, 101, Long.MAX_VALUE)).isEqualTo(written.subList(80, 100));
            assertThat(log.snapshotChunk(80, 0, 10)).containsExactly(5, 6, 7);
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.firstIndex()).isEqualTo(81);
            assertThat(log.lastIndex()).isEqualTo(100);
        }
    }

    @Test
    @DisplayName("installSnapshot discards a log that does not match, or that ends before the snapshot")
    void installDiscardsMismatchingLog() {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            fill(log, 100);
            SnapshotMeta meta = receiveSnapshot(log, 80, 50, new byte[] {1});
            log.installSnapshot(meta);
            assertThat(log.firstIndex()).isEqualTo(81);
            assertThat(log.lastIndex()).isEqualTo(80);
            assertThat(log.term(80)).isEqualTo(50);
            assertThat(TestFiles.segments(dir)).isEmpty();
            SnapshotMeta beyond = receiveSnapshot(log, 500, 60, new byte[] {2});
            log.installSnapshot(beyond);
            assertThat(log.lastIndex()).isEqualTo(500);
            log.append(entries(rnd, 501, 510, 60, 40));
            log.sync();
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.snapshot().index()).isEqualTo(500);
            assertThat(log.firstIndex()).isEqualTo(501);
            assertThat(log.lastIndex()).isEqualTo(510);
            assertThat(log.term(500)).isEqualTo(60);
        }
    }

    @Test
    @DisplayName("a crash between committing a received snapshot and installing it is finished on open")
    void interruptedInstall() {
        Path dir = tmp.resolve("data");
        try (DurableLog log = open(dir)) {
            fill(log, 100);
            receiveSnapshot(log, 60, 77, new byte[] {9}); // committed, installSnapshot never called
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.snapshot().index()).isEqualTo(60);
            assertThat(log.lastIndex()).isEqualTo(60);
            assertThat(log.term(60)).isEqualTo(77);
            assertThat(TestFiles.segments(dir)).isEmpty();
            log.append(entries(rnd, 61, 70, 77, 40));
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.lastIndex()).isEqualTo(70);
            assertThat(log.recoveryReport().actions()).isEmpty();
        }
    }

    @Test
    @DisplayName("append refuses gaps, indexes inside the snapshot, disorder, decreasing terms and oversized entries")
    void appendValidation() {
        try (DurableLog log = open(tmp.resolve("data"))) {
            fill(log, 10);
            assertThatThrownBy(() -> log.append(entries(rnd, 12, 12, 5, 1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("gap");
            assertThatThrownBy(() -> log.append(List.of(Entry.normal(11, 5, null), Entry.normal(13, 5, null))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of order");
            assertThatThrownBy(() -> log.append(List.of(Entry.normal(11, 5, null), Entry.normal(12, 4, null))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("terms never decrease");
            assertThatThrownBy(() -> log.append(List.of(Entry.normal(11, 5, new byte[5000]))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("segmentBytes 4096");
            log.compact(commitSnapshot(log, 5, log.term(5), new byte[0]));
            assertThatThrownBy(() -> log.append(entries(rnd, 5, 5, 5, 1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("inside the snapshot");
            assertThat(log.lastIndex()).isEqualTo(10);
            log.append(List.of(Entry.noop(11, 5)));
            assertThat(log.entries(11, 12, 0)).containsExactly(Entry.noop(11, 5));
        }
    }

    @Test
    @DisplayName("memory: the cache stays within cacheBytes and the index costs about 8 bytes per entry")
    void memoryBounded() {
        long cacheBytes = 64 << 10;
        try (DurableLog log = DurableLog.open(tmp.resolve("data"), cfg().cacheBytes(cacheBytes).segmentBytes(1 << 20).build())) {
            for (int batch = 0; batch < 100; batch++) {
                log.append(entries(rnd, log.lastIndex() + 1, log.lastIndex() + 100, 1, 100));
                log.sync();
                long entriesHeld = log.lastIndex();
                assertThat(log.memoryBytes()).isLessThanOrEqualTo(cacheBytes + 16 * 2048 + 16 * entriesHeld + 16 * 1024 + 256);
            }
            assertThat(log.memoryBytes()).isGreaterThan(cacheBytes / 2);
        }
        try (DurableLog log = DurableLog.open(tmp.resolve("data"), cfg().cacheBytes(cacheBytes).segmentBytes(1 << 20).build())) {
            assertThat(log.memoryBytes()).isBetween(cacheBytes / 2, cacheBytes + 16 * 10_000 + (64 << 10));
        }
    }

    @Test
    @DisplayName("wrong node id, wrong cluster id and wrong format version are refused, naming expected and actual")
    void identityChecked() throws Exception {
        Path dir = tmp.resolve("data");
        open(dir).close();
        assertThatThrownBy(() -> DurableLog.open(dir, StorageConfig.builder(2, "test-cluster").build()))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("belongs to node 1 of cluster 'test-cluster'")
                .hasMessageContaining("this node is node 2 of cluster 'test-cluster'");
        assertThatThrownBy(() -> DurableLog.open(dir, StorageConfig.builder(1, "other").build()))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("cluster 'test-cluster'")
                .hasMessageContaining("cluster 'other'");
        Files.write(dir.resolve(Format.IDENTITY_FILE), Format.encodeIdentity(2, 1, "test-cluster"));
        assertThatThrownBy(() -> open(dir)).isInstanceOf(StorageException.class)
                .hasMessageContaining("keel.id has format version 2, this build reads version 1");
    }

    @Test
    @DisplayName("a second open of the same directory is refused while the first is open")
    void secondOpenRefused() {
        Path dir = tmp.resolve("data");
        try (DurableLog first = open(dir)) {
            assertThatThrownBy(() -> open(dir)).isInstanceOf(StorageException.class).hasMessageContaining("already open");
            assertThatThrownBy(() -> open(tmp.resolve("data/../data"))).isInstanceOf(StorageException.class)
                    .hasMessageContaining("already open");
            first.append(entries(rnd, 1, 3, 1, 10));
        }
        try (DurableLog again = open(dir)) {
            assertThat(again.lastIndex()).isEqualTo(3);
        }
    }

    @Test
    @DisplayName("a second open from another process is refused while the first holds the lock")
    void secondProcessRefused() throws Exception {
        Path dir = tmp.resolve("data");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process holder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(),
                dir.toString()).redirectErrorStream(true).start();
        try {
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream()));
            assertThat(out.readLine()).isEqualTo("opened");
            assertThatThrownBy(() -> open(dir)).isInstanceOf(StorageException.class)
                    .hasMessageContaining("already open in another process");
        } finally {
            holder.destroyForcibly().waitFor();
        }
        open(dir).close();
    }

    @Test
    @DisplayName("a directory without identity is used only if it holds nothing else")
    void foreignDirectoryRefused() throws Exception {
        Path dir = tmp.resolve("home");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("notes.txt"), "mine");
        assertThatThrownBy(() -> open(dir)).isInstanceOf(StorageException.class)
                .hasMessageContaining("keel.id is missing").hasMessageContaining("notes.txt");
        assertThat(Files.list(dir).map(p -> p.getFileName().toString()).toList()).containsExactlyInAnyOrder("notes.txt", "LOCK");
    }

    @Test
    @DisplayName("after close, writes are refused")
    void closedRefusesWrites() {
        DurableLog log = open(tmp.resolve("data"));
        log.close();
        log.close(); // idempotent
        assertThatThrownBy(() -> log.append(entries(rnd, 1, 1, 1, 1))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(log::sync).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @DisplayName("sync=false still writes everything; only the forces are skipped")
    void noSyncRoundTrip() {
        Path dir = tmp.resolve("data");
        List<Entry> written;
        try (DurableLog log = DurableLog.open(dir, cfg().sync(false).build())) {
            written = fill(log, 100);
        }
        try (DurableLog log = DurableLog.open(dir, cfg().sync(false).build())) {
            assertThat(log.entries(1, 101, Long.MAX_VALUE)).isEqualTo(written);
        }
    }

    @Test
    void persistMakesTermVoteEntriesAndCommitDurableInOrder() {
        Path dir = tmp.resolve("persist");
        try (DurableLog log = open(dir)) {
            List<Entry> batch = entries(rnd, 1, 3, 2, 50);
            log.persist(new dev.keel.core.HardState(2, 1, 3), batch);
            assertThat(log.durableIndex()).isEqualTo(3);
            // The term and vote went out first with the commit index already durable (0); the new
            // commit index is kept in memory until the file is next rewritten.
            assertThat(log.hardState()).isEqualTo(new dev.keel.core.HardState(2, 1, 3));
        }
        try (DurableLog log = open(dir)) {
            assertThat(log.hardState().currentTerm()).isEqualTo(2);
            assertThat(log.hardState().votedFor()).isEqualTo(1);
            assertThat(log.lastIndex()).isEqualTo(3);
            assertThat(log.hardState().commitIndex()).isLessThanOrEqualTo(3);
            log.persist(null, entries(rnd, 4, 4, 2, 50));
            assertThat(log.durableIndex()).isEqualTo(4);
        }
    }
}
