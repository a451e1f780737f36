package dev.keel.cli;

import dev.keel.kv.client.KeelClient;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code keel auth new-token|add-user|grant|revoke|list}: users, tokens and roles of a cluster
 * running with {@code serve --auth}. Every command but {@code new-token} needs an admin's
 * {@code --token}.
 */
final class AuthCommands {
    private AuthCommands() {}

    @Command(name = "auth", mixinStandardHelpOptions = true,
            description = {"Manages users of a cluster running with serve --auth (roles: read, readwrite on a key prefix, admin).",
                "Bootstrap: keel auth new-token > root.token; start every node with --auth --auth-bootstrap-token-file root.token; "
                        + "the first leader creates the admin user root with that token."},
            subcommands = {NewToken.class, AddUser.class, Grant.class, Revoke.class, ListUsers.class})
    static final class Auth implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: new-token, add-user, grant, revoke or list");
        }
    }

    @Command(name = "new-token", mixinStandardHelpOptions = true,
            description = "Prints a fresh random token (256 bits), for --auth-bootstrap-token-file. Contacts no node.")
    static final class NewToken implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().println(dev.keel.kv.http.Auth.newToken());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** add-user and grant: the same request, add-user also issuing a token. */
    abstract static class UserCommand extends ClientCommands.ClientCommand {
        @Option(names = "--name", required = true, description = "The user's name (1-64 of A-Z a-z 0-9 . _ @ -); for --cert-auth, "
                + "the CN of its client certificate.")
        String name;

        @Option(names = "--role", required = true, description = "read, readwrite or admin.")
        String role;

        @Option(names = "--prefix", description = "The keys the user may touch: those starting with this (default: all keys).")
        String prefix = "";

        @Option(names = "--cert-auth", description = "Also authenticate this user by a client certificate from the trusted CA "
                + "whose CN is its name.")
        boolean certAuth;

        abstract boolean newToken();

        @Override
        void validate() {
            try {
                dev.keel.kv.http.Auth.Role.parse(role);
            } catch (IllegalArgumentException e) {
                throw usage("--role: " + e.getMessage());
            }
        }

        @Override
        void run(KeelClient c, PrintWriter out) {
            out.println(c.putUser(name, role, prefix, newToken(), certAuth));
        }
    }

    @Command(name = "add-user", mixinStandardHelpOptions = true,
            description = "Adds (or replaces) a user with a new token, printed once in the JSON answer: keep it.")
    static final class AddUser extends UserCommand {
        @Option(names = "--no-token", description = "Issue no token (with --cert-auth: certificate only).")
        boolean noToken;

        @Override
        boolean newToken() {
            return !noToken;
        }
    }

    @Command(name = "grant", mixinStandardHelpOptions = true,
            description = "Sets an existing user's role and prefix, keeping its token.")
    static final class Grant extends UserCommand {
        @Override
        boolean newToken() {
            return false;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Removes a user; its token stops working at once.")
    static final class Revoke extends ClientCommands.ClientCommand {
        @Option(names = "--name", required = true, description = "The user to remove.")
        String name;

        @Override
        void run(KeelClient c, PrintWriter out) {
            c.revokeUser(name);
            out.println("revoked " + name);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the users and their roles (never tokens).")
    static final class ListUsers extends ClientCommands.ClientCommand {
        @Override
        void run(KeelClient c, PrintWriter out) {
            out.println(c.authUsers());
        }
    }
}
