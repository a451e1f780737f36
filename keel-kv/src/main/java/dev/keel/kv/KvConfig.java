package dev.keel.kv;

import dev.keel.kv.http.KvLimits;
import dev.keel.kv.store.KvStateMachine;
import dev.keel.server.ServerConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

/**
 * How to run one KV node: the Raft node's {@link ServerConfig}, where to serve HTTP, every member's
 * HTTP address (followers forward writes there), the request limits and the session policy.
 *
 * @param httpAddress the address to bind the HTTP API to
 * @param httpMembers the HTTP base URIs of the bootstrap members as the other nodes and clients reach
 *     them, this node's included; ids among {@code server.members()}. Members' HTTP addresses are also
 *     replicated through the log (nodes added at run time, and each leader publishes those it knows
 *     from here), and the replicated address wins; a joining node needs only its own here
 * @param sessionTtlEntries a client session idle for more than this many log entries is dropped
 *     (log time, see {@link KvStateMachine}); default 1,000,000. Must be equal on every node
 * @param maxSessions at most this many sessions are kept, least recently active dropped first;
 *     default 100,000 (about 15 MiB). Must be equal on every node
 * @param requestTimeout how long an HTTP request waits for a commit, a read index or a forwarded
 *     answer before 504; default the server's proposal timeout plus 2 s, so the runtime's own
 *     Timeout normally comes first
 * @param httpTls HTTPS for the API, or null for plain HTTP. {@code httpMembers} should then be
 *     https URIs, as clients and forwarding followers reach the nodes there
 * @param insecureAllowUnauthenticated serve the API on an address other than loopback without any
 *     client authentication. Refused otherwise (see {@link #authenticated()}): anyone who can reach
 *     such a node could read and write every key and change the membership
 * @param tokenAuth require every request (but {@code /health}) to authenticate as a user with a
 *     bearer token or a client certificate, and to hold a role allowing it (see {@code Auth})
 * @param authBootstrapTokenFile with {@code tokenAuth}: a file holding the first admin's token
 *     ({@code bin/keel auth new-token}); when a node with it leads and user {@code root} does not exist,
 *     it creates {@code root} (admin) with this token's hash. Give the same file to every node, or
 *     null on nodes started after the bootstrap
 */
public record KvConfig(ServerConfig server, InetSocketAddress httpAddress, Map<Integer, URI> httpMembers, KvLimits limits,
                       long sessionTtlEntries, int maxSessions, Duration requestTimeout, HttpTls httpTls,
                       boolean insecureAllowUnauthenticated, boolean tokenAuth, java.nio.file.Path authBootstrapTokenFile) {

    public KvConfig {
        if (server == null || httpAddress == null || httpMembers == null || limits == null || requestTimeout == null) {
            throw new IllegalArgumentException("server, httpAddress, httpMembers, limits and requestTimeout are required");
        }
        httpMembers = Map.copyOf(new TreeMap<>(httpMembers));
        if (!httpMembers.containsKey(server.nodeId())) {
            throw new IllegalArgumentException("httpMembers " + new TreeMap<>(httpMembers).keySet() + " must include this node "
                    + server.nodeId());
        }
        if (!server.members().keySet().containsAll(httpMembers.keySet())) {
            throw new IllegalArgumentException("httpMembers " + new TreeMap<>(httpMembers).keySet() + " name nodes that are not members "
                    + new TreeMap<>(server.members()).keySet());
        }
        if (sessionTtlEntries <= 0) throw new IllegalArgumentException("sessionTtlEntries " + sessionTtlEntries + " must be positive");
        if (maxSessions <= 0) throw new IllegalArgumentException("maxSessions " + maxSessions + " must be positive");
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeout " + requestTimeout + " must be positive");
        }
        if (authBootstrapTokenFile != null && !tokenAuth) {
            throw new IllegalArgumentException("an auth bootstrap token file is for token authentication (--auth)");
        }
        if (!tokenAuth && !authenticated(httpTls) && !isLoopback(httpAddress) && !insecureAllowUnauthenticated) {
            throw new IllegalArgumentException("the HTTP API would listen on " + httpAddress.getHostString() + ":" + httpAddress.getPort()
                    + ", which is not a loopback address, with no client authentication: anyone who can reach it could read and "
                    + "write every key. Turn on authentication (--auth), require client certificates (--client-cert-auth with --cert-file, --key-file and "
                    + "--trusted-ca-file), listen on 127.0.0.1, or accept the risk with --insecure-allow-unauthenticated");
        }
    }

    /** Whether clients must authenticate: as users (tokenAuth), or by certificate when HTTPS requires one. */
    public boolean authenticated() {
        return tokenAuth || authenticated(httpTls);
    }

    private static boolean authenticated(HttpTls tls) {
        return tls != null && tls.clientCertRequired();
    }

    /** Whether only this machine can reach {@code a} (127.0.0.0/8, ::1; a name resolving to one). */
    public static boolean isLoopback(InetSocketAddress a) {
        return a.getAddress() != null && a.getAddress().isLoopbackAddress();
    }

    public int nodeId() {
        return server.nodeId();
    }

    public static Builder builder(ServerConfig server, InetSocketAddress httpAddress, Map<Integer, URI> httpMembers) {
        return new Builder(server, httpAddress, httpMembers);
    }

    /** Builder with the defaults above. */
    public static final class Builder {
        private final ServerConfig server;
        private final InetSocketAddress httpAddress;
        private final Map<Integer, URI> httpMembers;
        private KvLimits limits = KvLimits.DEFAULT;
        private long sessionTtlEntries = KvStateMachine.DEFAULT_SESSION_TTL_ENTRIES;
        private int maxSessions = KvStateMachine.DEFAULT_MAX_SESSIONS;
        private Duration requestTimeout;
        private HttpTls httpTls;
        private boolean insecureAllowUnauthenticated;
        private boolean tokenAuth;
        private java.nio.file.Path authBootstrapTokenFile;

        private Builder(ServerConfig server, InetSocketAddress httpAddress, Map<Integer, URI> httpMembers) {
            this.server = server;
            this.httpAddress = httpAddress;
            this.httpMembers = httpMembers;
        }

        public Builder limits(KvLimits v) { limits = v; return this; }
        public Builder sessionTtlEntries(long v) { sessionTtlEntries = v; return this; }
        public Builder maxSessions(int v) { maxSessions = v; return this; }
        public Builder requestTimeout(Duration v) { requestTimeout = v; return this; }
        /** HTTPS for the API (null, the default: plain HTTP). */
        public Builder httpTls(HttpTls v) { httpTls = v; return this; }
        /** Allow a non-loopback HTTP address without client authentication (see {@code insecureAllowUnauthenticated}). */
        public Builder insecureAllowUnauthenticated(boolean v) { insecureAllowUnauthenticated = v; return this; }
        /** Users, tokens and roles (see {@code tokenAuth}). */
        public Builder tokenAuth(boolean v) { tokenAuth = v; return this; }
        public Builder authBootstrapTokenFile(java.nio.file.Path v) { authBootstrapTokenFile = v; return this; }

        public KvConfig build() {
            Duration timeout = requestTimeout != null ? requestTimeout
                    : Duration.ofMillis(server.proposalTimeoutMillis()).plusSeconds(2);
            return new KvConfig(server, httpAddress, httpMembers, limits, sessionTtlEntries, maxSessions, timeout, httpTls,
                    insecureAllowUnauthenticated, tokenAuth, authBootstrapTokenFile);
        }
    }
}
