package dev.keel.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each check on small hand-made histories: one it must accept and ones it must reject. */
class CheckersTest {

    /** A hand-written history; times are whatever the test says. */
    static final class H {
        final List<Event> events = new ArrayList<>();

        H at(long t, int client, String type, String f, String key, JsonNode value, String error) {
            events.add(new Event(t, client, type, f, key, value, 1, error));
            return this;
        }

        H op(long from, long to, int client, String type, String f, String key, JsonNode in, JsonNode out, String error) {
            at(from, client, Event.INVOKE, f, key, in, null);
            return at(to, client, type, f, key, out, error);
        }
    }

    static JsonNode n(long v) {
        return History.number(v);
    }

    @Test
    void registerAcceptsALinearizableHistoryWithUnknownWrites() {
        H h = new H()
                .op(0, 10, 1, Event.OK, "write", "k", n(1), n(1), null)
                .op(5, 100, 2, Event.INFO, "write", "k", n(2), n(2), "504 TIMEOUT") // may land any time after 5
                .op(20, 30, 3, Event.OK, "read", "k", null, n(1), null)
                .op(40, 50, 3, Event.OK, "read", "k", null, n(2), null)
                .op(60, 70, 1, Event.FAIL, "cas", "k", History.array(1, 3), History.array(1, 3), "412 CONDITION_FAILED")
                .op(80, 90, 1, Event.FAIL, "write", "k", n(4), n(4), "503 NO_LEADER"); // did not happen
        Checkers.Result r = Checkers.register(h.events, 1_000_000);
        assertThat(r.validity()).as(r.detail()).isEqualTo(Checkers.Validity.VALID);
        assertThat(r.summary()).contains("linearizable");
    }

    @Test
    void registerRejectsAStaleReadAndShowsTheWindow() {
        H h = new H()
                .op(0, 10, 1, Event.OK, "write", "k", n(1), n(1), null)
                .op(20, 30, 2, Event.OK, "write", "k", n(2), n(2), null)
                .op(40, 50, 3, Event.OK, "read", "k", null, n(1), null); // 2 was acknowledged before this began
        Checkers.Result r = Checkers.register(h.events, 1_000_000);
        assertThat(r.validity()).isEqualTo(Checkers.Validity.INVALID);
        assertThat(r.summary()).contains("NOT linearizable (key k)");
        assertThat(r.detail()).contains("read(k) -> 1");
    }

    @Test
    void registerTreatsA412CompareAndSetAsHavingSeenAnotherValue() {
        // The register holds 1 for the whole cas, so a refusal claiming it did not hold 1 is a lie.
        H h = new H()
                .op(0, 10, 1, Event.OK, "write", "k", n(1), n(1), null)
                .op(20, 30, 2, Event.FAIL, "cas", "k", History.array(1, 5), History.array(1, 5), "412 CONDITION_FAILED")
                .op(40, 50, 3, Event.OK, "read", "k", null, n(1), null);
        assertThat(Checkers.register(h.events, 1_000_000).validity()).isEqualTo(Checkers.Validity.INVALID);
    }

    @Test
    void registerRejectsAValueNobodyWrote() {
        H h = new H().op(0, 10, 1, Event.OK, "read", "k", null, History.nodes().textNode("garbage"), null);
        Checkers.Result r = Checkers.register(h.events, 1_000_000);
        assertThat(r.validity()).isEqualTo(Checkers.Validity.INVALID);
        assertThat(r.detail()).contains("garbage");
    }

    @Test
    void registerSaysUnknownWhenTheBudgetRunsOut() {
        H h = new H();
        for (int i = 0; i < 12; i++) h.op(0, 1000, i, Event.INFO, "write", "k", n(i % 5), n(i % 5), "504 TIMEOUT");
        h.op(2000, 2010, 99, Event.OK, "read", "k", null, n(3), null);
        assertThat(Checkers.register(h.events, 3).validity()).isEqualTo(Checkers.Validity.UNKNOWN);
        assertThat(Checkers.register(h.events, 10_000_000).validity()).isEqualTo(Checkers.Validity.VALID);
    }

    static ArrayNode elements(long... es) {
        ArrayNode a = History.nodes().arrayNode();
        for (long e : es) a.add(e);
        return a;
    }

