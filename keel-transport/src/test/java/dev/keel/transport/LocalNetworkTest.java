package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Message;
import dev.keel.core.Message.TimeoutNow;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class LocalNetworkTest {

    private static final InetSocketAddress NOWHERE = InetSocketAddress.createUnresolved("n", 1);
    private final LocalNetwork network = new LocalNetwork();
    private final List<Message> toOne = new CopyOnWriteArrayList<>();
    private final List<Message> toTwo = new CopyOnWriteArrayList<>();

    @Test
    void handsTheMessageItselfToAPeerAndCountsIt() {
        Transport one = network.join(1, Map.of(2, NOWHERE), toOne::add);
        Transport two = network.join(2, Map.of(1, NOWHERE), toTwo::add);
        assertThat(one.start()).as("no address in-process").isNull();
        two.start();
        TimeoutNow m = new TimeoutNow(1, 2, 5);
        assertThat(one.send(m)).isTrue();
        assertThat(toTwo).containsExactly(m);
        assertThat(toTwo.getFirst()).isSameAs(m);
        assertThat(one.stats().peers().get(2).sent()).isEqualTo(1);
        assertThat(one.stats().peers().get(2).connected()).isTrue();
        assertThat(two.stats().inbound().received()).isEqualTo(1);
        assertThat(toOne).isEmpty();
    }

    @Test
    void dropsWhatRaftWouldLoseOnANetwork() {
        Transport one = network.join(1, Map.of(2, NOWHERE), toOne::add);
        Transport two = network.join(2, Map.of(1, NOWHERE), toTwo::add);
        one.start();
        // The peer is not running yet: dropped, as to a node that is down.
        assertThat(one.send(new TimeoutNow(1, 2, 1))).isFalse();
        assertThat(one.stats().peers().get(2).dropped()).isEqualTo(1);
        assertThat(one.stats().peers().get(2).connected()).isFalse();
        two.start();
        // Not a peer of the sender.
        assertThat(one.send(new TimeoutNow(1, 3, 1))).isFalse();
        assertThat(one.stats().droppedUnknownPeer()).isEqualTo(1);
        // The receiver removed the sender: no longer heard.
        two.removePeer(1);
        assertThat(one.send(new TimeoutNow(1, 2, 2))).isFalse();
        assertThat(two.stats().inbound().misrouted()).isEqualTo(1);
        two.addPeer(1, NOWHERE);
        assertThat(one.send(new TimeoutNow(1, 2, 3))).isTrue();
        // A stopped receiver, then a stopped sender.
        two.close();
        assertThat(one.send(new TimeoutNow(1, 2, 4))).isFalse();
        one.close();
        assertThat(one.send(new TimeoutNow(1, 2, 5))).isFalse();
        assertThat(one.stats().droppedClosed()).isEqualTo(1);
        assertThat(toTwo).extracting(Message::term).containsExactly(3L);
    }

    @Test
    void aReceiverThatThrowsDoesNotHurtTheSender() {
        Transport one = network.join(1, Map.of(2, NOWHERE), toOne::add);
        Transport two = network.join(2, Map.of(1, NOWHERE), m -> {
            throw new IllegalStateException("bug in the receiver");
        });
        one.start();
        two.start();
        assertThat(one.send(new TimeoutNow(1, 2, 1))).isFalse();
        assertThat(two.stats().inbound().callbackErrors()).isEqualTo(1);
    }

    @Test
    void misuseIsAClearError() {
        Transport one = network.join(1, Map.of(2, NOWHERE), toOne::add);
        assertThatThrownBy(() -> one.send(new TimeoutNow(1, 2, 1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("before start");
        one.start();
        assertThatThrownBy(() -> one.send(new TimeoutNow(3, 2, 1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot send a message from node 3");
        assertThatThrownBy(() -> one.addPeer(1, NOWHERE)).isInstanceOf(IllegalArgumentException.class);
        Transport again = network.join(1, Map.of(), toOne::add);
        assertThatThrownBy(again::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already running");
        one.close();
        again.start(); // the id is free once the first one stopped (a restart)
    }
}
