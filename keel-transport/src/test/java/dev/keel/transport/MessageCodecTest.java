package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.keel.core.Entry;
import dev.keel.core.EntryType;
import dev.keel.core.Membership;
import dev.keel.core.Message;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.InstallSnapshot;
import dev.keel.core.Message.RequestVote;
import dev.keel.core.SnapshotMeta;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * The codec against the simplest reference there is: the core records' own equals. Every valid
 * message round-trips; every damaged frame is a CodecException and nothing else.
 */
class MessageCodecTest {
    private final MessageCodec codec = new MessageCodec(MessageCodec.DEFAULT_MAX_FRAME_BYTES);

    @Provide
    Arbitrary<Message> messages() {
        return MessageArbitraries.messages();
    }

    // ---------------------------------------------------------------- properties

    @Property(tries = 2000)
    void everyMessageRoundTrips(@ForAll("messages") Message m) throws CodecException {
        byte[] frame = codec.encode(m);
        assertThat((long) frame.length).isEqualTo(codec.frameBytes(m));
        assertThat(codec.decode(frame)).isEqualTo(m);

        // The ByteBuffer forms agree with the array form, at any offset and in any byte order.
        ByteBuffer direct = ByteBuffer.allocateDirect(frame.length + 10).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        direct.position(7);
        assertThat(codec.encode(m, direct)).isEqualTo(frame.length);
        assertThat(direct.position()).isEqualTo(7 + frame.length);
        direct.flip().position(7);
        byte[] copy = new byte[frame.length];
        direct.duplicate().get(copy);
        assertThat(copy).isEqualTo(frame);
        assertThat(codec.decode(direct)).isEqualTo(m);
        assertThat(direct.hasRemaining()).isFalse();
        assertThat(codec.decodeBody(ByteBuffer.wrap(frame, 4, frame.length - 4))).isEqualTo(m);
    }

    @Property(tries = 300)
    void everyTruncationIsRejected(@ForAll("messages") Message m) {
        byte[] frame = codec.encode(m);
        for (int n = 0; n < frame.length; n++) {
            byte[] cut = Arrays.copyOf(frame, n);
            assertThatThrownBy(() -> codec.decode(cut)).as("prefix of %d of %d bytes", n, frame.length)
                    .isInstanceOf(CodecException.class);
            // The same cut with its length prefix fixed up to match: the fields themselves run short.
            if (n > 4) {
                ByteBuffer.wrap(cut).putInt(0, n - 4);
                assertThatThrownBy(() -> codec.decode(cut)).as("body cut to %d bytes", n - 4)
                        .isInstanceOf(CodecException.class);
            }
        }
    }

    @Property(tries = 3000)
    void byteFlipsDecodeToAValidMessageOrFailCleanly(@ForAll("messages") Message m,
                                                     @ForAll @Size(min = 1, max = 4) List<@IntRange(min = 0, max = 1 << 20) Integer> positions,
                                                     @ForAll @Size(min = 4, max = 4) List<Byte> values) {
        byte[] frame = codec.encode(m);
        for (int i = 0; i < positions.size(); i++) frame[positions.get(i) % frame.length] ^= (byte) (values.get(i) | 1);
        try {
            Message decoded = codec.decode(frame);
            // One encoding per message: whatever decodes re-encodes to exactly the bytes it came from.
            assertThat(codec.encode(decoded)).isEqualTo(frame);
        } catch (CodecException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        } catch (Throwable t) {
            fail("a flipped frame threw " + t + " instead of CodecException", t);
        }
    }

    @Property(tries = 3000)
    void randomGarbageIsRejected(@ForAll @Size(max = 300) byte[] garbage) {
        // A random length prefix matches the rest's length with probability 2^-32: treat as never.
        assertThatThrownBy(() -> codec.decode(garbage)).isInstanceOf(CodecException.class);
    }

