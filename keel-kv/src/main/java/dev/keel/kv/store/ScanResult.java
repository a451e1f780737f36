package dev.keel.kv.store;

import java.util.List;

/**
 * A prefix scan's answer.
 *
 * @param items matching keys in unsigned byte order, at most the limit
 * @param more whether more keys matched than the limit let through
 * @param revision the store's revision when read: every item is as of this revision
 */
public record ScanResult(List<KeyValue> items, boolean more, long revision) {
    public ScanResult {
        items = List.copyOf(items);
    }
}
