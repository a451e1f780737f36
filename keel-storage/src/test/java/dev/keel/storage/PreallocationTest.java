package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The active segment is written with zeros ahead of its records (SegmentPreallocator) when sync
 * is on: the zeros must never overwrite a record, a segment ending in zeros must recover as a
 * clean end, sealed segments must hold records only, and damage after the zeros must still be
 * seen.
 */
class PreallocationTest {
    private static final long SEGMENT_BYTES = 8L << 20;

    @TempDir
    Path tmp;

    private static StorageConfig config() {
        return TestFiles.cfg().segmentBytes(SEGMENT_BYTES).sync(true).build();
    }

    private static List<Entry> appendSynced(DurableLog log, Random rnd, long from, long to, long term, int maxSize) {
        List<Entry> batch = TestFiles.entries(rnd, from, to, term, maxSize);
        log.append(batch);
        log.sync();
        return batch;
    }

    private static void awaitIdle(DurableLog log) throws InterruptedException {
        assertThat(log.preallocator().awaitIdle(30_000)).as("preallocation settles").isTrue();
        assertThat(log.preallocator().failure()).isNull();
    }

    @Test
    @DisplayName("zeros run ahead of the records, which survive intact, and a reopen finds a clean end")
    void zerosAheadRecoverAsCleanEnd() throws Exception {
        Path dir = tmp.resolve("log");
        Random rnd = new Random(1);
        List<Entry> written = new ArrayList<>();
        try (DurableLog log = DurableLog.open(dir, config())) {
            written.addAll(appendSynced(log, rnd, 1, 50, 1, 2000));
            awaitIdle(log);
            Path seg = TestFiles.newestSegment(dir);
            long recordsEnd = TestFiles.recordOffsets(seg).getLast();
            assertThat(Files.size(seg)).as("preallocated past the records").isGreaterThanOrEqualTo(
                    recordsEnd + SegmentPreallocator.AHEAD_BYTES);
            assertThat(log.preallocator().zeroEnd()).isEqualTo(Files.size(seg));
            // the log writes into the zeros, in batches larger than a preallocation chunk too
            written.addAll(appendSynced(log, rnd, 51, 60, 2, 300_000));
            written.addAll(appendSynced(log, rnd, 61, 500, 2, 3000));
            awaitIdle(log);
            assertThat(log.entries(1, 501, Long.MAX_VALUE)).isEqualTo(written);
        }
        Path seg = TestFiles.newestSegment(dir);
        assertThat(Files.size(seg)).isGreaterThan(TestFiles.recordOffsets(seg).getLast());
        try (DurableLog log = DurableLog.open(dir, config())) {
            assertThat(log.recoveryReport().cutTornTail()).isFalse();
            assertThat(log.recoveryReport().actions()).isEmpty();
            assertThat(log.lastIndex()).isEqualTo(500);
            assertThat(log.entries(1, 501, Long.MAX_VALUE)).isEqualTo(written);
            written.addAll(appendSynced(log, rnd, 501, 520, 3, 1000));
        }
        try (DurableLog log = DurableLog.open(dir, config())) {
            assertThat(log.entries(1, 521, Long.MAX_VALUE)).isEqualTo(written);
        }
    }

    @Test
    @DisplayName("sealed segments hold their records only; the log reads back whole across rolls and a reopen")
    void sealedSegmentsAreCutToTheirRecords() throws Exception {
        Path dir = tmp.resolve("log");
        Random rnd = new Random(2);
        StorageConfig cfg = TestFiles.cfg().segmentBytes(3L << 20).sync(true).build();
        List<Entry> written = new ArrayList<>();
        try (DurableLog log = DurableLog.open(dir, cfg)) {
            long i = 1;
            while (TestFiles.segments(dir).size() < 4) {
                written.addAll(appendSynced(log, rnd, i, i + 99, 1, 8000));
                i += 100;
            }
            awaitIdle(log);
        }
        List<Path> segments = TestFiles.segments(dir);
        for (Path seg : segments.subList(0, segments.size() - 1)) {
            assertThat(Files.size(seg)).as(seg.toString()).isEqualTo(TestFiles.recordOffsets(seg).getLast());
        }
        try (DurableLog log = DurableLog.open(dir, cfg)) {
            assertThat(log.recoveryReport().actions()).isEmpty();
            assertThat(log.entries(1, log.lastIndex() + 1, Long.MAX_VALUE)).isEqualTo(written);
        }
    }

