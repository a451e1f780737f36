package dev.keel.cli;

import dev.keel.explorer.Action;
import dev.keel.explorer.ExplorerServer;
import dev.keel.explorer.SeedTrace;
import dev.keel.explorer.Session;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel explore}: serves the Keel Explorer on a local port until stopped. */
@Command(name = "explore", mixinStandardHelpOptions = true,
        description = {
            "Serves the Keel Explorer, a web page that shows Raft working step by step: a simulated cluster "
                    + "driven by hand (deliver, drop or duplicate a message, time out, crash or restart a node, "
                    + "partition, write, read, change membership), its history as text to export and replay, and "
                    + "a live view of a running cluster's status streams.",
            "Prints the page's URL and serves until stopped (Ctrl-C). Needs no desktop: open the URL in any browser."})
final class ExploreCommand implements Callable<Integer> {
    @Option(names = "--port", description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port = 7070;

    @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}). The explorer has "
            + "no authentication: keep it on the loopback address unless the network is trusted.")
    String host = "127.0.0.1";

    @Option(names = "--cluster", description = "The simulated cluster to start with, e.g. "
            + "'cluster 5 voters=3 seed=7' (default: ${DEFAULT-VALUE}).")
    String cluster = "cluster 3 seed=1";

    @Option(names = "--history", description = "A history to load and replay: a `cluster` line, then one action "
            + "per line (as the page's Export button writes it).")
    Path history;

    @Option(names = "--seed", description = "Show this seed of the randomized simulator (as `keel sim --seed N` "
            + "runs it, e.g. one it reported failing) to scrub through, event by event.")
    Long seed;

    @Option(names = "--nodes", description = "With --seed: the cluster size `keel sim --nodes` was given (0: the seed's "
            + "choice; default: ${DEFAULT-VALUE}).")
    int nodes = 0;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (port < 0 || port > 65535) throw usage("--port " + port + " outside 0..65535");
        Session session;
        try {
            if (history != null) {
                String text;
                try {
                    text = Files.readString(history, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw usage("cannot read --history " + history + ": " + e.getMessage());
                }
                session = Session.replay(text);
            } else {
                session = new Session(Action.Header.parse(cluster));
            }
        } catch (IllegalArgumentException e) {
            throw usage((history != null ? history + ": " : "--cluster: ") + e.getMessage());
        }
        ExplorerServer server;
        try {
            server = ExplorerServer.start(host, port, session);
        } catch (IOException e) {
            throw usage("cannot listen on " + host + ":" + port + ": " + e.getMessage());
        }
        if (seed != null) {
            try {
                server.showSeed(SeedTrace.parse("seed " + seed + " nodes=" + nodes));
            } catch (IllegalArgumentException e) {
                server.close();
                throw usage("--seed: " + e.getMessage());
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("Keel Explorer: " + server.url() + "  (Ctrl-C to stop)");
        out.flush();
        try {
            new CountDownLatch(1).await(); // serve until the JVM is stopped (or this thread interrupted)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            server.close();
        }
        return 0;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
