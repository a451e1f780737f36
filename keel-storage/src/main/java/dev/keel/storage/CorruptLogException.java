package dev.keel.storage;

import java.nio.file.Path;

/**
 * A log segment holds bytes that are not a valid record where one must be: a checksum mismatch,
 * an impossible length or index, or a bad segment header, anywhere except in the torn tail of the
 * newest segment (which recovery cuts off). Nothing is modified when this is thrown: the node must
 * not start until an operator has looked at {@link #file()} at {@link #offset()}.
 */
public final class CorruptLogException extends StorageException {
    private final Path file;
    private final long offset;

    public CorruptLogException(Path file, long offset, String reason) {
        super("corrupt log segment " + file + " at offset " + offset + ": " + reason);
        this.file = file;
        this.offset = offset;
    }

    /** The segment file. */
    public Path file() {
        return file;
    }

    /** Byte offset in {@link #file()} of the first bad record (0 for the segment header). */
    public long offset() {
        return offset;
    }
}
