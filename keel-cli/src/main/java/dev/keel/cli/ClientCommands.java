package dev.keel.cli;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.client.Results;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code keel put|get|delete|scan|status}, {@code keel members list|add|remove|promote} and
 * {@code keel transfer-leader}: a command-line client of a Keel KV cluster.
 */
final class ClientCommands {
    private ClientCommands() {}

    /** Options every client command shares. */
    static class Endpoints {
        @Option(names = "--endpoints", description = "The cluster's HTTP addresses, comma-separated "
                + "(default: ${DEFAULT-VALUE}, the demo's).")
        String endpoints = "http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083";

        @Option(names = "--timeout-ms", description = "Give up after this long (default: ${DEFAULT-VALUE}).")
        long timeoutMillis = 10_000;

        @Option(names = "--cacert", description = "For https:// endpoints: trust the CA certificate(s) in this PEM file "
                + "(such as keel certs' ca.pem) instead of the JDK's default trust store.")
        Path caCert;

        @Option(names = "--cert", description = "For https:// endpoints: a client certificate (PEM) to present; with --key.")
        Path cert;

        @Option(names = "--key", description = "The private key of --cert (unencrypted PKCS#8 PEM).")
        Path key;

        @Option(names = "--token", description = "Authenticate with this bearer token (clusters running with --auth); "
                + "default: the KEEL_TOKEN environment variable. Use https:// endpoints: plain HTTP exposes it.")
        String token = System.getenv("KEEL_TOKEN");

        KeelClient client() {
            List<URI> uris = Arrays.stream(endpoints.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .map(s -> httpUri(s, "--endpoints")).toList();
            if (uris.isEmpty()) throw new IllegalArgumentException("--endpoints names no addresses");
            if (timeoutMillis <= 0) throw new IllegalArgumentException("--timeout-ms must be positive, not " + timeoutMillis);
            if ((cert == null) != (key == null)) {
                throw new IllegalArgumentException("a client certificate needs both --cert and --key (missing: "
                        + (cert == null ? "--cert" : "--key") + ")");
            }
            KeelClient.Builder b = KeelClient.builder(uris).operationTimeout(Duration.ofMillis(timeoutMillis));
            if (caCert != null) b.trustedCa(caCert);
            if (cert != null) b.clientCertificate(cert, key);
            if (token != null && !token.isBlank()) b.token(token.strip());
            return b.build(); // IllegalArgumentException naming a bad TLS file
        }
    }

    /**
     * An HTTP base URI from "host:port" or "http(s)://host:port", with a clear error naming the option;
     * normalised without a trailing slash.
     */
    static URI httpUri(String text, String option) {
        String t = text.trim();
        String withScheme = t.contains("://") ? t : "http://" + t;
        URI u;
        try {
            u = new URI(withScheme);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException(option + ": '" + text + "' is not an HTTP address such as http://127.0.0.1:8081");
        }
        if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
            throw new IllegalArgumentException(option + ": '" + text + "' must be http:// or https://");
        }
        if (u.getHost() == null || u.getPort() < 1 || u.getPort() > 65535) {
            throw new IllegalArgumentException(option + ": '" + text + "' must name a host and a port, such as http://127.0.0.1:8081");
        }
        if ((u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/")) || u.getRawQuery() != null) {
            throw new IllegalArgumentException(option + ": '" + text + "' must be a base address (no path or query)");
        }
        return URI.create(u.getScheme() + "://" + u.getRawAuthority());
    }

    /** Runs a client call, turning typed failures into one-line errors and exit codes. */
    abstract static class ClientCommand implements Callable<Integer> {
        @CommandLine.Mixin
        Endpoints endpoints = new Endpoints();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        abstract void run(KeelClient c, PrintWriter out);

        /** Checks the options before any request: throw {@link #usage(String)} on bad input (exit 2). */
        void validate() {}

        CommandLine.ParameterException usage(String message) {
            return new CommandLine.ParameterException(spec.commandLine(), message);
        }

