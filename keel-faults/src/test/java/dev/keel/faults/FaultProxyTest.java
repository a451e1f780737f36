package dev.keel.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FaultProxyTest {

    private final Closer resources = new Closer();

    @AfterEach
    void closeResources() throws Exception {
        resources.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return resources.track(resource);
    }

    @Test
    void passModeRoundTripsMessages() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));

        Socket client = track(connect(proxy.port()));
        for (int i = 0; i < 10; i++) {
            byte[] message = ("message " + i).getBytes(StandardCharsets.UTF_8);
            assertThat(roundTrip(client, message)).isEqualTo(message);
        }

        assertThat(proxy.connectionsAccepted()).isEqualTo(1);
        assertThat(proxy.connectionsRefused()).isZero();
        assertThat(proxy.isBlocked()).isFalse();
        assertThat(proxy.target()).isEqualTo(echo.address());
        awaitTrue(() -> proxy.bytesForwarded() == 2L * "message 0".length() * 10, "all bytes counted");
    }

    @Test
    void passModeCarriesSeveralMegabytesIntactAndInOrder() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        byte[] sent = new byte[6 * 1024 * 1024 + 17];
        new Random(42).nextBytes(sent);

        Socket client = track(connect(proxy.port()));
        // Written from another thread while this one reads: the echo sends back as it receives, so
        // writing everything first would fill every buffer on the way and stall.
        AtomicReference<Throwable> writeError = new AtomicReference<>();
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                OutputStream out = client.getOutputStream();
                Random sizes = new Random(7);
                int at = 0;
                while (at < sent.length) {
                    int n = Math.min(sent.length - at, 1 + sizes.nextInt(100_000));
                    out.write(sent, at, n);
                    at += n;
                }
                // End of stream must travel through the proxy to the echo and back.
                client.shutdownOutput();
            } catch (Throwable t) {
                writeError.set(t);
            }
        });
        byte[] received = client.getInputStream().readAllBytes();
        writer.join();

        assertThat(writeError.get()).isNull();
        assertThat(received.length).isEqualTo(sent.length);
        assertThat(Arrays.mismatch(sent, received)).as("first differing byte").isEqualTo(-1);
        awaitTrue(() -> proxy.bytesForwarded() == 2L * sent.length, "every byte counted both ways");
        // Both directions ended cleanly, so the connection is done and its threads with it.
        awaitTrue(() -> proxy.liveThreads() == 1, "only the acceptor left");
    }

    @Test
    void blockingClosesLiveConnectionsAndRefusesNewOnesUntilUnblocked() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        Socket live = track(connect(proxy.port()));
        assertThat(roundTrip(live, bytes("before"))).isEqualTo(bytes("before"));

        proxy.setBlocked(true);

        assertThat(proxy.isBlocked()).isTrue();
        assertClosedByPeer(live);
        awaitTrue(() -> echo.openConnections() == 0, "the target side closed too");

        assertRefused(proxy.address());
        awaitTrue(() -> proxy.connectionsRefused() == 1, "refusal counted");
        assertThat(proxy.connectionsAccepted()).isEqualTo(1);
        assertThat(echo.connectionsAccepted()).as("a refused connection never reaches the target").isEqualTo(1);

        proxy.setBlocked(false);

        Socket after = track(connect(proxy.port()));
        assertThat(roundTrip(after, bytes("after"))).isEqualTo(bytes("after"));
        assertThat(proxy.connectionsAccepted()).isEqualTo(2);
        assertThat(proxy.connectionsRefused()).isEqualTo(1);
        assertThat(echo.connectionsAccepted()).isEqualTo(2);
    }

    @Test
    void blockingResetsConnectionsWithDataStillQueuedUnderADelay() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        proxy.setDelayMillis(60_000, 60_000);
        Socket live = track(connect(proxy.port()));
        live.getOutputStream().write(bytes("stuck in the queue"));
        awaitTrue(() -> proxy.connectionsAccepted() == 1, "connection accepted");

        proxy.setBlocked(true);

        assertClosedByPeer(live);
        assertThat(proxy.bytesForwarded()).as("queued bytes are dropped with the connection, not sent").isZero();
        awaitTrue(() -> proxy.liveThreads() == 1, "the connection's threads ended");
    }

    @Test
    void delayHoldsEachDirectionForAtLeastTheMinimum() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        proxy.setDelayMillis(200, 250);
        assertThat(proxy.minDelayMillis()).isEqualTo(200);
        assertThat(proxy.maxDelayMillis()).isEqualTo(250);
        Socket client = track(connect(proxy.port()));

        long start = System.nanoTime();
        assertThat(roundTrip(client, bytes("slow"))).isEqualTo(bytes("slow"));
        long elapsedMillis = Duration.ofNanos(System.nanoTime() - start).toMillis();

        // At least 200 ms each way; the bound is loose on purpose.
        assertThat(elapsedMillis).isGreaterThanOrEqualTo(300);

        proxy.setDelayMillis(0, 0);
        assertThat(proxy.minDelayMillis()).isZero();
        assertThat(proxy.maxDelayMillis()).isZero();
        assertThat(roundTrip(client, bytes("fast again"))).isEqualTo(bytes("fast again"));
    }

    @Test
    void randomDelaysKeepTheOrderOfEachDirection() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        proxy.setDelayMillis(0, 40);
        Socket client = track(connect(proxy.port()));
        client.setTcpNoDelay(true);

        int count = 300;
        DataOutputStream out = new DataOutputStream(client.getOutputStream());
        // Separate small writes so the proxy reads many chunks, each with its own random delay; a
        // queue that released chunks by due time alone would reorder them.
        for (int i = 0; i < count; i++) {
            out.writeInt(i);
            out.flush();
        }
        DataInputStream in = new DataInputStream(client.getInputStream());
        for (int i = 0; i < count; i++) {
            assertThat(in.readInt()).isEqualTo(i);
        }
    }

    @Test
    void invalidDelaysAreRejected() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));

        assertThatThrownBy(() -> proxy.setDelayMillis(-1, 5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> proxy.setDelayMillis(10, 5)).isInstanceOf(IllegalArgumentException.class);
        assertThat(proxy.maxDelayMillis()).isZero();
    }

    @Test
    void anUnreachableTargetClosesJustThatConnection() throws Exception {
        InetSocketAddress nobody = unusedAddress();
        FaultProxy proxy = track(FaultProxy.start(nobody));

        assertRefused(proxy.address());
        assertRefused(proxy.address());

        assertThat(proxy.connectionsAccepted()).isEqualTo(2);
        assertThat(proxy.connectionsRefused()).isZero();
        awaitTrue(() -> proxy.liveThreads() == 1, "failed connections leave no threads");
    }

    @Test
    void aResetFromTheTargetClosesOnlyThatConnection() throws Exception {
        EchoServer echo = track(EchoServer.startResetting());
        FaultProxy proxy = track(FaultProxy.start(echo.address()));
        Socket doomed = track(connect(proxy.port()));
        Socket survivor = track(connect(proxy.port()));
        assertThat(roundTrip(doomed, bytes("a"))).isEqualTo(bytes("a"));
        assertThat(roundTrip(survivor, bytes("b"))).isEqualTo(bytes("b"));

        doomed.getOutputStream().write(EchoServer.RESET);

        assertClosedByPeer(doomed);
        assertThat(roundTrip(survivor, bytes("still here"))).isEqualTo(bytes("still here"));
    }

    @Test
    void closeEndsConnectionsListenerAndThreads() throws Exception {
        EchoServer echo = track(EchoServer.start());
        FaultProxy proxy = FaultProxy.start(echo.address());
        Socket live = track(connect(proxy.port()));
        assertThat(roundTrip(live, bytes("hello"))).isEqualTo(bytes("hello"));
        Socket delayed = track(connect(proxy.port()));
        proxy.setDelayMillis(60_000, 60_000);
        delayed.getOutputStream().write(bytes("never delivered"));
        assertThat(proxy.liveThreads()).isGreaterThan(1);

        proxy.close();

        assertThat(proxy.isClosed()).isTrue();
        assertThat(proxy.liveThreads()).as("close waits for every thread").isZero();
        assertClosedByPeer(live);
        assertClosedByPeer(delayed);
        awaitTrue(() -> echo.openConnections() == 0, "the target side closed too");
        assertThatThrownBy(() -> connect(proxy.port())).isInstanceOf(ConnectException.class);
        assertThatCode(proxy::close).doesNotThrowAnyException();
    }

    @Test
    void anIdleProxyClosesCleanly() throws Exception {
        FaultProxy proxy = FaultProxy.start(unusedAddress());
        assertThat(proxy.port()).isPositive();
        assertThat(proxy.address()).isEqualTo(new InetSocketAddress("127.0.0.1", proxy.port()));
        assertThat(proxy.liveThreads()).isEqualTo(1);

        proxy.close();
        proxy.close();

        assertThat(proxy.liveThreads()).isZero();
    }

    // ---- helpers, shared with ProxyNetworkTest ----

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A client socket whose reads fail after a while instead of hanging the build. */
    static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(address, 10_000);
            socket.setSoTimeout(10_000);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    static Socket connect(int port) throws IOException {
        return connect(new InetSocketAddress("127.0.0.1", port));
    }

    static byte[] roundTrip(Socket socket, byte[] message) throws IOException {
        socket.getOutputStream().write(message);
        return socket.getInputStream().readNBytes(message.length);
    }

    /**
     * A connection to {@code address} is accepted and closed at once. The reset can come so fast
     * that connect itself reports it, which is just as much a refusal.
     */
    static void assertRefused(InetSocketAddress address) throws IOException {
        Socket socket;
        try {
            socket = connect(address);
        } catch (SocketException reset) {
            assertThat(reset).as("refused by the kernel: nothing listening").isNotInstanceOf(ConnectException.class);
            return;
        }
        try (socket) {
            assertClosedByPeer(socket);
        }
    }

    /** The peer ended the connection: end of stream or a reset, not a read timeout. */
    static void assertClosedByPeer(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        try {
            // Bytes that were in flight before the close may still arrive; what matters is the end.
            byte[] sink = new byte[8192];
            while (in.read(sink) >= 0) {
                continue;
            }
        } catch (SocketException reset) {
            // Connection reset: closed as well.
        }
    }

    static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(5); // poll interval only; the deadline is what bounds the wait
        }
    }

    /** An address nothing listens on: a port the kernel just handed out and took back. */
    static InetSocketAddress unusedAddress() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, FaultProxy.loopback())) {
            return new InetSocketAddress(FaultProxy.loopback(), probe.getLocalPort());
        }
    }

    /**
     * Echoes every byte back; on end of stream ends its side too. Optionally resets a connection on a
     * lone {@link #RESET} byte, to act as a target that fails mid-connection.
     */
    static final class EchoServer implements AutoCloseable {
        static final int RESET = 0xFF;

        private final ServerSocket server;
        private final boolean resetOnMarker;
        private final Set<Socket> open = ConcurrentHashMap.newKeySet();
        private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        private final AtomicInteger accepted = new AtomicInteger();

        private EchoServer(ServerSocket server, boolean resetOnMarker) {
            this.server = server;
            this.resetOnMarker = resetOnMarker;
        }

        static EchoServer start() throws IOException {
            return start(new InetSocketAddress(FaultProxy.loopback(), 0), false);
        }

        /** An echo server that resets any connection on which a lone {@link #RESET} byte arrives. */
        static EchoServer startResetting() throws IOException {
            return start(new InetSocketAddress(FaultProxy.loopback(), 0), true);
        }

        static EchoServer start(InetSocketAddress bindTo, boolean resetOnMarker) throws IOException {
            ServerSocket server = new ServerSocket();
            try {
                server.setReuseAddress(true);
                server.bind(bindTo);
            } catch (IOException e) {
                server.close();
                throw e;
            }
            EchoServer echo = new EchoServer(server, resetOnMarker);
            echo.threads.add(Thread.ofVirtual().start(echo::acceptLoop));
            return echo;
        }

        InetSocketAddress address() {
            return new InetSocketAddress(FaultProxy.loopback(), server.getLocalPort());
        }

        int connectionsAccepted() {
            return accepted.get();
        }

        int openConnections() {
            return open.size();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    accepted.incrementAndGet();
                    open.add(socket);
                    threads.add(Thread.ofVirtual().start(() -> echo(socket)));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void echo(Socket socket) {
            try (socket) {
                InputStream in = socket.getInputStream();
                OutputStream out = socket.getOutputStream();
                byte[] buffer = new byte[32 * 1024];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    // Random payloads may contain the marker, so only servers asked to reset look.
                    if (resetOnMarker && n == 1 && Byte.toUnsignedInt(buffer[0]) == RESET) {
                        socket.setSoLinger(true, 0);
                        return;
                    }
                    out.write(buffer, 0, n);
                }
                socket.shutdownOutput();
            } catch (IOException e) {
                // The other side went away; that is what several tests arrange on purpose.
            } finally {
                open.remove(socket);
            }
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            for (Socket socket : open) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // Closing is all we wanted.
                }
            }
            try {
                for (Thread t : threads) {
                    t.join(Duration.ofSeconds(5));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
