/**
 * Durable storage for Keel: {@link dev.keel.storage.DurableLog}, a crash-safe segmented
 * write-ahead log with group commit, the atomically replaced hard state file, and the
 * {@link dev.keel.storage.SnapshotStore}. Depends on keel-core and the JDK only; no threads of its
 * own, no logging framework (recovery reports what it changed in a
 * {@link dev.keel.storage.RecoveryReport}).
 *
 * <p>The on-disk format (files, headers, record framing, CRC32C coverage) and the recovery rules
 * are described in {@code keel-storage/FORMAT.md}. In short: segments {@code log-<base>.seg} hold
 * records framed as length, CRC32C, index, term, type, data; a torn tail of the newest segment is
 * cut on open; any other damage refuses the open naming the file and offset.
 *
 * <p>Errors: {@link dev.keel.storage.StorageException} (base, unchecked),
 * {@link dev.keel.storage.CorruptLogException}, {@link dev.keel.storage.CorruptSnapshotException},
 * {@link dev.keel.storage.StorageFailedException} (a write-path IO error: stop the node).
 */
package dev.keel.storage;
