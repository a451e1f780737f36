package dev.keel.faults;

import java.util.ArrayList;
import java.util.List;

/** Closes what a test opened, newest first, so proxies go before the servers behind them. */
final class Closer implements AutoCloseable {
    private final List<AutoCloseable> resources = new ArrayList<>();

    <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    @Override
    public void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) resources.get(i).close();
        resources.clear();
    }
}
