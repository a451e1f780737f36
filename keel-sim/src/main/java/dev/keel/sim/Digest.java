package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.Message;

/**
 * A running 64-bit digest of a simulation's event trace. Mixes only explicit field values (never
 * identity hash codes, which change between runs), so one seed always gives the same digest.
 */
final class Digest {
    private long h = 0x9E3779B97F4A7C15L;

    void mix(long v) {
        // SplitMix64 finaliser over (h ^ v): cheap and well spread.
        long z = (h ^ v) + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        h = z ^ (z >>> 31);
    }

    void mix(byte[] data) {
        mix(data.length);
        long acc = 0;
        for (int i = 0; i < data.length; i++) {
            acc = acc * 31 + data[i];
            if ((i & 7) == 7) {
                mix(acc);
                acc = 0;
            }
        }
        mix(acc);
    }

    void mix(Message m) {
        mix(m.from());
        mix(m.to());
        mix(m.term());
        switch (m) {
            case Message.RequestVote r -> {
                mix(1);
                mix(r.lastLogIndex());
                mix(r.lastLogTerm());
                mix(r.preVote() ? 1 : 0);
                mix(r.leadershipTransfer() ? 1 : 0);
            }
            case Message.TimeoutNow t -> mix(9);
            case Message.RequestVoteResponse r -> {
                mix(2);
                mix(r.voteGranted() ? 1 : 0);
                mix(r.preVote() ? 1 : 0);
            }
            case Message.AppendEntries a -> {
                mix(3);
                mix(a.prevLogIndex());
                mix(a.prevLogTerm());
                mix(a.leaderCommit());
                mix(a.readSeq());
                mix(a.entries().size());
                for (Entry e : a.entries()) mix(e);
            }
            case Message.AppendEntriesResponse r -> {
                mix(4);
                mix(r.success() ? 1 : 0);
                mix(r.index());
                mix(r.conflictTerm());
                mix(r.conflictIndex());
                mix(r.readSeq());
            }
            case Message.ReadIndexRequest r -> {
                mix(5);
                mix(r.context());
            }
            case Message.InstallSnapshot i -> {
                mix(7);
                mix(i.meta().index());
                mix(i.meta().term());
                mix(i.meta().crc32c());
                mix(i.offset());
                mix(i.data());
                mix(i.done() ? 1 : 0);
            }
            case Message.InstallSnapshotResponse r -> {
                mix(8);
                mix(r.snapshotIndex());
                mix(r.nextOffset());
                mix(r.installed() ? 1 : 0);
                mix(r.mismatch() ? 1 : 0);
            }
            case Message.ReadIndexResponse r -> {
                mix(6);
                mix(r.context());
                mix(r.readIndex());
                mix(r.ok() ? 1 : 0);
            }
        }
    }

    void mix(Entry e) {
        mix(e.index());
        mix(e.term());
        mix(e.type().ordinal());
        mix(e.data());
    }

    long value() {
        return h;
    }
}
