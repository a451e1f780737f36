package dev.keel.transport;

import io.netty.channel.Channel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.OptionalInt;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.TrustManagerFactory;

/**
 * Reads the PEM files of Keel's TLS setup (certificate chains, PKCS#8 private keys, trusted CAs)
 * and builds TLS contexts from them: Netty's for the peer transport and the HTTP server and
 * client, the JDK's for {@code java.net.http.HttpClient}.
 *
 * <p>Every file is read and checked here, before Netty or the JDK sees it, so that a bad file is
 * refused with a message naming it and saying what is wrong (missing, unreadable, not PEM, a key
 * that does not belong to its certificate) rather than a bare "invalid key spec" from deep inside.
 *
 * <p><b>Node identity.</b> A node's certificate carries the URI subject alternative name
 * {@code keel://node/<id>} ({@link #nodeUri}); the peer transport checks it against the node id a
 * peer claims. Host-name SANs are for HTTP clients only: peers are identified by this URI.
 *
 * <p>Only TLS 1.3 is offered: every Keel node and client is ours, so there is no older peer to
 * accommodate, and 1.3 encrypts the certificates too.
 */
public final class TlsFiles {
    /** The prefix of the URI SAN that names a node: {@code keel://node/3} is node 3. */
    public static final String NODE_URI_PREFIX = "keel://node/";
    static final String[] PROTOCOLS = {"TLSv1.3"};
    private static final int SAN_URI = 6;

    private TlsFiles() {}

    /** The URI SAN naming node {@code nodeId}. */
    public static String nodeUri(int nodeId) {
        return NODE_URI_PREFIX + nodeId;
    }

