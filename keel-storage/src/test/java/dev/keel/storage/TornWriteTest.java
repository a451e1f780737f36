package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Torn writes: the newest segment is cut, or garbled, at every byte offset inside its last three
 * records; recovery must keep exactly the records written in full before that offset, cut the
 * rest off, and accept appends afterwards (zeros from a record's start to the end are the space
 * preallocation leaves, kept as the log's clean end). Runs with sync off (recovery is the same code; only
 * the forces are skipped), because it opens the log a thousand times.
 */
class TornWriteTest {
    @TempDir
    Path tmp;

    private Path master;
    private List<Entry> written;
    private Path newestName;
    private List<Long> offsets; // record starts in the newest segment, then its size

    private static StorageConfig config() {
        return TestFiles.cfg().sync(false).cacheBytes(4096).build();
    }

    @BeforeEach
    void writeMaster() {
        master = tmp.resolve("master");
        Random rnd = new Random(7);
        written = new ArrayList<>();
        try (DurableLog log = DurableLog.open(master, config())) {
            long i = 1;
            // several segments, and at least four records in the newest one
            while (TestFiles.segments(master).size() < 4 || TestFiles.recordOffsets(TestFiles.newestSegment(master)).size() < 6) {
                List<Entry> batch = TestFiles.entries(rnd, i, i + 2, 1 + i / 40, 150);
                log.append(batch);
                log.sync();
                written.addAll(batch);
                i += 3;
            }
        }
        newestName = master.relativize(TestFiles.newestSegment(master));
        offsets = TestFiles.recordOffsets(TestFiles.newestSegment(master));
    }

    private enum Damage { TRUNCATE, GARBAGE, ZEROS }

    @Test
    @DisplayName("cut or garbled at every byte of the last three records: exactly the fully written prefix survives")
    void everyOffsetOfTheLastThreeRecords() throws IOException {
        long size = offsets.get(offsets.size() - 1);
        long from = offsets.get(offsets.size() - 4);
        long firstIndexInNewest = written.size() - (offsets.size() - 1) + 1;
        int runs = 0;
        for (long cut = from; cut <= size; cut++) {
            for (Damage damage : Damage.values()) {
                if (damage != Damage.TRUNCATE && cut == size) continue;
                Path work = tmp.resolve("work");
                TestFiles.deleteDir(work);
                TestFiles.copyDir(master, work);
                Path seg = work.resolve(newestName.toString());
                damage(seg, cut, size, damage, new Random(cut));
                // the records whose last byte is before the cut survive (damage starts at the cut)
                int fullRecords = 0;
                while (fullRecords + 1 < offsets.size() && offsets.get(fullRecords + 1) <= cut) fullRecords++;
                long expectLast = firstIndexInNewest + fullRecords - 1;
                String what = damage + " at " + cut;
                // zeros from a record's start to the end of the file are what preallocation
                // leaves past the newest record: the clean end of the log, kept, not a torn tail
                long keptBytes = offsets.get(fullRecords);
                byte[] after = Files.readAllBytes(seg);
                boolean zeroTail = true;
                for (long b = keptBytes; b < after.length; b++) zeroTail &= after[(int) b] == 0;
                long sizeAfterDamage = after.length;
                try (DurableLog log = DurableLog.open(work, config())) {
                    assertThat(log.lastIndex()).as(what).isEqualTo(expectLast);
                    assertThat(log.entries(1, expectLast + 1, Long.MAX_VALUE)).as(what)
                            .isEqualTo(written.subList(0, (int) expectLast));
                    assertThat(Files.size(seg)).as(what).isEqualTo(zeroTail ? sizeAfterDamage : keptBytes);
                    boolean damaged = !zeroTail && Files.size(seg) < (damage == Damage.TRUNCATE ? cut : size);
                    assertThat(log.recoveryReport().cutTornTail()).as(what).isEqualTo(damaged);
                    if (damaged) {
                        assertThat(log.recoveryReport().tornFile()).isEqualTo(seg);
                        assertThat(log.recoveryReport().tornOffset()).as(what).isEqualTo(keptBytes);
                        assertThat(log.recoveryReport().tornBytes()).as(what)
                                .isEqualTo((damage == Damage.TRUNCATE ? cut : size) - keptBytes);
                    }
                    // the log goes on from there, and reopens cleanly
                    if (cut % 7 == 0) {
                        log.append(List.of(Entry.normal(expectLast + 1, 1000, new byte[] {42})));
                        log.sync();
                    }
                }
                if (cut % 7 == 0) {
                    try (DurableLog log = DurableLog.open(work, config())) {
                        assertThat(log.lastIndex()).as(what).isEqualTo(expectLast + 1);
                        assertThat(log.recoveryReport().cutTornTail()).isFalse();
                    }
                }
                runs++;
            }
        }
        assertThat(runs).isGreaterThan(300);
    }