    @Property(tries = 3000)
    void garbageBodiesWithAPlausibleHeaderFailCleanly(@ForAll @IntRange(min = 1, max = 8) int type,
                                                      @ForAll @Size(max = 200) byte[] rest) {
        ByteBuffer b = ByteBuffer.allocate(5 + rest.length);
        b.putInt(1 + rest.length).put((byte) type).put(rest);
        byte[] frame = b.array();
        try {
            Message decoded = codec.decode(frame);
            assertThat(codec.encode(decoded)).isEqualTo(frame);
        } catch (CodecException expected) {
            // fine
        } catch (Throwable t) {
            fail("garbage body threw " + t + " instead of CodecException", t);
        }
    }

    // ---------------------------------------------------------------- huge declared lengths

    @Test
    void hugeDeclaredLengthsAreRejectedWithoutAllocating() {
        // The largest limit the codec allows, so only the checks against the bytes left stand in the way.
        MessageCodec big = new MessageCodec(MessageCodec.MAX_MAX_FRAME_BYTES);
        List<byte[]> frames = List.of(
                // frame length 2^31-1: over maxFrameBytes
                frame(Integer.MAX_VALUE, new byte[] {1}),
                // AppendEntries claiming 2^31-1 entries
                bodyFrame(ByteBuffer.allocate(17 + 36).put(MessageCodec.TYPE_APPEND_ENTRIES).putInt(1).putInt(2).putLong(1)
                        .putLong(0).putLong(0).putLong(0).putLong(0).putInt(Integer.MAX_VALUE)),
                // one entry whose data claims 2^31-1 bytes
                bodyFrame(ByteBuffer.allocate(17 + 36 + 21).put(MessageCodec.TYPE_APPEND_ENTRIES).putInt(1).putInt(2).putLong(1)
                        .putLong(0).putLong(0).putLong(0).putLong(0).putInt(1)
                        .putLong(1).putLong(1).put((byte) 0).putInt(Integer.MAX_VALUE)),
                // InstallSnapshot claiming 2^31-1 voters
                bodyFrame(ByteBuffer.allocate(17 + 20).put(MessageCodec.TYPE_INSTALL_SNAPSHOT).putInt(1).putInt(2).putLong(1)
                        .putLong(1).putLong(1).putInt(Integer.MAX_VALUE)),
                // InstallSnapshot claiming 2^31-1 outgoing voters
                bodyFrame(ByteBuffer.allocate(17 + 28).put(MessageCodec.TYPE_INSTALL_SNAPSHOT).putInt(1).putInt(2).putLong(1)
                        .putLong(1).putLong(1).putInt(1).putInt(1).putInt(Integer.MAX_VALUE)),
                // InstallSnapshot claiming 2^31-1 learners
                bodyFrame(ByteBuffer.allocate(17 + 32).put(MessageCodec.TYPE_INSTALL_SNAPSHOT).putInt(1).putInt(2).putLong(1)
                        .putLong(1).putLong(1).putInt(1).putInt(1).putInt(0).putInt(Integer.MAX_VALUE)),
                // InstallSnapshot chunk claiming 2^31-1 bytes
                bodyFrame(ByteBuffer.allocate(17 + 44 + 13).put(MessageCodec.TYPE_INSTALL_SNAPSHOT).putInt(1).putInt(2).putLong(1)
                        .putLong(1).putLong(1).putInt(1).putInt(1).putInt(0).putInt(0).putLong(Long.MAX_VALUE).putInt(0)
                        .putLong(0).put((byte) 0).putInt(Integer.MAX_VALUE)),
                // negative counts and lengths
                bodyFrame(ByteBuffer.allocate(17 + 36).put(MessageCodec.TYPE_APPEND_ENTRIES).putInt(1).putInt(2).putLong(1)
                        .putLong(0).putLong(0).putLong(0).putLong(0).putInt(-1)));
        for (byte[] f : frames) assertThatThrownBy(() -> big.decode(f)).isInstanceOf(CodecException.class); // warm up
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (byte[] f : frames) {
            long before = threads.getCurrentThreadAllocatedBytes();
            try {
                big.decode(f);
                fail("decoded a frame that claims 2^31 of something");
            } catch (CodecException expected) {
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                // An exception with its message and stack trace, not the gigabytes claimed.
                assertThat(allocated).as("bytes allocated rejecting: %s", expected.getMessage()).isLessThan(256 * 1024);
            }
        }
    }

