package dev.keel.core;

/**
 * Snapshot data received from the leader, for the driver to write at {@code offset} of the snapshot
 * being received (offset 0 starts the file over). The core has already checked the order; it
 * checks size and CRC32C when the last chunk arrives.
 */
public record SnapshotChunk(SnapshotMeta meta, long offset, byte[] data) {}
