package dev.keel.faults;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A {@link Network} for nodes running as plain processes on loopback, for anyone (no root): every
 * node listens on its own loopback ports, and every directed peer link {@code from -> to} goes
 * through its own {@link FaultProxy}, which is where faults are injected. Directed links are what
 * make one-way partitions possible: node 1 dials node 2 through proxy (1,2) and node 2 dials node 1
 * through proxy (2,1), so cutting (1,2) leaves (2,1) intact.
 *
 * <p>What this network cannot do, compared to {@code NetnsNetwork}: a partition closes connections
 * and refuses new ones rather than dropping packets (a stream proxy can only stop a stream by ending
 * it, see {@link FaultProxy}), so nodes notice a partition at once instead of after a timeout; a slow
 * link is delayed but never loses packets; and HTTP between nodes (forwarding to the leader) is
 * direct, so it is neither cut nor slowed. Clients run in the harness and talk to nodes directly.
 *
 * <p>Ports are found by binding port 0 and closing the socket, so another process could in theory
 * take one before the node binds it; on a test machine that is rare enough to accept.
 */
public final class ProxyNetwork implements Network {

    static final long SLOW_MIN_MILLIS = 20;
    static final long SLOW_MAX_MILLIS = 80;

    private final List<Integer> ids;
    private final Map<Integer, Integer> peerPorts;
    private final Map<Integer, Integer> httpPorts;
    private final Map<DirectedLink, FaultProxy> proxies;

    private record DirectedLink(int from, int to) {}

    private ProxyNetwork(
            List<Integer> ids,
            Map<Integer, Integer> peerPorts,
            Map<Integer, Integer> httpPorts,
            Map<DirectedLink, FaultProxy> proxies) {
        this.ids = ids;
        this.peerPorts = peerPorts;
        this.httpPorts = httpPorts;
        this.proxies = proxies;
    }

    /**
     * Allocates a peer port and an HTTP port on 127.0.0.1 for each node and starts one proxy per
     * ordered pair of distinct nodes, forwarding to the peer port of the second.
     */
    public static ProxyNetwork create(List<Integer> ids) throws IOException {
        List<Integer> nodes = List.copyOf(ids);
        if (nodes.isEmpty() || new TreeSet<>(nodes).size() != nodes.size()) {
            throw new IllegalArgumentException("need distinct node ids, got " + ids);
        }
        // The probes stay open until the proxies are bound: while a port is held, the kernel hands
        // it to no one else, so node ports are distinct and no proxy lands on a node's port.
        List<ServerSocket> probes = new ArrayList<>();
        Map<DirectedLink, FaultProxy> proxies = new LinkedHashMap<>();
        try {
            Map<Integer, Integer> peerPorts = new LinkedHashMap<>();
            Map<Integer, Integer> httpPorts = new LinkedHashMap<>();
            for (int id : nodes) {
                peerPorts.put(id, probe(probes));
                httpPorts.put(id, probe(probes));
            }
            for (int from : nodes) {
                for (int to : nodes) {
                    if (from != to) {
                        InetSocketAddress target = new InetSocketAddress(FaultProxy.loopback(), peerPorts.get(to));
                        proxies.put(new DirectedLink(from, to), FaultProxy.start(target));
                    }
                }
            }
            return new ProxyNetwork(nodes, Map.copyOf(peerPorts), Map.copyOf(httpPorts), proxies);
        } catch (IOException | RuntimeException e) {
            proxies.values().forEach(FaultProxy::close);
            throw e;
        } finally {
            for (ServerSocket probe : probes) {
                try {
                    probe.close();
                } catch (IOException ignored) {
                    // The port stays bound only until the process ends; the proxies are what matter.
                }
            }
        }
    }

    private static int probe(List<ServerSocket> probes) throws IOException {
        ServerSocket socket = new ServerSocket();
        probes.add(socket);
        socket.bind(new InetSocketAddress(FaultProxy.loopback(), 0));
        return socket.getLocalPort();
    }

    /** The node ids, in the order given. */
    public List<Integer> ids() {
        return ids;
    }

    /** The proxy node {@code from} dials to reach node {@code to}, for counters in reports. */
    public FaultProxy proxy(int from, int to) {
        FaultProxy proxy = proxies.get(new DirectedLink(from, to));
        if (proxy == null) {
            throw new IllegalArgumentException("no link " + from + " -> " + to + " among nodes " + ids);
        }
        return proxy;
    }

    @Override
    public String describe() {
        return "loopback with one fault-injecting TCP proxy per directed peer link (" + proxies.size()
                + " proxies for " + ids.size() + " nodes); partitions close connections instead of dropping"
                + " packets; slow links are delayed " + SLOW_MIN_MILLIS + "-" + SLOW_MAX_MILLIS
                + " ms with no packet loss; HTTP between nodes is direct (not proxied, never cut or slowed)";
    }

    @Override
    public InetSocketAddress peerListen(int id) {
        return new InetSocketAddress(FaultProxy.loopback(), port(peerPorts, id));
    }

    @Override
    public InetSocketAddress peerAddressSeenBy(int from, int to) {
        if (from == to) {
            port(peerPorts, from);
            return peerListen(to);
        }
        return proxy(from, to).address();
    }

    @Override
    public InetSocketAddress httpListen(int id) {
        return new InetSocketAddress(FaultProxy.loopback(), port(httpPorts, id));
    }

    @Override
    public InetSocketAddress httpAddressSeenBy(int from, int to) {
        port(httpPorts, from);
        return httpListen(to);
    }

    @Override
    public URI clientUri(int id) {
        return URI.create("http://127.0.0.1:" + port(httpPorts, id));
    }

    @Override
    public List<String> launchPrefix(int id) {
        port(peerPorts, id);
        return List.of();
    }

    @Override
    public void cut(int from, int to) {
        proxy(from, to).setBlocked(true);
    }

    @Override
    public void heal() {
        for (FaultProxy proxy : proxies.values()) {
            proxy.setBlocked(false);
        }
    }

    @Override
    public boolean canSlow() {
        return true;
    }

    /** Delays both directions of every peer link that touches one of {@code nodes}. */
    @Override
    public String slow(Set<Integer> nodes) {
        Set<Integer> sorted = new TreeSet<>(nodes);
        for (int id : sorted) {
            port(peerPorts, id);
        }
        proxies.forEach((link, proxy) -> {
            if (sorted.contains(link.from()) || sorted.contains(link.to())) {
                proxy.setDelayMillis(SLOW_MIN_MILLIS, SLOW_MAX_MILLIS);
            }
        });
        return "proxy delay " + SLOW_MIN_MILLIS + "-" + SLOW_MAX_MILLIS + " ms on links of nodes " + sorted
                + " (no packet loss on loopback)";
    }

    @Override
    public void fast() {
        for (FaultProxy proxy : proxies.values()) {
            proxy.setDelayMillis(0, 0);
        }
    }

    /** Closes every proxy; the nodes' own ports belong to the nodes. Safe to call twice. */
    @Override
    public void close() {
        for (FaultProxy proxy : proxies.values()) {
            proxy.close();
        }
    }

    @Override
    public String toString() {
        return "ProxyNetwork" + ids;
    }

    private int port(Map<Integer, Integer> ports, int id) {
        Integer port = ports.get(id);
        if (port == null) {
            throw new IllegalArgumentException("unknown node " + id + ", nodes are " + ids);
        }
        return port;
    }
}
