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
import java.util.Arrays;

/**
 * The physical floor of this machine, measured in the same run as the systems: how long one small
 * write plus {@code fdatasync} takes on the data disk, how fast the disk takes large synced writes,
 * and one loopback TCP round trip. A replicated commit needs at least one sync (the leader's, in
 * parallel with the followers') and one round trip, so their sum bounds single-client latency.
 *
 * @param fsyncMicrosP50    median of a 4 KiB append + fdatasync
 * @param fsyncMicrosP99    99th percentile of the same
 * @param syncedMiBPerSecond bandwidth of 1 MiB appends, each followed by fdatasync
 * @param rttMicrosP50      median loopback TCP round trip of one byte
 */
public record Floor(double fsyncMicrosP50, double fsyncMicrosP99, double syncedMiBPerSecond, double rttMicrosP50) {

    public static Floor measure(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("floor.dat");
        double[] fsync = new double[300];
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
        } finally {
            Files.deleteIfExists(file);
        }
        Arrays.sort(fsync);
        return new Floor(fsync[fsync.length / 2], fsync[(int) (fsync.length * 0.99)], mibPerSecond, loopbackRtt());
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
