package dev.keel.spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bin/keel spec check}: model-checks spec/ with TLC (the CI-sized configurations, and the
 * mutation configurations, which must produce a counterexample) and validates simulator traces
 * of a few seeds against spec/KeelTrace.tla. Exit status 0 when everything is as expected.
 *
 * <pre>
 * keel spec check [--root DIR] [--seeds 1,2,3] [--only model|traces] [--config NAME.cfg]...
 * </pre>
 */
public final class SpecCheck {
    private SpecCheck() {}

    /** A model check: spec module, config, and whether TLC must find an invariant violation. */
    public record Check(String cfg, String spec, boolean expectViolation, String about) {}

    /** The CI set: each finishes in well under a minute on one worker. */
    public static final List<Check> CI_CHECKS = List.of(
            new Check("KeelCI.cfg", "Keel", false, "base protocol, 3 servers"),
            new Check("KeelCommitRuleMutation.cfg", "KeelMembership", true, "mutation: no current-term commit rule"),
            new Check("KeelPreVoteCI.cfg", "Keel", false, "Pre-Vote + check-quorum + leadership transfer"),
            new Check("KeelReadIndexCI.cfg", "Keel", false, "ReadIndex"),
            new Check("KeelSnapshotCI.cfg", "Keel", false, "snapshots and compaction"),
            new Check("KeelMembershipCI.cfg", "KeelMembership", false, "joint consensus + learners"),
            new Check("KeelMembershipMutation.cfg", "KeelMembership", true, "mutation: no joint consensus"));

    /** Seeds whose traces CI validates (3 voters, faults on; see README). */
    public static final List<Long> CI_SEEDS = List.of(1L, 3L, 6L, 10L);

    /** Whether a model-check result is what the check expects. */
    public static boolean asExpected(Check c, Tlc.Result r) {
        if (c.expectViolation()) return r.violation() != null && r.error() == null;
        return r.completed();
    }

    /** Finds spec/ from a directory inside the repository. */
    public static Path findSpecDir(Path from) {
        for (Path p = from.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("spec").resolve("Keel.tla"))) return p.resolve("spec");
        }
        throw new IllegalStateException("no spec/Keel.tla in " + from.toAbsolutePath() + " or above it");
    }

    /** Runs one model check in a scratch copy of spec/. */
    public static Tlc.Result modelCheck(Path specDir, Check c, long timeoutSeconds) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("keel-tlc-");
            try (var files = Files.list(specDir)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".tla") || p.toString().endsWith(".cfg")).toList()) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
            return Tlc.run(c.cfg(), dir, c.spec(), c.cfg(), timeoutSeconds);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (dir != null) TraceValidation.deleteTree(dir);
        }
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Path root = Path.of(".");
        List<Long> seeds = new ArrayList<>(CI_SEEDS);
        String only = null;
        List<String> configs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "check" -> { }
                case "--root" -> root = Path.of(args[++i]);
                case "--seeds" -> {
                    seeds.clear();
                    for (String s : args[++i].split(",")) seeds.add(Long.parseLong(s.strip()));
                }
                case "--only" -> only = args[++i];
                case "--config" -> configs.add(args[++i]);
                case "-h", "--help" -> {
                    System.out.println("usage: keel spec check [--root DIR] [--seeds 1,2,3] [--only model|traces]"
                            + " [--config NAME.cfg]...");
                    return 0;
                }
                default -> {
                    System.err.println("keel spec: unknown argument " + args[i] + " (try --help)");
                    return 2;
                }
            }
        }
        Path specDir = findSpecDir(root);
        int failures = 0;
        if (!"traces".equals(only)) {
            List<Check> checks = new ArrayList<>();
            for (Check c : CI_CHECKS) if (configs.isEmpty() || configs.contains(c.cfg())) checks.add(c);
            for (String cfg : configs) {
                if (checks.stream().noneMatch(c -> c.cfg().equals(cfg))) {
                    checks.add(new Check(cfg, cfg.startsWith("KeelMembership") || cfg.startsWith("KeelCommitRule") ? "KeelMembership" : "Keel",
                            cfg.contains("Mutation"), "named on the command line"));
                }
            }
            for (Check c : checks) {
                Tlc.Result r = modelCheck(specDir, c, 3600);
                boolean ok = asExpected(c, r);
                System.out.println((ok ? "PASS " : "FAIL ") + r.line() + "  (" + c.about()
                        + (c.expectViolation() ? "; a violation is expected" : "") + ")");
                if (!ok) {
                    failures++;
                    System.out.println(tail(r.output(), 40));
                }
            }
        }
        if (!"model".equals(only)) {
            for (long seed : seeds) {
                TraceValidation.Run run = TraceValidation.record(seed, TraceValidation.OPTIONS);
                TraceValidation.Outcome o = TraceValidation.validate("trace seed " + seed, run.ndjson(), specDir, 1800);
                System.out.println((o.accepted() ? "PASS " : "FAIL ") + o.line());
                if (!o.accepted()) failures++;
            }
        }
        System.out.println(failures == 0 ? "keel spec check: all passed" : "keel spec check: " + failures + " failed");
        return failures == 0 ? 0 : 1;
    }

    public static String tail(String s, int lines) {
        String[] all = s.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
    }
}
