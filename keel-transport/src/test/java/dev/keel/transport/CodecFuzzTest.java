package dev.keel.transport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.core.Message;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * Fuzzing the peer wire codec: arbitrary bytes, and valid frames mutated (bytes overwritten,
 * truncated, extended, length prefix rewritten), must decode or fail with {@link CodecException},
 * never another exception, an OutOfMemoryError or a hang; and decoding allocates no more than a
 * small multiple of the frame's size, whatever counts and lengths the frame claims.
 *
 * <p>The corpus in {@code src/test/resources/fuzz-corpus/codec} (hex, one input a file: frames that
 * once claimed huge counts or lengths) is replayed on every run.
 */
class CodecFuzzTest {
    private static final MessageCodec CODEC = new MessageCodec(1 << 20);
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Decodes {@code frame}; fails the test on anything but a message or a CodecException, or on excess allocation. */
    static void decodeSafely(byte[] frame) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        try {
            Message m = CODEC.decode(frame);
            assertThat(m).isNotNull();
        } catch (CodecException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        // The decoded message holds at most the frame's bytes, in a few objects per entry; a frame claiming
        // huge counts or lengths must fail before allocating for them.
        assertThat(allocated).as("bytes allocated decoding a %d-byte frame", frame.length).isLessThan(64L * frame.length + (1 << 20)); // 1 MiB: exception, message and first-use overhead
    }

    @Property(tries = 20000)
    void arbitraryBytesDecodeOrFailCleanly(@ForAll("frames") byte[] frame) {
        decodeSafely(frame);
    }

    @Property(tries = 10000)
    void mutatedValidFramesDecodeOrFailCleanly(@ForAll("mutatedFrames") byte[] frame) {
        decodeSafely(frame);
    }

    @Provide
    Arbitrary<byte[]> frames() {
        // A valid length prefix for the rest, so that decoding reaches the body most of the time.
        Arbitrary<byte[]> body = Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(300);
        return Arbitraries.oneOf(
                body.map(b -> ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array()),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(64));
    }

    @Provide
    Arbitrary<byte[]> mutatedFrames() {
        Arbitrary<byte[]> valid = MessageArbitraries.messages().map(CODEC::encode);
        return Combinators.combine(valid, Arbitraries.integers().between(0, 4), Arbitraries.integers().between(0, Integer.MAX_VALUE),
                Arbitraries.integers().between(1, 8), Arbitraries.bytes()).as(CodecFuzzTest::mutate);
    }

    /** One of: overwrite bytes, truncate, extend, rewrite the length prefix to the real body length of a cut frame. */
    static byte[] mutate(byte[] f, int kind, int position, int count, byte value) {
        byte[] out = f.clone();
        int at = position % out.length;
        switch (kind) {
            case 0 -> {
                for (int i = 0; i < count && at + i < out.length; i++) out[at + i] = (byte) (value + i * 37);
            }
            case 1 -> out = java.util.Arrays.copyOf(out, Math.max(0, at));
            case 2 -> {
                out = java.util.Arrays.copyOf(out, out.length + count);
                java.util.Arrays.fill(out, f.length, out.length, value);
            }
            case 3 -> {
                // Overwrite inside the body, then fix the prefix so the length check passes: reaches the field checks.
                if (out.length > 4) out[4 + at % (out.length - 4)] = value;
                if (at + 8 < out.length) ByteBuffer.wrap(out).putInt(at + 4, 0x7fff_ff00 | (value & 0xff));
            }
            default -> {
                out = java.util.Arrays.copyOf(out, Math.max(4, at));
                ByteBuffer.wrap(out).putInt(0, out.length - 4);
            }
        }
        return out;
    }

    @Test
    void corpusReplays() throws IOException {
        List<Path> inputs = corpus();
        assertThat(inputs).isNotEmpty();
        for (Path p : inputs) decodeSafely(java.util.HexFormat.of().parseHex(Files.readString(p).strip()));
    }

    static List<Path> corpus() throws IOException {
        Path dir = Path.of("src/test/resources/fuzz-corpus/codec");
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".hex")).sorted().toList();
        }
    }
}