        @Override
        public Integer call() {
            validate();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            KeelClient client;
            try {
                client = endpoints.client();
            } catch (IllegalArgumentException e) {
                throw usage(e.getMessage());
            }
            try (KeelClient c = client) {
                run(c, out);
                out.flush();
                return 0;
            } catch (KeelClientException.NotFound e) {
                // A key's absence says no more; a member's names it.
                err.println("key not found".equals(e.getMessage()) || e.getMessage() == null ? "not found" : "not found: " + e.getMessage());
                err.flush();
                return 4;
            } catch (KeelClientException.ConditionFailed e) {
                err.println("condition failed: current revision " + e.currentRevision());
                err.flush();
                return 5;
            } catch (KeelClientException | IllegalArgumentException e) {
                err.println("error: " + e.getMessage());
                err.flush();
                return 1;
            }
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true, description = "Sets a key to a value.")
    static final class Put extends ClientCommand {
        @Parameters(index = "0", description = "The key.")
        String key;

        @Parameters(index = "1", description = "The value.")
        String value;

        @Option(names = "--if-revision", description = "Only if the key's revision is this (0: only if absent).")
        Long ifRevision;

        @Override
        void run(KeelClient c, PrintWriter out) {
            byte[] k = key.getBytes(StandardCharsets.UTF_8);
            byte[] v = value.getBytes(StandardCharsets.UTF_8);
            Results.WriteResult r = ifRevision == null ? c.put(k, v)
                    : ifRevision == 0 ? c.putIfAbsent(k, v) : c.putIfRevision(k, v, ifRevision);
            out.println("OK revision=" + r.revision());
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Prints a key's value (exit 4 if absent).")
    static final class Get extends ClientCommand {
        @Parameters(index = "0", description = "The key.")
        String key;

        @Option(names = "--consistency", description = "linearizable (default), lease or stale.")
        String consistency = "linearizable";

        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.GetResult r = c.get(key.getBytes(StandardCharsets.UTF_8), parse(consistency));
            out.println(r.valueAsString());
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Deletes a key.")
    static final class Delete extends ClientCommand {
        @Parameters(index = "0", description = "The key.")
        String key;

        @Override
        void run(KeelClient c, PrintWriter out) {
            out.println("OK revision=" + c.delete(key.getBytes(StandardCharsets.UTF_8)).revision());
        }
    }

    @Command(name = "scan", mixinStandardHelpOptions = true, description = "Lists keys with a prefix.")
    static final class Scan extends ClientCommand {
        @Parameters(index = "0", arity = "0..1", description = "The prefix (default: every key).")
        String prefix = "";

        @Option(names = "--limit", description = "At most this many keys (default: ${DEFAULT-VALUE}).")
        int limit = 100;

        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.ScanResult r = c.scan(prefix.getBytes(StandardCharsets.UTF_8), limit);
            for (Results.GetResult g : r.items()) {
                out.println(new String(g.key(), StandardCharsets.UTF_8) + "=" + g.valueAsString());
            }
            if (r.more()) out.println("... (more; raise --limit)");
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Prints a node's Raft status.")
    static final class StatusCmd extends ClientCommand {
        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.NodeStatus s = c.status();
            out.println("node=" + s.id() + " role=" + s.role() + " term=" + s.term() + " leader=" + s.leader()
                    + " commit=" + s.commitIndex() + " applied=" + s.appliedIndex() + " last=" + s.lastIndex()
                    + " snapshot=" + s.snapshotIndex() + " revision=" + s.revision());
        }
    }

    // ---------------------------------------------------------------- membership

    @Command(name = "members", mixinStandardHelpOptions = true,
            description = {"Lists and changes the cluster's members (through any node: followers forward to the leader).",
                "A new node starts with: keel serve --id N --data-dir DIR --listen HOST:PORT --http HOST:PORT --join <a member's HTTP address>"},
            subcommands = {MembersList.class, MembersAdd.class, MembersRemove.class, MembersPromote.class})
    static final class Members implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: list, add, remove or promote");
        }
    }

