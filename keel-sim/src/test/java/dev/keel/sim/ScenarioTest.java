package dev.keel.sim;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every scenario in {@code src/test/resources/scenarios} (etcd's datadriven style, see
 * {@link ScenarioRunner}) against a {@link ManualCluster} and compares each command's output with
 * the expected text. The cluster's {@link SafetyChecker} runs on every step, so each story also
 * proves Raft's safety properties held throughout.
 *
 * <p>With {@code -Dkeel.rewrite=true} the files are rewritten with the actual output instead, to be
 * reviewed as a diff before committing.
 */
class ScenarioTest {
    private static final boolean REWRITE = Boolean.getBoolean("keel.rewrite");

    /** The source directory, so that rewriting edits the checked-in files (Maven runs tests in the module dir). */
    private static Path scenarioDir() {
        for (String candidate : List.of("src/test/resources/scenarios", "keel-sim/src/test/resources/scenarios")) {
            Path p = Path.of(candidate);
            if (Files.isDirectory(p)) return p;
        }
        throw new IllegalStateException("no scenarios directory under " + Path.of("").toAbsolutePath());
    }

    @TestFactory
    Stream<DynamicTest> scenarios() throws IOException {
        Path dir = scenarioDir();
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".txt")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no scenario files in " + dir.toAbsolutePath());
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> runFile(f)));
    }

    private static void runFile(Path file) throws IOException {
        String name = file.getFileName().toString();
        List<ScenarioRunner.Block> blocks = ScenarioRunner.parse(name, Files.readAllLines(file, StandardCharsets.UTF_8));
        ScenarioRunner runner = new ScenarioRunner();
        List<List<String>> outputs = new ArrayList<>();
        for (ScenarioRunner.Block b : blocks) {
            if (b.command() == null) {
                outputs.add(List.of());
                continue;
            }
            List<String> actual;
            try {
                actual = runner.run(b.command());
            } catch (RuntimeException e) {
                // Safety violations, core invariant failures and bad commands always fail, even
                // when rewriting (an expected output must never accept a broken invariant). When
                // rewriting, the file still gets the output up to here and the error, for review.
                if (REWRITE) {
                    outputs.add(List.of("error: " + e));
                    for (int k = outputs.size(); k < blocks.size(); k++) outputs.add(blocks.get(k).expected());
                    Files.writeString(file, ScenarioRunner.render(blocks, outputs), StandardCharsets.UTF_8);
                }
                throw new AssertionError(name + ":" + b.lineNumber() + ": `" + b.command() + "` threw " + e, e);
            }
            outputs.add(actual);
            if (!REWRITE && !actual.equals(b.expected())) {
                fail(name + ":" + b.lineNumber() + ": output of `" + b.command() + "` differs "
                        + "(- expected, + actual; rerun with -Dkeel.rewrite=true to accept):\n"
                        + diff(b.expected(), actual));
            }
        }
        if (REWRITE) {
            String text = ScenarioRunner.render(blocks, outputs);
            if (!text.equals(Files.readString(file, StandardCharsets.UTF_8))) {
                Files.writeString(file, text, StandardCharsets.UTF_8);
            }
        }
    }

    /** A line diff (longest common subsequence), each line prefixed with "  ", "- " or "+ ". */
    static String diff(List<String> expected, List<String> actual) {
        int n = expected.size();
        int m = actual.size();
        int[][] lcs = new int[n + 1][m + 1];
        for (int i = n - 1; i >= 0; i--) {
            for (int j = m - 1; j >= 0; j--) {
                lcs[i][j] = expected.get(i).equals(actual.get(j)) ? lcs[i + 1][j + 1] + 1
                        : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
            }
        }
        StringBuilder sb = new StringBuilder();
        int i = 0;
        int j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && expected.get(i).equals(actual.get(j))) {
                sb.append("  ").append(expected.get(i++)).append('\n');
                j++;
            } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
                sb.append("- ").append(expected.get(i++)).append('\n');
            } else {
                sb.append("+ ").append(actual.get(j++)).append('\n');
            }
        }
        return sb.toString();
    }
}
