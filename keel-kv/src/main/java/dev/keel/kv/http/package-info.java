/**
 * The HTTP API (JDK {@code com.sun.net.httpserver}, one virtual thread per request, JSON by
 * Jackson, metrics by Micrometer/Prometheus). {@link dev.keel.kv.http.KvHttpApi} documents every
 * endpoint, header and error code.
 */
package dev.keel.kv.http;
