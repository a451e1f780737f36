package dev.keel.transport;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway CA for tests: writes PEM files (certificate, PKCS#8 key) into a directory. EC P-256,
 * made with BouncyCastle's builders and the JDK's providers, as {@code keel certs} does.
 */
public final class TestPki {
    private static long serial = 1;

    private final Path dir;
    private final String name;
    private final KeyPair caKeys;
    private final X509Certificate caCert;
    /** The CA certificate's PEM file. */
    public final Path caFile;

    /** A new CA called {@code name}, its files in {@code dir}. */
    public TestPki(Path dir, String name) throws Exception {
        this.dir = dir;
        this.name = name;
        this.caKeys = keys();
        X500Name subject = new X500Name("CN=" + name);
        X509v3CertificateBuilder b = builder(subject, subject, caKeys)
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign));
        this.caCert = sign(b, caKeys.getPrivate());
        this.caFile = write(name + "-ca.pem", pem("CERTIFICATE", caCert.getEncoded()));
    }

    /** A node certificate and key: serverAuth + clientAuth, SANs 127.0.0.1, localhost and keel://node/{id}. */
    public CertKey node(int id) throws Exception {
        return node(id, "");
    }

    /** As {@link #node(int)}, in files whose names end with {@code tag} (a second certificate for the same node). */
    public CertKey node(int id, String tag) throws Exception {
        return leaf("node-" + id + tag, List.of(new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                new GeneralName(GeneralName.dNSName, "localhost"),
                new GeneralName(GeneralName.uniformResourceIdentifier, TlsFiles.nodeUri(id))));
    }

    /** A certificate with the given SANs (none: empty list) and both extended key usages. */
    public CertKey leaf(String cn, List<GeneralName> sans) throws Exception {
        KeyPair k = keys();
        X509v3CertificateBuilder b = builder(new X500Name("CN=" + name), new X500Name("CN=" + cn), k)
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
        if (!sans.isEmpty()) b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(GeneralName[]::new)));
        X509Certificate cert = sign(b, caKeys.getPrivate());
        return new CertKey(write(name + "-" + cn + ".pem", pem("CERTIFICATE", cert.getEncoded())),
                write(name + "-" + cn + "-key.pem", pem("PRIVATE KEY", k.getPrivate().getEncoded())));
    }

    /** A certificate file and its key file. */
    public record CertKey(Path cert, Path key) {
        public PeerTls peerTls(Path ca) {
            return new PeerTls(cert, key, ca);
        }
    }

    private static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static synchronized BigInteger nextSerial() {
        return BigInteger.valueOf(serial++);
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, nextSerial(), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(Duration.ofDays(1))), subject, keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws Exception {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    }

    private Path write(String file, String text) throws IOException {
        return Files.writeString(dir.resolve(file), text);
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
