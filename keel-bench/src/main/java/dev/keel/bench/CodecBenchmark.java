package dev.keel.bench;

import dev.keel.core.Entry;
import dev.keel.core.Message;
import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.AppendEntriesResponse;
import dev.keel.transport.CodecException;
import dev.keel.transport.MessageCodec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The peer wire codec on its hot path: encoding an AppendEntries of {@code entries} entries of
 * {@code entryBytes} bytes into a reused direct buffer (as the transport does into Netty's), and
 * decoding it back into a {@link Message} (as the receiving side does, validation included); also
 * the AppendEntriesResponse every follower sends per batch. Scores are operations (whole messages)
 * per microsecond; multiply by {@code entries} for entries per microsecond.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBenchmark {

    @Param({"1", "64"})
    public int entries;

    @Param({"64", "1024"})
    public int entryBytes;

    private final MessageCodec codec = new MessageCodec(MessageCodec.DEFAULT_MAX_FRAME_BYTES);
    private AppendEntries append;
    private AppendEntriesResponse response;
    private ByteBuffer out;
    private ByteBuffer encodedAppend;
    private ByteBuffer encodedResponse;

    @Setup
    public void setup() {
        List<Entry> list = new ArrayList<>(entries);
        byte[] data = new byte[entryBytes];
        for (int i = 0; i < entryBytes; i++) data[i] = (byte) (i * 31 + 7);
        for (int i = 0; i < entries; i++) list.add(Entry.normal(1001 + i, 7, data));
        append = new AppendEntries(1, 2, 7, 1000, 7, list, 990, 42);
        response = new AppendEntriesResponse(2, 1, 7, true, 1000 + entries, 0, 0, 42);
        out = ByteBuffer.allocateDirect((int) codec.frameBytes(append) + 64);
        encodedAppend = ByteBuffer.wrap(codec.encode(append));
        encodedResponse = ByteBuffer.wrap(codec.encode(response));
    }

    @Benchmark
    public int encodeAppendEntries() {
        out.clear();
        return codec.encode(append, out);
    }

    @Benchmark
    public Message decodeAppendEntries() throws CodecException {
        return codec.decode(encodedAppend.duplicate());
    }

    @Benchmark
    public int encodeResponse() {
        out.clear();
        return codec.encode(response, out);
    }

    @Benchmark
    public Message decodeResponse() throws CodecException {
        return codec.decode(encodedResponse.duplicate());
    }
}
