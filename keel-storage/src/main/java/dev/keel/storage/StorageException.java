package dev.keel.storage;

/**
 * Base of every error this module reports: a data directory that cannot be used (wrong identity,
 * unsupported format version, locked by another process, missing files) or a failed operation.
 * Unchecked, because a Raft driver cannot do anything useful with a storage error except stop.
 */
public class StorageException extends RuntimeException {
    public StorageException(String message) {
        super(message);
    }

    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
