package dev.keel.transport;

import java.util.Map;

/**
 * A snapshot of a {@link PeerTransport}'s counters, for the server to export. Counters only grow;
 * each is read separately, so two counters of one snapshot may be a few events apart.
 *
 * @param peers per current peer: the outbound side (a removed peer's counters go with it)
 * @param inbound all accepted connections together
 * @param droppedUnknownPeer messages dropped because their {@code to()} is not a current peer
 * @param droppedClosed messages dropped because the transport was closed
 * @param droppedRemovedPeer messages discarded because their peer was removed
 *     ({@link PeerTransport#removePeer}): those still queued for it, and sends that raced the removal.
 *     Sends after it count in {@code droppedUnknownPeer}.
 */
public record TransportStats(Map<Integer, Peer> peers, Inbound inbound, long droppedUnknownPeer, long droppedClosed,
                             long droppedRemovedPeer) {
    public TransportStats {
        peers = Map.copyOf(peers);
    }

    /**
     * The outbound side of one peer.
     *
     * @param sent messages written to a connected channel (a message written just before the
     *     connection dies is counted but may still be lost: Raft retries)
     * @param dropped messages refused by {@code send}: queue full (by count or bytes) or too large to encode
     * @param bytesOut frame bytes written, length prefixes included (the hello is not counted)
     * @param reconnects connection attempts after the first (each retry after a failed attempt or a
     *     lost connection)
     * @param queuedMessages messages waiting now (at most outboundQueueMessagesMax)
     * @param queuedBytes frame bytes waiting now (at most outboundQueueBytesMax)
     * @param connected whether an outbound connection is up now
     */
    public record Peer(int peerId, long sent, long dropped, long bytesOut, long reconnects, int queuedMessages,
                       long queuedBytes, boolean connected) {}

    /**
     * The inbound side, over all accepted connections.
     *
     * @param connectionsAccepted TCP connections accepted (before their hello is checked)
     * @param received messages decoded and handed to the inbound callback
     * @param bytesIn frame bytes decoded, length prefixes included (hellos not counted)
     * @param decodeErrors connections closed for a bad frame (too long, unknown type, truncated, invalid fields)
     * @param handshakeFailures connections closed for a bad hello (magic, version, cluster id, unknown
     *     node id, or with TLS a node id other than the one its certificate names), for sending none
     *     within the handshake timeout, or for a failed TLS handshake (a certificate not from the
     *     cluster CA, a plaintext dialer)
     * @param misrouted well-formed messages dropped because {@code from()} was not the node that
     *     connected or {@code to()} was not this node
     * @param callbackErrors messages whose inbound callback threw (logged; the connection stays up)
     */
    public record Inbound(long connectionsAccepted, long received, long bytesIn, long decodeErrors, long handshakeFailures,
                          long misrouted, long callbackErrors) {}
}
