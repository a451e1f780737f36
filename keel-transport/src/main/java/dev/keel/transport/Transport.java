package dev.keel.transport;

import dev.keel.core.Message;
import java.net.InetSocketAddress;

/**
 * What a Raft server needs from the network between its peers: {@link PeerTransport} (TCP, the
 * default) or a {@link LocalNetwork}'s in-process links. Both drop rather than block: Raft tolerates
 * lost messages and retries.
 */
public interface Transport extends AutoCloseable {

    /** Makes {@link #send} usable; returns the bound address, or null when there is none (in-process). */
    InetSocketAddress start();

    /** Queues or hands over {@code m} for {@code m.to()}; false if it was dropped (and counted). Any thread, never blocks. */
    boolean send(Message m);

    /**
     * Writes out at once what this thread has queued, when this thread is the one that writes to
     * the sockets (a server whose event loop is the transport's IO thread calls it before a long
     * blocking step such as a sync, so its messages leave first). Elsewhere it does nothing: the
     * queued messages go out on their own, soon.
     */
    default void flush() {
    }

    /** Adds peer {@code id} (or points it at a new address). Any thread, never blocks. */
    void addPeer(int id, InetSocketAddress address);

    /** Removes peer {@code id}: nothing more is sent to it, and nothing more is taken from it. */
    void removePeer(int id);

    /** A snapshot of the counters, for metrics. */
    TransportStats stats();

    /** Stops; later sends are dropped. Idempotent. */
    @Override
    void close();
}
