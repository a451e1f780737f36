package dev.keel.kv.store;

import dev.keel.kv.store.KvCommand.Condition;
import dev.keel.kv.store.KvCommand.Op;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Binary encoding of {@link KvCommand} (the log entry) and {@link KvResult} (the state machine's
 * answer). Big-endian, versioned by a leading byte. Decoding checks the version first, then every
 * length against the bytes left, and rejects trailing bytes; a bad input raises
 * {@link MalformedException}, which the state machine turns into a {@code BAD_COMMAND} result.
 *
 * <pre>
 * command v1:
 *   u8  format = 1
 *   u8  op            1 PUT, 2 DELETE
 *   u8  condition     0 none, 1 modRevision, 2 value, 3 exists
 *   i64 clientId      0 = no session
 *   i64 sequence      0 without a session, else &gt;= 1
 *   [condition 1] i64 expected modRevision (0 = must not exist)
 *   [condition 2] i32 length, bytes: expected value
 *   i32 length, bytes: key (length &gt;= 1)
 *   [PUT] i32 length, bytes: value
 *
 * result v1:
 *   u8 format = 1
 *   u8 status         1 OK, 2 CONDITION_FAILED, 3 NOT_FOUND, 4 ERROR
 *   [OK]               i64 revision, i64 createRevision, i64 version
 *   [CONDITION_FAILED] i64 current modRevision (0 = absent)
 *   [ERROR]            u16 length, UTF-8 code name; i32 length, UTF-8 message
 * </pre>
 */
public final class KvCodec {
    public static final byte COMMAND_FORMAT = 1;
    public static final byte RESULT_FORMAT = 1;

    private static final byte OP_PUT = 1;
    private static final byte OP_DELETE = 2;
    private static final byte COND_NONE = 0;
    private static final byte COND_MOD_REVISION = 1;
    private static final byte COND_VALUE = 2;
    private static final byte COND_EXISTS = 3;
    private static final byte STATUS_OK = 1;
    private static final byte STATUS_CONDITION_FAILED = 2;
    private static final byte STATUS_NOT_FOUND = 3;
    private static final byte STATUS_ERROR = 4;

    private KvCodec() {}

    /** Bad bytes from outside: a wrong version, a truncated field, an impossible value. */
    public static final class MalformedException extends RuntimeException {
        public MalformedException(String message) {
            super(message, null, false, false);
        }
    }

    public static byte[] encode(KvCommand c) {
        int size = 1 + 1 + 1 + 8 + 8 + 4 + c.key().length;
        switch (c.condition()) {
            case Condition.None n -> { }
            case Condition.ModRevision m -> size += 8;
            case Condition.Value v -> size += 4 + v.value().length;
            case Condition.Exists e -> { }
        }
        if (c.op() == Op.PUT) size += 4 + c.value().length;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(COMMAND_FORMAT);
        b.put(c.op() == Op.PUT ? OP_PUT : OP_DELETE);
        switch (c.condition()) {
            case Condition.None n -> b.put(COND_NONE).putLong(c.clientId()).putLong(c.sequence());
            case Condition.ModRevision m ->
                    b.put(COND_MOD_REVISION).putLong(c.clientId()).putLong(c.sequence()).putLong(m.modRevision());
            case Condition.Value v -> {
                b.put(COND_VALUE).putLong(c.clientId()).putLong(c.sequence());
                b.putInt(v.value().length).put(v.value());
            }
            case Condition.Exists e -> b.put(COND_EXISTS).putLong(c.clientId()).putLong(c.sequence());
        }
        b.putInt(c.key().length).put(c.key());
        if (c.op() == Op.PUT) b.putInt(c.value().length).put(c.value());
        if (b.hasRemaining()) throw new IllegalStateException("command size " + size + " miscounted by " + b.remaining());
        return b.array();
    }

