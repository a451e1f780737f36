package dev.keel.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/keel}: the one command line for every Keel tool. */
@Command(name = "keel", mixinStandardHelpOptions = true, version = "keel 0.1.0-SNAPSHOT",
        description = "Keel: a Raft consensus library and replicated key-value store for the JVM.",
        subcommands = {DemoCommand.class, ServeCommand.class, CertsCommand.class, ClientCommands.Put.class, ClientCommands.Get.class,
            ClientCommands.Delete.class, ClientCommands.Scan.class, ClientCommands.StatusCmd.class, ClientCommands.Members.class,
            ClientCommands.TransferLeader.class, AuthCommands.Auth.class, RecoverCommand.class, SimCommand.class, FaultsCommand.class,
            ExploreCommand.class,
            CommandLine.HelpCommand.class})
public final class KeelCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns its exit status (used by tests). */
    public static int execute(String... args) {
        return new CommandLine(new KeelCli()).execute(args);
    }
}
