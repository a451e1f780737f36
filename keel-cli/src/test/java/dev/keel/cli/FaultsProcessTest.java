package dev.keel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.faults.Checkers;
import dev.keel.faults.Event;
import dev.keel.faults.FaultRun;
import dev.keel.faults.History;
import dev.keel.faults.Nemesis;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault harness on real `keel serve` processes, in the short form CI runs: a run with
 * partitions and kills must be valid, and the same harness against a deliberately broken mode
 * (reads without ReadIndex) must find the violation, which shows the checks can fail.
 */
class FaultsProcessTest {
    @TempDir
    Path dir;

    static FaultRun.Options options(Path dir, long seconds, List<Nemesis.Fault> faults, List<String> workloads, long seed,
                                    FaultRun.NetworkKind network, boolean broken) {
        return new FaultRun.Options(3, Duration.ofSeconds(seconds), faults, workloads, 9, seed, dir, network, broken,
                Duration.ofSeconds(5), Duration.ofSeconds(4), Duration.ofSeconds(6), 100_000_000L);
    }

    static FaultRun.Outcome run(FaultRun.Options o) throws Exception {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        FaultRun.Outcome outcome = FaultRun.run(o, FaultsCommand.nodeCommand(), new PrintStream(progress, true, StandardCharsets.UTF_8));
        System.out.println(progress.toString(StandardCharsets.UTF_8));
        outcome.results().forEach(r -> System.out.println(r.name() + ": " + r.validity() + " - " + r.summary() + "\n" + r.detail()));
        return outcome;
    }

    @Test
    void partitionsAndKillsLoseNothingAndStayLinearizable() throws Exception {
        FaultRun.Outcome o = run(options(dir, 90, List.of(Nemesis.Fault.PARTITION, Nemesis.Fault.KILL),
                List.of("register", "set", "bank"), 42, FaultRun.NetworkKind.AUTO, false));
        assertThat(o.results()).extracting(Checkers.Result::validity).containsOnly(Checkers.Validity.VALID);
        assertThat(o.valid()).isTrue();
        assertThat(o.faultsRun()).isGreaterThanOrEqualTo(3);
        // The run did real work on every workload, through the faults.
        assertThat(o.counts().get("write")[0]).isGreaterThan(50);
        assertThat(o.counts().get("add")[0]).isGreaterThan(50);
        assertThat(o.counts().get("transfer")[0]).isGreaterThan(10);
        assertThat(o.counts().get("read-all")[0]).isEqualTo(1);

        List<Event> events = History.read(o.history());
        assertThat(events.stream().filter(Event::isNemesis).map(Event::f)).contains("partition", "kill");
        String report = Files.readString(o.report());
        assertThat(report).startsWith("# Keel fault run: VALID").contains("| register | VALID |", "| set | VALID |", "| bank | VALID |");
        assertThat(Files.readString(o.chart())).startsWith("<?xml").contains("partition");
    }

    @Test
    void theCheckerFindsTheViolationWhenReadsSkipReadIndex() throws Exception {
        FaultRun.Outcome o = run(options(dir, 45, List.of(Nemesis.Fault.PARTITION), List.of("register"), 7,
                FaultRun.NetworkKind.AUTO, true));
        Checkers.Result register = o.results().get(0);
        assertThat(register.validity()).isEqualTo(Checkers.Validity.INVALID);
        assertThat(register.summary()).contains("NOT linearizable");
        assertThat(register.detail()).contains("first operation that cannot be linearized");
        assertThat(o.valid()).isFalse();
        assertThat(Files.readString(o.report())).startsWith("# Keel fault run: NOT VALID")
                .contains("BROKEN on purpose");
    }

    @Test
    void theLoopbackProxyNetworkWorksWithoutNamespaces() throws Exception {
        FaultRun.Outcome o = run(options(dir, 40, List.of(Nemesis.Fault.PARTITION, Nemesis.Fault.PAUSE),
                List.of("register", "set"), 9, FaultRun.NetworkKind.PROXY, false));
        assertThat(o.valid()).isTrue();
        assertThat(o.faultsRun()).isGreaterThanOrEqualTo(2);
        assertThat(o.counts().get("add")[0]).isGreaterThan(20);
        assertThat(Files.readString(o.report())).contains("loopback");
    }
}
