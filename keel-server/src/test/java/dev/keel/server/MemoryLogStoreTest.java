package dev.keel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.HardState;
import dev.keel.core.Membership;
import dev.keel.core.SnapshotMeta;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryLogStoreTest {
    static final Membership VOTERS = Membership.of(new int[] {1, 2, 3});

    static List<Entry> entries(long from, long to, long term) {
        List<Entry> out = new ArrayList<>();
        for (long i = from; i <= to; i++) out.add(new Entry(i, term, EntryType.NORMAL, ("e" + i).getBytes(StandardCharsets.UTF_8)));
        return out;
    }

    static SnapshotMeta ownSnapshot(MemoryLogStore store, long index, long term, String data) throws IOException {
        LogStore.SnapshotSink sink = store.beginSnapshot(index, term, VOTERS);
        sink.stream().write(data.getBytes(StandardCharsets.UTF_8));
        return sink.commit();
    }

    static String read(MemoryLogStore store, SnapshotMeta meta) throws IOException {
        try (InputStream in = store.openSnapshot(meta)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void persistsEntriesAndHardStateAndDropsAConflictingSuffix() {
        MemoryLogStore store = new MemoryLogStore();
        store.persist(new HardState(1, 1, 0), entries(1, 5, 1));
        store.persist(new HardState(2, 2, 3), entries(4, 6, 2)); // a new leader overwrote 4..5
        assertThat(store.hardState()).isEqualTo(new HardState(2, 2, 3));
        assertThat(store.lastIndex()).isEqualTo(6);
        assertThat(store.term(3)).isEqualTo(1);
        assertThat(store.term(4)).isEqualTo(2);
        assertThat(store.entries(1, 7, Long.MAX_VALUE)).hasSize(6);
    }

    @Test
    void compactsToItsOwnSnapshotAndServesItInChunks() throws IOException {
        MemoryLogStore store = new MemoryLogStore();
        store.persist(new HardState(1, 1, 8), entries(1, 10, 1));
        SnapshotMeta meta = ownSnapshot(store, 8, 1, "state at 8");
        assertThat(meta.sizeBytes()).isEqualTo(10);
        store.compact(meta);
        assertThat(store.firstIndex()).isEqualTo(9);
        assertThat(store.snapshot()).isEqualTo(meta);
        assertThat(store.term(8)).isEqualTo(1);
        assertThat(new String(store.snapshotChunk(8, 3, 4), StandardCharsets.UTF_8)).isEqualTo("te a");
        assertThat(read(store, meta)).isEqualTo("state at 8");
    }

    @Test
    void anOlderSnapshotCompactedAfterANewerOneWasInstalledIsSkippedAndForgotten() throws IOException {
        MemoryLogStore store = new MemoryLogStore();
        store.persist(new HardState(1, 1, 5), entries(1, 10, 1));
        SnapshotMeta own = ownSnapshot(store, 5, 1, "own at 5");
        SnapshotMeta leaders = ownSnapshot(store, 9, 1, "at 9");
        store.installSnapshot(leaders);
        store.compact(own); // the loop runs the older compaction late: nothing to do
        assertThat(store.snapshot()).isEqualTo(leaders);
        assertThat(store.firstIndex()).isEqualTo(10);
        assertThatThrownBy(() -> store.openSnapshot(own)).isInstanceOf(IOException.class).hasMessageContaining("no longer kept");
        assertThat(read(store, leaders)).isEqualTo("at 9");
    }

    @Test
    void receivesASnapshotInChunksAndRefusesOneThatDoesNotMatchItsMeta() throws IOException {
        MemoryLogStore leader = new MemoryLogStore();
        leader.persist(new HardState(1, 1, 4), entries(1, 4, 1));
        SnapshotMeta meta = ownSnapshot(leader, 4, 1, "abcdefgh");

        MemoryLogStore follower = new MemoryLogStore();
        LogStore.SnapshotSink sink = follower.beginReceive(meta);
        sink.write(0, "abcd".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> sink.write(6, "gh".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected offset 4");
        sink.write(4, "efgh".getBytes(StandardCharsets.UTF_8));
        assertThat(sink.commit()).isEqualTo(meta);
        follower.installSnapshot(meta);
        assertThat(follower.snapshot()).isEqualTo(meta);
        assertThat(follower.lastIndex()).isEqualTo(4);
        assertThat(read(follower, meta)).isEqualTo("abcdefgh");

        LogStore.SnapshotSink bad = new MemoryLogStore().beginReceive(meta);
        bad.write(0, "abcdefgX".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(bad::commit).isInstanceOf(IllegalStateException.class).hasMessageContaining("CRC32C");
        LogStore.SnapshotSink tooLong = new MemoryLogStore().beginReceive(meta);
        assertThatThrownBy(() -> tooLong.write(0, "abcdefghi".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("runs past");
    }
}
