package dev.keel.transport;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Configuration of one node's {@link PeerTransport}. Immutable; every value is checked when built,
 * and a bad one is refused with both the value and the rule it breaks.
 *
 * @param nodeId this node's id (positive); sent in every hello it dials with
 * @param clusterId names the cluster (1..255 bytes of UTF-8); a connection from another cluster is
 *     refused, so two clusters sharing hosts cannot mix their messages
 * @param listenAddress where to accept peers' connections; port 0 binds an ephemeral port (read it
 *     back with {@link PeerTransport#localAddress()})
 * @param peers the other members (not this node) by id, with the address each listens on: the
 *     initial peer set. Only peers may connect, and only peers can be sent to; the set changes at
 *     runtime with {@link PeerTransport#addPeer} and {@link PeerTransport#removePeer} (this record
 *     keeps the initial one; {@link PeerTransport#peers()} is the current one).
 * @param maxFrameBytes the largest frame body sent or accepted. It also bounds the memory one
 *     inbound connection can make this node buffer. It must exceed the core's largest message: an
 *     AppendEntries batch with N bytes of commands needs N + 21 bytes per entry + 53; an
 *     InstallSnapshot chunk of N bytes needs N + 62 + 4 per voter. Default 16 MiB.
 * @param outboundQueueMessagesMax messages queued per peer before new ones are dropped. Default
 *     4096: at 10 heartbeats a second that is about 7 minutes of heartbeats to a dead peer, and an
 *     empty heartbeat frame is 57 bytes, so a full queue of them holds about 230 KiB.
 * @param outboundQueueBytesMax frame bytes queued per peer before new messages are dropped; at
 *     least {@code maxFrameBytes + 4} so the largest frame fits an empty queue. Default 64 MiB: with
 *     4 peers down, at most 256 MiB of queued frames, about one second of a 2 Gbit/s link per peer.
 * @param reconnectBackoffMin the first wait after a failed or lost connection (default 50 ms)
 * @param reconnectBackoffMax the longest wait between attempts (default 2 s): the wait doubles on
 *     every failure up to this, jittered into [wait/2, wait] so peers restarting together do not
 *     dial in lockstep. A longer maximum costs less when a peer is down for hours, but delays the
 *     first message after it returns by up to that long.
 * @param connectTimeout how long one connection attempt may take (default 1 s; a LAN connects in
 *     well under a millisecond, so this only matters for a host that drops SYNs)
 * @param handshakeTimeout how long an accepted connection may take to send its hello before it is
 *     closed (default 5 s), so idle strangers cannot hold sockets open
 * @param ioThreads Netty event-loop threads shared by the listening socket, inbound and outbound
 *     connections (default 2: one node talks to a handful of peers, and each connection is served
 *     by one thread anyway)
 * @param tls mutual TLS between peers, or null for plaintext TCP (a trusted network only). With
 *     TLS the listener speaks nothing else: a plaintext dialer fails its handshake
 */
public record TransportConfig(int nodeId, String clusterId, InetSocketAddress listenAddress,
                              Map<Integer, InetSocketAddress> peers, int maxFrameBytes, int outboundQueueMessagesMax,
                              long outboundQueueBytesMax, Duration reconnectBackoffMin, Duration reconnectBackoffMax,
                              Duration connectTimeout, Duration handshakeTimeout, int ioThreads, PeerTls tls) {
    public static final int DEFAULT_OUTBOUND_QUEUE_MESSAGES_MAX = 4096;
    public static final long DEFAULT_OUTBOUND_QUEUE_BYTES_MAX = 64L * 1024 * 1024;
    public static final Duration DEFAULT_RECONNECT_BACKOFF_MIN = Duration.ofMillis(50);
    public static final Duration DEFAULT_RECONNECT_BACKOFF_MAX = Duration.ofSeconds(2);
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(1);
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);
    public static final int DEFAULT_IO_THREADS = 2;

    public TransportConfig {
        if (nodeId <= 0) throw new IllegalArgumentException("nodeId (" + nodeId + ") must be positive");
        Objects.requireNonNull(clusterId, "clusterId");
        Handshake.clusterIdBytes(clusterId); // checks the length
        Objects.requireNonNull(listenAddress, "listenAddress");
        Objects.requireNonNull(peers, "peers");
        for (Map.Entry<Integer, InetSocketAddress> p : peers.entrySet()) {
            if (p.getKey() == null || p.getKey() <= 0) {
                throw new IllegalArgumentException("peer id (" + p.getKey() + ") must be positive");
            }
            if (p.getKey() == nodeId) {
                throw new IllegalArgumentException("peers must not contain this node's own id " + nodeId
                        + "; list the other members only");
            }
            Objects.requireNonNull(p.getValue(), () -> "address of peer " + p.getKey());
        }
        peers = Map.copyOf(peers);
        if (maxFrameBytes < MessageCodec.MIN_MAX_FRAME_BYTES || maxFrameBytes > MessageCodec.MAX_MAX_FRAME_BYTES) {
            throw new IllegalArgumentException("maxFrameBytes (" + maxFrameBytes + ") must be in ["
                    + MessageCodec.MIN_MAX_FRAME_BYTES + ", " + MessageCodec.MAX_MAX_FRAME_BYTES + "]");
        }
        if (outboundQueueMessagesMax < 1) {
            throw new IllegalArgumentException("outboundQueueMessagesMax (" + outboundQueueMessagesMax + ") must be positive");
        }
        if (outboundQueueBytesMax < (long) maxFrameBytes + MessageCodec.LENGTH_PREFIX_BYTES) {
            throw new IllegalArgumentException("outboundQueueBytesMax (" + outboundQueueBytesMax
                    + ") must be at least maxFrameBytes + 4 (" + ((long) maxFrameBytes + MessageCodec.LENGTH_PREFIX_BYTES)
                    + ") so the largest frame fits an empty queue");
        }
        positive("reconnectBackoffMin", reconnectBackoffMin);
        positive("reconnectBackoffMax", reconnectBackoffMax);
        if (reconnectBackoffMax.compareTo(reconnectBackoffMin) < 0) {
            throw new IllegalArgumentException("reconnectBackoffMax (" + reconnectBackoffMax
                    + ") must be at least reconnectBackoffMin (" + reconnectBackoffMin + ")");
        }
        positive("connectTimeout", connectTimeout);
        if (connectTimeout.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("connectTimeout (" + connectTimeout + ") must be under "
                    + Integer.MAX_VALUE + " ms");
        }
        positive("handshakeTimeout", handshakeTimeout);
        if (ioThreads < 1) throw new IllegalArgumentException("ioThreads (" + ioThreads + ") must be positive");
    }

    private static void positive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero() || d.toMillis() < 1) {
            throw new IllegalArgumentException(name + " (" + d + ") must be at least 1 ms");
        }
    }

    /** A builder with every default set; peers are added with {@link Builder#peer}. */
    public static Builder builder(int nodeId, String clusterId, InetSocketAddress listenAddress) {
        return new Builder(nodeId, clusterId, listenAddress);
    }

    /** Builds a {@link TransportConfig}; unset values take the defaults documented on the record. */
    public static final class Builder {
        private final int nodeId;
        private final String clusterId;
        private final InetSocketAddress listenAddress;
        private final Map<Integer, InetSocketAddress> peers = new LinkedHashMap<>();
        private int maxFrameBytes = MessageCodec.DEFAULT_MAX_FRAME_BYTES;
        private int outboundQueueMessagesMax = DEFAULT_OUTBOUND_QUEUE_MESSAGES_MAX;
        private long outboundQueueBytesMax = DEFAULT_OUTBOUND_QUEUE_BYTES_MAX;
        private Duration reconnectBackoffMin = DEFAULT_RECONNECT_BACKOFF_MIN;
        private Duration reconnectBackoffMax = DEFAULT_RECONNECT_BACKOFF_MAX;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
        private int ioThreads = DEFAULT_IO_THREADS;
        private PeerTls tls;

        private Builder(int nodeId, String clusterId, InetSocketAddress listenAddress) {
            this.nodeId = nodeId;
            this.clusterId = clusterId;
            this.listenAddress = listenAddress;
        }

        public Builder peer(int id, InetSocketAddress address) {
            peers.put(id, address);
            return this;
        }

        public Builder peers(Map<Integer, InetSocketAddress> all) {
            peers.putAll(all);
            return this;
        }

        public Builder maxFrameBytes(int v) {
            maxFrameBytes = v;
            return this;
        }

        public Builder outboundQueueMessagesMax(int v) {
            outboundQueueMessagesMax = v;
            return this;
        }

        public Builder outboundQueueBytesMax(long v) {
            outboundQueueBytesMax = v;
            return this;
        }

        public Builder reconnectBackoff(Duration min, Duration max) {
            reconnectBackoffMin = min;
            reconnectBackoffMax = max;
            return this;
        }

        public Builder connectTimeout(Duration v) {
            connectTimeout = v;
            return this;
        }

        public Builder handshakeTimeout(Duration v) {
            handshakeTimeout = v;
            return this;
        }

        public Builder ioThreads(int v) {
            ioThreads = v;
            return this;
        }

        /** Mutual TLS between peers; null (the default) for plaintext. */
        public Builder tls(PeerTls v) {
            tls = v;
            return this;
        }

        public TransportConfig build() {
            return new TransportConfig(nodeId, clusterId, listenAddress, peers, maxFrameBytes, outboundQueueMessagesMax,
                    outboundQueueBytesMax, reconnectBackoffMin, reconnectBackoffMax, connectTimeout, handshakeTimeout,
                    ioThreads, tls);
        }
    }
}
