package dev.keel.faults;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * One Linux network namespace per node, each with a veth pair into a bridge namespace, and one more
 * veth from the harness's namespace into the bridge for the clients: the nodes talk real TCP between
 * real addresses, and faults hit packets, not connections.
 *
 * <p>A cut from A to B is a blackhole route to B's address inside A's namespace: A's packets to B
 * vanish, exactly like a switch dropping them, and TCP on both sides sees a silent peer until its
 * own timeouts fire (the hard case for Raft: no connection reset tells anyone). Clients are not
 * affected because routes in node namespaces only name node addresses.
 *
 * <p>A slow link uses {@code tc qdisc netem} (delay, jitter and loss) where the kernel has it.
 * Some kernels (this project's CI machines among them) lack netem and every classifier, so there
 * the fallback is a token-bucket filter ({@code tbf}) at a low rate: queueing delay and tail drops
 * under load, which is what a congested link does. {@link #describe()} says which one is in use.
 *
 * <p>Needs root and iproute2 ({@code ip}, {@code tc}). Everything created is named after a random
 * run tag and removed by {@link #close()} (also from a shutdown hook).
 */
public final class NetnsNetwork implements Network {

    static final int PEER_PORT = 9081;
    static final int HTTP_PORT = 8081;

    private final String tag;
    private final String subnet; // "10.231.N" (a /24)
    private final List<Integer> ids;
    private final Set<String> cuts = new LinkedHashSet<>();
    private final Set<Integer> slowed = new TreeSet<>();
    private boolean netem; // set once, before the network is handed out
    private final Thread cleanup = new Thread(this::teardown, "keel-netns-cleanup");
    private boolean closed;

    private NetnsNetwork(String tag, String subnet, List<Integer> ids, boolean netem) {
        this.tag = tag;
        this.subnet = subnet;
        this.ids = List.copyOf(ids);
        this.netem = netem;
    }

    /** Whether this process can build namespaces: root with {@code ip} on the path. */
    public static boolean available() {
        if (!"root".equals(System.getProperty("user.name"))) return false;
        try {
            return run(List.of("ip", "netns", "list"), false).exit == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** Builds the namespaces, bridge and links for nodes {@code ids}. */
    public static NetnsNetwork create(List<Integer> ids, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed ^ System.nanoTime());
        String tag = Integer.toString(random.nextInt(36 * 36 * 36, 36 * 36 * 36 * 36), 36);
        String subnet = "10.231." + random.nextInt(1, 255);
        NetnsNetwork n = new NetnsNetwork(tag, subnet, ids, false);
        try {
            n.build();
            n.netem = n.probeNetem();
            Runtime.getRuntime().addShutdownHook(n.cleanup);
            return n;
        } catch (IOException | RuntimeException e) {
            n.teardown();
            throw e;
        }
    }

    private String bridgeNs() {
        return "keel-" + tag + "-br";
    }

    private String nodeNs(int id) {
        return "keel-" + tag + "-n" + id;
    }

    private String hostIf() {
        return "kh" + tag;
    }

    private String ip(int id) {
        return subnet + "." + (10 + id);
    }

    private void build() throws IOException {
        String br = bridgeNs();
        sh("ip", "netns", "add", br);
        sh("ip", "-n", br, "link", "set", "lo", "up");
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge");
        sh("ip", "-n", br, "link", "set", "br0", "up");
        for (int id : ids) {
            String ns = nodeNs(id);
            sh("ip", "netns", "add", ns);
            sh("ip", "-n", ns, "link", "set", "lo", "up");
            sh("ip", "-n", br, "link", "add", "p" + id, "type", "veth", "peer", "name", "eth0", "netns", ns);
            sh("ip", "-n", br, "link", "set", "p" + id, "master", "br0");
            sh("ip", "-n", br, "link", "set", "p" + id, "up");
            sh("ip", "-n", ns, "addr", "add", ip(id) + "/24", "dev", "eth0");
            sh("ip", "-n", ns, "link", "set", "eth0", "up");
        }
        sh("ip", "link", "add", hostIf(), "type", "veth", "peer", "name", "host", "netns", br);
        sh("ip", "-n", br, "link", "set", "host", "master", "br0");
        sh("ip", "-n", br, "link", "set", "host", "up");
        sh("ip", "addr", "add", subnet + ".1/24", "dev", hostIf());
        sh("ip", "link", "set", hostIf(), "up");
    }

    private boolean probeNetem() throws IOException {
        String ns = nodeNs(ids.get(0));
        Result r = run(List.of("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"), false);
        if (r.exit == 0) {
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root");
            return true;
        }
        return false;
    }

    @Override
    public String describe() {
        return "network namespaces " + nodeNs(ids.get(0)).replace("-n" + ids.get(0), "-n*") + " on bridge " + subnet
                + ".0/24 (clients from " + subnet + ".1); partitions drop packets (blackhole routes); slow links use "
                + (netem ? "tc netem (delay, jitter, loss)" : "tc tbf rate limiting (this kernel has no netem: queueing delay and tail drops, no random loss)");
    }

    @Override
    public InetSocketAddress peerListen(int id) {
        return new InetSocketAddress(ip(id), PEER_PORT);
    }

    @Override
    public InetSocketAddress peerAddressSeenBy(int from, int to) {
        return peerListen(to);
    }

    @Override
    public InetSocketAddress httpListen(int id) {
        return new InetSocketAddress(ip(id), HTTP_PORT);
    }

    @Override
    public InetSocketAddress httpAddressSeenBy(int from, int to) {
        return httpListen(to);
    }

    @Override
    public URI clientUri(int id) {
        return URI.create("http://" + ip(id) + ":" + HTTP_PORT);
    }

    @Override
    public List<String> launchPrefix(int id) {
        return List.of("ip", "netns", "exec", nodeNs(id));
    }

    @Override
    public synchronized void cut(int from, int to) throws IOException {
        if (from == to) return;
        if (cuts.add(from + ">" + to)) sh("ip", "-n", nodeNs(from), "route", "add", "blackhole", ip(to) + "/32");
    }

    @Override
    public synchronized void heal() throws IOException {
        for (String c : new ArrayList<>(cuts)) {
            String[] p = c.split(">");
            sh("ip", "-n", nodeNs(Integer.parseInt(p[0])), "route", "del", "blackhole", ip(Integer.parseInt(p[1])) + "/32");
            cuts.remove(c);
        }
    }

    /** The blackhole routes in place, "from>to", for tests. */
    synchronized Set<String> cuts() {
        return Set.copyOf(cuts);
    }

    @Override
    public boolean canSlow() {
        return true;
    }

    @Override
    public synchronized String slow(Set<Integer> nodes) throws IOException {
        List<String> qdisc = netem
                ? List.of("netem", "delay", "40ms", "20ms", "loss", "2%")
                : List.of("tbf", "rate", "2mbit", "burst", "16kb", "latency", "150ms");
        for (int id : nodes) {
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", nodeNs(id), "tc", "qdisc", "replace", "dev",
                    "eth0", "root"));
            cmd.addAll(qdisc);
            sh(cmd.toArray(String[]::new));
            slowed.add(id);
        }
        return String.join(" ", qdisc) + " on nodes " + nodes;
    }

    @Override
    public synchronized void fast() throws IOException {
        for (int id : new ArrayList<>(slowed)) {
            run(List.of("ip", "netns", "exec", nodeNs(id), "tc", "qdisc", "del", "dev", "eth0", "root"), false);
            slowed.remove(id);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        teardown();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException | IllegalArgumentException e) {
            // shutting down already, or the hook was never added: nothing to remove
        }
    }

    private void teardown() {
        try {
            // Deleting a namespace destroys the veth ends in it, and with them their peers.
            for (int id : ids) run(List.of("ip", "netns", "del", nodeNs(id)), false);
            run(List.of("ip", "netns", "del", bridgeNs()), false);
            run(List.of("ip", "link", "del", hostIf()), false);
        } catch (IOException e) {
            throw new UncheckedIOException("removing network namespaces of run " + tag, e);
        }
    }

    private static void sh(String... cmd) throws IOException {
        Result r = run(List.of(cmd), true);
        if (r.exit != 0) throw new IOException(String.join(" ", cmd) + " failed (exit " + r.exit + "): " + r.output.strip());
    }

    record Result(int exit, String output) {
    }

    static Result run(List<String> cmd, boolean required) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish in 30 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + cmd, e);
        }
    }
}