    private static byte[] frame(int declaredLength, byte[] body) {
        return ByteBuffer.allocate(4 + body.length).putInt(declaredLength).put(body).array();
    }

    private static byte[] bodyFrame(ByteBuffer body) {
        return frame(body.capacity(), body.array());
    }

    // ---------------------------------------------------------------- examples

    @Test
    void wireFormatIsStable() {
        // Pinned bytes: a change here is a protocol change and needs a new PROTOCOL_VERSION.
        assertThat(HexFormat.of().formatHex(codec.encode(new RequestVote(1, 2, 3, 4, 5, true))))
                .isEqualTo("00000023" + "01" + "00000001" + "00000002" + "0000000000000003"
                        + "0000000000000004" + "0000000000000005" + "01" + "00");
        // Protocol 2: leadership transfer (thesis §3.10): a flag on RequestVote, and TimeoutNow (type 9, no fields).
        assertThat(HexFormat.of().formatHex(codec.encode(new RequestVote(1, 2, 3, 4, 5, false, true))))
                .endsWith("00" + "01");
        assertThat(HexFormat.of().formatHex(codec.encode(new Message.TimeoutNow(1, 2, 3))))
                .isEqualTo("00000011" + "09" + "00000001" + "00000002" + "0000000000000003");
        AppendEntries ae = new AppendEntries(1, 2, 3, 4, 2, List.of(Entry.normal(5, 3, new byte[] {(byte) 0xab, (byte) 0xcd})), 4, 9);
        assertThat(HexFormat.of().formatHex(codec.encode(ae)))
                .isEqualTo("0000004c" + "03" + "00000001" + "00000002" + "0000000000000003"
                        + "0000000000000004" + "0000000000000002" + "0000000000000004" + "0000000000000009"
                        + "00000001" + "0000000000000005" + "0000000000000003" + "00" + "00000002" + "abcd");
        // Protocol 2: entry type 2 = CONFIG, its data Membership.encode() carried as opaque bytes.
        AppendEntries config = new AppendEntries(1, 2, 3, 4, 2,
                List.of(new Entry(5, 3, EntryType.CONFIG, new Membership(new int[] {1}, new int[0], new int[] {2}).encode())), 4, 9);
        assertThat(HexFormat.of().formatHex(codec.encode(config)))
                .isEqualTo("0000005f" + "03" + "00000001" + "00000002" + "0000000000000003"
                        + "0000000000000004" + "0000000000000002" + "0000000000000004" + "0000000000000009"
                        + "00000001" + "0000000000000005" + "0000000000000003" + "02" + "00000015"
                        + "01" + "00000001" + "00000001" + "00000000" + "00000001" + "00000002");
        // Protocol 2: the snapshot's membership is three counted id lists: voters, outgoing voters, learners.
        InstallSnapshot is = new InstallSnapshot(1, 2, 3, new SnapshotMeta(7, 2, new int[] {1, 2}, 10, 0xcafe), 8,
                new byte[] {1, 2}, true);
        assertThat(HexFormat.of().formatHex(codec.encode(is)))
                .isEqualTo("00000050" + "05" + "00000001" + "00000002" + "0000000000000003"
                        + "0000000000000007" + "0000000000000002" + "00000002" + "00000001" + "00000002"
                        + "00000000" + "00000000"
                        + "000000000000000a" + "0000cafe" + "0000000000000008" + "01" + "00000002" + "0102");
        Membership joint = new Membership(new int[] {3, 1}, new int[] {2, 1}, new int[] {9});
        InstallSnapshot jointIs = new InstallSnapshot(1, 2, 3, new SnapshotMeta(7, 2, joint, 10, 0xcafe), 8,
                new byte[] {1, 2}, true);
        assertThat(HexFormat.of().formatHex(codec.encode(jointIs)))
                .isEqualTo("0000005c" + "05" + "00000001" + "00000002" + "0000000000000003"
                        + "0000000000000007" + "0000000000000002"
                        + "00000002" + "00000001" + "00000003" + "00000002" + "00000001" + "00000002" + "00000001" + "00000009"
                        + "000000000000000a" + "0000cafe" + "0000000000000008" + "01" + "00000002" + "0102");
    }

