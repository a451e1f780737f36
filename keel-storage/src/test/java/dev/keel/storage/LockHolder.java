package dev.keel.storage;

import java.nio.file.Path;

/** Test helper run in a child JVM: opens a data directory, says so, and holds it until killed. */
public final class LockHolder {
    private LockHolder() {}

    public static void main(String[] args) throws Exception {
        try (DurableLog log = DurableLog.open(Path.of(args[0]), TestFiles.cfg().build())) {
            System.out.println("opened");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }
}
