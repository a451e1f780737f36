package dev.keel.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.InstallSnapshot;
import dev.keel.core.Message.InstallSnapshotResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Log compaction and InstallSnapshot (Figure 13 of the paper; thesis chapter 5). */
class SnapshotTest {
    private static final List<Integer> V = List.of(1, 2, 3);

    private static SnapshotMeta meta(long index, long term, byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return new SnapshotMeta(index, term, new int[] {1, 2, 3}, data.length, (int) crc.getValue());
    }

    /** Leader 1 with entries 1..n committed everywhere but node 3, which is cut off. */
    private static CoreTestCluster clusterWithLaggard(int entries) {
        CoreTestCluster c = new CoreTestCluster(3, b -> b.snapshotChunkBytes(4).maxInflightSnapshotChunks(2));
        c.elect(1);
        c.isolated.add(3);
        for (int i = 0; i < entries; i++) c.node(1).propose(("v" + i).getBytes(StandardCharsets.UTF_8));
        c.stabilize();
        assertThat(c.node(1).commitIndex()).isEqualTo(entries + 1);
        return c;
    }

    private static void compact(CoreTestCluster c, int id, byte[] data) {
        RaftNode n = c.node(id);
        long applied = n.lastApplied();
        c.storage(id).compact(meta(applied, n.term(applied), data), data);
    }