    private static void damage(Path seg, long cut, long size, Damage damage, Random rnd) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            switch (damage) {
                case TRUNCATE -> f.setLength(cut);
                case GARBAGE, ZEROS -> {
                    byte[] tail = new byte[(int) (size - cut)];
                    f.seek(cut);
                    f.readFully(tail);
                    byte[] bad = new byte[tail.length];
                    if (damage == Damage.GARBAGE) {
                        rnd.nextBytes(bad);
                        bad[0] = (byte) (tail[0] ^ (1 + rnd.nextInt(255))); // the first byte surely changes
                    }
                    f.seek(cut);
                    f.write(bad);
                }
            }
        }
    }

    @Test
    @DisplayName("a bad record followed by a valid one in the newest segment is corruption, not a torn tail: nothing is cut")
    void corruptionBeforeTheTail() {
        Path seg = master.resolve(newestName.toString());
        long victim = offsets.get(offsets.size() - 4); // the third-to-last record
        TestFiles.flipBit(seg, victim + Format.RECORD_HEADER_BYTES + 1, 3); // in its data
        var before = TestFiles.contents(master);
        assertThatThrownBy(() -> DurableLog.open(master, config()))
                .isInstanceOfSatisfying(CorruptLogException.class, e -> {
                    assertThat(e.file()).isEqualTo(seg);
                    assertThat(e.offset()).isEqualTo(victim);
                })
                .hasMessageContaining(newestName.toString())
                .hasMessageContaining("offset " + victim)
                .hasMessageContaining("a valid record follows");
        assertThat(TestFiles.contents(master)).isEqualTo(before);
    }

    @Test
    @DisplayName("a whole record with a valid checksum but the wrong index at the tail is refused, not cut")
    void validRecordWithWrongIndexRefused() throws IOException {
        Path seg = master.resolve(newestName.toString());
        long last = offsets.get(offsets.size() - 2);
        byte[] b = Files.readAllBytes(seg);
        // rewrite the last record with index + 5 and a matching checksum
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b);
        bb.putLong((int) last + 8, bb.getLong((int) last + 8) + 5);
        int len = bb.getInt((int) last);
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(b, (int) last, 4);
        c.update(b, (int) last + 8, 17 + len);
        bb.putInt((int) last + 4, (int) c.getValue());
        Files.write(seg, b);
        assertThatThrownBy(() -> DurableLog.open(master, config())).isInstanceOf(CorruptLogException.class)
                .hasMessageContaining("offset " + last).hasMessageContaining("valid checksum");
        assertThat(Files.readAllBytes(seg)).isEqualTo(b);
    }

    @Test
    @DisplayName("a newest segment torn right after its header keeps the previous segments and continues")
    void tornFirstRecordOfNewestSegment() throws IOException {
        Path seg = master.resolve(newestName.toString());
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.setLength(Format.SEGMENT_HEADER_BYTES + 10);
        }
        long expectLast = written.size() - (offsets.size() - 1);
        try (DurableLog log = DurableLog.open(master, config())) {
            assertThat(log.lastIndex()).isEqualTo(expectLast);
            assertThat(Files.size(seg)).isEqualTo(Format.SEGMENT_HEADER_BYTES);
            log.append(List.of(Entry.normal(expectLast + 1, 1000, new byte[] {1})));
        }
        try (DurableLog log = DurableLog.open(master, config())) {
            assertThat(log.lastIndex()).isEqualTo(expectLast + 1);
            assertThat(log.entries(1, expectLast + 1, Long.MAX_VALUE)).isEqualTo(written.subList(0, (int) expectLast));
            assertThat(Arrays.equals(log.entries(expectLast + 1, expectLast + 2, 0).get(0).data(), new byte[] {1})).isTrue();
        }
    }
}