    /** The node id a certificate's {@code keel://node/N} URI SAN names, or empty if it has none. */
    public static OptionalInt nodeIdOf(X509Certificate cert) {
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return OptionalInt.empty();
        }
        if (sans == null) return OptionalInt.empty();
        for (List<?> san : sans) {
            if (san.size() < 2 || !(san.get(0) instanceof Integer type) || type != SAN_URI) continue;
            String uri = String.valueOf(san.get(1));
            if (!uri.startsWith(NODE_URI_PREFIX)) continue;
            try {
                int id = Integer.parseInt(uri.substring(NODE_URI_PREFIX.length()));
                if (id > 0) return OptionalInt.of(id);
            } catch (NumberFormatException e) {
                // not ours: keep looking
            }
        }
        return OptionalInt.empty();
    }

    /**
     * Why the verified certificate the other end of {@code ch} presented does not name node
     * {@code expectedId}, or null if it does. Both ends of a peer connection check this after the
     * TLS handshake: the CA vouched for the certificate, and this binds the connection to the one
     * node it names, so a node holding a valid certificate cannot pose as, or be taken for, another.
     *
     * @param claim how the expectation is told in the reason, such as "hello claims node 2"
     * @param side  "peer" or "server", for the reasons that no certificate was presented
     */
    static String identityMismatch(Channel ch, int expectedId, String claim, String side) {
        X509Certificate cert;
        try {
            Certificate[] chain = ch.pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate x)) return "no X.509 " + side + " certificate";
            cert = x;
        } catch (SSLPeerUnverifiedException e) {
            return "no verified " + side + " certificate: " + e.getMessage();
        }
        OptionalInt id = nodeIdOf(cert);
        if (id.isPresent() && id.getAsInt() == expectedId) return null;
        return claim + " but " + (side.equals("peer") ? "the peer's" : "its") + " TLS certificate " + describe(cert)
                + (id.isPresent() ? " is node " + id.getAsInt() + "'s" : " names no node");
    }

    /** How a certificate is named in log lines: its subject and the node it names, if any. */
    static String describe(X509Certificate cert) {
        OptionalInt id = nodeIdOf(cert);
        return "'" + cert.getSubjectX500Principal().getName() + "' ("
                + (id.isPresent() ? URI.create(nodeUri(id.getAsInt())) : "no " + NODE_URI_PREFIX + "N URI SAN") + ")";
    }

    /**
     * The certificates of a PEM file, in file order (a chain: the leaf first).
     *
     * @param what how the file is named in errors, such as "--peer-cert-file"
     * @throws IllegalArgumentException naming the file if it is missing, unreadable, holds no PEM
     *     certificate or one that does not parse
     */
    public static List<X509Certificate> readCertificates(Path file, String what) {
        String text = readText(file, what);
        if (!text.contains("-----BEGIN CERTIFICATE-----")) {
            throw new IllegalArgumentException(what + " " + file + " is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)");
        }
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) throw new CertificateException("no certificate found");
            return out;
        } catch (CertificateException e) {
            throw new IllegalArgumentException(what + " " + file + " holds a certificate that cannot be parsed: " + e.getMessage(), e);
        }
    }

    /**
     * The private key of a PKCS#8 PEM file ({@code -----BEGIN PRIVATE KEY-----}), as {@code keel certs}
     * writes and Netty requires.
     *
     * @throws IllegalArgumentException naming the file if it is missing, unreadable, not an unencrypted
     *     PKCS#8 PEM key (an "EC PRIVATE KEY" or "RSA PRIVATE KEY" file gets the openssl command that converts it)
     */
    public static PrivateKey readPrivateKey(Path file, String what) {
        String text = readText(file, what);
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int b = text.indexOf(begin);
        int e = b < 0 ? -1 : text.indexOf(end, b);
        if (b < 0 || e < 0) {
            if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
                throw new IllegalArgumentException(what + " " + file + " is an encrypted key; Keel needs an unencrypted PKCS#8 key "
                        + "(openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pem), readable by this user only");
            }
            if (text.contains("-----BEGIN EC PRIVATE KEY-----") || text.contains("-----BEGIN RSA PRIVATE KEY-----")) {
                throw new IllegalArgumentException(what + " " + file + " is not PKCS#8; convert it with "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pem");
            }
            throw new IllegalArgumentException(what + " " + file + " is not a PEM private key file (no " + begin + " block)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(b + begin.length(), e));
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(what + " " + file + " holds a private key that is not valid base64: " + ex.getMessage());
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String alg : new String[] {"EC", "RSA", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException ignored) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(what + " " + file + " holds a private key that cannot be parsed "
                + "(not an EC, RSA or EdDSA PKCS#8 key)");
    }

    /**
     * Checks that {@code key} is the private key of {@code cert}, by signing with the one and verifying
     * with the other: a mismatch otherwise shows up only as failed handshakes at run time.
     */
    public static void checkKeyMatches(PrivateKey key, X509Certificate cert, Path keyFile, Path certFile) {
        String alg = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
            default -> null; // a kind we do not check: the handshake will tell
        };
        if (alg == null) return;
        boolean ok;
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            ok = v.verify(sig);
        } catch (GeneralSecurityException e) {
            ok = false; // e.g. an RSA key against an EC certificate
        }
        if (!ok) {
            throw new IllegalArgumentException("key file " + keyFile + " does not match the certificate in " + certFile
                    + " (" + cert.getSubjectX500Principal().getName() + ")");
        }
    }

    /** A certificate chain and its key, checked to belong together. */
    public record KeyPairFiles(List<X509Certificate> chain, PrivateKey key) {
        public X509Certificate leaf() {
            return chain.get(0);
        }
    }

    /** Reads and cross-checks a certificate file and its key file; {@code flag}s name them in errors. */
    public static KeyPairFiles readKeyPair(Path certFile, String certFlag, Path keyFile, String keyFlag) {
        List<X509Certificate> chain = readCertificates(certFile, certFlag);
        PrivateKey key = readPrivateKey(keyFile, keyFlag);
        checkKeyMatches(key, chain.get(0), keyFile, certFile);
        return new KeyPairFiles(chain, key);
    }

    /**
     * A Netty server context: TLS 1.3, the JDK's TLS, presenting {@code certFile} with {@code keyFile}.
     *
     * @param trustedCaFile whose certificates client certificates must chain to, or null not to ask for any
     * @param clientAuth REQUIRE (peers), OPTIONAL or NONE; ignored without {@code trustedCaFile}
     */
    public static SslContext serverContext(Path certFile, String certFlag, Path keyFile, String keyFlag, Path trustedCaFile,
                                           String caFlag, ClientAuth clientAuth) {
        KeyPairFiles kp = readKeyPair(certFile, certFlag, keyFile, keyFlag);
        SslContextBuilder b = SslContextBuilder.forServer(kp.key(), kp.chain().toArray(X509Certificate[]::new))
                .sslProvider(SslProvider.JDK).protocols(PROTOCOLS);
        if (trustedCaFile != null) {
            b.trustManager(readCertificates(trustedCaFile, caFlag).toArray(X509Certificate[]::new)).clientAuth(clientAuth);
        }
        return build(b, certFile);
    }

    /**
     * A Netty client context: TLS 1.3, the JDK's TLS, trusting only {@code trustedCaFile}'s certificates
     * (or, if it is null, the JDK's default trust store).
     *
     * @param certFile the client certificate to present, or null for none (then {@code keyFile} is ignored)
     * @param hostnameVerification whether the server's certificate must name the host dialed (HTTP
     *     clients: yes; peers: no, they check the node id URI instead)
     */
    public static SslContext clientContext(Path trustedCaFile, String caFlag, Path certFile, String certFlag, Path keyFile,
                                           String keyFlag, boolean hostnameVerification) {
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).protocols(PROTOCOLS)
                // Netty 4.2 verifies host names by default; null turns it off where the caller checks identity itself.
                .endpointIdentificationAlgorithm(hostnameVerification ? "HTTPS" : null);
        if (trustedCaFile != null) b.trustManager(readCertificates(trustedCaFile, caFlag).toArray(X509Certificate[]::new));
        if (certFile != null) {
            KeyPairFiles kp = readKeyPair(certFile, certFlag, keyFile, keyFlag);
            b.keyManager(kp.key(), kp.chain().toArray(X509Certificate[]::new));
        }
        return build(b, trustedCaFile != null ? trustedCaFile : certFile);
    }

    /**
     * A JDK {@link SSLContext} trusting only {@code trustedCaFile} (and presenting {@code certFile} with
     * {@code keyFile} if given), for {@code java.net.http.HttpClient}, which verifies host names itself.
     */
    public static SSLContext jdkContext(Path trustedCaFile, String caFlag, Path certFile, String certFlag, Path keyFile,
                                       String keyFlag) {
        List<X509Certificate> cas = readCertificates(trustedCaFile, caFlag);
        KeyPairFiles kp = certFile == null ? null : readKeyPair(certFile, certFlag, keyFile, keyFlag);
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            for (int i = 0; i < cas.size(); i++) trust.setCertificateEntry("ca-" + i, cas.get(i));
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyManagerFactory kmf = null;
            if (kp != null) {
                char[] password = "in-memory-only".toCharArray(); // the key store never leaves this method
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                keys.setKeyEntry("key", kp.key(), password, kp.chain().toArray(X509Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, password);
            }
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS context from " + trustedCaFile + ": " + e, e);
        }
    }

    private static SslContext build(SslContextBuilder b, Path file) {
        try {
            return b.build();
        } catch (SSLException e) {
            throw new IllegalArgumentException("cannot build a TLS context from " + file + ": " + e.getMessage(), e);
        }
    }

    private static String readText(Path file, String what) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1); // PEM is ASCII; never fail on a stray byte
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + " " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + file + " cannot be read: " + e, e);
        }
    }
}
