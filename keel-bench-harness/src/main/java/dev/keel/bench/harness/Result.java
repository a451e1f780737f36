package dev.keel.bench.harness;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The figures of one measured run, as one line of {@code key=value} pairs that the comparison
 * parses back ({@link #parse}).
 *
 * @param system       the system's name
 * @param mode         closed-N (N outstanding proposals) or open-R (R proposals per second)
 * @param commandBytes command size
 * @param ops          committed operations in the measured interval
 * @param seconds      length of the measured interval
 * @param p50Micros    latency percentiles in microseconds (open loop: from each proposal's intended start)
 * @param p99Micros    see above
 * @param p999Micros   see above
 * @param cpuSeconds   CPU time of the whole process (every node) during the interval
 * @param peakHeapBytes peak heap use of the process during the interval
 * @param errors       proposals that failed
 */
public record Result(String system, String mode, int commandBytes, long ops, double seconds, double p50Micros, double p99Micros,
                     double p999Micros, double cpuSeconds, long peakHeapBytes, long errors) {

    public double opsPerSecond() {
        return ops / seconds;
    }

    /** CPU seconds per 1,000 committed operations, across the cluster. */
    public double cpuPerThousand() {
        return ops == 0 ? Double.NaN : cpuSeconds * 1000.0 / ops;
    }

    public String line() {
        return String.format(Locale.ROOT, "RESULT system=%s mode=%s bytes=%d ops=%d seconds=%.3f p50=%.1f p99=%.1f p999=%.1f cpu=%.3f heap=%d errors=%d",
                system, mode, commandBytes, ops, seconds, p50Micros, p99Micros, p999Micros, cpuSeconds, peakHeapBytes, errors);
    }

    /** Parses {@link #line()}. */
    public static Result parse(String line) {
        if (!line.startsWith("RESULT ")) throw new IllegalArgumentException("not a result line: " + line);
        Map<String, String> f = new TreeMap<>();
        for (String kv : line.substring(7).trim().split(" ")) {
            int eq = kv.indexOf('=');
            if (eq < 0) throw new IllegalArgumentException("bad field '" + kv + "' in " + line);
            f.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        try {
            return new Result(f.get("system"), f.get("mode"), Integer.parseInt(f.get("bytes")), Long.parseLong(f.get("ops")),
                    Double.parseDouble(f.get("seconds")), Double.parseDouble(f.get("p50")), Double.parseDouble(f.get("p99")),
                    Double.parseDouble(f.get("p999")), Double.parseDouble(f.get("cpu")), Long.parseLong(f.get("heap")),
                    Long.parseLong(f.get("errors")));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad result line: " + line, e);
        }
    }
}
