package dev.keel.transport;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.Membership;
import dev.keel.core.Message;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.AppendEntriesResponse;
import dev.keel.core.Message.InstallSnapshot;
import dev.keel.core.Message.InstallSnapshotResponse;
import dev.keel.core.Message.ReadIndexRequest;
import dev.keel.core.Message.ReadIndexResponse;
import dev.keel.core.Message.RequestVote;
import dev.keel.core.Message.RequestVoteResponse;
import dev.keel.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/** Arbitrary valid core messages of every type, edge values included (ids up to 2^31-1, terms up to 2^63-1). */
final class MessageArbitraries {
    private MessageArbitraries() {}

    static Arbitrary<Integer> nodeIds() {
        return Arbitraries.integers().between(1, Integer.MAX_VALUE).edgeCases(c -> c.includeOnly(1, Integer.MAX_VALUE));
    }

    static Arbitrary<Long> nonNegative() {
        return Arbitraries.longs().between(0, Long.MAX_VALUE);
    }

    static Arbitrary<byte[]> data(int maxBytes) {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(maxBytes);
    }

    /** Node ids for memberships: mostly small (so voters, outgoing voters and learners overlap), sometimes any. */
    static Arbitrary<Integer> memberIds() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(1, 9)),
                net.jqwik.api.Tuple.of(1, nodeIds()));
    }

    /**
     * Valid memberships: 1..7 voters; half of them joint (1..7 outgoing voters, which may overlap the
     * voters); 0..4 learners, none of them a voter or an outgoing voter.
     */
    static Arbitrary<Membership> memberships() {
        Arbitrary<Set<Integer>> voters = memberIds().set().ofMinSize(1).ofMaxSize(7);
        Arbitrary<Set<Integer>> outgoing = Arbitraries.oneOf(Arbitraries.just(Set.of()), memberIds().set().ofMinSize(1).ofMaxSize(7));
        Arbitrary<Set<Integer>> learners = memberIds().set().ofMaxSize(4);
        return Combinators.combine(voters, outgoing, learners).as((v, o, l) -> new Membership(
                ints(v), ints(o), l.stream().filter(id -> !v.contains(id) && !o.contains(id)).mapToInt(Integer::intValue).toArray()));
    }

    private static int[] ints(Set<Integer> ids) {
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    static Arbitrary<Message> messages() {
        return Arbitraries.oneOf(requestVotes(), requestVoteResponses(), appendEntries(), appendEntriesResponses(),
                installSnapshots(), installSnapshotResponses(), readIndexRequests(), readIndexResponses(), timeoutNows());
    }

    static Arbitrary<Message> requestVotes() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), nonNegative(), nonNegative(), Arbitraries.of(true, false),
                Arbitraries.of(true, false)).as(RequestVote::new);
    }

    static Arbitrary<Message> timeoutNows() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative()).as(Message.TimeoutNow::new);
    }

    static Arbitrary<Message> requestVoteResponses() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), Arbitraries.of(true, false), Arbitraries.of(true, false))
                .as(RequestVoteResponse::new);
    }

    /** Entries contiguous after prevLogIndex, terms non-decreasing within [max(1, prevLogTerm), term]. */
    static Arbitrary<Message> appendEntries() {
        Arbitrary<Long> terms = Arbitraries.longs().between(1, Long.MAX_VALUE).edgeCases(c -> c.includeOnly(1L, Long.MAX_VALUE));
        return terms.flatMap(term -> Combinators.combine(
                nodeIds(), nodeIds(),
                Arbitraries.longs().between(0, Long.MAX_VALUE - 100),
                Arbitraries.longs().between(0, term),
                Combinators.combine(Arbitraries.longs().between(0, term), Arbitraries.of(EntryType.values()), data(40),
                                memberships())
                        .as(EntryDraft::new).list().ofMaxSize(6),
                nonNegative(), nonNegative())
                .as((from, to, prevLogIndex, prevLogTerm, drafts, leaderCommit, readSeq) -> {
                    List<Long> entryTerms = new ArrayList<>();
                    for (EntryDraft d : drafts) entryTerms.add(Math.max(Math.max(1, prevLogTerm), d.term()));
                    entryTerms.sort(null);
                    List<Entry> entries = new ArrayList<>();
                    for (int i = 0; i < drafts.size(); i++) {
                        EntryDraft d = drafts.get(i);
                        byte[] bytes = switch (d.type()) {
                            case NORMAL -> d.data();
                            case NOOP -> new byte[0];
                            case CONFIG -> d.membership().encode();
                        };
                        entries.add(new Entry(prevLogIndex + 1 + i, entryTerms.get(i), d.type(), bytes));
                    }
                    return new AppendEntries(from, to, term, prevLogIndex, prevLogTerm, entries, leaderCommit, readSeq);
                }));
    }

    private record EntryDraft(long term, EntryType type, byte[] data, Membership membership) {}

    static Arbitrary<Message> appendEntriesResponses() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), Arbitraries.of(true, false), nonNegative(),
                nonNegative(), nonNegative(), nonNegative())
                .as(AppendEntriesResponse::new);
    }

    /** A chunk [offset, offset + data) of a snapshot at least that long; done exactly when the chunk ends it. */
    static Arbitrary<Message> installSnapshots() {
        Arbitrary<SnapshotMeta> metaDraft = Combinators.combine(
                Arbitraries.longs().between(1, Long.MAX_VALUE), Arbitraries.longs().between(1, Long.MAX_VALUE),
                memberships(), Arbitraries.integers())
                .as((index, term, membership, crc) -> new SnapshotMeta(index, term, membership, 0, crc));
        Arbitrary<Long> extra = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(1, Arbitraries.just(0L)),
                net.jqwik.api.Tuple.of(1, Arbitraries.longs().between(1, 1L << 40)));
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), metaDraft,
                Arbitraries.longs().between(0, 1L << 40), data(64), extra)
                .as((from, to, term, m, offset, chunk, more) -> {
                    long size = offset + chunk.length + more;
                    SnapshotMeta meta = new SnapshotMeta(m.index(), m.term(), m.membership(), size, m.crc32c());
                    return new InstallSnapshot(from, to, term, meta, offset, chunk, more == 0);
                });
    }

    static Arbitrary<Message> installSnapshotResponses() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), nonNegative(), nonNegative(),
                Arbitraries.of(true, false), Arbitraries.of(true, false))
                .as(InstallSnapshotResponse::new);
    }

    static Arbitrary<Message> readIndexRequests() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), Arbitraries.longs()).as(ReadIndexRequest::new);
    }

    static Arbitrary<Message> readIndexResponses() {
        return Combinators.combine(nodeIds(), nodeIds(), nonNegative(), Arbitraries.longs(), nonNegative(),
                Arbitraries.of(true, false))
                .as(ReadIndexResponse::new);
    }

    /** A joint configuration with learners, for the samples. */
    static final Membership JOINT = new Membership(new int[] {1, 2, 4}, new int[] {1, 2, 3}, new int[] {5, 6});

    /**
     * A deterministic message of type {@code i % 8} from {@code from} to {@code to} whose term is
     * {@code term}: for delivery tests, where the term doubles as a sequence number.
     */
    static Message sample(int i, int from, int to, long term) {
        byte[] payload = {(byte) i, (byte) (i >> 8), 42};
        return switch (i % 8) {
            case 0 -> new RequestVote(from, to, term, i, 0, i % 3 == 0);
            case 1 -> new RequestVoteResponse(from, to, term, true, false);
            case 2 -> new AppendEntries(from, to, term, 10, 1,
                    List.of(Entry.normal(11, 1, payload), Entry.noop(12, term), Entry.normal(13, term, payload),
                            new Entry(14, term, EntryType.CONFIG, JOINT.encode())), 9, i);
            case 3 -> new AppendEntriesResponse(from, to, term, i % 2 == 0, 13, 0, 0, i);
            case 4 -> new InstallSnapshot(from, to, term, new SnapshotMeta(100, 1, i % 16 == 4 ? JOINT : Membership.of(1, 2, 3),
                    6, 0x1234), 3, payload, true);
            case 5 -> new InstallSnapshotResponse(from, to, term, 100, 6, true, false);
            case 6 -> new ReadIndexRequest(from, to, term, -i);
            default -> new ReadIndexResponse(from, to, term, -i, 99, true);
        };
    }
}
