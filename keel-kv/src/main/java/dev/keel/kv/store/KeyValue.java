package dev.keel.kv.store;

/** One key with its entry, as a scan returns it. Arrays are shared: do not modify them. */
public record KeyValue(byte[] key, KvEntry entry) {}
