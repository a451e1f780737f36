package dev.keel.kv.store;

/**
 * A key's current value and its history counters. Immutable; the {@code value} array is shared, not
 * copied, so callers must not modify it.
 *
 * @param createRevision the revision (log index) of the put that created the key
 * @param modRevision the revision of the last put that changed it
 * @param version how many puts since the key was created (1 after the first)
 * @see KvStateMachine.View#get(byte[])
 */
public record KvEntry(byte[] value, long createRevision, long modRevision, long version) {
    public KvEntry {
        if (value == null) throw new IllegalArgumentException("value is null");
        if (createRevision <= 0 || modRevision < createRevision || version <= 0) {
            throw new IllegalArgumentException("bad counters: createRevision=" + createRevision + " modRevision="
                    + modRevision + " version=" + version);
        }
    }
}
