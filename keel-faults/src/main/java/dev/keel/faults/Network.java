package dev.keel.faults;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Set;

/**
 * The network between the nodes of a fault run, and the faults it can inject.
 *
 * <p>Two implementations: {@link NetnsNetwork} (as root: one Linux network namespace per node, veth
 * pairs to a bridge, partitions as blackhole routes, a slow link as a traffic-control qdisc) and
 * {@link ProxyNetwork} (anyone: loopback with one fault-injecting TCP proxy per directed peer link).
 * Node ids are 1..n. Clients run in the harness's own process and are never cut off by partitions
 * (as in Jepsen, where clients talk to their node from the control host).
 */
public interface Network extends AutoCloseable {

    /** One line for the report: what kind of network this is and what it cannot do. */
    String describe();

    /** The address node {@code id} listens on for Raft peers. */
    InetSocketAddress peerListen(int id);

    /** The address node {@code from} dials to reach node {@code to}'s Raft port. */
    InetSocketAddress peerAddressSeenBy(int from, int to);

    /** The address node {@code id} serves HTTP on. */
    InetSocketAddress httpListen(int id);

    /** The HTTP address node {@code from} forwards to when {@code to} leads. */
    InetSocketAddress httpAddressSeenBy(int from, int to);

    /** How the harness's clients reach node {@code id}. */
    URI clientUri(int id);

    /** The command prefix that starts a process of node {@code id} in its place (empty: here). */
    List<String> launchPrefix(int id);

    /** Stops all traffic from node {@code from} to node {@code to} (one direction only). */
    void cut(int from, int to) throws IOException;

    /** Removes every cut. */
    void heal() throws IOException;

    /** Whether {@link #slow} is available here. */
    boolean canSlow();

    /** Makes the links of these nodes slow and lossy; returns a description of what was applied. */
    String slow(Set<Integer> nodes) throws IOException;

    /** Undoes {@link #slow}. */
    void fast() throws IOException;

    /** Removes everything this network created. Safe to call twice. */
    @Override
    void close();
}