    /** Decodes a command; never throws anything but {@link MalformedException} for bad bytes. */
    public static KvCommand decodeCommand(byte[] bytes) {
        if (bytes == null || bytes.length == 0) throw new MalformedException("empty command");
        ByteBuffer b = ByteBuffer.wrap(bytes);
        try {
            byte format = b.get();
            if (format != COMMAND_FORMAT) {
                throw new MalformedException("command format " + format + ", expected " + COMMAND_FORMAT);
            }
            byte opCode = b.get();
            Op op = switch (opCode) {
                case OP_PUT -> Op.PUT;
                case OP_DELETE -> Op.DELETE;
                default -> throw new MalformedException("unknown op " + opCode);
            };
            byte condCode = b.get();
            long clientId = b.getLong();
            long sequence = b.getLong();
            Condition cond = switch (condCode) {
                case COND_NONE -> KvCommand.NONE;
                case COND_MOD_REVISION -> {
                    long rev = b.getLong();
                    if (rev < 0) throw new MalformedException("expected modRevision " + rev + " < 0");
                    yield new Condition.ModRevision(rev);
                }
                case COND_VALUE -> new Condition.Value(bytes(b, "expected value"));
                case COND_EXISTS -> new Condition.Exists();
                default -> throw new MalformedException("unknown condition " + condCode);
            };
            byte[] key = bytes(b, "key");
            if (key.length == 0) throw new MalformedException("empty key");
            byte[] value = op == Op.PUT ? bytes(b, "value") : new byte[0];
            if (b.hasRemaining()) throw new MalformedException(b.remaining() + " trailing bytes after command");
            if (clientId == KvCommand.NO_SESSION ? sequence != 0 : sequence <= 0) {
                throw new MalformedException("clientId " + clientId + " with sequence " + sequence);
            }
            return new KvCommand(op, key, value, cond, clientId, sequence);
        } catch (BufferUnderflowException e) {
            throw new MalformedException("command truncated at byte " + b.position() + " of " + bytes.length);
        }
    }

    private static byte[] bytes(ByteBuffer b, String what) {
        int len = b.getInt();
        if (len < 0 || len > b.remaining()) {
            throw new MalformedException(what + " length " + len + " but " + b.remaining() + " bytes left");
        }
        byte[] out = new byte[len];
        b.get(out);
        return out;
    }

    public static byte[] encode(KvResult r) {
        return switch (r) {
            case KvResult.Ok ok -> ByteBuffer.allocate(2 + 24).put(RESULT_FORMAT).put(STATUS_OK)
                    .putLong(ok.revision()).putLong(ok.createRevision()).putLong(ok.version()).array();
            case KvResult.ConditionFailed cf -> ByteBuffer.allocate(2 + 8).put(RESULT_FORMAT)
                    .put(STATUS_CONDITION_FAILED).putLong(cf.modRevision()).array();
            case KvResult.NotFound nf -> new byte[] {RESULT_FORMAT, STATUS_NOT_FOUND};
            case KvResult.Error e -> {
                byte[] code = e.code().name().getBytes(StandardCharsets.UTF_8);
                byte[] msg = e.message().getBytes(StandardCharsets.UTF_8);
                yield ByteBuffer.allocate(2 + 2 + code.length + 4 + msg.length).put(RESULT_FORMAT).put(STATUS_ERROR)
                        .putShort((short) code.length).put(code).putInt(msg.length).put(msg).array();
            }
        };
    }

    /** Decodes a result; {@link MalformedException} for bad bytes (a node of another version, a bug). */
    public static KvResult decodeResult(byte[] bytes) {
        if (bytes == null || bytes.length < 2) throw new MalformedException("result shorter than 2 bytes");
        ByteBuffer b = ByteBuffer.wrap(bytes);
        try {
            byte format = b.get();
            if (format != RESULT_FORMAT) throw new MalformedException("result format " + format + ", expected " + RESULT_FORMAT);
            byte status = b.get();
            KvResult r = switch (status) {
                case STATUS_OK -> new KvResult.Ok(b.getLong(), b.getLong(), b.getLong());
                case STATUS_CONDITION_FAILED -> new KvResult.ConditionFailed(b.getLong());
                case STATUS_NOT_FOUND -> new KvResult.NotFound();
                case STATUS_ERROR -> {
                    int codeLen = Short.toUnsignedInt(b.getShort());
                    if (codeLen > b.remaining()) throw new MalformedException("error code length " + codeLen);
                    byte[] code = new byte[codeLen];
                    b.get(code);
                    byte[] msg = bytes(b, "error message");
                    KvResult.ErrorCode ec;
                    try {
                        ec = KvResult.ErrorCode.valueOf(new String(code, StandardCharsets.UTF_8));
                    } catch (IllegalArgumentException e) {
                        throw new MalformedException("unknown error code " + new String(code, StandardCharsets.UTF_8));
                    }
                    yield new KvResult.Error(ec, new String(msg, StandardCharsets.UTF_8));
                }
                default -> throw new MalformedException("unknown result status " + status);
            };
            if (b.hasRemaining()) throw new MalformedException(b.remaining() + " trailing bytes after result");
            return r;
        } catch (BufferUnderflowException e) {
            throw new MalformedException("result truncated at byte " + b.position() + " of " + bytes.length);
        }
    }
}
