package dev.keel.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Runs only as root with iproute2 (CI runs as root): builds the namespaces and checks what each fault changes. */
class NetnsNetworkTest {

    static String sh(String... cmd) throws Exception {
        return NetnsNetwork.run(List.of(cmd), false).output();
    }

    @Test
    void cutsAreBlackholeRoutesInTheSendersNamespaceAndCloseRemovesEverything() throws Exception {
        assumeTrue(NetnsNetwork.available(), "needs root and iproute2");
        String ns1;
        String ns2;
        try (NetnsNetwork net = NetnsNetwork.create(List.of(1, 2, 3), 7)) {
            ns1 = net.launchPrefix(1).get(3);
            ns2 = net.launchPrefix(2).get(3);
            assertThat(sh("ip", "netns", "list")).contains(ns1, ns2);
            String ip2 = net.peerListen(2).getHostString();
            String ip1 = net.peerListen(1).getHostString();
            assertThat(net.clientUri(2).getHost()).isEqualTo(ip2);
            assertThat(sh("ip", "-n", ns1, "addr", "show", "eth0")).contains(ip1 + "/24");

            net.cut(1, 2);
            net.cut(1, 2); // twice is once
            assertThat(sh("ip", "-n", ns1, "route", "show")).contains("blackhole " + ip2);
            assertThat(sh("ip", "-n", ns2, "route", "show")).doesNotContain("blackhole"); // one direction only
            assertThat(net.cuts()).containsExactly("1>2");
            net.heal();
            assertThat(sh("ip", "-n", ns1, "route", "show")).doesNotContain("blackhole");
            assertThat(net.cuts()).isEmpty();

            String what = net.slow(Set.of(2));
            assertThat(sh("ip", "netns", "exec", ns2, "tc", "qdisc", "show", "dev", "eth0")).contains(what.split(" ")[0]);
            net.fast();
            assertThat(sh("ip", "netns", "exec", ns2, "tc", "qdisc", "show", "dev", "eth0")).doesNotContain(what.split(" ")[0]);
            assertThat(net.describe()).contains("network namespaces", "blackhole");
        }
        assertThat(sh("ip", "netns", "list")).doesNotContain(ns1).doesNotContain(ns2);
    }
}
