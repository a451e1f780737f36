package dev.keel.kv.http;

/**
 * Size limits the HTTP API enforces before anything reaches the log; a request over one gets 413.
 * The defaults follow etcd's spirit: small keys, values up to 1 MiB (etcd's default request limit
 * is 1.5 MiB). Every value goes through the log and is held in memory on every node, so a 1 MiB
 * value costs 1 MiB per node plus the log's copy until compaction.
 *
 * @param keyMaxBytes the largest key after URL decoding (default 4 KiB)
 * @param valueMaxBytes the largest value, also the largest {@code prevValue} (default 1 MiB)
 * @param bodyMaxBytes the largest request body read at all (default 1 MiB); a larger
 *     Content-Length is refused before the body is read
 * @param scanLimitDefault the number of keys a scan returns without {@code limit} (default 1,000)
 * @param scanLimitMax the largest {@code limit} accepted (default 10,000: a scan answers from memory
 *     in one response, so 10,000 values of 1 MiB would be 10 GiB; lower it if values are large)
 */
public record KvLimits(int keyMaxBytes, int valueMaxBytes, int bodyMaxBytes, int scanLimitDefault, int scanLimitMax) {
    public static final KvLimits DEFAULT = new KvLimits(4 << 10, 1 << 20, 1 << 20, 1_000, 10_000);

    public KvLimits {
        if (keyMaxBytes <= 0) throw new IllegalArgumentException("keyMaxBytes " + keyMaxBytes + " must be positive");
        if (valueMaxBytes < 0) throw new IllegalArgumentException("valueMaxBytes " + valueMaxBytes + " must not be negative");
        if (bodyMaxBytes < valueMaxBytes) {
            throw new IllegalArgumentException("bodyMaxBytes (" + bodyMaxBytes + ") must be at least valueMaxBytes ("
                    + valueMaxBytes + ")");
        }
        if (scanLimitDefault <= 0) throw new IllegalArgumentException("scanLimitDefault " + scanLimitDefault + " must be positive");
        if (scanLimitMax < scanLimitDefault) {
            throw new IllegalArgumentException("scanLimitMax (" + scanLimitMax + ") must be at least scanLimitDefault ("
                    + scanLimitDefault + ")");
        }
    }
}
