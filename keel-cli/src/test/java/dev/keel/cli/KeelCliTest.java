package dev.keel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class KeelCliTest {
    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
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
        assertThat(r.out()).contains("sim");
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
}
