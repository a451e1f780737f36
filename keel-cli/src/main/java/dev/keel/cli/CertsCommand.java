package dev.keel.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code keel certs}: a CA, node certificates and a client certificate for a local cluster, as PEM
 * files for {@code keel serve}'s TLS flags.
 */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = {"Creates a certificate authority and certificates for a local Keel cluster (PEM files):",
            "  ca.pem, ca-key.pem            the cluster CA (keep ca-key.pem private; it can sign new certificates)",
            "  node-N.pem, node-N-key.pem    node N: HTTPS server and peer mutual TLS (names the hosts and keel://node/N)",
            "  client.pem, client-key.pem    a client certificate",
            "Keys are EC P-256, unencrypted PKCS#8, readable by their owner only. Existing files are kept unless --force.",
            "Use: keel serve --cert-file node-1.pem --key-file node-1-key.pem --peer-cert-file node-1.pem "
                    + "--peer-key-file node-1-key.pem --peer-trusted-ca-file ca.pem ...; clients: --cacert ca.pem."})
final class CertsCommand implements Callable<Integer> {
    @Option(names = "--dir", required = true, description = "Where to write the files (created if missing).")
    Path dir;

    @Option(names = "--nodes", description = "How many node certificates, for nodes 1..N (default: ${DEFAULT-VALUE}).")
    int nodes = 3;

    @Option(names = "--hosts", split = ",", defaultValue = "127.0.0.1,localhost", description = "Host names and IP "
            + "addresses every node certificate names, comma-separated: those clients dial (default: ${DEFAULT-VALUE}).")
    List<String> hosts;

    @Option(names = "--days", description = "How long the certificates are valid (default: ${DEFAULT-VALUE}).")
    int days = 365;

    @Option(names = "--force", description = "Overwrite existing files.")
    boolean force;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (nodes < 1 || nodes > 1000) throw usage("--nodes must be 1-1000, not " + nodes);
        if (days < 1) throw usage("--days must be positive, not " + days);
        List<String> h = hosts.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (h.isEmpty()) throw usage("--hosts names no host");
        Map<String, String> files = generate(nodes, h, Duration.ofDays(days));
        if (!force) {
            List<String> existing = files.keySet().stream().filter(f -> Files.exists(dir.resolve(f))).toList();
            if (!existing.isEmpty()) {
                throw usage("not overwriting " + existing.stream().map(f -> dir.resolve(f).toString()).toList()
                        + "; use --force to replace them (certificates signed by a new CA are not trusted by nodes still "
                        + "using the old ca.pem)");
            }
        }
        write(dir, files);
        PrintWriter out = spec.commandLine().getOut();
        out.println("Wrote " + files.size() + " files to " + dir.toAbsolutePath() + " (valid " + days + " days, hosts " + h + "):");
        out.println("  " + String.join(" ", files.keySet()));
        out.flush();
        return 0;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** The files' names and PEM contents, in the order they are listed. */
    static Map<String, String> generate(int nodes, List<String> hosts, Duration validity) {
        Map<String, String> files = new LinkedHashMap<>();
        Pki.Issued ca = Pki.ca("keel-ca", validity);
        files.put("ca.pem", Pki.pem(ca.cert()));
        files.put("ca-key.pem", Pki.pem(ca.keys().getPrivate()));
        for (int id = 1; id <= nodes; id++) {
            Pki.Issued n = Pki.node(ca, id, hosts, validity);
            files.put("node-" + id + ".pem", Pki.pem(n.cert()));
            files.put("node-" + id + "-key.pem", Pki.pem(n.keys().getPrivate()));
        }
        Pki.Issued client = Pki.client(ca, "keel-client", validity);
        files.put("client.pem", Pki.pem(client.cert()));
        files.put("client-key.pem", Pki.pem(client.keys().getPrivate()));
        return files;
    }

    /**
     * Writes the files; a key file is created with mode 0600 from the start (never readable by others,
     * even for a moment), where the file system has POSIX permissions.
     */
    static void write(Path dir, Map<String, String> files) throws IOException {
        Files.createDirectories(dir);
        boolean posix = Files.getFileStore(dir).supportsFileAttributeView("posix");
        Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
        for (Map.Entry<String, String> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            boolean key = f.getKey().endsWith("-key.pem");
            Files.deleteIfExists(p); // --force (checked by the caller): a fresh file gets fresh permissions
            if (key && posix) {
                try {
                    Files.createFile(p, PosixFilePermissions.asFileAttribute(ownerOnly));
                } catch (FileAlreadyExistsException e) {
                    throw new IOException(p + " appeared while writing: another keel certs running?", e);
                }
                Files.writeString(p, f.getValue(), StandardOpenOption.TRUNCATE_EXISTING);
                Files.setPosixFilePermissions(p, ownerOnly); // the umask may have narrowed, never widened; be exact
            } else {
                Files.writeString(p, f.getValue(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
        }
    }

    /** Whether {@code dir} holds a complete set for {@code nodes} nodes (the demo reuses it then). */
    static boolean complete(Path dir, int nodes) {
        List<String> names = new ArrayList<>(Arrays.asList("ca.pem", "client.pem", "client-key.pem"));
        for (int id = 1; id <= nodes; id++) {
            names.add("node-" + id + ".pem");
            names.add("node-" + id + "-key.pem");
        }
        return names.stream().allMatch(n -> Files.isRegularFile(dir.resolve(n)));
    }
}
