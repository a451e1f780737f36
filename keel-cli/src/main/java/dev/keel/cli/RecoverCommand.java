package dev.keel.cli;

import dev.keel.core.Membership;
import dev.keel.server.Recovery;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keel recover}: the offline last resort for a cluster that has lost its majority for good. */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"DANGER: rewrites the membership of one STOPPED node, bypassing Raft, for a cluster that has "
                + "permanently lost its majority. Entries committed only on the lost nodes are lost; lost nodes "
                + "that come back must be wiped first. Run it on the most up-to-date survivor only (highest last "
                + "log term, then highest last index), then start that node alone and add new nodes normally."})
final class RecoverCommand implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, description = "The stopped survivor's data directory.")
    Path dataDir;

    @Option(names = "--id", required = true, description = "The survivor's node id.")
    int id;

    @Option(names = "--cluster-id", description = "The cluster id (default: ${DEFAULT-VALUE}).")
    String clusterId = "keel";

    @Option(names = "--voters", description = "The new voters, comma-separated; must include --id (default: --id alone).")
    String voters;

    @Option(names = "--i-understand-this-can-lose-committed-data", required = true,
            description = "Required: confirms you read the warning above.")
    boolean confirmed;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int[] ids;
        try {
            ids = voters == null ? new int[] {id}
                    : java.util.Arrays.stream(voters.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--voters takes node ids like 1,2,3, not '" + voters + "'");
        }
        Recovery.Result r;
        try {
            r = Recovery.forceMembership(dataDir, id, clusterId, Membership.of(ids));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        out.println("WARNING: membership of node " + id + " rewritten OUTSIDE Raft.");
        out.println("  log had " + r.lastIndexBefore() + " entries; appended configuration at index " + r.index()
                + " in term " + r.term() + ": " + r.membership());
        out.println("  Start this node now; wipe the data of any lost node before it ever rejoins.");
        out.flush();
        return 0;
    }
}
