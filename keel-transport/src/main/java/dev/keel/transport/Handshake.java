package dev.keel.transport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * The hello a dialing node sends first on every connection it opens, before any frame:
 * <pre>
 * hello := magic:4 bytes "KEEL"  version:u16  clusterIdLength:u16  clusterId:UTF-8  nodeId:int
 * </pre>
 * (big-endian). The accepting node checks the fields in that order, each as soon as its bytes have
 * arrived, so a stranger speaking another protocol is refused after four bytes. There is no reply:
 * a refused dialer sees its connection closed and retries with backoff; the refusal's reason is
 * logged on the accepting side, which knows both the expected and the actual values.
 */
public final class Handshake {
    /** "KEEL" in ASCII. */
    public static final int MAGIC = 0x4B45454C;
    /**
     * Bumped on any change to the hello or to {@link MessageCodec}'s wire format. 2: CONFIG entries
     * (entry type 2) and InstallSnapshot carrying the whole membership (voters, outgoing, learners).
     */
    public static final short PROTOCOL_VERSION = 2;
    /** A cluster id takes at most this many bytes of UTF-8. */
    public static final int MAX_CLUSTER_ID_BYTES = 255;

    private static final int MAGIC_BYTES = 4;
    private static final int FIXED_BYTES = MAGIC_BYTES + 2 + 2 + 4;

    private Handshake() {}

    /** The hello for {@code nodeId} in {@code clusterId}. */
    public static byte[] encodeHello(String clusterId, int nodeId) {
        byte[] id = clusterIdBytes(clusterId);
        return ByteBuffer.allocate(FIXED_BYTES + id.length).order(ByteOrder.BIG_ENDIAN)
                .putInt(MAGIC).putShort(PROTOCOL_VERSION).putShort((short) id.length).put(id).putInt(nodeId)
                .array();
    }

    /**
     * The cluster id's UTF-8 bytes.
     *
     * @throws IllegalArgumentException if it is empty or longer than {@value #MAX_CLUSTER_ID_BYTES} bytes
     */
    static byte[] clusterIdBytes(String clusterId) {
        byte[] id = clusterId.getBytes(StandardCharsets.UTF_8);
        if (id.length == 0 || id.length > MAX_CLUSTER_ID_BYTES) {
            throw new IllegalArgumentException("clusterId '" + clusterId + "' takes " + id.length
                    + " bytes of UTF-8, must be 1.." + MAX_CLUSTER_ID_BYTES);
        }
        return id;
    }

    /** What {@link #check} made of the bytes so far. */
    sealed interface Outcome {}

    /** Not enough bytes yet to accept, and nothing wrong in those there are. */
    record NeedMore() implements Outcome {}

    /** A good hello from {@code nodeId}, {@code helloBytes} long: frames follow it. */
    record Accepted(int nodeId, int helloBytes) implements Outcome {}

    /** A bad hello: the connection must be closed. {@code reason} names expected and actual values. */
    record Rejected(String reason) implements Outcome {}

    private static final NeedMore NEED_MORE = new NeedMore();

    /**
     * Checks the hello at the start of {@code in} (position to limit) without moving its position.
     *
     * @param clusterIdUtf8 this node's cluster id, from {@link #clusterIdBytes}
     * @param isPeer whether a node id is one this node accepts connections from; the transport
     *     passes its live peer set, so a peer added at runtime may connect and a removed one may not
     */
    static Outcome check(ByteBuffer in, byte[] clusterIdUtf8, IntPredicate isPeer) {
        ByteBuffer b = in.slice().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < MAGIC_BYTES) return NEED_MORE;
        int magic = b.getInt(0);
        if (magic != MAGIC) {
            return new Rejected("bad magic: expected 0x" + Integer.toHexString(MAGIC) + " (KEEL), got 0x"
                    + Integer.toHexString(magic) + " (" + printable(ByteBuffer.allocate(MAGIC_BYTES).putInt(magic).array()) + ")");
        }
        if (b.remaining() < MAGIC_BYTES + 2) return NEED_MORE;
        short version = b.getShort(MAGIC_BYTES);
        if (version != PROTOCOL_VERSION) {
            return new Rejected("protocol version mismatch: expected " + PROTOCOL_VERSION + ", got " + version);
        }
        if (b.remaining() < MAGIC_BYTES + 4) return NEED_MORE;
        int idLength = Short.toUnsignedInt(b.getShort(MAGIC_BYTES + 2));
        if (idLength == 0 || idLength > MAX_CLUSTER_ID_BYTES) {
            return new Rejected("cluster id length " + idLength + " outside 1.." + MAX_CLUSTER_ID_BYTES
                    + " (expected '" + printable(clusterIdUtf8) + "')");
        }
        int total = FIXED_BYTES + idLength;
        if (b.remaining() < MAGIC_BYTES + 4 + idLength) return NEED_MORE;
        byte[] id = new byte[idLength]; // at most 255 bytes, checked above
        b.get(MAGIC_BYTES + 4, id);
        if (!Arrays.equals(id, clusterIdUtf8)) {
            return new Rejected("cluster id mismatch: expected '" + printable(clusterIdUtf8) + "', got '"
                    + printable(id) + "'");
        }
        if (b.remaining() < total) return NEED_MORE;
        int nodeId = b.getInt(total - 4);
        if (!isPeer.test(nodeId)) {
            return new Rejected("unknown node id " + nodeId + ": not a configured peer");
        }
        return new Accepted(nodeId, total);
    }

    /** Bytes from a stranger, made safe for one log line: printable ASCII kept, the rest escaped. */
    static String printable(byte[] bytes) {
        String s = new String(bytes, StandardCharsets.UTF_8);
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f && c != '\\') out.append(c);
            else out.append(String.format("\\u%04x", (int) c));
        }
        return out.toString();
    }
}
