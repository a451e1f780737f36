package dev.keel.storage;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link DurableLog#open} changed on disk while recovering. This module has no logging
 * framework: the driver logs this report (at INFO when anything was cut).
 *
 * @param tornFile the newest segment whose torn tail was cut off, or null if none was
 * @param tornOffset where it was cut (the file's new size), -1 if nothing was cut
 * @param tornBytes how many bytes were cut, 0 if nothing was cut
 * @param actions every change made, one readable line each (torn tail cut, temporary files
 *     removed, obsolete segments deleted, an interrupted snapshot installation completed)
 */
public record RecoveryReport(Path tornFile, long tornOffset, long tornBytes, List<String> actions) {
    public RecoveryReport {
        actions = List.copyOf(actions);
    }

    /** True if a torn tail was cut off the newest segment. */
    public boolean cutTornTail() {
        return tornFile != null;
    }

    @Override
    public String toString() {
        return actions.isEmpty() ? "recovery changed nothing" : "recovery: " + String.join("; ", actions);
    }
}
