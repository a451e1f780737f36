package dev.keel.cli;

import dev.keel.kv.client.KeelClient;
import dev.keel.kv.client.KeelClientException;
import dev.keel.kv.client.Results;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code keel put|get|delete|scan|status}: a command-line client of a Keel KV cluster. */
final class ClientCommands {
    private ClientCommands() {}

    /** Options every client command shares. */
    static class Endpoints {
        @Option(names = "--endpoints", description = "The cluster's HTTP addresses, comma-separated "
                + "(default: ${DEFAULT-VALUE}, the demo's).")
        String endpoints = "http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083";

        @Option(names = "--timeout-ms", description = "Give up after this long (default: ${DEFAULT-VALUE}).")
        long timeoutMillis = 10_000;

        KeelClient client() {
            List<URI> uris = Arrays.stream(endpoints.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .map(s -> URI.create(s.contains("://") ? s : "http://" + s)).toList();
            if (uris.isEmpty()) throw new IllegalArgumentException("--endpoints names no addresses");
            return KeelClient.builder(uris).operationTimeout(Duration.ofMillis(timeoutMillis)).build();
        }
    }

    /** Runs a client call, turning typed failures into one-line errors and exit codes. */
    abstract static class ClientCommand implements Callable<Integer> {
        @CommandLine.Mixin
        Endpoints endpoints = new Endpoints();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        abstract void run(KeelClient c, PrintWriter out);

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try (KeelClient c = endpoints.client()) {
                run(c, out);
                out.flush();
                return 0;
            } catch (KeelClientException.NotFound e) {
                err.println("not found");
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

    static KeelClient.Consistency parse(String s) {
        try {
            return KeelClient.Consistency.valueOf(s.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--consistency must be linearizable, lease or stale, not '" + s + "'");
        }
    }
}