    @Test
    @DisplayName("a conflicting suffix replaced (truncation) inside preallocated space reads back right after a crash")
    void truncationThenCrash() throws Exception {
        Path dir = tmp.resolve("log");
        Random rnd = new Random(3);
        List<Entry> written = new ArrayList<>();
        DurableLog log = DurableLog.open(dir, config());
        written.addAll(appendSynced(log, rnd, 1, 100, 1, 1000));
        awaitIdle(log);
        List<Entry> replacement = appendSynced(log, rnd, 40, 60, 2, 1000); // truncates 40..100, then appends
        written = new ArrayList<>(written.subList(0, 39));
        written.addAll(replacement);
        awaitIdle(log);
        log.append(TestFiles.entries(rnd, 61, 70, 2, 1000)); // not synced: may or may not survive
        log.crash();
        try (DurableLog again = DurableLog.open(dir, config())) {
            assertThat(again.lastIndex()).isBetween(60L, 70L);
            assertThat(again.entries(1, 61, Long.MAX_VALUE)).isEqualTo(written);
        }
    }

    @Test
    @DisplayName("zeros followed by garbage at the end of the newest segment are a torn tail, cut; not a clean end")
    void garbageAfterZerosIsStillTorn() throws Exception {
        Path dir = tmp.resolve("log");
        Random rnd = new Random(4);
        List<Entry> written;
        try (DurableLog log = DurableLog.open(dir, config())) {
            written = appendSynced(log, rnd, 1, 30, 1, 1000);
            awaitIdle(log);
        }
        Path seg = TestFiles.newestSegment(dir);
        long recordsEnd = TestFiles.recordOffsets(seg).getLast();
        long size = Files.size(seg);
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.seek(size - 100);
            f.write(new byte[] {1, 2, 3});
        }
        try (DurableLog log = DurableLog.open(dir, config())) {
            assertThat(log.recoveryReport().cutTornTail()).isTrue();
            assertThat(log.recoveryReport().tornOffset()).isEqualTo(recordsEnd);
            assertThat(log.entries(1, 31, Long.MAX_VALUE)).isEqualTo(written);
        }
    }

    @Test
    @DisplayName("a whole valid record after a run of zeros is corruption before the tail, refused")
    void validRecordAfterZerosIsCorruption() throws Exception {
        Path dir = tmp.resolve("log");
        Random rnd = new Random(5);
        try (DurableLog log = DurableLog.open(dir, config())) {
            appendSynced(log, rnd, 1, 30, 1, 1000);
            awaitIdle(log);
        }
        Path seg = TestFiles.newestSegment(dir);
        List<Long> offsets = TestFiles.recordOffsets(seg);
        long start = offsets.get(10);
        long end = offsets.get(11);
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.seek(start);
            f.write(new byte[(int) (end - start)]); // record 11 zeroed, records 12.. intact after it
        }
        assertThatThrownBy(() -> DurableLog.open(dir, config()))
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining("valid record follows");
    }

    @Test
    @DisplayName("with sync off nothing is preallocated: files end at their records")
    void noPreallocationWithoutSync() throws IOException {
        Path dir = tmp.resolve("log");
        try (DurableLog log = DurableLog.open(dir, TestFiles.cfg().segmentBytes(SEGMENT_BYTES).sync(false).build())) {
            appendSynced(log, new Random(6), 1, 20, 1, 1000);
            assertThat(log.preallocator()).isNull();
        }
        Path seg = TestFiles.newestSegment(dir);
        assertThat(Files.size(seg)).isEqualTo(TestFiles.recordOffsets(seg).getLast());
    }
}
