package dev.keel.transport;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Mutual TLS between peers, from PEM files (as etcd's {@code --peer-cert-file}, {@code --peer-key-file}
 * and {@code --peer-trusted-ca-file}). Every connection is TLS 1.3 in both directions: the accepting
 * node requires a client certificate, both sides trust only the cluster CA, and each checks that the
 * other's certificate names, in its {@code keel://node/N} URI SAN ({@link TlsFiles#nodeUri}), the node
 * it is talking to: the acceptor against the id in the hello, the dialer against the peer it dialed.
 *
 * <p>The files are read when the transport is built ({@link #contexts}), so new files (rotated
 * certificates) take effect when the node restarts.
 *
 * @param certFile this node's certificate (PEM; its chain may follow it), presented both when
 *     accepting and when dialing, so it needs the serverAuth and clientAuth extended key usages
 * @param keyFile its private key, unencrypted PKCS#8 PEM
 * @param trustedCaFile the cluster CA's certificate(s): peers' certificates must chain to one of them
 */
public record PeerTls(Path certFile, Path keyFile, Path trustedCaFile) {
    public PeerTls {
        Objects.requireNonNull(certFile, "certFile");
        Objects.requireNonNull(keyFile, "keyFile");
        Objects.requireNonNull(trustedCaFile, "trustedCaFile");
    }

    /** The server side (accepted connections) and client side (dialed ones) of one node. */
    record Contexts(SslContext server, SslContext client) {}

    /**
     * Reads the files and builds both contexts, after checking that this node's own certificate
     * names it: a node started with another node's certificate would otherwise be refused by every
     * peer, one handshake at a time.
     *
     * @throws IllegalArgumentException naming the bad file
     */
    Contexts contexts(int nodeId) {
        TlsFiles.KeyPairFiles own = TlsFiles.readKeyPair(certFile, "peer certificate file", keyFile, "peer key file");
        X509Certificate leaf = own.leaf();
        OptionalInt named = TlsFiles.nodeIdOf(leaf);
        if (named.isEmpty()) {
            throw new IllegalArgumentException("peer certificate file " + certFile + " has no " + TlsFiles.NODE_URI_PREFIX
                    + "N URI SAN, so peers cannot tell which node it is; make node certificates with bin/keel certs");
        }
        if (named.getAsInt() != nodeId) {
            throw new IllegalArgumentException("peer certificate file " + certFile + " is node " + named.getAsInt() + "'s ("
                    + TlsFiles.nodeUri(named.getAsInt()) + "), not this node " + nodeId + "'s");
        }
        SslContext server = TlsFiles.serverContext(certFile, "peer certificate file", keyFile, "peer key file", trustedCaFile,
                "peer trusted CA file", ClientAuth.REQUIRE);
        SslContext client = TlsFiles.clientContext(trustedCaFile, "peer trusted CA file", certFile, "peer certificate file",
                keyFile, "peer key file", false);
        return new Contexts(server, client);
    }
}
