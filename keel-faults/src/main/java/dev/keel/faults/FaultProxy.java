package dev.keel.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy on loopback that forwards every accepted connection to one fixed target and can
 * inject faults into it: a partition ({@link #setBlocked}) or a slow link ({@link #setDelayMillis}).
 * {@link ProxyNetwork} puts one in front of every directed peer link so that faults can be injected
 * without root (no network namespaces, no {@code tc}, no firewall rules).
 *
 * <p>The proxy works on byte streams, not packets, so it cannot lose or reorder packets the way a
 * real network does. A partition therefore closes connections (with a reset) and refuses new ones
 * instead of silently dropping bytes: dropping bytes from the middle of a TCP stream would not look
 * like packet loss to the endpoints (TCP would have retransmitted) but like corrupted framing, which
 * no real network produces and which would test the codec rather than Raft. A closed connection is
 * what a node eventually sees on a real partition anyway, only sooner.
 *
 * <p>Each connection uses four virtual threads: per direction one reads chunks into a queue and one
 * writes them out when due. The queue is what lets a delay apply to each chunk from its arrival
 * (as on a long wire) instead of adding up chunk after chunk, and it is bounded in bytes so a slow
 * receiver pushes back on the sender through TCP flow control instead of filling the heap.
 *
 * <p>All methods are thread-safe; modes can change at any time and apply at once.
 */
public final class FaultProxy implements AutoCloseable {

    private static final int BUFFER_BYTES = 64 * 1024;
    /** Per direction. Large enough for a full window of a fast link under an 80 ms delay. */
    private static final long MAX_QUEUED_BYTES = 4L * 1024 * 1024;
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

    private final InetSocketAddress target;
    private final ServerSocket server;
    private final int port;

    /** Guards {@link #closed}, {@link #blocked}, {@link #links} and {@link #threads} together. */
    private final Object state = new Object();
    private boolean closed;
    private volatile boolean blocked;
    private final Set<Link> links = new HashSet<>();
    private final Set<Thread> threads = new HashSet<>();

    private volatile Delay delay = Delay.NONE;

    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong linkIds = new AtomicLong();

    private FaultProxy(ServerSocket server, InetSocketAddress target) {
        this.server = server;
        this.target = target;
        this.port = server.getLocalPort();
    }

    /** Starts a proxy on 127.0.0.1 at an ephemeral port, forwarding to {@code target}. */
    public static FaultProxy start(InetSocketAddress target) throws IOException {
        return start(0, target);
    }

    /** Starts a proxy on 127.0.0.1:{@code port} (0: ephemeral), forwarding to {@code target}. */
    public static FaultProxy start(int port, InetSocketAddress target) throws IOException {
        Objects.requireNonNull(target, "target");
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(loopback(), port));
        } catch (IOException e) {
            server.close();
            throw e;
        }
        FaultProxy proxy = new FaultProxy(server, target);
        proxy.spawn("fault-proxy-" + proxy.port + "-accept", proxy::acceptLoop);
        return proxy;
    }

    /**
     * 127.0.0.1 itself, not {@link InetAddress#getLoopbackAddress()}, which may be ::1; without a host
     * name, so addresses print (and are passed to nodes) as the literal.
     */
    static InetAddress loopback() {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new AssertionError("a literal address cannot be unknown", e);
        }
    }

    /** The port this proxy listens on. */
    public int port() {
        return port;
    }

    /** The address this proxy listens on. */
    public InetSocketAddress address() {
        return new InetSocketAddress(loopback(), port);
    }

    /** Where this proxy forwards to. */
    public InetSocketAddress target() {
        return target;
    }

    /**
     * Blocks (partitions) or unblocks the link. Blocking resets every open proxied connection on both
     * sides, and until unblocked every new connection is accepted and reset at once without dialing the
     * target, so the dialing node sees a prompt failure and keeps retrying (as it would on a real
     * partition) until the link is unblocked. Unblocking revives nothing: the nodes reconnect.
     */
    public void setBlocked(boolean block) {
        List<Link> cut;
        synchronized (state) {
            blocked = block;
            // Taken under the same lock as registration in acceptLoop, so no connection accepted
            // before this point can escape the cut.
            cut = block ? new ArrayList<>(links) : List.of();
        }
        for (Link link : cut) {
            link.abort();
        }
    }

    /** Whether the link is blocked. */
    public boolean isBlocked() {
        return blocked;
    }

    /**
     * Delays every chunk read from now on by a time drawn uniformly from [{@code minMillis}, {@code
     * maxMillis}] after its arrival; 0, 0 removes the delay. Order per direction is kept: a chunk is
     * never forwarded before the one read before it, so a short delay drawn after a long one waits
     * for it. Chunks already queued keep their due times.
     */
    public void setDelayMillis(long minMillis, long maxMillis) {
        if (minMillis < 0 || maxMillis < minMillis) {
            throw new IllegalArgumentException(
                    "need 0 <= min <= max, got min " + minMillis + " max " + maxMillis);
        }
        delay = new Delay(minMillis, maxMillis);
    }

    /** The lower bound of the current delay in milliseconds (0: none). */
    public long minDelayMillis() {
        return delay.minMillis;
    }

    /** The upper bound of the current delay in milliseconds (0: none). */
    public long maxDelayMillis() {
        return delay.maxMillis;
    }

    /** Connections let through to the target (connections refused while blocked are not counted). */
    public long connectionsAccepted() {
        return accepted.get();
    }

    /** Connections accepted and closed at once because the link was blocked. */
    public long connectionsRefused() {
        return refused.get();
    }

    /** Bytes written out, both directions together. */
    public long bytesForwarded() {
        return bytes.get();
    }

    /** Whether {@link #close} was called. */
    public boolean isClosed() {
        synchronized (state) {
            return closed;
        }
    }

    /** Proxy threads still running; zero once {@link #close} has returned. For tests. */
    int liveThreads() {
        synchronized (state) {
            return threads.size();
        }
    }

    /**
     * Closes the listener and resets every connection, then waits (a few seconds at most) for all
     * threads of this proxy to end, so that a finished run leaves nothing behind. Idempotent.
     */
    @Override
    public void close() {
        List<Link> open;
        synchronized (state) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>(links);
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // Nothing to do: the listener is gone either way.
        }
        for (Link link : open) {
            link.abort();
        }
        awaitThreads();
    }

    private void awaitThreads() {
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        while (true) {
            List<Thread> running;
            synchronized (state) {
                // spawn() refuses once closed, so this set only shrinks from here on.
                running = new ArrayList<>(threads);
            }
            if (running.isEmpty()) {
                return;
            }
            for (Thread t : running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    t.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public String toString() {
        return "FaultProxy[127.0.0.1:" + port + " -> " + target + (blocked ? ", blocked" : "")
                + (delay == Delay.NONE ? "" : ", delay " + delay.minMillis + "-" + delay.maxMillis + " ms")
                + "]";
    }

    /** Starts a tracked thread; false (and no thread) once the proxy is closed. */
    private boolean spawn(String name, Runnable body) {
        synchronized (state) {
            if (closed) {
                return false;
            }
            Thread t = Thread.ofVirtual().name(name).unstarted(() -> {
                try {
                    body.run();
                } finally {
                    synchronized (state) {
                        threads.remove(Thread.currentThread());
                    }
                }
            });
            threads.add(t);
            t.start();
            return true;
        }
    }

    private void acceptLoop() {
        while (true) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (isClosed()) {
                    return;
                }
                // Such as running out of file descriptors: back off rather than spin, the
                // condition may clear once connections end.
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            Link link = null;
            boolean refuse;
            synchronized (state) {
                refuse = closed || blocked;
                if (!refuse) {
                    link = new Link(linkIds.incrementAndGet(), client);
                    links.add(link);
                }
            }
            if (refuse) {
                if (!isClosed()) {
                    refused.incrementAndGet();
                }
                reset(client);
                continue;
            }
            accepted.incrementAndGet();
            Link started = link;
            if (!spawn(started.name + "-connect", started::connectAndPump)) {
                started.abort();
            }
        }
    }

    /** Closes with SO_LINGER 0, so the peer gets a reset at once rather than an orderly end of stream. */
    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
        } catch (SocketException ignored) {
            // Already closed, or linger unsupported: a plain close still ends the connection.
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Closing is all we wanted; there is no one to report to.
        }
    }

    private long drawDelayNanos() {
        Delay d = delay;
        if (d.maxMillis == 0) {
            return 0;
        }
        long min = TimeUnit.MILLISECONDS.toNanos(d.minMillis);
        long max = TimeUnit.MILLISECONDS.toNanos(d.maxMillis);
        return min == max ? min : ThreadLocalRandom.current().nextLong(min, max + 1);
    }

    private record Delay(long minMillis, long maxMillis) {
        static final Delay NONE = new Delay(0, 0);
    }

    /** One proxied connection: the accepted socket, the socket to the target and a pipe each way. */
    private final class Link {
        final String name;
        final Socket client;
        // Created before connecting so that abort() can close it even mid-connect.
        final Socket upstream = new Socket();
        final Pipe toTarget = new Pipe();
        final Pipe toClient = new Pipe();
        private final AtomicBoolean ended = new AtomicBoolean();
        private final AtomicInteger directionsDone = new AtomicInteger();

        Link(long id, Socket client) {
            this.name = "fault-proxy-" + port + "-link-" + id;
            this.client = client;
        }

        void connectAndPump() {
            try {
                // Nagle would add its own delay on top of ours; Raft messages are small and urgent.
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                upstream.connect(target, CONNECT_TIMEOUT_MILLIS);
            } catch (IOException e) {
                // Target down or refusing: end just this connection, as a direct dial would fail.
                abort();
                return;
            }
            boolean started = spawn(name + "-read-c2t", () -> read(client, toTarget))
                    && spawn(name + "-send-c2t", () -> send(toTarget, upstream))
                    && spawn(name + "-read-t2c", () -> read(upstream, toClient))
                    && spawn(name + "-send-t2c", () -> send(toClient, client));
            if (!started) {
                abort();
            }
        }

        private void read(Socket from, Pipe pipe) {
            byte[] buffer = new byte[BUFFER_BYTES];
            try {
                InputStream in = from.getInputStream();
                while (true) {
                    int n = in.read(buffer);
                    if (n < 0) {
                        pipe.end();
                        return;
                    }
                    long arrival = System.nanoTime();
                    if (!pipe.put(Arrays.copyOf(buffer, n), arrival, drawDelayNanos())) {
                        return;
                    }
                }
            } catch (IOException | InterruptedException e) {
                abort();
            }
        }

        private void send(Pipe pipe, Socket to) {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk chunk = pipe.take();
                    if (chunk == null) {
                        return;
                    }
                    if (chunk == Chunk.END) {
                        // Pass the half-close on, so protocols that signal with end of stream work.
                        to.shutdownOutput();
                        if (directionsDone.incrementAndGet() == 2) {
                            finish();
                        }
                        return;
                    }
                    out.write(chunk.data);
                    bytes.addAndGet(chunk.data.length);
                }
            } catch (IOException | InterruptedException e) {
                abort();
            }
        }

        /** Both directions ended in order: close without a reset, nothing is left to deliver. */
        private void finish() {
            if (ended.compareAndSet(false, true)) {
                closeQuietly(client);
                closeQuietly(upstream);
                unregister();
            }
        }

        /** Tears the connection down at once, dropping whatever is queued (a partition or an error). */
        void abort() {
            if (ended.compareAndSet(false, true)) {
                toTarget.abort();
                toClient.abort();
                reset(client);
                reset(upstream);
                unregister();
            }
        }

        private void unregister() {
            synchronized (state) {
                links.remove(this);
            }
        }
    }

    private record Chunk(byte[] data, long dueNanos) {
        static final Chunk END = new Chunk(new byte[0], 0);
    }

    /** One direction of a link: chunks in arrival order, each released at its due time. */
    private static final class Pipe {
        // A ReentrantLock, not synchronized: waiting inside synchronized would pin the virtual
        // thread to its carrier on Java 21.
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private final ArrayDeque<Chunk> chunks = new ArrayDeque<>();
        private long queuedBytes;
        private long lastDueNanos = System.nanoTime();
        private boolean ended;
        private boolean aborted;

        /** Queues a chunk; waits while the pipe is full. False if the link was aborted. */
        boolean put(byte[] data, long arrivalNanos, long delayNanos) throws InterruptedException {
            lock.lock();
            try {
                while (queuedBytes >= MAX_QUEUED_BYTES && !aborted) {
                    changed.await();
                }
                if (aborted) {
                    return false;
                }
                // From arrival, so a steady stream is delayed by the delay and not by its sum; never
                // before the previous chunk, so the stream stays in order.
                long due = arrivalNanos + delayNanos;
                if (due - lastDueNanos < 0) {
                    due = lastDueNanos;
                }
                lastDueNanos = due;
                chunks.addLast(new Chunk(data, due));
                queuedBytes += data.length;
                changed.signalAll();
                return true;
            } finally {
                lock.unlock();
            }
        }

        /** The source reached end of stream: deliver what is queued, then {@link Chunk#END}. */
        void end() {
            lock.lock();
            try {
                ended = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        void abort() {
            lock.lock();
            try {
                aborted = true;
                chunks.clear();
                queuedBytes = 0;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        /** The next chunk once due, {@link Chunk#END} after the last one, or null if aborted. */
        Chunk take() throws InterruptedException {
            lock.lock();
            try {
                while (true) {
                    if (aborted) {
                        return null;
                    }
                    Chunk head = chunks.peekFirst();
                    if (head == null) {
                        if (ended) {
                            return Chunk.END;
                        }
                        changed.await();
                        continue;
                    }
                    long wait = head.dueNanos - System.nanoTime();
                    if (wait > 0) {
                        changed.awaitNanos(wait);
                        continue;
                    }
                    chunks.removeFirst();
                    queuedBytes -= head.data.length;
                    changed.signalAll();
                    return head;
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
