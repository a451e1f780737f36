package dev.keel.storage;

import java.nio.file.Path;

/**
 * An IO error on the write path (disk full, EIO) left the durability of the latest writes
 * unknown. The {@link DurableLog} is failed from then on: every later write, sync, compaction or
 * snapshot installation throws this too, so the driver stops the node instead of acknowledging
 * entries that might not be on disk. Data synced before the failure is never truncated or
 * overwritten on this path; reopen the directory (after fixing the disk) to continue.
 */
public final class StorageFailedException extends StorageException {
    private final Path path;

    public StorageFailedException(String message, Path path, Throwable cause) {
        super(message, cause);
        this.path = path;
    }

    /** The file or directory whose write failed. */
    public Path path() {
        return path;
    }
}
