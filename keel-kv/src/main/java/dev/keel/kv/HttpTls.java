package dev.keel.kv;

import dev.keel.transport.TlsFiles;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Path;
import java.util.Objects;

/**
 * HTTPS for the KV API, from PEM files (as etcd's {@code --cert-file}, {@code --key-file} and
 * {@code --trusted-ca-file}). TLS 1.3 only. The files are read when the node starts, so rotated
 * certificates take effect on restart.
 *
 * @param certFile the server certificate (its chain may follow it); it must name the host names or
 *     addresses clients dial, since clients verify them
 * @param keyFile its private key, unencrypted PKCS#8 PEM
 * @param trustedCaFile the CA that client certificates must chain to, or null. With it the server asks
 *     for a client certificate (and requires one with {@code clientCertRequired}); followers also trust
 *     it when they forward requests to an https leader
 * @param clientCertRequired refuse, in the TLS handshake, every client without a certificate chaining
 *     to {@code trustedCaFile} (etcd's {@code --client-cert-auth}): client authentication by certificate,
 *     which counts as authentication for the loopback-only rule of {@link KvConfig}
 */
public record HttpTls(Path certFile, Path keyFile, Path trustedCaFile, boolean clientCertRequired) {
    public HttpTls {
        Objects.requireNonNull(certFile, "certFile");
        Objects.requireNonNull(keyFile, "keyFile");
        if (clientCertRequired && trustedCaFile == null) {
            throw new IllegalArgumentException("requiring client certificates needs the trusted CA file they must chain to");
        }
    }

    /** Client certificates asked for (with a trusted CA) but not required. */
    public HttpTls(Path certFile, Path keyFile, Path trustedCaFile) {
        this(certFile, keyFile, trustedCaFile, false);
    }

    /**
     * The HTTP server's TLS context.
     *
     * @throws IllegalArgumentException naming a bad file
     */
    public SslContext serverContext() {
        return TlsFiles.serverContext(certFile, "certificate file", keyFile, "key file", trustedCaFile, "trusted CA file",
                clientCertRequired ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
    }
}
