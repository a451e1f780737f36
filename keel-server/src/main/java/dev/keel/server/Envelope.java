package dev.keel.server;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * How the server tells its own replicated commands from the user's: every entry's data starts
 * with one byte, {@link #USER} (the rest goes to the {@link StateMachine}) or {@link #KEEL} (the
 * rest is a Keel command: today, a member's addresses: its peer address and, optionally, the URI
 * of its client API such as an HTTP base URI, so that nodes added at run time can be reached by
 * every member). Snapshots start with Keel's part (the address book), then the user's.
 *
 * <p>Compatibility: a SET_ADDRESS written before the client URI existed ends after the port and
 * decodes with an empty URI; snapshots written then carry {@link #SNAPSHOT_MAGIC_V1} and read the same way.
 */
final class Envelope {
    static final byte USER = 0;
    static final byte KEEL = 1;
    private static final byte SET_ADDRESS = 1;
    private static final int SNAPSHOT_MAGIC_V1 = 0x4b454c53; // "KELS": peer addresses only
    private static final int SNAPSHOT_MAGIC = 0x4b454c32; // "KEL2": peer address and client URI

    private Envelope() {}

    /** A member's addresses; {@code http} is "" when none was given. */
    record Address(int id, InetSocketAddress address, String http) {}

    static byte[] user(byte[] command) {
        byte[] data = new byte[command.length + 1];
        data[0] = USER;
        System.arraycopy(command, 0, data, 1, command.length);
        return data;
    }

    static boolean isUser(byte[] data) {
        return data.length > 0 && data[0] == USER;
    }

    static byte[] payload(byte[] data) {
        return Arrays.copyOfRange(data, 1, data.length);
    }

    static byte[] setAddress(int id, InetSocketAddress address, String http) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(bytes)) {
            d.writeByte(KEEL);
            d.writeByte(SET_ADDRESS);
            d.writeInt(id);
            d.writeUTF(address.getHostString());
            d.writeInt(address.getPort());
            d.writeUTF(http == null ? "" : http);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Decodes a Keel command; every node applies the same bytes, so a bad one is a bug, not input. */
    static Address decodeSetAddress(byte[] data) {
        try (DataInputStream d = new DataInputStream(new java.io.ByteArrayInputStream(data))) {
            byte kind = d.readByte();
            byte op = d.readByte();
            if (kind != KEEL || op != SET_ADDRESS) {
                throw new IllegalStateException("unknown Keel command " + kind + "/" + op);
            }
            int id = d.readInt();
            String host = d.readUTF();
            int port = d.readInt();
            String http = d.available() > 0 ? d.readUTF() : ""; // absent in entries written before it existed
            return new Address(id, new InetSocketAddress(host, port), http);
        } catch (IOException e) {
            throw new IllegalStateException("malformed Keel command of " + data.length + " bytes", e);
        }
    }

    static void writeAddressBook(OutputStream out, Map<Integer, RaftServer.Member> book) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(SNAPSHOT_MAGIC);
        d.writeInt(book.size());
        for (Map.Entry<Integer, RaftServer.Member> e : new TreeMap<>(book).entrySet()) {
            d.writeInt(e.getKey());
            d.writeUTF(e.getValue().peer().getHostString());
            d.writeInt(e.getValue().peer().getPort());
            d.writeUTF(e.getValue().http());
        }
        d.flush();
    }

    static Map<Integer, RaftServer.Member> readAddressBook(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int magic = d.readInt();
        if (magic != SNAPSHOT_MAGIC && magic != SNAPSHOT_MAGIC_V1) {
            throw new IOException("snapshot does not start with Keel's header: got 0x" + Integer.toHexString(magic));
        }
        int n = d.readInt();
        if (n < 0 || n > 100_000) throw new IOException("snapshot address book of " + n + " entries");
        Map<Integer, RaftServer.Member> book = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            int id = d.readInt();
            String host = d.readUTF();
            int port = d.readInt();
            String http = magic == SNAPSHOT_MAGIC ? d.readUTF() : "";
            book.put(id, new RaftServer.Member(new InetSocketAddress(host, port), http));
        }
        return book;
    }
}
