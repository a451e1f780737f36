package dev.keel.bench.storage;

import dev.keel.core.Entry;
import dev.keel.storage.DurableLog;
import dev.keel.storage.StorageConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
 * Time to {@link DurableLog#open} (recover) a log of {@code logMiB} MiB of {@code entryBytes}-byte
 * entries, default 1 GiB of 1 KiB entries (about a million entries in 17 segments of 64 MiB):
 * reading and checksumming every record, building the offset index, warming the 64 MiB entry cache,
 * and the syncs of a normal open. The log is written once per fork (sync off, then forced).
 *
 * <p>{@code coldCache=true} first asks the kernel to drop the segments' pages from the page cache
 * ({@code dd iflag=nocache count=0} per file, Linux with GNU dd; this only touches these files), so
 * the disk is read; {@code false} measures a warm page cache (a process restart on a machine that
 * kept running). Same disk rules as {@link AppendBenchmark} ({@code -Dkeel.bench.dir}).
 *
 * <pre>
 * java -jar keel-bench/target/keel-benchmarks.jar RecoveryBenchmark -Dkeel.bench.dir=/work/tmp
 * </pre>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@State(Scope.Benchmark)
public class RecoveryBenchmark {
    @Param({"1024"})
    public int logMiB;

    @Param({"1024"})
    public int entryBytes;

    @Param({"false", "true"})
    public boolean coldCache;

    private Path root;
    private Path dir;
    private final StorageConfig cfg = StorageConfig.builder(1, "bench").build();

    @Setup(Level.Trial)
    public void writeLog() throws IOException {
        root = AppendBenchmark.freshDir("keel-recovery");
        dir = root.resolve("data");
        StorageConfig fast = StorageConfig.builder(1, "bench").sync(false).build();
        SplittableRandom rnd = new SplittableRandom(3);
        byte[][] data = new byte[1024][];
        for (int i = 0; i < data.length; i++) {
            data[i] = new byte[entryBytes];
            for (int j = 0; j < entryBytes; j++) data[i][j] = (byte) rnd.nextInt(256);
        }
        long total = (long) logMiB << 20;
        long index = 1;
        try (DurableLog log = DurableLog.open(dir, fast)) {
            for (long written = 0; written < total; ) {
                List<Entry> batch = new ArrayList<>(data.length);
                for (byte[] d : data) batch.add(Entry.normal(index++, 1 + index / 100_000, d));
                log.append(batch);
                written += (long) data.length * entryBytes;
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            }
        }
        System.err.println("# wrote " + (index - 1) + " entries, " + logMiB + " MiB of data");
    }

    @Setup(Level.Invocation)
    public void dropCache() throws IOException, InterruptedException {
        if (!coldCache) return;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Process proc = new ProcessBuilder("dd", "if=" + p, "iflag=nocache", "count=0", "status=none")
                        .redirectErrorStream(true).start();
                proc.getInputStream().readAllBytes();
                if (proc.waitFor() != 0) throw new IllegalStateException("dd iflag=nocache failed for " + p);
            }
        }
    }

    @Benchmark
    public long open() {
        try (DurableLog log = DurableLog.open(dir, cfg)) {
            return log.lastIndex();
        }
    }

    @TearDown(Level.Trial)
    public void delete() {
        try {
            AppendBenchmark.deleteDir(root);
        } catch (UncheckedIOException e) {
            System.err.println("# could not delete " + root + ": " + e);
        }
    }
}
