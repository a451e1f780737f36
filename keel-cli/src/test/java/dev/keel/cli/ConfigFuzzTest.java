package dev.keel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Fuzzing the configuration parser: {@code serve}'s flags in random combinations with random and
 * hostile values, through picocli, the option checks and the building of the node's whole
 * configuration (ClusterSpec, KvConfig, ServerConfig; nothing is started or bound), and
 * {@link ClusterSpec} on arbitrary strings. A bad input must end in a usage error
 * ({@link CommandLine.ParameterException} or {@link IllegalArgumentException}, with a message),
 * never another exception.
 *
 * <p>The corpus in {@code src/test/resources/fuzz-corpus/config} (one argument a line) is replayed
 * on every run.
 */
class ConfigFuzzTest {
    private static final List<String> FLAGS = List.of("--id", "--data-dir", "--cluster", "--join", "--listen", "--advertise-http",
            "--join-timeout-ms", "--http", "--http-cluster", "--cluster-id", "--tick-ms", "--election-ticks", "--heartbeat-ticks",
            "--snapshot-every", "--timeout-ms", "--cert-file", "--key-file", "--trusted-ca-file", "--peer-cert-file", "--peer-key-file",
            "--peer-trusted-ca-file", "--client-cert-auth", "--insecure-allow-unauthenticated", "--auth", "--auth-bootstrap-token-file",
            "--max-key-bytes", "--max-value-bytes", "--max-request-bytes", "--max-connections", "--max-inflight-per-client",
            "--peer-max-frame-bytes", "--bogus", "-x");

    /** Parses and checks {@code args} as serve would, without starting anything. */
    static void parseSafely(List<String> args) {
        ServeCommand serve = new ServeCommand();
        try {
            new CommandLine(serve).parseArgs(args.toArray(String[]::new));
            serve.checkOptions();
            if (serve.join == null) serve.config();
        } catch (CommandLine.ParameterException | IllegalArgumentException expected) {
            assertThat(expected.getMessage()).as("message for %s", args).isNotBlank();
        }
    }

    @Property(tries = 5000)
    void randomServeCommandLinesAreUsageErrorsOrValidConfigs(@ForAll("commandLines") List<String> args) {
        parseSafely(args);
    }

    @Property(tries = 5000)
    void clusterSpecsParseOrFailWithIllegalArgument(@ForAll("specs") String spec) {
        try {
            var members = ClusterSpec.addresses(spec, "--cluster");
            assertThat(members).isNotEmpty();
            members.forEach((id, a) -> assertThat(id).isPositive());
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).contains("--cluster");
        }
    }

    @Provide
    Arbitrary<String> specs() {
        return Arbitraries.oneOf(Arbitraries.strings().withChars("0123456789=,:.[]abhost-%/ ").ofMaxLength(60),
                Arbitraries.strings().ofMaxLength(40),
                Arbitraries.of("1=127.0.0.1:9081", "1=[::1]:9081,2=[::1]:9082", "0=h:1", "1=h:0", "1=h:65536", "1=h:1,1=h:2",
                        "2147483648=h:1", "1=:1", "=", ",", "1=h:1,", "-1=h:1"));
    }

    @Provide
    Arbitrary<List<String>> commandLines() {
        Arbitrary<String> value = Arbitraries.oneOf(
                Arbitraries.of("1", "0", "-1", "2147483648", "99999999999999999999", "1=127.0.0.1:9081", "1=127.0.0.1:9081,2=127.0.0.1:9082",
                        "127.0.0.1:8081", "0.0.0.0:8081", "[::1]:8081", "h:99999", "http://127.0.0.1:8081", "https://h:1", "ftp://h:1",
                        "/nonexistent/file.pem", "", " ", "keel", "bad id!", "4194304", "33554432", "1048576", "=", "1=h:1,1=h:2"),
                Arbitraries.strings().ofMaxLength(30));
        Arbitrary<List<String>> pair = Combinators.combine(Arbitraries.of(FLAGS), value).as((f, v) -> List.of(f, v));
        Arbitrary<List<String>> flag = Arbitraries.of(FLAGS).map(List::of);
        return Combinators.combine(Arbitraries.oneOf(pair, flag).list().ofMaxSize(12), Arbitraries.of(true, false)).as((parts, base) -> {
            List<String> out = new ArrayList<>();
            if (base) {
                // Often a valid core, so that the random flags reach the deeper checks.
                out.addAll(List.of("--id", "1", "--data-dir", "/tmp/keel-config-fuzz", "--http", "127.0.0.1:8081", "--cluster",
                        "1=127.0.0.1:9081"));
            }
            parts.forEach(out::addAll);
            return out;
        });
    }

    @Test
    void corpusReplays() throws IOException {
        Path dir = Path.of("src/test/resources/fuzz-corpus/config");
        List<Path> inputs;
        try (Stream<Path> s = Files.list(dir)) {
            inputs = s.filter(p -> p.toString().endsWith(".args")).sorted().toList();
        }
        assertThat(inputs).isNotEmpty();
        for (Path p : inputs) parseSafely(Files.readAllLines(p));
    }
}
