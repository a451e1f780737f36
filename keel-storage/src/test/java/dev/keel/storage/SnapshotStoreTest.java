package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Membership;
import dev.keel.core.SnapshotMeta;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotStoreTest {
    @TempDir
    Path tmp;

    private final Random rnd = new Random(11);

    private SnapshotStore store(int keep) {
        return SnapshotStore.open(tmp.resolve("snapshots"), keep, true);
    }

    private static SnapshotMeta write(SnapshotStore store, long index, long term, byte[] data) throws IOException {
        try (SnapshotWriter w = store.begin(index, term, new int[] {1, 2, 3})) {
            OutputStream out = w.stream();
            int off = 0;
            Random pieces = new Random(index);
            while (off < data.length) { // odd-sized writes, some larger than the writer's buffer
                int n = Math.min(data.length - off, pieces.nextInt(200_000));
                if (n == 1) out.write(data[off]);
                else out.write(data, off, n);
                off += n;
            }
            return w.commit();
        }
    }

    private static byte[] readAll(SnapshotStore store, SnapshotMeta meta) throws IOException {
        try (InputStream in = store.open(meta)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve("snapshots"))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    @DisplayName("write, commit, open, verify: size and CRC32C computed while streaming; the name holds index and term")
    void roundTrip() throws IOException {
        SnapshotStore store = store(2);
        assertThat(store.latest()).isEqualTo(SnapshotMeta.NONE);
        byte[] data = TestFiles.data(rnd, 1_000_000);
        SnapshotMeta meta = write(store, 1234, 7, data);
        assertThat(meta).isEqualTo(TestFiles.meta(1234, 7, data));
        assertThat(store.latest()).isEqualTo(meta);
        assertThat(files()).containsExactly("snap-00000000000000001234-00000000000000000007.snap");
        assertThat(readAll(store, meta)).isEqualTo(data);
        assertThat(store.readChunk(1234, 0, 10)).isEqualTo(Arrays.copyOf(data, 10));
        assertThat(store.readChunk(1234, 999_990, 100)).isEqualTo(Arrays.copyOfRange(data, 999_990, 1_000_000));
        assertThat(store.readChunk(1234, 1_000_000, 100)).isEmpty();
        assertThat(store.readChunk(1233, 0, 100)).isNull();
        // a fresh store reads the header back
        SnapshotStore again = store(2);
        assertThat(again.latest()).isEqualTo(meta);
        again.verify(meta);
    }

    @Test
    @DisplayName("the whole membership (joint voters, outgoing voters, learners) round-trips through the header, own and received")
    void membershipRoundTrip() throws IOException {
        SnapshotStore store = store(3);
        Membership joint = new Membership(new int[] {4, 1, 2}, new int[] {3, 2, 1}, new int[] {9, 7});
        byte[] data = TestFiles.data(rnd, 3000);
        SnapshotMeta own;
        try (SnapshotWriter w = store.begin(30, 2, joint)) {
            w.stream().write(data);
            own = w.commit();
        }
        assertThat(own.membership()).isEqualTo(joint);
        assertThat(own.membership().isJoint()).isTrue();
        Path file = tmp.resolve("snapshots").resolve(SnapshotStore.fileName(30, 2));
        // 56 + 4 x (3 voters + 3 outgoing + 2 learners), then the data
        assertThat(Files.size(file)).isEqualTo(56 + 4 * 8 + 3000);
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(file), 0, 56 + 4 * 8);
        header.position(SnapshotStore.FIXED_HEADER_BYTES);
        int[] lists = new int[11];
        for (int i = 0; i < lists.length; i++) lists[i] = header.getInt();
        assertThat(lists).containsExactly(3, 1, 2, 4, 3, 1, 2, 3, 2, 7, 9);
        assertThat(header.getInt()).isEqualTo(Format.crc(header.array(), 0, 56 + 4 * 8 - 4)); // the header CRC, last
        Membership learnersOnly = new Membership(new int[] {1, 2, 3}, new int[0], new int[] {5});
        byte[] received = TestFiles.data(rnd, 2000);
        SnapshotMeta expected = new SnapshotMeta(40, 3, learnersOnly, received.length, TestFiles.crc32c(received));
        try (SnapshotWriter w = store.beginReceive(expected)) {
            w.write(0, received);
            assertThat(w.commit()).isEqualTo(expected);
        }
        SnapshotStore again = store(3);
        assertThat(again.list()).containsExactly(own, expected);
        assertThat(again.list().get(0).membership()).isEqualTo(joint);
        assertThat(again.latest().membership()).isEqualTo(learnersOnly);
        assertThat(readAll(again, own)).isEqualTo(data);
        assertThat(readAll(again, expected)).isEqualTo(received);
        // the voters-only overload is Membership.of(voters)
        try (SnapshotWriter w = store.begin(50, 3, new int[] {3, 1, 2})) {
            assertThat(w.commit().membership()).isEqualTo(Membership.of(1, 2, 3));
        }
    }

    @Test
    @DisplayName("a damaged member count is refused before anything is sized by it; a damaged id by the header CRC")
    void membershipCountsChecked() throws IOException {
        SnapshotStore store = store(2);
        Membership m = new Membership(new int[] {1, 2, 3}, new int[0], new int[] {4});
        try (SnapshotWriter w = store.begin(10, 1, m)) {
            w.stream().write(TestFiles.data(rnd, 100));
            w.commit();
        }
        Path file = tmp.resolve("snapshots").resolve(SnapshotStore.fileName(10, 1));
        int voterCountAt = SnapshotStore.FIXED_HEADER_BYTES;
        int outgoingCountAt = voterCountAt + 4 + 4 * 3;
        int learnerCountAt = outgoingCountAt + 4;
        byte[] good = Files.readAllBytes(file);
        for (int[] patch : new int[][] {{voterCountAt, -1}, {outgoingCountAt, Integer.MAX_VALUE}, {learnerCountAt, 4094}}) {
            byte[] bad = good.clone();
            ByteBuffer.wrap(bad).putInt(patch[0], patch[1]);
            Files.write(file, bad);
            String list = patch[0] == voterCountAt ? "voter" : patch[0] == outgoingCountAt ? "outgoing voter" : "learner";
            assertThatThrownBy(() -> store(2)).isInstanceOf(CorruptSnapshotException.class)
                    .hasMessageContaining(file.toString()).hasMessageContaining("impossible " + list + " count " + patch[1]);
        }
        byte[] plausible = good.clone();
        ByteBuffer.wrap(plausible).putInt(learnerCountAt, 2); // reads a data byte as a learner: the CRC catches it
        Files.write(file, plausible);
        assertThatThrownBy(() -> store(2)).isInstanceOf(CorruptSnapshotException.class).hasMessageContaining("header checksum mismatch");
        byte[] id = good.clone();
        ByteBuffer.wrap(id).putInt(learnerCountAt + 4, 8); // learner 4 -> 8
        Files.write(file, id);
        assertThatThrownBy(() -> store(2)).isInstanceOf(CorruptSnapshotException.class).hasMessageContaining("header checksum mismatch");
        Files.write(file, good);
        assertThat(store(2).latest().membership()).isEqualTo(m);
    }

    @Test
    @DisplayName("keeps the newest keepSnapshots, deleting older ones only after the new one is committed")
    void retention() throws IOException {
        SnapshotStore store = store(2);
        SnapshotMeta a = write(store, 10, 1, TestFiles.data(rnd, 100));
        SnapshotMeta b = write(store, 20, 1, TestFiles.data(rnd, 100));
        assertThat(store.list()).containsExactly(a, b);
        SnapshotMeta c = write(store, 30, 2, TestFiles.data(rnd, 100));
        assertThat(store.list()).containsExactly(b, c);
        assertThat(files()).hasSize(2);
        assertThat(store.readChunk(10, 0, 10)).isNull();
        assertThatThrownBy(() -> store.open(a)).isInstanceOf(StorageException.class).hasMessageContaining("not kept");
    }

    @Test
    @DisplayName("a received snapshot with a bad CRC is rejected: temp file deleted, earlier snapshots untouched")
    void receiveBadCrc() throws IOException {
        SnapshotStore store = store(2);
        SnapshotMeta kept = write(store, 10, 1, TestFiles.data(rnd, 5000));
        byte[] data = TestFiles.data(rnd, 5000);
        SnapshotMeta good = TestFiles.meta(50, 3, data);
        SnapshotMeta lying = new SnapshotMeta(50, 3, new int[] {1, 2, 3}, data.length, good.crc32c() ^ 1);
        SnapshotWriter w = store.beginReceive(lying);
        w.write(0, Arrays.copyOf(data, 3000));
        w.write(3000, Arrays.copyOfRange(data, 3000, 5000));
        Path temp = w.tempFile();
        assertThat(temp).exists();
        assertThatThrownBy(w::commit).isInstanceOf(CorruptSnapshotException.class)
                .hasMessageContaining("expected 5000 bytes with CRC32C " + Integer.toHexString(lying.crc32c()));
        assertThat(temp).doesNotExist();
        assertThat(store.list()).containsExactly(kept);
        assertThat(readAll(store, kept)).hasSize(5000);
        assertThat(files()).hasSize(1);
        // a short transfer is rejected the same way
        SnapshotWriter shortOne = store.beginReceive(good);
        shortOne.write(0, Arrays.copyOf(data, 10));
        assertThatThrownBy(shortOne::commit).isInstanceOf(CorruptSnapshotException.class);
        assertThat(store.list()).containsExactly(kept);
    }

    @Test
    @DisplayName("receiving: offsets must follow each other; offset 0 restarts the transfer")
    void receiveOffsets() throws IOException {
        SnapshotStore store = store(2);
        byte[] data = TestFiles.data(rnd, 1000);
        SnapshotMeta expected = TestFiles.meta(40, 2, data);
        try (SnapshotWriter w = store.beginReceive(expected)) {
            w.write(0, Arrays.copyOf(data, 300));
            assertThatThrownBy(() -> w.write(200, new byte[10])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected offset 300");
            w.write(300, TestFiles.data(rnd, 100)); // garbage, then the leader restarts
            w.write(0, Arrays.copyOf(data, 600));
            w.write(600, Arrays.copyOfRange(data, 600, 1000));
            assertThatThrownBy(() -> w.write(1000, new byte[1])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("past the snapshot size");
            assertThatThrownBy(w::stream).isInstanceOf(IllegalStateException.class);
            assertThat(w.commit()).isEqualTo(expected);
        }
        assertThat(readAll(store, expected)).isEqualTo(data);
    }

    @Test
    @DisplayName("a crash while writing (temp file left behind) leaves the previous snapshots usable; the temp file is ignored and cleaned")
    void crashWhileWriting() throws IOException {
        Path dataDir = tmp.resolve("data");
        byte[] data = TestFiles.data(rnd, 2000);
        SnapshotMeta kept;
        Path temp;
        try (DurableLog log = DurableLog.open(dataDir, TestFiles.cfg().build())) {
            log.append(TestFiles.entries(rnd, 1, 20, 1, 10));
            kept = TestFiles.commitSnapshot(log, 10, 1, data);
            log.compact(kept);
            SnapshotWriter w = log.snapshots().begin(20, 1, new int[] {1, 2, 3});
            w.stream().write(TestFiles.data(rnd, 100_000));
            temp = w.tempFile();
            // the process dies here: no commit, no abort
        }
        assertThat(temp).exists();
        assertThat(SnapshotStore.open(dataDir.resolve(Format.SNAPSHOT_DIR), 2, true).list()).containsExactly(kept);
        try (DurableLog log = DurableLog.open(dataDir, TestFiles.cfg().build())) {
            assertThat(log.snapshot()).isEqualTo(kept);
            assertThat(temp).doesNotExist();
            assertThat(log.recoveryReport().actions()).anySatisfy(a -> assertThat(a).contains(temp.getFileName().toString()));
            assertThat(readAll(log.snapshots(), kept)).isEqualTo(data);
        }
    }

    @Test
    @DisplayName("damaged data is detected when the stream reaches the end; a damaged header when the store opens")
    void corruptionDetected() throws IOException {
        SnapshotStore store = store(3);
        SnapshotMeta older = write(store, 10, 1, TestFiles.data(rnd, 70_000));
        SnapshotMeta newer = write(store, 20, 1, TestFiles.data(rnd, 70_000));
        Path olderFile = tmp.resolve("snapshots").resolve(SnapshotStore.fileName(10, 1));
        TestFiles.flipBit(olderFile, Files.size(olderFile) - 1, 7); // the very last byte
        SnapshotStore again = store(3);
        assertThat(again.list()).containsExactly(older, newer); // headers are fine
        try (InputStream in = again.open(older)) {
            byte[] buf = new byte[8192];
            assertThatThrownBy(() -> {
                while (in.read(buf) >= 0) {
                    // read to the end
                }
            }).isInstanceOf(CorruptSnapshotException.class).hasMessageContaining(olderFile.toString())
                    .hasMessageContaining("data checksum mismatch");
        }
        assertThat(readAll(again, newer)).hasSize(70_000);
        TestFiles.flipBit(olderFile, 30, 0); // sizeBytes in the header
        assertThatThrownBy(() -> store(3)).isInstanceOf(CorruptSnapshotException.class)
                .hasMessageContaining(olderFile.toString()).hasMessageContaining("header checksum mismatch");
    }

    @Test
    @DisplayName("abort (or close without commit) deletes the temp file and commits nothing")
    void abort() throws IOException {
        SnapshotStore store = store(2);
        SnapshotWriter w = store.begin(5, 1, new int[] {1});
        w.stream().write(new byte[1000]);
        Path temp = w.tempFile();
        w.close();
        assertThat(temp).doesNotExist();
        assertThat(store.latest()).isEqualTo(SnapshotMeta.NONE);
        assertThatThrownBy(w::commit).isInstanceOf(IllegalStateException.class);
        assertThat(files()).isEmpty();
    }

    @Test
    @DisplayName("a snapshot much larger than the writer's buffer streams through without being held in memory")
    void largeSnapshotStreams() throws IOException {
        SnapshotStore store = store(1);
        long size = 64L << 20;
        SnapshotMeta meta;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        byte[] block = TestFiles.data(rnd, 1 << 20);
        try (SnapshotWriter w = store.begin(99, 4, new int[] {1, 2, 3})) {
            for (long off = 0; off < size; off += block.length) {
                w.stream().write(block);
                crc.update(block);
            }
            meta = w.commit();
        }
        assertThat(meta.sizeBytes()).isEqualTo(size);
        assertThat(meta.crc32c()).isEqualTo((int) crc.getValue());
        store.verify(meta);
    }
}
