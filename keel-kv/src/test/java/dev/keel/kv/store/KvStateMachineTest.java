package dev.keel.kv.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvResult.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class KvStateMachineTest {
    private final KvStateMachine sm = new KvStateMachine();

    static byte[] b(String s) {
        return s.getBytes(UTF_8);
    }

    private static KvCommand put(String k, String v) {
        return KvCommand.put(b(k), b(v));
    }

    private static KvCommand del(String k) {
        return KvCommand.delete(b(k));
    }

    static byte[] snapshotBytes(KvStateMachine m) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        m.snapshot().writeTo(out);
        return out.toByteArray();
    }

    @Test
    void putCreatesThenUpdatesWithRevisionsFromTheLogIndex() {
        assertThat(sm.apply(3, put("a", "1"))).isEqualTo(new KvResult.Ok(3, 3, 1));
        assertThat(sm.apply(5, put("a", "2"))).isEqualTo(new KvResult.Ok(5, 3, 2));
        KvEntry e = sm.view().get(b("a"));
        assertThat(e.value()).isEqualTo(b("2"));
        assertThat(e.createRevision()).isEqualTo(3);
        assertThat(e.modRevision()).isEqualTo(5);
        assertThat(e.version()).isEqualTo(2);
        assertThat(sm.view().revision()).isEqualTo(5);
        assertThat(sm.view().lastIndex()).isEqualTo(5);
        sm.checkInvariants();
    }

    @Test
    void deleteRemovesAndANewPutStartsAFreshHistory() {
        sm.apply(1, put("a", "1"));
        sm.apply(2, put("a", "2"));
        assertThat(sm.apply(3, del("a"))).isEqualTo(new KvResult.Ok(3, 1, 2));
        assertThat(sm.view().get(b("a"))).isNull();
        assertThat(sm.view().revision()).isEqualTo(3);
        assertThat(sm.apply(4, del("a"))).isEqualTo(new KvResult.NotFound());
        assertThat(sm.view().revision()).as("a delete of nothing takes no revision").isEqualTo(3);
        assertThat(sm.apply(5, put("a", "3"))).isEqualTo(new KvResult.Ok(5, 5, 1));
    }

    @Test
    void compareAndSetByModRevision() {
        sm.apply(1, put("a", "1"));
        assertThat(sm.apply(2, put("a", "2").withCondition(new Condition.ModRevision(7))))
                .isEqualTo(new KvResult.ConditionFailed(1));
        assertThat(sm.view().revision()).isEqualTo(1);
        assertThat(sm.apply(3, put("a", "2").withCondition(new Condition.ModRevision(1)))).isEqualTo(new KvResult.Ok(3, 1, 2));
        assertThat(sm.apply(4, del("a").withCondition(new Condition.ModRevision(1)))).isEqualTo(new KvResult.ConditionFailed(3));
        assertThat(sm.apply(5, del("a").withCondition(new Condition.ModRevision(3)))).isEqualTo(new KvResult.Ok(5, 1, 2));
    }

    @Test
    void createOnlyIsModRevisionZero() {
        Condition absent = new Condition.ModRevision(0);
        assertThat(sm.apply(1, put("a", "1").withCondition(absent))).isEqualTo(new KvResult.Ok(1, 1, 1));
        assertThat(sm.apply(2, put("a", "2").withCondition(absent))).isEqualTo(new KvResult.ConditionFailed(1));
        assertThat(sm.view().get(b("a")).value()).isEqualTo(b("1"));
    }

    @Test
    void compareAndSetByValueAndExists() {
        assertThat(sm.apply(1, put("a", "x").withCondition(new Condition.Value(b(""))))).isEqualTo(new KvResult.ConditionFailed(0));
        assertThat(sm.apply(2, put("a", "x").withCondition(new Condition.Exists()))).isEqualTo(new KvResult.ConditionFailed(0));
        sm.apply(3, put("a", "x"));
        assertThat(sm.apply(4, put("a", "y").withCondition(new Condition.Value(b("z"))))).isEqualTo(new KvResult.ConditionFailed(3));
        assertThat(sm.apply(5, put("a", "y").withCondition(new Condition.Value(b("x"))))).isEqualTo(new KvResult.Ok(5, 3, 2));
        assertThat(sm.apply(6, put("a", "z").withCondition(new Condition.Exists()))).isEqualTo(new KvResult.Ok(6, 3, 3));
        assertThat(sm.apply(7, del("a").withCondition(new Condition.Value(b("z"))))).isEqualTo(new KvResult.Ok(7, 3, 3));
    }

    @Test
    void scanWithPrefixAndLimitInUnsignedByteOrder() {
        long i = 1;
        for (String k : List.of("b", "a/2", "a/1", "a", "a/10", "c")) sm.apply(i++, put(k, "v" + k));
        sm.apply(i++, KvCommand.put(new byte[] {'a', '/', (byte) 0xff}, b("hi")));
        ScanResult all = sm.view().scan(new byte[0], 100);
        assertThat(all.items()).extracting(kv -> Arrays.toString(kv.key())).containsExactly(
                Arrays.toString(b("a")), Arrays.toString(b("a/1")), Arrays.toString(b("a/10")), Arrays.toString(b("a/2")),
                Arrays.toString(new byte[] {'a', '/', (byte) 0xff}), Arrays.toString(b("b")), Arrays.toString(b("c")));
        assertThat(all.more()).isFalse();
        assertThat(all.revision()).isEqualTo(7);

        ScanResult limited = sm.view().scan(b("a/"), 2);
        assertThat(limited.items()).extracting(kv -> new String(kv.key(), UTF_8)).containsExactly("a/1", "a/10");
        assertThat(limited.more()).isTrue();
        ScanResult exact = sm.view().scan(b("a/"), 4);
        assertThat(exact.items()).hasSize(4);
        assertThat(exact.more()).isFalse();
        assertThat(sm.view().scan(b("zz"), 10).items()).isEmpty();
        assertThat(sm.view().scan(b("a/1"), 10).items()).extracting(kv -> new String(kv.key(), UTF_8)).containsExactly("a/1", "a/10");
    }

    @Test
    void aViewIsAPointInTime() {
        sm.apply(1, put("a", "1"));
        KvStateMachine.View before = sm.view();
        sm.apply(2, put("a", "2"));
        sm.apply(3, put("b", "2"));
        assertThat(before.get(b("a")).value()).isEqualTo(b("1"));
        assertThat(before.get(b("b"))).isNull();
        assertThat(before.revision()).isEqualTo(1);
    }

    @Test
    void badCommandBytesGiveAnErrorResultNotAnException() {
        KvResult r = KvCodec.decodeResult(sm.apply(1, new byte[] {1, 2, 3}));
        assertThat(r).isInstanceOf(KvResult.Error.class);
        assertThat(((KvResult.Error) r).code()).isEqualTo(ErrorCode.BAD_COMMAND);
        assertThat(KvCodec.decodeResult(sm.apply(2, new byte[0]))).isInstanceOf(KvResult.Error.class);
        assertThat(sm.view().lastIndex()).isEqualTo(2);
        assertThat(sm.view().revision()).isZero();
    }

    @Test
    void applyingAnIndexTwiceIsABug() {
        sm.apply(2, put("a", "1"));
        assertThatThrownBy(() -> sm.apply(2, put("a", "1"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("apply index 2 <= lastIndex 2");
    }

    // ---------------------------------------------------------------- sessions

    @Test
    void aRepeatedSequenceAppliesOnceAndReturnsTheSameResult() {
        KvCommand c = put("counter", "1").inSession(42, 1);
        byte[] first = sm.apply(1, KvCodec.encode(c));
        sm.apply(2, put("other", "x"));
        byte[] again = sm.apply(3, KvCodec.encode(c));
        assertThat(again).isEqualTo(first);
        assertThat(KvCodec.decodeResult(again)).isEqualTo(new KvResult.Ok(1, 1, 1));
        assertThat(sm.view().get(b("counter")).version()).as("applied once").isEqualTo(1);
        assertThat(sm.view().revision()).isEqualTo(2);

        // The next sequence applies; a repeat of a condition failure returns the saved failure too.
        assertThat(sm.apply(4, put("counter", "2").inSession(42, 2))).isEqualTo(new KvResult.Ok(4, 1, 2));
        KvCommand cas = put("counter", "3").withCondition(new Condition.ModRevision(1)).inSession(42, 3);
        assertThat(sm.apply(5, cas)).isEqualTo(new KvResult.ConditionFailed(4));
        sm.apply(6, put("counter", "9"));
        assertThat(sm.apply(7, cas)).isEqualTo(new KvResult.ConditionFailed(4));
        assertThat(sm.view().lastSequence(42)).isEqualTo(3);
        sm.checkInvariants();
    }

    @Test
    void olderSequencesAreStaleAndUnknownSessionsPastOneAreExpired() {
        sm.apply(1, put("a", "1").inSession(7, 1));
        sm.apply(2, put("a", "2").inSession(7, 5)); // gaps are allowed
        KvResult stale = sm.apply(3, put("a", "3").inSession(7, 4));
        assertThat(stale).isInstanceOf(KvResult.Error.class);
        assertThat(((KvResult.Error) stale).code()).isEqualTo(ErrorCode.STALE_SEQUENCE);
        KvResult expired = sm.apply(4, put("a", "3").inSession(8, 2));
        assertThat(((KvResult.Error) expired).code()).isEqualTo(ErrorCode.SESSION_EXPIRED);
        assertThat(sm.view().get(b("a")).value()).isEqualTo(b("2"));
        assertThat(sm.view().sessionCount()).isEqualTo(1);
    }

    @Test
    void sessionsIdleForMoreThanTheTtlInLogEntriesExpire() {
        KvStateMachine m = new KvStateMachine(10, 1000);
        m.apply(1, put("a", "1").inSession(1, 1));
        m.apply(5, put("a", "1").inSession(2, 1));
        // Index 11: client 1 idle for 10 entries, not more: kept.
        m.apply(11, put("x", "x"));
        assertThat(m.view().sessionCount()).isEqualTo(2);
        // Index 12: idle for 11 > 10: dropped before the command applies.
        assertThat(m.apply(12, put("a", "2").inSession(1, 1))).isInstanceOf(KvResult.Ok.class)
                .as("sequence 1 of a dropped session starts a new one and applies again");
        assertThat(m.view().get(b("a")).version()).isEqualTo(3);
        // Client 2 touched at 5; by 16 it is gone, and its sequence 2 is refused.
        KvResult r = m.apply(16, put("a", "3").inSession(2, 2));
        assertThat(((KvResult.Error) r).code()).isEqualTo(ErrorCode.SESSION_EXPIRED);
        assertThat(m.view().sessionCount()).isEqualTo(1);
        m.checkInvariants();
    }

    @Test
    void aRetryKeepsTheSessionAlive() {
        KvStateMachine m = new KvStateMachine(10, 1000);
        m.apply(1, put("a", "1").inSession(1, 1));
        m.apply(9, put("a", "1").inSession(1, 1)); // duplicate touches the session
        m.apply(19, put("z", "z"));
        assertThat(m.view().lastSequence(1)).isEqualTo(1);
        m.checkInvariants();
    }

    @Test
    void beyondMaxSessionsTheLeastRecentlyActiveIsDropped() {
        KvStateMachine m = new KvStateMachine(1_000_000, 2);
        m.apply(1, put("a", "1").inSession(100, 1));
        m.apply(2, put("a", "1").inSession(200, 1));
        m.apply(3, put("a", "1").inSession(100, 2));
        m.apply(4, put("a", "1").inSession(300, 1));
        assertThat(m.view().sessionCount()).isEqualTo(2);
        assertThat(m.view().lastSequence(200)).isZero();
        assertThat(m.view().lastSequence(100)).isEqualTo(2);
        assertThat(m.view().lastSequence(300)).isEqualTo(1);
        m.checkInvariants();
    }

    // ---------------------------------------------------------------- snapshots

    @Test
    void snapshotRestoreRoundTrip() throws IOException {
        sm.apply(1, put("a", "1").inSession(9, 1));
        sm.apply(2, put("b", "2"));
        sm.apply(3, put("a", "3"));
        sm.apply(4, KvCommand.put(new byte[] {(byte) 0xff, 0}, new byte[0]));
        sm.apply(5, del("b"));
        byte[] snap = snapshotBytes(sm);

        KvStateMachine copy = new KvStateMachine();
        copy.apply(1, put("junk", "gone"));
        copy.restore(new ByteArrayInputStream(snap));
        copy.checkInvariants();
        assertThat(snapshotBytes(copy)).isEqualTo(snap);
        assertThat(copy.view().get(b("a")).version()).isEqualTo(2);
        assertThat(copy.view().get(b("junk"))).isNull();
        assertThat(copy.view().revision()).isEqualTo(5);
        // The session came along: its duplicate is still recognised.
        assertThat(copy.apply(6, put("a", "1").inSession(9, 1))).isEqualTo(new KvResult.Ok(1, 1, 1));
        assertThat(copy.view().get(b("a")).version()).isEqualTo(2);
    }

    @Test
    void aSnapshotIsThePointInTimeOfTheCall() throws IOException {
        sm.apply(1, put("a", "1"));
        var writer = sm.snapshot();
        sm.apply(2, put("a", "2"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writer.writeTo(out);
        KvStateMachine copy = new KvStateMachine();
        copy.restore(new ByteArrayInputStream(out.toByteArray()));
        assertThat(copy.view().get(b("a")).value()).isEqualTo(b("1"));
    }

    @Test
    void corruptSnapshotsAreRejectedAndTheOldStateKept() throws IOException {
        sm.apply(1, put("a", "1"));
        sm.apply(2, put("b", "1").inSession(3, 1));
        byte[] snap = snapshotBytes(sm);
        KvStateMachine target = new KvStateMachine();
        target.apply(1, put("keep", "me"));

        byte[] badMagic = snap.clone();
        badMagic[0] = 'X';
        assertThatThrownBy(() -> target.restore(new ByteArrayInputStream(badMagic))).isInstanceOf(IOException.class)
                .hasMessageContaining("magic");
        byte[] badVersion = snap.clone();
        badVersion[5] = 9;
        assertThatThrownBy(() -> target.restore(new ByteArrayInputStream(badVersion))).hasMessageContaining("format 9, expected 1");
        for (int i = 0; i < snap.length; i++) {
            byte[] flipped = snap.clone();
            flipped[i] ^= 0x10;
            assertThatThrownBy(() -> target.restore(new ByteArrayInputStream(flipped))).isInstanceOf(IOException.class);
            byte[] truncated = Arrays.copyOf(snap, i);
            assertThatThrownBy(() -> target.restore(new ByteArrayInputStream(truncated))).isInstanceOf(IOException.class);
        }
        assertThatThrownBy(() -> target.restore(new ByteArrayInputStream(Arrays.copyOf(snap, snap.length + 1))))
                .hasMessageContaining("trailing");
        assertThat(target.view().get(b("keep")).value()).isEqualTo(b("me"));
    }
}