    @Test
    void badFramesNameWhatIsWrong() {
        byte[] good = codec.encode(new RequestVote(1, 2, 3, 4, 5, true));
        assertRejected(patch(good, 4, 0), "unknown message type 0");
        assertRejected(patch(good, 4, 10), "unknown message type 10");
        assertRejected(patch(good, good.length - 2, 2), "preVote: boolean byte 2, expected 0 or 1");
        assertRejected(patch(good, good.length - 1, 2), "leadershipTransfer: boolean byte 2, expected 0 or 1");
        assertRejected(frame(0, new byte[0]), "frame length 0 outside [1, maxFrameBytes 16777216]");
        assertRejected(frame(-5, new byte[0]), "frame length -5 outside");
        assertRejected(frame(MessageCodec.DEFAULT_MAX_FRAME_BYTES + 1, new byte[0]), "outside [1, maxFrameBytes");
        assertRejected(Arrays.copyOf(good, good.length + 1), "1 trailing)");
        byte[] longer = Arrays.copyOf(good, good.length + 3);
        ByteBuffer.wrap(longer).putInt(0, good.length - 4 + 3);
        assertRejected(longer, "3 trailing bytes after RequestVote");
        assertRejected(Arrays.copyOf(good, 10), "truncated frame: length 35 but only 6 bytes follow");
        assertRejected(new byte[] {0, 0}, "truncated frame: 2 bytes");

        AppendEntries ae = new AppendEntries(1, 2, 3, 4, 2, List.of(Entry.normal(5, 3, new byte[] {7})), 4, 9);
        byte[] aeFrame = codec.encode(ae);
        assertRejected(patch(aeFrame, 4 + 17 + 36 + 16, 3), "entry 0 has unknown entry type 3, expected 0 (NORMAL), 1 (NOOP) or 2 (CONFIG)");
        assertRejected(patch(aeFrame, 4 + 17 + 36 + 16, -1), "entry 0 has unknown entry type -1");
        try {
            AppendEntries asConfig = (AppendEntries) codec.decode(patch(aeFrame, 4 + 17 + 36 + 16, 2));
            assertThat(asConfig.entries()).containsExactly(new Entry(5, 3, EntryType.CONFIG, new byte[] {7}));
        } catch (CodecException e) {
            fail("type 2 is CONFIG", e);
        }
        assertRejected(patch(aeFrame, 4 + 17 + 36 + 7, 6), "invalid AppendEntries: entries not contiguous: expected index 5, got 6");
    }

