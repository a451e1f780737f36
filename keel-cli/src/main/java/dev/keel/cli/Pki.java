package dev.keel.cli;

import dev.keel.transport.TlsFiles;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A small certificate authority for a local Keel cluster: a self-signed CA, node certificates
 * (server and client, with the node id as a {@code keel://node/N} URI SAN) and client certificates.
 * EC P-256 keys and SHA256withECDSA signatures.
 *
 * <p>BouncyCastle builds the certificates (its ASN.1 and extension classes); the keys, signatures
 * and the final parse are the JDK's own providers, so the shaded CLI jar needs no signed JCE provider.
 */
final class Pki {
    /** A certificate and its key pair. */
    record Issued(X509Certificate cert, KeyPair keys) {}

    private static final SecureRandom RANDOM = new SecureRandom();
    /** Certificates start an hour early, so a node whose clock is a little behind accepts them. */
    private static final Duration BACKDATE = Duration.ofHours(1);

    private Pki() {}

    static KeyPair ecKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot make EC P-256 keys: " + e, e);
        }
    }

    /** A self-signed CA valid for {@code validity}. */
    static Issued ca(String commonName, Duration validity) {
        KeyPair keys = ecKeyPair();
        X500Name name = name(commonName);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(name, name, keys, validity)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0)) // signs leaves only
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new Issued(sign(b, keys.getPrivate()), keys);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot make a CA certificate: " + e, e);
        }
    }

    /**
     * A node's certificate: usable as the HTTP server's and for mutual TLS between peers (serverAuth
     * and clientAuth), naming {@code hosts} (IP addresses and DNS names) and the node id.
     */
    static Issued node(Issued ca, int nodeId, List<String> hosts, Duration validity) {
        List<GeneralName> sans = new ArrayList<>();
        for (String h : hosts) sans.add(isIpLiteral(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
        sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, TlsFiles.nodeUri(nodeId)));
        return leaf(ca, "keel-node-" + nodeId, sans, new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth},
                validity);
    }

    /** A client certificate (clientAuth only), for the HTTP API's clients. */
    static Issued client(Issued ca, String commonName, Duration validity) {
        return leaf(ca, commonName, List.of(), new KeyPurposeId[] {KeyPurposeId.id_kp_clientAuth}, validity);
    }

    private static Issued leaf(Issued ca, String commonName, List<GeneralName> sans, KeyPurposeId[] usages, Duration validity) {
        KeyPair keys = ecKeyPair();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(X500Name.getInstance(ca.cert().getSubjectX500Principal().getEncoded()),
                    name(commonName), keys, validity)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(usages))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca.cert()));
            if (!sans.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(GeneralName[]::new)));
            }
            return new Issued(sign(b, ca.keys().getPrivate()), keys);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot make the certificate of " + commonName + ": " + e, e);
        }
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys, Duration validity) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
                Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)), subject, keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign: " + e.getMessage(), e);
        }
    }

    private static X500Name name(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "Keel").addRDN(BCStyle.CN, commonName).build();
    }

    /** Whether {@code host} is an IPv4 or IPv6 literal (not a name to resolve). */
    static boolean isIpLiteral(String host) {
        if (!host.matches("[0-9.]+") && !host.contains(":")) return false;
        try {
            InetAddress.getByName(host); // a literal: no lookup happens
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** A certificate as PEM. */
    static String pem(X509Certificate cert) {
        try {
            return pem("CERTIFICATE", cert.getEncoded());
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A private key as unencrypted PKCS#8 PEM (the JDK's encoding of a private key is PKCS#8), as Netty requires. */
    static String pem(PrivateKey key) {
        return pem("PRIVATE KEY", key.getEncoded());
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
