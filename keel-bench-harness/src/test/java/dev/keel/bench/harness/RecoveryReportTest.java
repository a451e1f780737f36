package dev.keel.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The snapshot-and-restart curve's line format and its section of the report. */
class RecoveryReportTest {

    private static final RecoveryResult STATE_64 = new RecoveryResult("state", 64, 16_384, 4096, 0.9, 141_641_864, 163.6, 67_813_600,
            68_870_392, 203.2, 330.0, 374.0, 3);
    private static final RecoveryResult STATE_256 = new RecoveryResult("state", 256, 65_536, 4096, 3.5, 560L << 20, 610.4,
            268_500_000, 270_000_000, 700.0, 860.0, 905.5, 3);
    private static final RecoveryResult LOG_100K = new RecoveryResult("log", 100_000, 100_000, 256, 1.2, 67_565_456, -1, 0, 32_000_115,
            300.0, 500.0, 1000.0, 3);

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void aLineParsesBackToTheSameResult() {
        for (RecoveryResult r : List.of(STATE_64, STATE_256, LOG_100K)) {
            assertThat(r.line()).startsWith("RECOVERY kind=" + r.kind() + " x=" + r.x() + " ");
            assertThat(RecoveryResult.parse(r.line())).isEqualTo(r);
        }
    }

    @Test
    void parseAcceptsFieldsInAnyOrderAndIgnoresUnknownOnes() {
        String line = "RECOVERY restarts=1 x=10000 kind=log entries=10000 valueBytes=256 loadSeconds=0.1 heapBytes=5 snapshotMillis=-1 "
                + "snapshotBytes=0 dataBytes=3200115 openMillis=40 leaderMillis=200 restartMillis=250 future=7";
        RecoveryResult r = RecoveryResult.parse(line);
        assertThat(r.kind()).isEqualTo("log");
        assertThat(r.x()).isEqualTo(10_000);
        assertThat(r.restartMillis()).isEqualTo(250.0);
        // Replayed after the election: 10,000 entries in 250 - 200 ms.
        assertThat(r.entriesPerSecond()).isEqualTo(200_000.0);
    }

    @Test
    void parseRejectsOtherLinesAndMissingOrBadFields() {
        assertThatThrownBy(() -> RecoveryResult.parse(new Result("keel", "closed-1", 1024, 1, 1, 1, 1, 1, 1, 1, 0).line()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a recovery line");
        String full = STATE_64.line();
        assertThatThrownBy(() -> RecoveryResult.parse(full.replace(" restartMillis=374.0", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad recovery line");
        assertThatThrownBy(() -> RecoveryResult.parse(full.replace("kind=state", "kind=disk")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad recovery line");
        assertThatThrownBy(() -> RecoveryResult.parse(full.replace("x=64", "x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad field 'x'");
    }

    @Test
    void sectionHasATablePerCurveAndTheirCharts(@TempDir Path out) throws Exception {
        StringBuilder md = new StringBuilder();
        Report.recovery(md, out, List.of(STATE_64, STATE_256, LOG_100K), "one RaftServer alone");
        String s = md.toString();
        assertThat(s).contains("## Scale: snapshot and restart time (Keel, one node, durable)", "Keel only: the peers are out of scope",
                "How it runs: one RaftServer alone.");
        assertThat(s).contains("| state MiB | keys | snapshot ms | snapshot file MiB | restart ms |");
        assertThat(s).contains("| 64 | 16384 | 164 | 64.7 | 374 | 203 | 330 | 135 | 0.9 |");
        assertThat(s).contains("| 256 | 65536 | 610 | 256.1 | 906 | 700 | 860 | 560 | 3.5 |");
        assertThat(s).contains("| log entries | log MiB | restart ms | start() ms | leader at ms | entries/s replayed |");
        assertThat(s).contains("| 100000 | 31 | 1000 | 300 | 500 | 200000 |");
        assertThat(out.resolve("recovery-state.png")).isNotEmptyFile();
        assertThat(out.resolve("recovery-log.png")).isNotEmptyFile();
    }

    @Test
    void oneCurveAloneGetsOnlyItsTableAndChart(@TempDir Path out) throws Exception {
        StringBuilder md = new StringBuilder();
        Report.recovery(md, out, List.of(LOG_100K), "");
        assertThat(md.toString()).contains("| log entries |").doesNotContain("| state MiB |").doesNotContain("How it runs");
        assertThat(out.resolve("recovery-log.png")).isNotEmptyFile();
        assertThat(out.resolve("recovery-state.png")).doesNotExist();
    }

    @Test
    void noCurveNoSection(@TempDir Path out) throws Exception {
        StringBuilder md = new StringBuilder();
        Report.recovery(md, out, List.of(), "ignored");
        assertThat(md.toString()).isEmpty();
        try (var files = Files.list(out)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void theWholeReportCarriesTheSectionTheChartsAndTheCsv(@TempDir Path out) throws Exception {
        Report.write(out, List.of(new Floor(1000, 2000, 700, 300, 50, 1200)), List.of(), Map.of(), List.of(STATE_64, LOG_100K), "one RaftServer alone",
                List.of(), true, 1, 1.5, 3, 60_000_000_000L);
        String md = Files.readString(out.resolve("results.md"));
        assertThat(md).contains("## Scale: snapshot and restart time (Keel, one node, durable)", "![recovery-state](recovery-state.png)",
                "![recovery-log](recovery-log.png)", "`recovery.csv`");
        assertThat(Files.readAllLines(out.resolve("recovery.csv"))).containsExactly(
                "kind,x,entries,value_bytes,load_s,heap_bytes,snapshot_ms,snapshot_bytes,data_bytes,start_ms,leader_ms,restart_ms,restarts",
                "state,64,16384,4096,0.900,141641864,163.6,67813600,68870392,203.2,330.0,374.0,3",
                "log,100000,100000,256,1.200,67565456,-1.0,0,32000115,300.0,500.0,1000.0,3");
    }

    @Test
    void withoutTheCurveTheReportHasNeitherSectionNorCsv(@TempDir Path out) throws Exception {
        Report.write(out, List.of(new Floor(1000, 2000, 700, 300, 50, 1200)), List.of(), Map.of(), List.of(), "", List.of(), true, 1, 1.5, 3, 1);
        assertThat(Files.readString(out.resolve("results.md"))).doesNotContain("snapshot and restart").doesNotContain("recovery");
        assertThat(out.resolve("recovery.csv")).doesNotExist();
    }
}