    @Test
    void recordChecksBecomeCodecExceptions() {
        byte[] good = codec.encode(new RequestVote(1, 2, 3, 4, 5, false));
        byte[] zeroFrom = good.clone();
        ByteBuffer.wrap(zeroFrom).putInt(5, 0);
        assertThatThrownBy(() -> codec.decode(zeroFrom)).isInstanceOf(CodecException.class)
                .hasMessage("invalid RequestVote: from node id 0 must be positive")
                .hasCauseInstanceOf(IllegalArgumentException.class);
        byte[] negativeTerm = good.clone();
        ByteBuffer.wrap(negativeTerm).putLong(13, -1);
        assertThatThrownBy(() -> codec.decode(negativeTerm)).isInstanceOf(CodecException.class)
                .hasMessageContaining("term -1 must not be negative");

        InstallSnapshot is = new InstallSnapshot(1, 2, 3, new SnapshotMeta(7, 2, new int[] {1}, 10, 0), 8, new byte[] {1, 2}, true);
        byte[] chunk = codec.encode(is);
        int doneAt = chunk.length - 2 - 4 - 1;
        assertThatThrownBy(() -> codec.decode(patch(chunk, doneAt, 0))).isInstanceOf(CodecException.class)
                .hasMessageContaining("invalid InstallSnapshot: done=false but chunk ends at 10 of 10");

        // The membership: ids strictly ascending (one encoding per message), and Membership's own rules.
        Membership m = new Membership(new int[] {1, 2, 3}, new int[0], new int[] {5});
        byte[] frame = codec.encode(new InstallSnapshot(1, 2, 3, new SnapshotMeta(7, 2, m, 10, 0), 8, new byte[] {1, 2}, true));
        int voters = 4 + 17 + 16; // voter count, then 1, 2, 3
        int learners = voters + 4 + 12 + 4; // learner count, then 5
        byte[] unsorted = frame.clone();
        ByteBuffer.wrap(unsorted).putInt(voters + 4, 2).putInt(voters + 8, 1);
        assertRejected(unsorted, "InstallSnapshot voter ids not strictly ascending: 2 then 1");
        byte[] repeated = frame.clone();
        ByteBuffer.wrap(repeated).putInt(voters + 8, 1);
        assertRejected(repeated, "voter ids not strictly ascending: 1 then 1");
        byte[] learnerVotes = frame.clone();
        ByteBuffer.wrap(learnerVotes).putInt(learners + 4, 3);
        assertRejected(learnerVotes, "invalid InstallSnapshot: node 3 cannot be both a voter and a learner");
        byte[] zeroId = frame.clone();
        ByteBuffer.wrap(zeroId).putInt(learners + 4, 0);
        assertRejected(zeroId, "invalid InstallSnapshot");
        byte[] noVoters = ByteBuffer.allocate(frame.length - 12).putInt(frame.length - 16)
                .put(frame, 4, voters - 4).putInt(0).put(frame, voters + 16, frame.length - voters - 16).array();
        assertRejected(noVoters, "invalid InstallSnapshot: a configuration needs at least one voter");
        byte[] outgoingOverrun = frame.clone();
        ByteBuffer.wrap(outgoingOverrun).putInt(voters + 16, 1 << 20);
        assertRejected(outgoingOverrun, "InstallSnapshot outgoing voter count 1048576 needs 4194304 bytes");
    }

    @Test
    void encodingRefusesWhatDecodingWouldRefuse() {
        MessageCodec small = new MessageCodec(MessageCodec.MIN_MAX_FRAME_BYTES);
        AppendEntries big = new AppendEntries(1, 2, 1, 0, 0, List.of(Entry.normal(1, 1, new byte[2000])), 0, 0);
        assertThat(small.fits(big)).isFalse();
        assertThatThrownBy(() -> small.encode(big)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("AppendEntries needs 2074 bytes, over maxFrameBytes 1024");
        assertThatThrownBy(() -> codec.encode(big, ByteBuffer.allocate(100))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("buffer has 100 bytes left, frame needs 2078");
        assertThatThrownBy(() -> new MessageCodec(100)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxFrameBytes (100) must be in [1024, 1073741824]");
        // A frame that fits the sender's limit but not the receiver's is refused by its length.
        assertRejected(codec.encode(big), small, "frame length 2074 outside [1, maxFrameBytes 1024]");
    }

    @Property(tries = 200)
    void everySampleRoundTrips(@ForAll @IntRange(min = 0, max = 10_000) int i) throws CodecException {
        Message m = MessageArbitraries.sample(i, 1, 2, 1 + i);
        assertThat(codec.decode(codec.encode(m))).isEqualTo(m);
    }

    private static byte[] patch(byte[] frame, int at, int value) {
        byte[] copy = frame.clone();
        copy[at] = (byte) value;
        return copy;
    }

    private void assertRejected(byte[] frame, String message) {
        assertRejected(frame, codec, message);
    }

    private static void assertRejected(byte[] frame, MessageCodec codec, String message) {
        assertThatThrownBy(() -> codec.decode(frame)).isInstanceOf(CodecException.class).hasMessageContaining(message);
    }

}
