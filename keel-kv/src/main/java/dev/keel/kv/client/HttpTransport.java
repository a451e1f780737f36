package dev.keel.kv.client;

import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.util.Optional;

/**
 * How {@link KeelClient} exchanges one HTTP/1.1 request and response with a node. Kept apart from the
 * client's retry logic, which depends on one distinction only: a {@link java.net.ConnectException}
 * means the request surely was not sent (the client moves to the next endpoint); any other
 * {@link IOException} (a timeout, a connection broken after the request may have been written)
 * means it may have been, so a write may have applied.
 *
 * <p>Public for the server's own use only (a follower forwards writes to the leader through
 * {@link NettyHttpTransport}); applications use {@link KeelClient}.
 */
public interface HttpTransport extends AutoCloseable {

    /**
     * Sends one request and waits for its whole response.
     *
     * @param endpoint     the node's base URI ({@code http://host:port}, maybe with a base path)
     * @param pathAndQuery the raw, already percent-encoded request target below the endpoint
     * @param body         the request body, or null for none
     * @param timeoutNanos how long to wait in all, connecting included
     * @throws java.net.ConnectException if no connection could be made (nothing was sent)
     * @throws IOException               if the request timed out, the connection broke, or the caller
     *                                   was interrupted (then with its interrupt flag set): it may have been sent
     */
    Response send(URI endpoint, String method, String pathAndQuery, byte[] body, Map<String, String> headers, long timeoutNanos)
            throws IOException;

    /** Closes every connection; requests in flight fail. */
    @Override
    void close();

    /** A whole response. */
    record Response(int statusCode, Headers headers, byte[] body) {}

    /** Response headers. */
    @FunctionalInterface
    interface Headers {
        /** The first value of header {@code name} (case-insensitive), if present. */
        Optional<String> firstValue(String name);
    }
}
