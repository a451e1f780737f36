package dev.keel.storage;

import dev.keel.core.Entry;
import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/** Helpers shared by the storage tests: entries, configs, directory copies and byte surgery. */
final class TestFiles {
    private TestFiles() {}

    static StorageConfig.Builder cfg() {
        return StorageConfig.builder(1, "test-cluster").segmentBytes(4096).cacheBytes(1 << 20);
    }

    /** Random data of {@code size} bytes, none of them zero (so that zeroing any byte changes it). */
    static byte[] data(Random rnd, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) b[i] = (byte) (1 + rnd.nextInt(255));
        return b;
    }

    static Entry entry(Random rnd, long index, long term, int maxSize) {
        return Entry.normal(index, term, data(rnd, rnd.nextInt(maxSize + 1)));
    }

    /** Entries from..to (inclusive) of term {@code term}, data up to maxSize bytes. */
    static List<Entry> entries(Random rnd, long from, long to, long term, int maxSize) {
        List<Entry> out = new ArrayList<>();
        for (long i = from; i <= to; i++) out.add(entry(rnd, i, term, maxSize));
        return out;
    }

    static int crc32c(byte[] data) {
        CRC32C c = new CRC32C();
        c.update(data);
        return (int) c.getValue();
    }

    static SnapshotMeta meta(long index, long term, byte[] data) {
        return new SnapshotMeta(index, term, new int[] {1, 2, 3}, data.length, crc32c(data));
    }

    /** Commits a snapshot with this data to the log's store, as the state machine would. */
    static SnapshotMeta commitSnapshot(DurableLog log, long index, long term, byte[] data) {
        try (SnapshotWriter w = log.snapshots().begin(index, term, new int[] {1, 2, 3})) {
            w.stream().write(data);
            return w.commit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Receives a snapshot with this data into the log's store in two chunks, as a follower would. */
    static SnapshotMeta receiveSnapshot(DurableLog log, long index, long term, byte[] data) {
        SnapshotMeta expected = meta(index, term, data);
        try (SnapshotWriter w = log.snapshots().beginReceive(expected)) {
            int half = data.length / 2;
            w.write(0, java.util.Arrays.copyOfRange(data, 0, half));
            w.write(half, java.util.Arrays.copyOfRange(data, half, data.length));
            return w.commit();
        }
    }

    static List<Path> segments(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Format.segmentBase(p.getFileName().toString()) >= 1).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path newestSegment(Path dir) {
        List<Path> s = segments(dir);
        return s.get(s.size() - 1);
    }

    /** Start offsets of the records of a segment file, plus the end of its records (its size unless it ends in preallocated zeros). */
    static List<Long> recordOffsets(Path segment) {
        try {
            byte[] b = Files.readAllBytes(segment);
            ByteBuffer bb = ByteBuffer.wrap(b);
            List<Long> out = new ArrayList<>();
            int pos = Format.SEGMENT_HEADER_BYTES;
            // a zero index field is where records end and preallocated zeros begin
            while (pos < b.length && !(pos + Format.RECORD_HEADER_BYTES <= b.length && bb.getLong(pos + 8) == 0)) {
                out.add((long) pos);
                pos += Format.RECORD_HEADER_BYTES + bb.getInt(pos);
            }
            out.add((long) Math.min(pos, b.length));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void copyDir(Path from, Path to) {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteDir(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every regular file under dir (but the LOCK file) with its content, to show nothing changed. */
    static Map<String, String> contents(Path dir) {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().equals(Format.LOCK_FILE)) {
                    out.put(dir.relativize(p).toString(), java.util.HexFormat.of().formatHex(Files.readAllBytes(p)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static void flipBit(Path file, long offset, int bit) {
        try {
            byte[] b = Files.readAllBytes(file);
            b[(int) offset] ^= (byte) (1 << bit);
            Files.write(file, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