    static void printMembers(Results.Members m, PrintWriter out) {
        out.println("leader=" + m.leader() + " voters=" + m.voters() + " learners=" + m.learners()
                + (m.outgoing().isEmpty() ? "" : " outgoing=" + m.outgoing() + " (a joint change is in progress)"));
        for (Results.Member member : m.members()) {
            out.println(String.format("  %-4d %-8s peer=%s http=%s%s", member.id(), member.role(),
                    member.peer().isEmpty() ? "?" : member.peer(), member.http().isEmpty() ? "?" : member.http(),
                    member.id() == m.leader() ? "  (leader)" : ""));
        }
    }

    static void positiveId(ClientCommand c, int id, String option) {
        if (id <= 0) throw c.usage(option + " must be a positive node id, not " + id);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Prints the voters, learners and leader.")
    static final class MembersList extends ClientCommand {
        @Override
        void run(KeelClient c, PrintWriter out) {
            printMembers(c.members(), out);
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = {"Adds a node: as a learner with --learner, else as a learner that the leader promotes to "
                    + "voter once it has caught up.", "Start the node first (keel serve --join does this for you)."})
    static final class MembersAdd extends ClientCommand {
        @Option(names = "--id", required = true, description = "The new node's id.")
        int id;

        @Option(names = "--address", required = true, description = "The new node's peer (Raft) address, host:port.")
        String address;

        @Option(names = "--http", description = "The new node's HTTP address (http://host:port), so that the other "
                + "nodes can forward requests to it.")
        String http;

        @Option(names = "--learner", description = "Add as a non-voting learner only (promote it later).")
        boolean learner;

        URI httpUri;

        @Override
        void validate() {
            positiveId(this, id, "--id");
            try {
                ClusterSpec.hostPort(address, "--address");
                httpUri = http == null ? null : httpUri(http, "--http");
            } catch (IllegalArgumentException e) {
                throw usage(e.getMessage());
            }
        }

        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.Members m = c.addMember(id, address.trim(), httpUri, learner);
            out.println("OK node " + id + " is a " + (m.learners().contains(id) ? "learner" : "voter"));
            printMembers(m, out);
            if (m.learners().contains(id)) {
                out.println("Once it has caught up, promote it: keel members promote --id " + id + " --endpoints " + endpoints.endpoints);
            }
        }
    }

    /** A membership command about one node, named by {@code --id}. */
    abstract static class MemberIdCommand extends ClientCommand {
        @Option(names = "--id", required = true, description = "The node's id.")
        int id;

        @Override
        void validate() {
            positiveId(this, id, "--id");
        }
    }

    @Command(name = "promote", mixinStandardHelpOptions = true, description = "Makes a caught-up learner a voter.")
    static final class MembersPromote extends MemberIdCommand {
        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.Members m = c.promote(id);
            out.println("OK node " + id + " is a voter");
            printMembers(m, out);
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Removes a voter or learner (the leader too: it steps down once the change commits).")
    static final class MembersRemove extends MemberIdCommand {
        @Override
        void run(KeelClient c, PrintWriter out) {
            Results.Members m = c.removeMember(id);
            out.println("OK node " + id + " removed; it can be stopped");
            printMembers(m, out);
        }
    }

    @Command(name = "transfer-leader", mixinStandardHelpOptions = true,
            description = "Hands leadership to another voter (it must be caught up and reachable).")
    static final class TransferLeader extends ClientCommand {
        @Option(names = "--to", required = true, description = "The voter to lead.")
        int to;

        @Override
        void validate() {
            positiveId(this, to, "--to");
        }

        @Override
        void run(KeelClient c, PrintWriter out) {
            out.println("OK leader=" + c.transferLeader(to));
        }
    }

    static KeelClient.Consistency parse(String s) {
        try {
            return KeelClient.Consistency.valueOf(s.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--consistency must be linearizable, lease or stale, not '" + s + "'");
        }
    }
}
