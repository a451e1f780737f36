package dev.keel.cli;

import dev.keel.transport.TestPorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.kv.KvConfig;
import dev.keel.server.ServerConfig;
import dev.keel.kv.client.Results;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class KeelCliTest {
    /** One in-process run of the CLI: its exit code and what it printed (shared with the other CLI tests). */
    record Run(int exit, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new KeelCli());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void helpListsSubcommands() {
        Run r = run("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("sim", "members", "transfer-leader");
        Run members = run("members", "--help");
        assertThat(members.exit()).isZero();
        assertThat(members.out()).contains("list", "add", "remove", "promote");
        assertThat(run("members", "add", "--help").out()).contains("--id", "--address", "--http", "--learner", "--endpoints");
        assertThat(run("serve", "--help").out()).contains("--join", "--listen", "--cluster");
    }

    @TempDir
    Path dir;


    /** A usage error: exit 2 and the message on stderr, before any request is made. */
    private static void usageError(String expected, String... args) {
        Run r = run(args);
        assertThat(r.exit()).as(String.join(" ", args) + " -> " + r.err()).isEqualTo(2);
        assertThat(r.err()).as(String.join(" ", args)).contains(expected);
    }

    @Test
    void membersCommandsRejectBadInputWithUsageErrors() {
        usageError("missing subcommand: list, add, remove or promote", "members");
        usageError("Missing required option: '--id=<id>'", "members", "add", "--address", "127.0.0.1:9004");
        usageError("Missing required option: '--address=<address>'", "members", "add", "--id", "4");
        usageError("Invalid value for option '--id'", "members", "add", "--id", "four", "--address", "127.0.0.1:9004");
        usageError("--id must be a positive node id, not 0", "members", "add", "--id", "0", "--address", "127.0.0.1:9004");
        usageError("--address: 'nohost' is not host:port", "members", "add", "--id", "4", "--address", "nohost");
        usageError("--address: port 99999 outside 1-65535", "members", "add", "--id", "4", "--address", "127.0.0.1:99999");
        usageError("--address: port in '127.0.0.1:x' is not a number", "members", "add", "--id", "4", "--address", "127.0.0.1:x");
        usageError("--http: 'ftp://h:1' must be http:// or https://", "members", "add", "--id", "4", "--address", "127.0.0.1:9004",
                "--http", "ftp://h:1");
        usageError("--http: 'http://h' must name a host and a port", "members", "add", "--id", "4", "--address", "127.0.0.1:9004",
                "--http", "http://h");
        usageError("Missing required option: '--id=<id>'", "members", "promote");
        usageError("--id must be a positive node id, not -3", "members", "remove", "--id", "-3");
        usageError("--id must be a positive node id, not 0", "members", "promote", "--id", "0");
        usageError("Missing required option: '--to=<to>'", "transfer-leader");
        usageError("--to must be a positive node id, not 0", "transfer-leader", "--to", "0");
        usageError("--endpoints: 'ftp://x:1' must be http:// or https://", "members", "list", "--endpoints", "ftp://x:1");
        usageError("--endpoints names no addresses", "members", "list", "--endpoints", ",");
        usageError("Unknown option: '--learnr'", "members", "add", "--id", "4", "--address", "127.0.0.1:9004", "--learnr");
    }

    @Test
    void membersCommandsAgainstNoClusterFailWithExitOne() throws IOException {
        Run r = run("members", "list", "--endpoints", "http://127.0.0.1:" + TestPorts.free(), "--timeout-ms", "300");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: ").contains("ConnectException");
    }

    @Test
    void serveRejectsBadJoinOptionsWithUsageErrors() {
        String data = dir.resolve("n4").toString();
        usageError("give --cluster 1=host:port,... to bootstrap a cluster, or --join", "serve", "--id", "4", "--data-dir", data,
                "--http", "127.0.0.1:8084");
        usageError("not both", "serve", "--id", "4", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--cluster", "1=127.0.0.1:9081", "--join", "http://127.0.0.1:8081");
        usageError("--join needs --listen", "serve", "--id", "4", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--join", "http://127.0.0.1:8081");
        usageError("--join: 'ftp://h:1' must be http://", "serve", "--id", "4", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--join", "ftp://h:1", "--listen", "127.0.0.1:9084");
        usageError("--listen: 'nohost' is not host:port", "serve", "--id", "4", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--join", "http://127.0.0.1:8081", "--listen", "nohost");
        usageError("--http-cluster is for --cluster", "serve", "--id", "4", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--join", "http://127.0.0.1:8081", "--listen", "127.0.0.1:9084", "--http-cluster", "1=127.0.0.1:8081");
        usageError("give --advertise-http", "serve", "--id", "4", "--data-dir", data, "--http", "0.0.0.0:8084",
                "--join", "http://127.0.0.1:8081", "--listen", "127.0.0.1:9084");
        usageError("--advertise-http is for --join", "serve", "--id", "1", "--data-dir", data, "--http", "127.0.0.1:8081",
                "--cluster", "1=127.0.0.1:9081", "--advertise-http", "http://h:1");
        usageError("--listen 127.0.0.1:9999 disagrees with --cluster's address for node 1", "serve", "--id", "1", "--data-dir", data,
                "--http", "127.0.0.1:8081", "--cluster", "1=127.0.0.1:9081", "--listen", "127.0.0.1:9999");
        usageError("--id must be a positive node id", "serve", "--id", "0", "--data-dir", data, "--http", "127.0.0.1:8084",
                "--join", "http://127.0.0.1:8081", "--listen", "127.0.0.1:9084");
    }

    @Test
    void serveJoinWithNoClusterToJoinExitsOne() throws IOException {
        Run r = run("serve", "--id", "4", "--data-dir", dir.resolve("n4").toString(), "--http", "127.0.0.1:" + TestPorts.free(),
                "--join", "http://127.0.0.1:" + TestPorts.free(), "--listen", "127.0.0.1:" + TestPorts.free(), "--join-timeout-ms", "300");
        assertThat(r.exit()).isEqualTo(1);
    }

    private static ServeCommand parseServe(String... args) {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs(args);
        serve.checkOptions();
        return serve;
    }

    @Test
    void serveLimitFlagsReachTheConfigAndBadOnesAreUsageErrors() {
        String data = dir.resolve("n1").toString();
        ServeCommand serve = parseServe("--id", "1", "--data-dir", data, "--http", "127.0.0.1:8081", "--cluster", "1=127.0.0.1:9081",
                "--max-key-bytes", "100", "--max-value-bytes", "2000", "--max-request-bytes", "3000", "--max-connections", "7",
                "--max-inflight-per-client", "3", "--peer-max-frame-bytes", "8388608", "--busy-poll-us", "0",
                "--parallel-leader-sync");
        KvConfig c = serve.config();
        assertThat(c.limits().keyMaxBytes()).isEqualTo(100);
        assertThat(c.limits().valueMaxBytes()).isEqualTo(2000);
        assertThat(c.limits().bodyMaxBytes()).isEqualTo(3000);
        assertThat(c.limits().connectionsMax()).isEqualTo(7);
        assertThat(c.limits().inflightPerClientMax()).isEqualTo(3);
        assertThat(c.server().peerMaxFrameBytes()).isEqualTo(8 << 20);
        assertThat(c.server().busyPollMicros()).isZero();
        assertThat(c.server().parallelLeaderSync()).isTrue();
        ServerConfig defaults = parseServe("--id", "1", "--data-dir", data, "--http", "127.0.0.1:8081", "--cluster",
                "1=127.0.0.1:9081").config().server();
        assertThat(defaults.busyPollMicros()).isEqualTo(50);
        assertThat(defaults.parallelLeaderSync()).isFalse();
        String[] base = {"serve", "--id", "1", "--data-dir", data, "--http", "127.0.0.1:8081", "--cluster", "1=127.0.0.1:9081"};
        usageError("--max-connections 0 must be positive", concat(base, "--max-connections", "0"));
        usageError("--max-request-bytes (10) must be at least --max-value-bytes (20)",
                concat(base, "--max-value-bytes", "20", "--max-request-bytes", "10"));
        usageError("peerMaxFrameBytes (1000) must be in", concat(base, "--peer-max-frame-bytes", "1000"));
        usageError("busyPollMicros (2000) must be in [0, 1000]", concat(base, "--busy-poll-us", "2000"));
    }

    @Test
    void serveOnANonLoopbackAddressNeedsAuthenticationOrTheExplicitFlag() {
        String data = dir.resolve("n1").toString();
        String[] base = {"serve", "--id", "1", "--data-dir", data, "--http", "0.0.0.0:8081", "--cluster", "1=127.0.0.1:9081",
                "--http-cluster", "1=127.0.0.1:8081"};
        usageError("0.0.0.0:8081, which is not a loopback address, with no client authentication", base);
        usageError("--client-cert-auth needs --trusted-ca-file", concat(base, "--client-cert-auth"));
        ServeCommand allowed = parseServe(java.util.Arrays.copyOfRange(concat(base, "--insecure-allow-unauthenticated"), 1, base.length + 1));
        assertThat(allowed.config().httpAddress().getPort()).isEqualTo(8081);
        assertThat(allowed.config().authenticated()).isFalse();
        // Loopback needs neither.
        assertThat(parseServe("--id", "1", "--data-dir", data, "--http", "127.0.0.1:8081", "--cluster", "1=127.0.0.1:9081")
                .config().authenticated()).isFalse();
    }

    @Test
    void authNewTokenPrintsARandomTokenAndBadRolesAreUsageErrors() {
        Run a = run("auth", "new-token");
        Run b = run("auth", "new-token");
        assertThat(a.exit()).isZero();
        assertThat(a.out().strip()).matches("keel_[A-Za-z0-9_-]{43}");
        assertThat(a.out()).isNotEqualTo(b.out());
        usageError("--role: role 'owner' must be read, readwrite or admin", "auth", "add-user", "--name", "x", "--role", "owner");
        usageError("missing subcommand", "auth");
        assertThat(run("auth", "add-user", "--help").out()).contains("--name", "--role", "--prefix", "--cert-auth", "--token");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void joinConfigContactsTheCurrentMembersAndStartsOutsideTheCluster() {
        ServeCommand serve = parseServe("--id", "4", "--data-dir", dir.resolve("n4").toString(), "--http", "127.0.0.1:8084",
                "--join", "127.0.0.1:8081", "--listen", "127.0.0.1:9084");
        Results.Members current = new Results.Members(List.of(1, 2), List.of(3), List.of(), 1, List.of(
                new Results.Member(1, "127.0.0.1:9081", "http://127.0.0.1:8081", "voter"),
                new Results.Member(2, "127.0.0.1:9082", "", "voter"),
                new Results.Member(3, "127.0.0.1:9083", "http://127.0.0.1:8083", "learner")));
        KvConfig c = serve.joinConfig(current);
        assertThat(c.server().joining()).isTrue();
        assertThat(c.server().members()).containsOnlyKeys(1, 2, 3, 4);
        assertThat(c.server().members().get(4)).isEqualTo(new InetSocketAddress("127.0.0.1", 9084));
        assertThat(c.server().bootstrapVoters()).containsExactly(1, 2, 3);
        assertThat(c.httpMembers()).containsOnlyKeys(1, 3, 4);
        assertThat(c.httpMembers().get(4)).isEqualTo(URI.create("http://127.0.0.1:8084"));

        // Already a member (a restart): fine at the same address, refused at another.
        Results.Members withSelf = new Results.Members(List.of(1, 4), List.of(), List.of(), 1, List.of(
                new Results.Member(1, "127.0.0.1:9081", "http://127.0.0.1:8081", "voter"),
                new Results.Member(4, "127.0.0.1:9084", "http://127.0.0.1:8084", "voter")));
        assertThat(serve.joinConfig(withSelf).server().members()).containsOnlyKeys(1, 4);
        ServeCommand moved = parseServe("--id", "4", "--data-dir", dir.resolve("n4").toString(), "--http", "127.0.0.1:8084",
                "--join", "127.0.0.1:8081", "--listen", "127.0.0.1:9999");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> moved.joinConfig(withSelf))
                .hasMessageContaining("node 4 is already a member with peer address 127.0.0.1:9084, not --listen 127.0.0.1:9999");
    }

    @Test
    void simRangePrintsOneLinePerSeedAndASummary() {
        Run r = run("sim", "--seeds", "1..3", "--threads", "2");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(4);
        for (int i = 0; i < 3; i++) assertThat(lines[i]).startsWith("seed=" + (i + 1) + " digest=").endsWith(" ok");
        assertThat(lines[3]).startsWith("seeds=3 violations=0 ");
    }

    @Test
    void sameSeedSameDigest() {
        assertThat(run("sim", "--seed", "7").out()).isEqualTo(run("sim", "--seed", "7").out());
    }

    @Test
    void badRangeIsAClearUsageError() {
        Run r = run("sim", "--seeds", "9..2");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--seeds 9..2 is empty");
        Run r2 = run("sim", "--seeds", "abc");
        assertThat(r2.exit()).isEqualTo(2);
        assertThat(r2.err()).contains("A..B");
        Run r3 = run("sim", "--nodes", "12");
        assertThat(r3.exit()).isEqualTo(2);
        assertThat(r3.err()).contains("nodes 12");
    }

    @Test
    void recoverNeedsConfirmationAndRewritesMembership(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        Run refused = run("recover", "--data-dir", dir.toString(), "--id", "1");
        assertThat(refused.exit()).isEqualTo(2);
        assertThat(refused.err()).contains("--i-understand-this-can-lose-committed-data");
        Run wrongVoters = run("recover", "--data-dir", dir.toString(), "--id", "1", "--voters", "2,3",
                "--i-understand-this-can-lose-committed-data");
        assertThat(wrongVoters.exit()).isEqualTo(2);
        assertThat(wrongVoters.err()).contains("must include this node 1");
        Run ok = run("recover", "--data-dir", dir.toString(), "--id", "1", "--i-understand-this-can-lose-committed-data");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("rewritten OUTSIDE Raft").contains("voters=[1]");
    }
}
