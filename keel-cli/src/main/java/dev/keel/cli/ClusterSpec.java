package dev.keel.cli;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Map;
import java.util.TreeMap;

/** Parses "1=host:port,2=host:port" lists with clear errors. */
final class ClusterSpec {
    private ClusterSpec() {}

    static Map<Integer, InetSocketAddress> addresses(String spec, String option) {
        Map<Integer, InetSocketAddress> out = new TreeMap<>();
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) continue;
            int eq = p.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException(option + ": '" + p + "' is not id=host:port");
            int id;
            try {
                id = Integer.parseInt(p.substring(0, eq));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": node id '" + p.substring(0, eq) + "' is not a number");
            }
            if (id <= 0) throw new IllegalArgumentException(option + ": node id " + id + " must be positive");
            if (out.put(id, hostPort(p.substring(eq + 1), option)) != null) {
                throw new IllegalArgumentException(option + ": node " + id + " appears twice");
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException(option + " names no nodes");
        return out;
    }

    static InetSocketAddress hostPort(String s, String option) {
        int colon = s.lastIndexOf(':');
        if (colon < 1) throw new IllegalArgumentException(option + ": '" + s + "' is not host:port");
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": port in '" + s + "' is not a number");
        }
        if (port < 1 || port > 65535) throw new IllegalArgumentException(option + ": port " + port + " outside 1-65535");
        return new InetSocketAddress(s.substring(0, colon), port);
    }

    /** Base URIs with {@code scheme} ("http" or "https"). */
    static Map<Integer, URI> httpUris(Map<Integer, InetSocketAddress> http, String scheme) {
        Map<Integer, URI> out = new TreeMap<>();
        http.forEach((id, a) -> out.put(id, URI.create(scheme + "://" + a.getHostString() + ":" + a.getPort())));
        return out;
    }
}