    @Test
    @DisplayName("Thesis §5.1: a follower whose next entry was compacted receives the snapshot in chunks, then entries")
    void laggingFollowerGetsSnapshotThenEntries() {
        CoreTestCluster c = clusterWithLaggard(5);
        byte[] data = "state-after-6".getBytes(StandardCharsets.UTF_8);
        compact(c, 1, data);
        assertThat(c.node(1).firstIndex()).isEqualTo(7);
        c.isolated.clear();
        c.node(1).propose("after".getBytes(StandardCharsets.UTF_8));
        c.tickAll();
        c.stabilize();
        // Chunked: 13 bytes in chunks of 4.
        List<InstallSnapshot> chunks = c.delivered.stream().filter(m -> m instanceof InstallSnapshot)
                .map(m -> (InstallSnapshot) m).toList();
        assertThat(chunks).extracting(InstallSnapshot::offset).contains(0L, 4L, 8L, 12L);
        assertThat(chunks).allSatisfy(ch -> assertThat(ch.data().length).isLessThanOrEqualTo(4));
        RaftNode f = c.node(3);
        assertThat(c.storage(3).snapshot().index()).isEqualTo(6);
        assertThat(c.storage(3).snapshotData()).isEqualTo(data);
        assertThat(f.lastIndex()).isEqualTo(c.node(1).lastIndex());
        assertThat(f.commitIndex()).isEqualTo(c.node(1).commitIndex());
        assertThat(f.entry(7).data()).isEqualTo("after".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    @DisplayName("Figure 13: a chunk out of order is answered with the offset expected, and nothing is written")
    void outOfOrderChunkAsksForExpectedOffset() {
        MemoryStorage s = new MemoryStorage();
        RaftNode f = CoreTestCluster.node(2, V, s);
        byte[] data = "0123456789".getBytes(StandardCharsets.UTF_8);
        SnapshotMeta m = meta(10, 1, data);
        f.step(new InstallSnapshot(1, 2, 1, m, 0, java.util.Arrays.copyOfRange(data, 0, 4), false));
        f.step(new InstallSnapshot(1, 2, 1, m, 8, java.util.Arrays.copyOfRange(data, 8, 10), true));
        Ready rd = f.ready();
        assertThat(rd.snapshotChunks()).hasSize(1);
        assertThat(rd.snapshotToInstall()).isNull();
        assertThat(rd.messages()).containsExactly(
                new InstallSnapshotResponse(2, 1, 1, 10, 4, false, false),
                new InstallSnapshotResponse(2, 1, 1, 10, 4, false, true));
    }

    @Test
    @DisplayName("Figure 13: a snapshot whose checksum does not match is never installed; the transfer starts over")
    void badChecksumRejected() {
        MemoryStorage s = new MemoryStorage();
        RaftNode f = CoreTestCluster.node(2, V, s);
        byte[] data = "0123456789".getBytes(StandardCharsets.UTF_8);
        SnapshotMeta good = meta(10, 1, data);
        SnapshotMeta lying = new SnapshotMeta(10, 1, new int[] {1, 2, 3}, data.length, good.crc32c() ^ 1);
        f.step(new InstallSnapshot(1, 2, 1, lying, 0, data, true));
        Ready rd = f.ready();
        assertThat(rd.snapshotToInstall()).isNull();
        assertThat(rd.messages()).containsExactly(new InstallSnapshotResponse(2, 1, 1, 10, 0, false, true));
        assertThat(f.commitIndex()).isZero();
        assertThat(f.droppedMessages()).isEqualTo(1);
    }

    @Test
    @DisplayName("Figure 13 step 6: a follower whose log has the snapshot's last entry keeps the entries after it")
    void matchingLogSuffixIsKept() {
        MemoryStorage s = CoreTestCluster.storage(new HardState(2, 0, 0), 1, 1, 2, 2);
        RaftNode f = CoreTestCluster.node(2, V, s);
        byte[] data = "x".getBytes(StandardCharsets.UTF_8);
        f.step(new InstallSnapshot(1, 2, 2, meta(3, 2, data), 0, data, true));
        Ready rd = CoreTestCluster.persistAndAdvance(f, s);
        assertThat(rd.snapshotToInstall()).isNotNull();
        assertThat(f.firstIndex()).isEqualTo(4);
        assertThat(f.lastIndex()).isEqualTo(4);
        assertThat(f.term(4)).isEqualTo(2);
        assertThat(f.commitIndex()).isEqualTo(3);
        assertThat(f.lastApplied()).isEqualTo(3);
        assertThat(s.lastIndex()).isEqualTo(4);
    }

    @Test
    @DisplayName("Figure 13 step 7: a follower whose log conflicts discards it entirely")
    void conflictingLogDiscarded() {
        MemoryStorage s = CoreTestCluster.storage(new HardState(2, 0, 0), 1, 1, 1, 1, 1);
        RaftNode f = CoreTestCluster.node(2, V, s);
        byte[] data = "x".getBytes(StandardCharsets.UTF_8);
        f.step(new InstallSnapshot(1, 2, 2, meta(3, 2, data), 0, data, true));
        CoreTestCluster.persistAndAdvance(f, s);
        assertThat(f.firstIndex()).isEqualTo(4);
        assertThat(f.lastIndex()).isEqualTo(3);
        assertThat(f.term(3)).isEqualTo(2);
        assertThat(s.lastIndex()).isEqualTo(3);
        // The log continues from the snapshot.
        f.step(new AppendEntries(1, 2, 2, 3, 2, List.of(Entry.normal(4, 2, new byte[] {1})), 4, 0));
        CoreTestCluster.persistAndAdvance(f, s);
        assertThat(f.commitIndex()).isEqualTo(4);
    }

    @Test
    @DisplayName("A snapshot already covered by the follower's commitIndex is acknowledged without being installed")
    void oldSnapshotAcknowledged() {
        MemoryStorage s = CoreTestCluster.storage(new HardState(1, 0, 3), 1, 1, 1);
        RaftNode f = CoreTestCluster.node(2, V, s);
        byte[] data = "x".getBytes(StandardCharsets.UTF_8);
        f.step(new InstallSnapshot(1, 2, 1, meta(2, 1, data), 0, data, true));
        Ready rd = f.ready();
        assertThat(rd.snapshotChunks()).isEmpty();
        assertThat(rd.messages()).containsExactly(new InstallSnapshotResponse(2, 1, 1, 2, 1, true, false));
    }

    @Test
    @DisplayName("A node restarting from a compacted log starts with its state machine at the snapshot")
    void restartFromSnapshot() {
        CoreTestCluster c = clusterWithLaggard(3);
        compact(c, 2, "s".getBytes(StandardCharsets.UTF_8));
        RaftNode again = new RaftNode(c.node(2).config(), c.storage(2), new java.util.Random(9));
        assertThat(again.lastApplied()).isEqualTo(4);
        assertThat(again.commitIndex()).isGreaterThanOrEqualTo(4);
        assertThat(again.firstIndex()).isEqualTo(5);
    }

    @Test
    @DisplayName("Lost chunks stall the transfer only until the leader resends from the acknowledged offset")
    void lostChunksAreResent() {
        CoreTestCluster c = clusterWithLaggard(5);
        byte[] data = "0123456789abcdef0123".getBytes(StandardCharsets.UTF_8);
        compact(c, 1, data);
        c.isolated.clear();
        c.node(1).tick(); // heartbeat round: node 3 answers, the leader finds it behind the snapshot
        c.stabilize();
        // Drop everything in flight to 3 for a while, ticking the leader.
        for (int i = 0; i < 3; i++) {
            c.drainAll();
            c.take(m -> m.to() == 3);
            c.node(1).tick();
        }
        for (int i = 0; i < 20 && c.storage(3).snapshot().index() == 0; i++) c.tickAll();
        assertThat(c.storage(3).snapshot().index()).isEqualTo(6);
        assertThat(c.storage(3).snapshotData()).isEqualTo(data);
    }
}
