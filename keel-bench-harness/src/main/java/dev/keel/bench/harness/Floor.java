package dev.keel.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;

/**
 * The physical floor of this machine, measured in the same run as the systems: how long one small
 * write plus {@code fdatasync} takes on the data disk, how fast the disk takes large synced writes,
 * and one loopback TCP round trip. A replicated commit needs at least one sync (the leader's, in
 * parallel with the followers') and one round trip, so their sum bounds single-client latency.
 *
 * @param fsyncMicrosP50    median of a 4 KiB append + fdatasync (the file grows: the sync also commits
 *     the new size and block allocation to the file system's journal)
 * @param fsyncMicrosP99    99th percentile of the same
 * @param overwriteFsyncMicrosP50 median of a 4 KiB write + fdatasync into a file whose blocks were
 *     written and synced before: the cheapest durable write this disk offers, and what a log that
 *     preallocates its segments (as Keel's does) pays
 * @param syncedMiBPerSecond bandwidth of 1 MiB appends, each followed by fdatasync
 * @param rttMicrosP50      median loopback TCP round trip of one byte
 * @param colocatedSyncMicrosP50 median, over rounds in which three threads each write 4 KiB into
 *     their own file's blocks already written and synced (as a preallocated log does) and fdatasync
 *     at once, of the second of the three to finish: what the benchmark's 3-node clusters, whose
 *     nodes share this one disk, wait for at least before a majority holds an entry durably. Context
 *     for the single-client figure; the floor itself stays one sync plus one round trip
 */
public record Floor(double fsyncMicrosP50, double fsyncMicrosP99, double overwriteFsyncMicrosP50, double syncedMiBPerSecond,
                    double rttMicrosP50, double colocatedSyncMicrosP50) {

    /** One appending sync plus one round trip (the floor of earlier runs, kept for comparison). */
    public double floorMicros() {
        return fsyncMicrosP50 + rttMicrosP50;
    }

    /**
     * The physical floor the goal is judged against: the cheaper of the two syncs plus one round
     * trip. Keel's log preallocates, so the appending sync is not a floor for it.
     */
    public double strictFloorMicros() {
        return Math.min(fsyncMicrosP50, overwriteFsyncMicrosP50) + rttMicrosP50;
    }

    /**
     * Context, not the goal's floor: the second of three simultaneous syncs on this shared disk plus
     * one round trip, the least a 3-node cluster colocated here can commit in.
     */
    public double colocatedFloorMicros() {
        return colocatedSyncMicrosP50 + rttMicrosP50;
    }

    /**
     * Each figure the median over several measurements taken across one run (an even count takes
     * the mean of the middle two): on a VM the round trip in particular drifts between runs and
     * within one (a fast mode near 15 us and a slow one near 100 us, depending on how soon the host
     * runs an idle virtual CPU again), so one short measurement can land on either.
     */
    public static Floor median(List<Floor> floors) {
        if (floors.isEmpty()) throw new IllegalArgumentException("no floor measurements");
        return new Floor(median(floors, Floor::fsyncMicrosP50), median(floors, Floor::fsyncMicrosP99),
                median(floors, Floor::overwriteFsyncMicrosP50), median(floors, Floor::syncedMiBPerSecond),
                median(floors, Floor::rttMicrosP50), median(floors, Floor::colocatedSyncMicrosP50));
    }

    static double median(List<Floor> floors, ToDoubleFunction<Floor> figure) {
        double[] v = floors.stream().mapToDouble(figure).sorted().toArray();
        int mid = v.length / 2;
        return v.length % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
    }

    public static Floor measure(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("floor.dat");
        double[] fsync = new double[300];
        double[] overwrite = new double[300];
        double mibPerSecond;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer small = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i < fsync.length; i++) {
                small.clear();
                long t = System.nanoTime();
                ch.write(small);
                ch.force(false);
                fsync[i] = (System.nanoTime() - t) / 1000.0;
            }
            ByteBuffer big = ByteBuffer.allocateDirect(1 << 20);
            int chunks = 64;
            long t = System.nanoTime();
            for (int i = 0; i < chunks; i++) {
                big.clear();
                while (big.hasRemaining()) ch.write(big);
                ch.force(false);
            }
            mibPerSecond = chunks / ((System.nanoTime() - t) / 1e9);
            // The file now holds 64 MiB written and synced: overwrite its start, 4 KiB at a time.
            for (int i = 0; i < overwrite.length; i++) {
                small.clear();
                long s = System.nanoTime();
                ch.write(small, (long) i * small.capacity());
                ch.force(false);
                overwrite[i] = (System.nanoTime() - s) / 1000.0;
            }
        } finally {
            Files.deleteIfExists(file);
        }
        Arrays.sort(fsync);
        Arrays.sort(overwrite);
        return new Floor(fsync[fsync.length / 2], fsync[(int) (fsync.length * 0.99)], overwrite[overwrite.length / 2], mibPerSecond,
                loopbackRtt(), colocatedSync(dir));
    }

    /** See {@link #colocatedSyncMicrosP50}: 300 rounds of three simultaneous 4 KiB overwrites + fdatasync. */
    private static double colocatedSync(Path dir) throws IOException {
        int nodes = 3;
        int rounds = 300;
        double[][] micros = new double[nodes][rounds];
        CyclicBarrier start = new CyclicBarrier(nodes);
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        for (int n = 0; n < nodes; n++) {
            int node = n;
            threads.add(Thread.ofPlatform().start(() -> {
                Path file = dir.resolve("colocated-" + node + ".dat");
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    ByteBuffer b = ByteBuffer.allocateDirect(4096);
                    ByteBuffer zeros = ByteBuffer.allocateDirect(rounds * b.capacity());
                    while (zeros.hasRemaining()) ch.write(zeros);
                    ch.force(true); // the blocks are allocated and on disk before the rounds overwrite them
                    for (int i = 0; i < rounds; i++) {
                        start.await(); // the three syncs of a round start together, as a commit's do
                        b.clear();
                        long t = System.nanoTime();
                        ch.write(b, (long) i * b.capacity());
                        ch.force(false);
                        micros[node][i] = (System.nanoTime() - t) / 1000.0;
                    }
                } catch (Exception e) {
                    failure.compareAndSet(null, e);
                    start.reset();
                } finally {
                    try {
                        Files.deleteIfExists(file);
                    } catch (IOException e) {
                        failure.compareAndSet(null, e);
                    }
                }
            }));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        if (failure.get() != null) throw new IOException("colocated sync measurement failed: " + failure.get(), failure.get());
        double[] second = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            double[] round = {micros[0][i], micros[1][i], micros[2][i]};
            Arrays.sort(round);
            second[i] = round[1]; // a majority of three: the second to finish
        }
        Arrays.sort(second);
        return second[rounds / 2];
    }

    private static double loopbackRtt() throws IOException {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread echo = Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    s.setTcpNoDelay(true);
                    int b;
                    while ((b = in.read()) >= 0) out.write(b);
                } catch (IOException e) {
                    // the measuring side closed
                }
            });
            double[] rtt = new double[5000];
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                s.setTcpNoDelay(true);
                OutputStream out = s.getOutputStream();
                InputStream in = s.getInputStream();
                for (int i = 0; i < rtt.length; i++) {
                    long t = System.nanoTime();
                    out.write(1);
                    if (in.read() < 0) throw new IOException("echo closed");
                    rtt[i] = (System.nanoTime() - t) / 1000.0;
                }
            }
            echo.interrupt();
            Arrays.sort(rtt);
            return rtt[rtt.length / 2];
        }
    }
}
