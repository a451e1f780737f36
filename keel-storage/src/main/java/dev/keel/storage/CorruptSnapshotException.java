package dev.keel.storage;

import java.nio.file.Path;

/**
 * A snapshot file (or a received snapshot) does not match its checksum, size or header. When
 * thrown while receiving, the temporary file is deleted and the snapshots kept before are untouched.
 */
public final class CorruptSnapshotException extends StorageException {
    private final Path file;

    public CorruptSnapshotException(Path file, String reason) {
        super("corrupt snapshot " + file + ": " + reason);
        this.file = file;
    }

    /** The snapshot file (a temporary file for a transfer that failed verification). */
    public Path file() {
        return file;
    }
}
