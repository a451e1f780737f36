package dev.keel.kv.http;

/**
 * Limits the HTTP API enforces so that no client can take more than its share of a node: sizes are
 * checked before anything reaches the log (413), counts before a request is served (429). The
 * defaults follow etcd's spirit: small keys, values up to 1 MiB (etcd's default request limit is
 * 1.5 MiB). Every value goes through the log and is held in memory on every node, so a 1 MiB value
 * costs 1 MiB per node plus the log's copy until compaction.
 *
 * @param keyMaxBytes the largest key after URL decoding (default 4 KiB)
 * @param valueMaxBytes the largest value, also the largest {@code prevValue} (default 1 MiB)
 * @param bodyMaxBytes the largest request body read at all (default 1 MiB); a larger
 *     Content-Length is refused before the body is read
 * @param scanLimitDefault the number of keys a scan returns without {@code limit} (default 1,000)
 * @param scanLimitMax the largest {@code limit} accepted (default 10,000: a scan answers from memory
 *     in one response, so 10,000 values of 1 MiB would be 10 GiB; lower it if values are large)
 * @param connectionsMax open HTTP connections the server keeps at once (default 10,000); a connection
 *     beyond it gets 429 TOO_MANY_CONNECTIONS to its first request and is closed. Each idle
 *     connection costs a file descriptor and a few KiB (about 40 MiB at the default)
 * @param inflightPerClientMax requests one client (one remote address; with authentication, one
 *     principal) may have in flight at once (default 1,000); more get 429 TOO_MANY_REQUESTS on the
 *     spot. A request holds its connection until answered, so this is also how many of a client's
 *     connections can wait on commits; a benchmark from one host with 256 threads stays far below it
 */
public record KvLimits(int keyMaxBytes, int valueMaxBytes, int bodyMaxBytes, int scanLimitDefault, int scanLimitMax,
                       int connectionsMax, int inflightPerClientMax) {
    public static final int DEFAULT_CONNECTIONS_MAX = 10_000;
    public static final int DEFAULT_INFLIGHT_PER_CLIENT_MAX = 1_000;
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
        if (connectionsMax <= 0) throw new IllegalArgumentException("connectionsMax " + connectionsMax + " must be positive");
        if (inflightPerClientMax <= 0) {
            throw new IllegalArgumentException("inflightPerClientMax " + inflightPerClientMax + " must be positive");
        }
    }

    /** The size limits given, the count limits at their defaults. */
    public KvLimits(int keyMaxBytes, int valueMaxBytes, int bodyMaxBytes, int scanLimitDefault, int scanLimitMax) {
        this(keyMaxBytes, valueMaxBytes, bodyMaxBytes, scanLimitDefault, scanLimitMax, DEFAULT_CONNECTIONS_MAX,
                DEFAULT_INFLIGHT_PER_CLIENT_MAX);
    }

    public KvLimits withKeyMaxBytes(int v) {
        return new KvLimits(v, valueMaxBytes, bodyMaxBytes, scanLimitDefault, scanLimitMax, connectionsMax, inflightPerClientMax);
    }

    /** Also raises bodyMaxBytes to {@code v} if it was smaller, since a body must hold a value. */
    public KvLimits withValueMaxBytes(int v) {
        return new KvLimits(keyMaxBytes, v, Math.max(v, bodyMaxBytes), scanLimitDefault, scanLimitMax, connectionsMax,
                inflightPerClientMax);
    }

    public KvLimits withBodyMaxBytes(int v) {
        return new KvLimits(keyMaxBytes, valueMaxBytes, v, scanLimitDefault, scanLimitMax, connectionsMax, inflightPerClientMax);
    }

    public KvLimits withConnectionsMax(int v) {
        return new KvLimits(keyMaxBytes, valueMaxBytes, bodyMaxBytes, scanLimitDefault, scanLimitMax, v, inflightPerClientMax);
    }

    public KvLimits withInflightPerClientMax(int v) {
        return new KvLimits(keyMaxBytes, valueMaxBytes, bodyMaxBytes, scanLimitDefault, scanLimitMax, connectionsMax, v);
    }
}
