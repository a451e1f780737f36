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
import dev.keel.core.Message.TimeoutNow;
import dev.keel.core.SnapshotMeta;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Turns core {@link Message}s into frames and back. Pure and stateless apart from its limit: no
 * Netty types, no IO, safe to share between threads.
 *
 * <h2>Wire format (version {@value Handshake#PROTOCOL_VERSION})</h2>
 * All integers are big-endian and signed unless marked; a {@code bool} is one byte, 0 or 1 (any
 * other value is rejected, so every message has exactly one encoding); {@code bytes} is an
 * {@code int} length followed by that many bytes.
 * <pre>
 * frame   := length:int  body              length = bytes of body, 1 ≤ length ≤ maxFrameBytes
 * body    := type:byte  from:int  to:int  term:long  fields(type)
 *
 * type  message                  fields, in order
 *  1    RequestVote              lastLogIndex:long lastLogTerm:long preVote:bool leadershipTransfer:bool
 *  2    RequestVoteResponse      voteGranted:bool preVote:bool
 *  3    AppendEntries            prevLogIndex:long prevLogTerm:long leaderCommit:long readSeq:long
 *                                count:int entry*count
 *  4    AppendEntriesResponse    success:bool index:long conflictTerm:long conflictIndex:long readSeq:long
 *  5    InstallSnapshot          meta offset:long done:bool data:bytes
 *  6    InstallSnapshotResponse  snapshotIndex:long nextOffset:long installed:bool mismatch:bool
 *  7    ReadIndexRequest         context:long
 *  8    ReadIndexResponse        context:long readIndex:long ok:bool
 *  9    TimeoutNow               (no fields)
 *
 * entry   := index:long term:long type:byte data:bytes          type 0 = NORMAL, 1 = NOOP, 2 = CONFIG
 * meta    := index:long term:long membership sizeBytes:long crc32c:int
 * membership := ids(voters) ids(outgoing) ids(learners)        the snapshot's {@link Membership}
 * ids     := count:int id:int*count                              ids strictly ascending
 * </pre>
 * <p>A CONFIG entry's data is {@link Membership#encode()}; the codec carries it as opaque bytes like any
 * other entry data. A membership's id lists must be strictly ascending (as {@link Membership} keeps
 * them), so that every message keeps exactly one encoding; the voters must not be empty and the
 * learners must not be voters (the {@link Membership} record's own checks).
 *
 * <p>Type numbers and field order are the protocol: never renumber or reorder, add a new type or bump
 * {@link Handshake#PROTOCOL_VERSION} instead.
 *
 * <h2>Decoding untrusted bytes</h2>
 * Every decode path checks before it builds: the frame length against {@code maxFrameBytes}, the
 * type byte, each field against the bytes left, every count and length against the bytes left
 * <em>before</em> allocating for it (a 20-byte frame that claims 2^31 entries is refused without
 * allocating), no trailing bytes, and finally the core records' own checks. Any failure is a
 * {@link CodecException} naming what was expected and what was found; no other exception escapes
 * a decode method.
 */
public final class MessageCodec {
    /** Default bound on a frame's body: 16 MiB holds an AppendEntries batch or snapshot chunk of a few MiB with room to spare. */
    public static final int DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
    /** The smallest maxFrameBytes accepted: every fixed-size message fits in far less. */
    public static final int MIN_MAX_FRAME_BYTES = 1024;
    /** The largest maxFrameBytes accepted (1 GiB), so {@code LENGTH_PREFIX_BYTES + length} never overflows. */
    public static final int MAX_MAX_FRAME_BYTES = 1 << 30;
    /** Bytes of the length prefix in front of every body. */
    public static final int LENGTH_PREFIX_BYTES = 4;

    // Type numbers: part of the wire format.
    static final byte TYPE_REQUEST_VOTE = 1;
    static final byte TYPE_REQUEST_VOTE_RESPONSE = 2;
    static final byte TYPE_APPEND_ENTRIES = 3;
    static final byte TYPE_APPEND_ENTRIES_RESPONSE = 4;
    static final byte TYPE_INSTALL_SNAPSHOT = 5;
    static final byte TYPE_INSTALL_SNAPSHOT_RESPONSE = 6;
    static final byte TYPE_READ_INDEX_REQUEST = 7;
    static final byte TYPE_READ_INDEX_RESPONSE = 8;
    static final byte TYPE_TIMEOUT_NOW = 9;

    private static final byte ENTRY_NORMAL = 0;
    private static final byte ENTRY_NOOP = 1;
    private static final byte ENTRY_CONFIG = 2;

    /** The membership's id lists on the wire, in order (for error messages). */
    private static final String[] MEMBER_LISTS = {"voter", "outgoing voter", "learner"};

    /** type + from + to + term. */
    static final int HEADER_BYTES = 1 + 4 + 4 + 8;
    /** index + term + type + data length: the least one entry takes on the wire. */
    static final int ENTRY_FIXED_BYTES = 8 + 8 + 1 + 4;

    private final int maxFrameBytes;

    /**
     * @param maxFrameBytes the largest body (the bytes after the length prefix) this codec encodes or
     *     accepts; in [{@value #MIN_MAX_FRAME_BYTES}, {@value #MAX_MAX_FRAME_BYTES}]
     */
    public MessageCodec(int maxFrameBytes) {
        if (maxFrameBytes < MIN_MAX_FRAME_BYTES || maxFrameBytes > MAX_MAX_FRAME_BYTES) {
            throw new IllegalArgumentException("maxFrameBytes (" + maxFrameBytes + ") must be in ["
                    + MIN_MAX_FRAME_BYTES + ", " + MAX_MAX_FRAME_BYTES + "]");
        }
        this.maxFrameBytes = maxFrameBytes;
    }

    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    // ---------------------------------------------------------------- encoding

    /**
     * The whole frame's size, length prefix included. A long: a message may be too big to encode;
     * compare with {@link #fits}.
     */
    public long frameBytes(Message m) {
        return LENGTH_PREFIX_BYTES + bodyBytes(m);
    }

    /** Whether {@code m} is small enough for this codec to encode. */
    public boolean fits(Message m) {
        return bodyBytes(m) <= maxFrameBytes;
    }

    /** Encodes one whole frame (length prefix included) into a new array. */
    public byte[] encode(Message m) {
        int size = checkedFrameBytes(m);
        byte[] frame = new byte[size];
        write(m, ByteBuffer.wrap(frame), size);
        return frame;
    }

    /**
     * Encodes one whole frame at {@code out}'s position and advances it past the frame. {@code out}'s
     * byte order does not matter (the frame is big-endian either way).
     *
     * @return the frame's size in bytes
     * @throws IllegalArgumentException if the message does not fit maxFrameBytes or {@code out} has
     *     too little room (a local error, unlike a decode failure)
     */
    public int encode(Message m, ByteBuffer out) {
        int size = checkedFrameBytes(m);
        if (out.remaining() < size) {
            throw new IllegalArgumentException("buffer has " + out.remaining() + " bytes left, frame needs " + size);
        }
        write(m, out.slice().order(ByteOrder.BIG_ENDIAN), size);
        out.position(out.position() + size);
        return size;
    }

    private int checkedFrameBytes(Message m) {
        long body = bodyBytes(m);
        if (body > maxFrameBytes) {
            throw new IllegalArgumentException(m.getClass().getSimpleName() + " needs " + body
                    + " bytes, over maxFrameBytes " + maxFrameBytes);
        }
        return (int) (LENGTH_PREFIX_BYTES + body);
    }

    static long bodyBytes(Message m) {
        long fields = switch (m) {
            case RequestVote rv -> 8 + 8 + 1 + 1;
            case TimeoutNow t -> 0;
            case RequestVoteResponse r -> 1 + 1;
            case AppendEntries ae -> {
                long n = 8 + 8 + 8 + 8 + 4;
                for (Entry e : ae.entries()) n += ENTRY_FIXED_BYTES + e.data().length;
                yield n;
            }
            case AppendEntriesResponse r -> 1 + 8 + 8 + 8 + 8;
            case InstallSnapshot is -> metaBytes(is.meta()) + 8 + 1 + 4 + is.data().length;
            case InstallSnapshotResponse r -> 8 + 8 + 1 + 1;
            case ReadIndexRequest r -> 8;
            case ReadIndexResponse r -> 8 + 8 + 1;
        };
        return HEADER_BYTES + fields;
    }

    private static long metaBytes(SnapshotMeta meta) {
        long ids = 0;
        for (int[] list : memberLists(meta.membership())) ids += list.length;
        return 8 + 8 + 3 * 4 + 4 * ids + 8 + 4;
    }

    /** The three id lists of a membership on the wire, in order: voters, outgoing voters, learners. */
    private static int[][] memberLists(Membership m) {
        return new int[][] {m.voters(), m.outgoing(), m.learners()};
    }

    private static void write(Message m, ByteBuffer b, int frameBytes) {
        int start = b.position();
        b.putInt(frameBytes - LENGTH_PREFIX_BYTES);
        b.put(typeOf(m)).putInt(m.from()).putInt(m.to()).putLong(m.term());
        switch (m) {
            case RequestVote rv -> b.putLong(rv.lastLogIndex()).putLong(rv.lastLogTerm()).put(bool(rv.preVote()))
                    .put(bool(rv.leadershipTransfer()));
            case TimeoutNow t -> { } // no fields beyond the header
            case RequestVoteResponse r -> b.put(bool(r.voteGranted())).put(bool(r.preVote()));
            case AppendEntries ae -> {
                b.putLong(ae.prevLogIndex()).putLong(ae.prevLogTerm()).putLong(ae.leaderCommit()).putLong(ae.readSeq());
                List<Entry> entries = ae.entries();
                b.putInt(entries.size());
                for (Entry e : entries) {
                    b.putLong(e.index()).putLong(e.term()).put(entryType(e.type()));
                    b.putInt(e.data().length).put(e.data());
                }
            }
            case AppendEntriesResponse r -> b.put(bool(r.success())).putLong(r.index()).putLong(r.conflictTerm())
                    .putLong(r.conflictIndex()).putLong(r.readSeq());
            case InstallSnapshot is -> {
                SnapshotMeta meta = is.meta();
                b.putLong(meta.index()).putLong(meta.term());
                for (int[] ids : memberLists(meta.membership())) {
                    b.putInt(ids.length);
                    for (int id : ids) b.putInt(id);
                }
                b.putLong(meta.sizeBytes()).putInt(meta.crc32c());
                b.putLong(is.offset()).put(bool(is.done())).putInt(is.data().length).put(is.data());
            }
            case InstallSnapshotResponse r -> b.putLong(r.snapshotIndex()).putLong(r.nextOffset())
                    .put(bool(r.installed())).put(bool(r.mismatch()));
            case ReadIndexRequest r -> b.putLong(r.context());
            case ReadIndexResponse r -> b.putLong(r.context()).putLong(r.readIndex()).put(bool(r.ok()));
        }
        // Postcondition: bodyBytes() and write() agree, or frames would be cut or padded.
        if (b.position() - start != frameBytes) {
            throw new IllegalStateException("encoded " + (b.position() - start) + " bytes of " + m.getClass().getSimpleName()
                    + ", computed " + frameBytes);
        }
    }

    private static byte typeOf(Message m) {
        return switch (m) {
            case RequestVote r -> TYPE_REQUEST_VOTE;
            case RequestVoteResponse r -> TYPE_REQUEST_VOTE_RESPONSE;
            case AppendEntries r -> TYPE_APPEND_ENTRIES;
            case AppendEntriesResponse r -> TYPE_APPEND_ENTRIES_RESPONSE;
            case InstallSnapshot r -> TYPE_INSTALL_SNAPSHOT;
            case InstallSnapshotResponse r -> TYPE_INSTALL_SNAPSHOT_RESPONSE;
            case ReadIndexRequest r -> TYPE_READ_INDEX_REQUEST;
            case ReadIndexResponse r -> TYPE_READ_INDEX_RESPONSE;
            case TimeoutNow r -> TYPE_TIMEOUT_NOW;
        };
    }

    private static byte entryType(EntryType t) {
        return switch (t) {
            case NORMAL -> ENTRY_NORMAL;
            case NOOP -> ENTRY_NOOP;
            case CONFIG -> ENTRY_CONFIG;
        };
    }

    private static byte bool(boolean v) {
        return v ? (byte) 1 : (byte) 0;
    }

    // ---------------------------------------------------------------- decoding

    /** Decodes one whole frame, length prefix included; the array must hold exactly that frame. */
    public Message decode(byte[] frame) throws CodecException {
        return decode(ByteBuffer.wrap(frame));
    }

    /**
     * Decodes one whole frame, length prefix included, from {@code frame}'s position to its limit
     * (exactly one frame, nothing after it). On success the position moves to the limit; on failure
     * it is unchanged.
     */
    public Message decode(ByteBuffer frame) throws CodecException {
        ByteBuffer b = frame.slice().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < LENGTH_PREFIX_BYTES) {
            throw new CodecException("truncated frame: " + b.remaining() + " bytes, the length prefix alone takes "
                    + LENGTH_PREFIX_BYTES);
        }
        int length = b.getInt();
        checkFrameLength(length);
        if (b.remaining() != length) {
            throw new CodecException(b.remaining() < length
                    ? "truncated frame: length " + length + " but only " + b.remaining() + " bytes follow"
                    : "frame length " + length + " but " + b.remaining() + " bytes follow (" + (b.remaining() - length)
                            + " trailing)");
        }
        Message m = decodeBody(b);
        frame.position(frame.limit());
        return m;
    }

    /**
     * Checks a frame's declared body length, the first thing read off the wire, before anything
     * waits for or allocates that many bytes.
     */
    public void checkFrameLength(int length) throws CodecException {
        if (length < 1 || length > maxFrameBytes) {
            throw new CodecException("frame length " + length + " outside [1, maxFrameBytes " + maxFrameBytes + "]");
        }
    }

    /**
     * Decodes one body (type byte onwards, without the length prefix): exactly the bytes from
     * {@code body}'s position to its limit. The caller has already checked the length with
     * {@link #checkFrameLength}. {@code body}'s position is not moved; its byte order does not matter.
     * The returned message shares no memory with {@code body}.
     */
    public Message decodeBody(ByteBuffer body) throws CodecException {
        if (body.remaining() > maxFrameBytes) {
            throw new CodecException("body of " + body.remaining() + " bytes over maxFrameBytes " + maxFrameBytes);
        }
        ByteBuffer b = body.slice().order(ByteOrder.BIG_ENDIAN);
        byte type = getByte(b, "frame", "message type");
        String name = typeName(type);
        int from = getInt(b, name, "from");
        int to = getInt(b, name, "to");
        long term = getLong(b, name, "term");
        try {
            return switch (type) {
                case TYPE_REQUEST_VOTE -> {
                    long lastLogIndex = getLong(b, name, "lastLogIndex");
                    long lastLogTerm = getLong(b, name, "lastLogTerm");
                    boolean preVote = getBool(b, name, "preVote");
                    boolean leadershipTransfer = getBool(b, name, "leadershipTransfer");
                    end(b, name);
                    yield new RequestVote(from, to, term, lastLogIndex, lastLogTerm, preVote, leadershipTransfer);
                }
                case TYPE_REQUEST_VOTE_RESPONSE -> {
                    boolean voteGranted = getBool(b, name, "voteGranted");
                    boolean preVote = getBool(b, name, "preVote");
                    end(b, name);
                    yield new RequestVoteResponse(from, to, term, voteGranted, preVote);
                }
                case TYPE_APPEND_ENTRIES -> decodeAppendEntries(b, name, from, to, term);
                case TYPE_APPEND_ENTRIES_RESPONSE -> {
                    boolean success = getBool(b, name, "success");
                    long index = getLong(b, name, "index");
                    long conflictTerm = getLong(b, name, "conflictTerm");
                    long conflictIndex = getLong(b, name, "conflictIndex");
                    long readSeq = getLong(b, name, "readSeq");
                    end(b, name);
                    yield new AppendEntriesResponse(from, to, term, success, index, conflictTerm, conflictIndex, readSeq);
                }
                case TYPE_INSTALL_SNAPSHOT -> decodeInstallSnapshot(b, name, from, to, term);
                case TYPE_INSTALL_SNAPSHOT_RESPONSE -> {
                    long snapshotIndex = getLong(b, name, "snapshotIndex");
                    long nextOffset = getLong(b, name, "nextOffset");
                    boolean installed = getBool(b, name, "installed");
                    boolean mismatch = getBool(b, name, "mismatch");
                    end(b, name);
                    yield new InstallSnapshotResponse(from, to, term, snapshotIndex, nextOffset, installed, mismatch);
                }
                case TYPE_READ_INDEX_REQUEST -> {
                    long context = getLong(b, name, "context");
                    end(b, name);
                    yield new ReadIndexRequest(from, to, term, context);
                }
                case TYPE_TIMEOUT_NOW -> {
                    end(b, name);
                    yield new TimeoutNow(from, to, term);
                }
                case TYPE_READ_INDEX_RESPONSE -> {
                    long context = getLong(b, name, "context");
                    long readIndex = getLong(b, name, "readIndex");
                    boolean ok = getBool(b, name, "ok");
                    end(b, name);
                    yield new ReadIndexResponse(from, to, term, context, readIndex, ok);
                }
                default -> throw new IllegalStateException("type " + type + " passed typeName() but has no decoder");
            };
        } catch (IllegalArgumentException e) {
            // The records' own checks (node ids, non-negative indexes, contiguous entries, chunk bounds).
            throw new CodecException("invalid " + name + ": " + e.getMessage(), e);
        }
    }

    private static AppendEntries decodeAppendEntries(ByteBuffer b, String name, int from, int to, long term)
            throws CodecException {
        long prevLogIndex = getLong(b, name, "prevLogIndex");
        long prevLogTerm = getLong(b, name, "prevLogTerm");
        long leaderCommit = getLong(b, name, "leaderCommit");
        long readSeq = getLong(b, name, "readSeq");
        int count = getInt(b, name, "entry count");
        // Check the count against what is left before allocating the array it sizes.
        if (count < 0 || (long) count * ENTRY_FIXED_BYTES > b.remaining()) {
            throw new CodecException(name + " entry count " + count + " needs at least "
                    + Math.max(0, (long) count * ENTRY_FIXED_BYTES) + " bytes, " + b.remaining() + " left");
        }
        Entry[] entries = new Entry[count];
        for (int i = 0; i < count; i++) {
            long index = getLong(b, name, "entry index");
            long entryTerm = getLong(b, name, "entry term");
            byte typeByte = getByte(b, name, "entry type");
            EntryType type = switch (typeByte) {
                case ENTRY_NORMAL -> EntryType.NORMAL;
                case ENTRY_NOOP -> EntryType.NOOP;
                case ENTRY_CONFIG -> EntryType.CONFIG;
                default -> throw new CodecException(name + " entry " + i + " has unknown entry type " + typeByte
                        + ", expected " + ENTRY_NORMAL + " (NORMAL), " + ENTRY_NOOP + " (NOOP) or " + ENTRY_CONFIG
                        + " (CONFIG)");
            };
            byte[] data = getBytes(b, name, "entry data");
            entries[i] = new Entry(index, entryTerm, type, data);
        }
        end(b, name);
        return new AppendEntries(from, to, term, prevLogIndex, prevLogTerm, List.of(entries), leaderCommit, readSeq);
    }

    private static InstallSnapshot decodeInstallSnapshot(ByteBuffer b, String name, int from, int to, long term)
            throws CodecException {
        long index = getLong(b, name, "snapshot index");
        long snapshotTerm = getLong(b, name, "snapshot term");
        int[][] lists = new int[MEMBER_LISTS.length][];
        for (int p = 0; p < lists.length; p++) lists[p] = getIds(b, name, MEMBER_LISTS[p]);
        // Throws IllegalArgumentException (no voters, a learner that is also a voter, a bad id): a CodecException below.
        Membership membership = new Membership(lists[0], lists[1], lists[2]);
        long sizeBytes = getLong(b, name, "snapshot sizeBytes");
        int crc32c = getInt(b, name, "snapshot crc32c");
        long offset = getLong(b, name, "offset");
        boolean done = getBool(b, name, "done");
        byte[] data = getBytes(b, name, "data");
        end(b, name);
        return new InstallSnapshot(from, to, term, new SnapshotMeta(index, snapshotTerm, membership, sizeBytes, crc32c),
                offset, data, done);
    }

    /** A counted list of node ids, strictly ascending; the count is checked against the bytes left before allocating. */
    private static int[] getIds(ByteBuffer b, String name, String what) throws CodecException {
        int count = getInt(b, name, what + " count");
        if (count < 0 || 4L * count > b.remaining()) {
            throw new CodecException(name + " " + what + " count " + count + " needs "
                    + Math.max(0, 4L * count) + " bytes, " + b.remaining() + " left");
        }
        int[] ids = new int[count];
        for (int i = 0; i < count; i++) {
            ids[i] = b.getInt(); // fits: checked above
            if (i > 0 && ids[i] <= ids[i - 1]) {
                throw new CodecException(name + " " + what + " ids not strictly ascending: " + ids[i - 1] + " then " + ids[i]);
            }
        }
        return ids;
    }

    private static String typeName(byte type) throws CodecException {
        return switch (type) {
            case TYPE_REQUEST_VOTE -> "RequestVote";
            case TYPE_REQUEST_VOTE_RESPONSE -> "RequestVoteResponse";
            case TYPE_APPEND_ENTRIES -> "AppendEntries";
            case TYPE_APPEND_ENTRIES_RESPONSE -> "AppendEntriesResponse";
            case TYPE_INSTALL_SNAPSHOT -> "InstallSnapshot";
            case TYPE_INSTALL_SNAPSHOT_RESPONSE -> "InstallSnapshotResponse";
            case TYPE_READ_INDEX_REQUEST -> "ReadIndexRequest";
            case TYPE_READ_INDEX_RESPONSE -> "ReadIndexResponse";
            case TYPE_TIMEOUT_NOW -> "TimeoutNow";
            default -> throw new CodecException("unknown message type " + type + ", expected 1.." + TYPE_TIMEOUT_NOW);
        };
    }

    private static void need(ByteBuffer b, int bytes, String name, String field) throws CodecException {
        if (b.remaining() < bytes) {
            throw new CodecException("truncated " + name + " at " + field + ": need " + bytes + " bytes, "
                    + b.remaining() + " left");
        }
    }

    private static byte getByte(ByteBuffer b, String name, String field) throws CodecException {
        need(b, 1, name, field);
        return b.get();
    }

    private static int getInt(ByteBuffer b, String name, String field) throws CodecException {
        need(b, 4, name, field);
        return b.getInt();
    }

    private static long getLong(ByteBuffer b, String name, String field) throws CodecException {
        need(b, 8, name, field);
        return b.getLong();
    }

    private static boolean getBool(ByteBuffer b, String name, String field) throws CodecException {
        need(b, 1, name, field);
        byte v = b.get();
        if (v == 0) return false;
        if (v == 1) return true;
        throw new CodecException(name + " " + field + ": boolean byte " + v + ", expected 0 or 1");
    }

    private static byte[] getBytes(ByteBuffer b, String name, String field) throws CodecException {
        int length = getInt(b, name, field + " length");
        // Check the declared length against what is left before allocating it.
        if (length < 0 || length > b.remaining()) {
            throw new CodecException(name + " " + field + " length " + length + ", " + b.remaining() + " bytes left");
        }
        byte[] data = new byte[length];
        b.get(data);
        return data;
    }

    private static void end(ByteBuffer b, String name) throws CodecException {
        if (b.hasRemaining()) throw new CodecException(b.remaining() + " trailing bytes after " + name);
    }
}
