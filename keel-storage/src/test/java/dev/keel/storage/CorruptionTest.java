package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage anywhere but the torn tail of the newest segment stops the open with an error naming
 * the file (and the offset for segments), and modifies nothing.
 */
class CorruptionTest {
    @TempDir
    Path tmp;

    private Path dir;
    private List<Path> segments;

    @BeforeEach
    void write() {
        dir = tmp.resolve("data");
        Random rnd = new Random(3);
        try (DurableLog log = DurableLog.open(dir, TestFiles.cfg().build())) {
            for (long i = 1; i <= 300; i += 4) {
                log.append(TestFiles.entries(rnd, i, i + 3, 1 + i / 60, 100));
            }
            log.setHardState(new HardState(4, 2, 150));
            log.sync();
            log.compact(TestFiles.commitSnapshot(log, 20, log.term(20), TestFiles.data(rnd, 3000)));
        }
        segments = TestFiles.segments(dir);
        assertThat(segments).hasSizeGreaterThan(4);
    }

    /** Opening fails with the given exception, and every file is as it was. */
    private void refused(ThrowingCallable open, Class<? extends Throwable> type, String... messageParts) {
        Map<String, String> before = TestFiles.contents(dir);
        var assertion = assertThatThrownBy(open).isInstanceOf(type);
        for (String part : messageParts) assertion.hasMessageContaining(part);
        assertThat(TestFiles.contents(dir)).isEqualTo(before);
    }

    private void refused(Class<? extends Throwable> type, String... messageParts) {
        refused(() -> DurableLog.open(dir, TestFiles.cfg().build()).close(), type, messageParts);
    }

    @Test
    @DisplayName("a bit flip in a record's data in a sealed segment: CorruptLogException naming file and offset")
    void sealedRecordData() {
        Path seg = segments.get(1);
        long record = TestFiles.recordOffsets(seg).get(2);
        TestFiles.flipBit(seg, record + Format.RECORD_HEADER_BYTES + 3, 0);
        refused(CorruptLogException.class, seg.toString(), "offset " + record, "checksum mismatch", "sealed segment");
    }

    @Test
    @DisplayName("a bit flip in a record's header in a sealed segment (index, length): CorruptLogException")
    void sealedRecordHeader() {
        Path seg = segments.get(2);
        long record = TestFiles.recordOffsets(seg).get(1);
        TestFiles.flipBit(seg, record + 8 + 7, 1); // index
        refused(CorruptLogException.class, seg.toString(), "offset " + record);
        TestFiles.flipBit(seg, record + 8 + 7, 1); // repair
        TestFiles.flipBit(seg, record + 3, 2); // length
        refused(CorruptLogException.class, seg.toString(), "offset " + record);
    }

    @Test
    @DisplayName("a record with a valid checksum but an unknown type (3): CorruptLogException; type 2 (CONFIG) is accepted")
    void unknownRecordType() throws Exception {
        Path seg = segments.get(1);
        long record = TestFiles.recordOffsets(seg).get(1);
        byte[] good = Files.readAllBytes(seg);
        for (int type : new int[] {3, -1}) {
            Files.write(seg, withType(good, (int) record, (byte) type));
            refused(CorruptLogException.class, seg.toString(), "offset " + record, "unknown entry type " + type);
        }
        Files.write(seg, withType(good, (int) record, (byte) 2));
        try (DurableLog log = DurableLog.open(dir, TestFiles.cfg().build())) {
            long index = java.nio.ByteBuffer.wrap(good).getLong((int) record + 8);
            assertThat(log.entries(index, index + 1, Long.MAX_VALUE)).singleElement()
                    .satisfies(e -> assertThat(e.type()).isEqualTo(dev.keel.core.EntryType.CONFIG));
        }
    }