    @Test
    void setAcceptsEveryAcknowledgedAddPresentAndUnknownOnesEitherWay() {
        H h = new H()
                .op(0, 1, 1, Event.OK, "add", "s/0/0", n(0), n(0), null)
                .op(2, 3, 1, Event.INFO, "add", "s/0/1", n(1), n(1), "504 TIMEOUT")
                .op(2, 3, 2, Event.INFO, "add", "s/0/2", n(2), n(2), "504 TIMEOUT")
                .op(4, 5, 2, Event.FAIL, "add", "s/0/3", n(3), n(3), "503 NO_LEADER")
                .op(10, 11, 9, Event.OK, "read-all", null, null, elements(0, 1), null);
        Checkers.Result r = Checkers.set(h.events);
        assertThat(r.validity()).as(r.detail()).isEqualTo(Checkers.Validity.VALID);
        assertThat(r.summary()).contains("4 adds: 1 acknowledged, 1 failed, 2 unknown (1 of them present)");
    }

    @Test
    void setRejectsALostAddAFailedAddThatAppliedAndAStranger() {
        H h = new H()
                .op(0, 1, 1, Event.OK, "add", "s/0/0", n(0), n(0), null)
                .op(0, 1, 2, Event.OK, "add", "s/0/1", n(1), n(1), null)
                .op(2, 3, 2, Event.FAIL, "add", "s/0/2", n(2), n(2), "503 NOT_COMMITTED")
                .op(10, 11, 9, Event.OK, "read-all", null, null, elements(1, 2, 77), null);
        Checkers.Result r = Checkers.set(h.events);
        assertThat(r.validity()).isEqualTo(Checkers.Validity.INVALID);
        assertThat(r.detail()).contains("lost (acknowledged, absent): [0]", "unexpected (never added): [77]",
                "failed but present (Keel said not applied): [2]");
    }

    @Test
    void setWithoutAFinalReadIsUnknown() {
        H h = new H().op(0, 1, 1, Event.OK, "add", "s/0/0", n(0), n(0), null)
                .op(10, 11, 9, Event.FAIL, "read-all", null, null, null, "bucket 0: 503 NO_LEADER");
        assertThat(Checkers.set(h.events).validity()).isEqualTo(Checkers.Validity.UNKNOWN);
    }

    @Test
    void bankRejectsAReadWhoseTotalChangedOrWentNegative() {
        H good = new H()
                .op(0, 1, 1, Event.OK, "read-accounts", "bank", null, elements(100, 100, 100), null)
                .op(2, 3, 2, Event.OK, "transfer", "bank", null, null, null)
                .op(4, 5, 1, Event.OK, "read-accounts", "bank", null, elements(95, 105, 100), null);
        assertThat(Checkers.bank(good.events, 3, 300).validity()).isEqualTo(Checkers.Validity.VALID);
        H changed = new H().op(0, 1, 1, Event.OK, "read-accounts", "bank", null, elements(95, 100, 100), null);
        Checkers.Result r = Checkers.bank(changed.events, 3, 300);
        assertThat(r.validity()).isEqualTo(Checkers.Validity.INVALID);
        assertThat(r.detail()).contains("total 295, expected 300");
        H negative = new H().op(0, 1, 1, Event.OK, "read-accounts", "bank", null, elements(-5, 205, 100), null);
        assertThat(Checkers.bank(negative.events, 3, 300).validity()).isEqualTo(Checkers.Validity.INVALID);
        H shortList = new H().op(0, 1, 1, Event.OK, "read-accounts", "bank", null, elements(300), null);
        assertThat(Checkers.bank(shortList.events, 3, 300).validity()).isEqualTo(Checkers.Validity.INVALID);
    }

    @Test
    void aCompletionWithoutItsInvokeIsAMalformedHistory() {
        List<Event> events = List.of(new Event(5, 1, Event.OK, "read", "k", n(1), 1, null));
        assertThatThrownBy(() -> Checkers.register(events, 10)).hasMessageContaining("without an invoke");
        List<Event> mismatched = List.of(new Event(1, 1, Event.INVOKE, "read", "k", null, 1, null),
                new Event(5, 1, Event.OK, "write", "k", n(1), 1, null));
        assertThatThrownBy(() -> Checkers.register(mismatched, 10)).hasMessageContaining("invoked read but completed write");
    }
}
