package dev.keel.bench.storage;

import dev.keel.core.Entry;
import dev.keel.storage.DurableLog;
import dev.keel.storage.StorageConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Durable append throughput of {@link DurableLog} with sync on, beside a raw baseline on the same
 * disk in the same run. One operation is one batch of {@code batchBytes} of entry data (entries of
 * {@code entryBytes}): {@code durableLog} does {@code append(batch)} then {@code sync()} (records
 * framed and checksummed, one fdatasync); {@code rawFileChannel} writes the same number of bytes
 * from a direct buffer to a plain file with {@code FileChannel.write} and calls
 * {@code force(false)} (the best any Java log can do). The ratio of the two scores is the cost of
 * the log; the absolute numbers are the disk's. The {@code entries} and {@code bytes} secondary
 * scores are entries/s and data bytes/s (divide by 10^6 for MB/s). {@code interleaved} alternates
 * one batch of each and reports the time spent in each ({@code logMicros}, {@code rawMicros}):
 * on a shared disk whose speed changes from minute to minute, rawMicros / logMicros is the
 * trustworthy ratio of log throughput to raw throughput (its {@code entries} and {@code bytes}
 * count both halves).
 *
 * <p>Disk: files go to a fresh directory under {@code -Dkeel.bench.dir} (default
 * {@code java.io.tmpdir}), deleted after each iteration. It must be a real disk, not tmpfs (where
 * force is free): the setup prints the file store type and refuses tmpfs. Each iteration writes
 * up to a few GB at 1 MiB batches on a fast disk.
 *
 * <pre>
 * java -jar keel-bench/target/keel-benchmarks.jar AppendBenchmark -Dkeel.bench.dir=/work/tmp
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 4)
public class AppendBenchmark {

    /** Entries and data bytes written, reported by JMH as rates. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Counters {
        public long entries;
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            entries = 0;
            bytes = 0;
        }
    }

    /**
     * Time spent in each half of {@link #interleaved}, in microseconds per iteration. On a shared,
     * noisy disk the two separate benchmarks run minutes apart and can see very different disks;
     * interleaving them batch by batch shows both the same conditions: raw/log time is the ratio
     * of log to raw throughput.
     */
    @AuxCounters(AuxCounters.Type.EVENTS)
    @State(Scope.Thread)
    public static class Split {
        public long logMicros;
        public long rawMicros;

        @Setup(Level.Iteration)
        public void reset() {
            logMicros = 0;
            rawMicros = 0;
        }
    }

    @State(Scope.Thread)
    public static class Shape {
        @Param({"4096", "1048576"})
        public int batchBytes;

        @Param({"1024"})
        public int entryBytes;

        int entriesPerBatch() {
            return Math.max(1, batchBytes / entryBytes);
        }
    }

    private static final java.util.Set<String> ANNOUNCED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static Path freshDir(String prefix) {
        try {
            Path base = Path.of(System.getProperty("keel.bench.dir", System.getProperty("java.io.tmpdir")));
            Files.createDirectories(base);
            String type = Files.getFileStore(base).type();
            if (type.equals("tmpfs") && !Boolean.getBoolean("keel.bench.allowTmpfs")) {
                throw new IllegalStateException(base + " is on tmpfs, where fsync is free: choose a real disk with "
                        + "-Dkeel.bench.dir (or -Dkeel.bench.allowTmpfs=true)");
            }
            Path dir = Files.createTempDirectory(base, prefix);
            if (ANNOUNCED.add(prefix)) System.err.println("# " + prefix + " writes under " + base + " (" + type + ")");
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteDir(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @State(Scope.Thread)
    public static class LogState {
        Path dir;
        DurableLog log;
        byte[][] data;
        long next;

        @Setup(Level.Iteration)
        public void open(Shape shape) {
            dir = freshDir("keel-append-log");
            log = DurableLog.open(dir.resolve("data"), StorageConfig.builder(1, "bench").build());
            // Entries own their data and never change it, so a batch may share arrays with the previous one.
            SplittableRandom rnd = new SplittableRandom(1);
            data = new byte[shape.entriesPerBatch()][];
            for (int i = 0; i < data.length; i++) {
                data[i] = new byte[shape.entryBytes];
                for (int j = 0; j < data[i].length; j++) data[i][j] = (byte) rnd.nextInt(256);
            }
            next = 1;
        }

        @TearDown(Level.Iteration)
        public void close() {
            log.close();
            deleteDir(dir);
        }
    }

    @State(Scope.Thread)
    public static class RawState {
        Path dir;
        FileChannel ch;
        ByteBuffer batch;

        @Setup(Level.Iteration)
        public void open(Shape shape) throws IOException {
            dir = freshDir("keel-append-raw");
            ch = FileChannel.open(dir.resolve("raw.dat"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            batch = ByteBuffer.allocateDirect(shape.entriesPerBatch() * shape.entryBytes);
            SplittableRandom rnd = new SplittableRandom(1);
            while (batch.hasRemaining()) batch.put((byte) rnd.nextInt(256));
        }

        @TearDown(Level.Iteration)
        public void close() throws IOException {
            ch.close();
            deleteDir(dir);
        }
    }

    @Benchmark
    public long durableLog(LogState s, Shape shape, Counters c) {
        List<Entry> batch = new ArrayList<>(s.data.length);
        for (byte[] d : s.data) batch.add(Entry.normal(s.next++, 1, d));
        s.log.append(batch);
        s.log.sync();
        c.entries += batch.size();
        c.bytes += (long) batch.size() * shape.entryBytes;
        return s.log.durableIndex();
    }

    /** One log batch then one raw batch, each timed: the robust ratio on a noisy machine. */
    @Benchmark
    public long interleaved(LogState log, RawState raw, Shape shape, Counters c, Split split) throws IOException {
        long t0 = System.nanoTime();
        long a = durableLog(log, shape, c);
        long t1 = System.nanoTime();
        long b = rawFileChannel(raw, shape, c);
        long t2 = System.nanoTime();
        split.logMicros += (t1 - t0) / 1000;
        split.rawMicros += (t2 - t1) / 1000;
        return a + b;
    }

    @Benchmark
    public long rawFileChannel(RawState s, Shape shape, Counters c) throws IOException {
        s.batch.clear();
        while (s.batch.hasRemaining()) s.ch.write(s.batch);
        s.ch.force(false);
        c.entries += shape.entriesPerBatch();
        c.bytes += s.batch.capacity();
        return s.ch.position();
    }
}