    /** The segment with one record's type byte replaced and its checksum recomputed. */
    private static byte[] withType(byte[] segment, int record, byte type) {
        byte[] b = segment.clone();
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b);
        b[record + 24] = type;
        int length = bb.getInt(record);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b, record, 4);
        crc.update(b, record + 8, Format.RECORD_HEADER_BYTES - 8 + length);
        bb.putInt(record + 4, (int) crc.getValue());
        return b;
    }

    @Test
    @DisplayName("a bit flip in a segment header: CorruptLogException at offset 0")
    void segmentHeader() {
        Path seg = segments.get(1);
        TestFiles.flipBit(seg, 14, 5); // base index
        refused(CorruptLogException.class, seg.toString(), "offset 0", "segment header checksum mismatch");
        TestFiles.flipBit(seg, 14, 5);
        TestFiles.flipBit(seg, 2, 0); // magic
        refused(CorruptLogException.class, seg.toString(), "offset 0", "bad segment magic");
    }

    @Test
    @DisplayName("a bit flip in the newest segment's header is corruption too (segments are created whole)")
    void newestSegmentHeader() {
        Path seg = segments.get(segments.size() - 1);
        TestFiles.flipBit(seg, 21, 0);
        refused(CorruptLogException.class, seg.toString(), "offset 0");
    }

    @Test
    @DisplayName("a sealed segment cut short: CorruptLogException (only the newest segment may have a torn tail)")
    void sealedSegmentTruncated() throws Exception {
        Path seg = segments.get(1);
        long size = Files.size(seg);
        try (var f = new java.io.RandomAccessFile(seg.toFile(), "rw")) {
            f.setLength(size - 5);
        }
        refused(CorruptLogException.class, seg.toString(), "sealed segment");
    }

    @Test
    @DisplayName("a missing segment in the middle: refused, naming the gap")
    void missingSegment() throws Exception {
        Path seg = segments.get(2);
        Files.delete(seg);
        refused(CorruptLogException.class, segments.get(3).toString(), "a segment is missing");
    }

    @Test
    @DisplayName("a bit flip in the snapshot file's data or header: CorruptSnapshotException naming the file")
    void snapshotFile() throws Exception {
        Path snap;
        try (var s = Files.list(dir.resolve(Format.SNAPSHOT_DIR))) {
            snap = s.filter(p -> p.toString().endsWith(".snap")).findFirst().orElseThrow();
        }
        TestFiles.flipBit(snap, Files.size(snap) - 100, 4);
        refused(CorruptSnapshotException.class, snap.toString(), "data checksum mismatch");
        TestFiles.flipBit(snap, Files.size(snap) - 100, 4);
        TestFiles.flipBit(snap, 13, 4); // index in the header
        refused(CorruptSnapshotException.class, snap.toString(), "header checksum mismatch");
    }

    @Test
    @DisplayName("a bit flip in the hard state file: refused, naming the file")
    void hardStateFile() {
        Path hs = dir.resolve(Format.HARD_STATE_FILE);
        TestFiles.flipBit(hs, 17, 2);
        refused(StorageException.class, hs.toString(), "checksum mismatch");
    }

    @Test
    @DisplayName("a missing hard state file: refused")
    void hardStateMissing() throws Exception {
        Files.delete(dir.resolve(Format.HARD_STATE_FILE));
        refused(StorageException.class, "hard state file", "is missing");
    }

    @Test
    @DisplayName("a bit flip in the identity file: refused, naming the file")
    void identityFile() {
        Path id = dir.resolve(Format.IDENTITY_FILE);
        TestFiles.flipBit(id, 14, 0); // node id
        refused(StorageException.class, id.toString(), "checksum mismatch");
    }

    @Test
    @DisplayName("a missing identity file with data present: refused")
    void identityMissing() throws Exception {
        Files.delete(dir.resolve(Format.IDENTITY_FILE));
        refused(StorageException.class, "keel.id is missing", "log segments");
    }

    @Test
    @DisplayName("a wrong format version in a segment: refused with expected vs actual")
    void segmentVersion() {
        Path seg = segments.get(0);
        TestFiles.flipBit(seg, 11, 1); // version 1 -> 3
        refused(StorageException.class, seg.toString(), "format version 3, this build reads version 1");
    }

    @Test
    @DisplayName("damage found while reading an entry back from disk is reported, never served")
    void damageFoundOnRead() {
        try (DurableLog log = DurableLog.open(dir, TestFiles.cfg().cacheBytes(0).build())) {
            Path seg = segments.get(1);
            long record = TestFiles.recordOffsets(seg).get(0);
            long index = Format.segmentBase(seg.getFileName().toString());
            TestFiles.flipBit(seg, record + Format.RECORD_HEADER_BYTES + 1, 6);
            assertThatThrownBy(() -> log.entries(index, index + 1, 0)).isInstanceOf(CorruptLogException.class)
                    .hasMessageContaining(seg.toString()).hasMessageContaining("offset " + record);
            List<Entry> after = log.entries(index + 1, index + 2, 0);
            assertThat(after).hasSize(1);
        }
    }
}
