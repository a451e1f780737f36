package dev.keel.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for tests that start real nodes, shared with the other modules' tests through this
 * module's test jar.
 *
 * <p>The ports come from below the kernel's ephemeral range, never from {@code new ServerSocket(0)}.
 * A test that stops a node and starts it again on the same port needs that port to stay free in
 * between, and a port from the ephemeral range does not: while the node is down its peers keep
 * dialing it, each dial takes an ephemeral source port, and once a dial happens to take the very
 * port it dials, Linux connects the socket to itself (TCP simultaneous open) and the restarted node
 * finds its address in use. Any other process's connection can take such a port as well. The
 * kernel never hands out a port below the range on its own.
 *
 * <p>Within one JVM no port is handed out twice.
 */
public final class TestPorts {
    private static final Set<Integer> HANDED_OUT = new HashSet<>();
    private static final int LOWEST = 10_000;

    private TestPorts() {}

    /** A port that nothing listened on when this was called and that this JVM has not handed out before. */
    public static synchronized int free() {
        int below = ephemeralLow();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = LOWEST + random.nextInt(below - LOWEST);
            if (HANDED_OUT.contains(port) || !bindable(port)) continue;
            HANDED_OUT.add(port);
            return port;
        }
        throw new IllegalStateException("no free port found in [" + LOWEST + ", " + below + ") after 1000 attempts");
    }

    /** The lowest ephemeral port (Linux's ip_local_port_range; IANA's 49152 elsewhere). */
    private static int ephemeralLow() {
        Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        try {
            if (Files.isReadable(range)) {
                int low = Integer.parseInt(Files.readString(range).trim().split("\\s+")[0]);
                if (low > LOWEST + 1_000) return low;
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the IANA default
        }
        return 49_152;
    }

    /** Whether the wildcard address (and so every address) accepts a listener on the port now. */
    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@link #free()} as a loopback address. */
    public static InetSocketAddress loopback() {
        return new InetSocketAddress("127.0.0.1", free());
    }
}
