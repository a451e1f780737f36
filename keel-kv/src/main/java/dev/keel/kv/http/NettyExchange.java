package dev.keel.kv.http;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One request served by {@link KvHttpServer}, presented as the JDK's {@link HttpExchange} so that
 * {@link KvHttpApi} is written once against that small API. The body arrives whole (aggregated by
 * Netty); the response is buffered and written as one {@link FullHttpResponse} when the exchange
 * closes, with Content-Length, so a keep-alive connection can carry the next request.
 */
final class NettyExchange extends HttpExchange {

    private final Channel channel;
    private final String method;
    private final URI uri;
    private final Headers requestHeaders;
    private final byte[] body;
    private final boolean keepAlive;
    private final Runnable afterResponse;
    private final Headers responseHeaders = new Headers();
    private final ByteArrayOutputStream responseBody = new ByteArrayOutputStream();
    private final Map<String, Object> attributes = new HashMap<>();
    private int responseCode = -1;
    private boolean closed;

    NettyExchange(Channel channel, String method, URI uri, Headers requestHeaders, byte[] body, boolean keepAlive,
                  Runnable afterResponse) {
        this.channel = channel;
        this.method = method;
        this.uri = uri;
        this.requestHeaders = requestHeaders;
        this.body = body;
        this.keepAlive = keepAlive;
        this.afterResponse = afterResponse;
    }

    @Override
    public Headers getRequestHeaders() {
        return requestHeaders;
    }

    @Override
    public Headers getResponseHeaders() {
        return responseHeaders;
    }

    @Override
    public URI getRequestURI() {
        return uri;
    }

    @Override
    public String getRequestMethod() {
        return method;
    }

    @Override
    public HttpContext getHttpContext() {
        return null;
    }

    @Override
    public InputStream getRequestBody() {
        return new ByteArrayInputStream(body);
    }

    @Override
    public OutputStream getResponseBody() {
        return responseBody;
    }

    @Override
    public void sendResponseHeaders(int rCode, long responseLength) {
        if (responseCode != -1) throw new IllegalStateException("response headers already sent");
        responseCode = rCode;
    }

    @Override
    public int getResponseCode() {
        return responseCode;
    }

    @Override
    public InetSocketAddress getRemoteAddress() {
        return (InetSocketAddress) channel.remoteAddress();
    }

    @Override
    public InetSocketAddress getLocalAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public String getProtocol() {
        return "HTTP/1.1";
    }

    @Override
    public Object getAttribute(String name) {
        return attributes.get(name);
    }

    @Override
    public void setAttribute(String name, Object value) {
        attributes.put(name, value);
    }

    @Override
    public void setStreams(InputStream i, OutputStream o) {
        throw new UnsupportedOperationException("filters are not used");
    }

    @Override
    public HttpPrincipal getPrincipal() {
        return null;
    }

    /** The client's verified TLS certificate, or null (plain HTTP, or no certificate presented). */
    java.security.cert.X509Certificate peerCertificate() {
        return peerCertificate(channel);
    }

    /** The client certificate the TLS handshake on {@code channel} verified, or null. */
    static java.security.cert.X509Certificate peerCertificate(Channel channel) {
        io.netty.handler.ssl.SslHandler ssl = channel.pipeline().get(io.netty.handler.ssl.SslHandler.class);
        if (ssl == null) return null;
        try {
            java.security.cert.Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof java.security.cert.X509Certificate x ? x : null;
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /** Writes the response (once); an exchange closed without one answers 500, as the JDK's server would not. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        int code = responseCode == -1 ? 500 : responseCode;
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(code),
                Unpooled.wrappedBuffer(responseBody.toByteArray()));
        for (Map.Entry<String, List<String>> h : responseHeaders.entrySet()) r.headers().add(h.getKey(), h.getValue());
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        if (!keepAlive) r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        var written = channel.writeAndFlush(r);
        if (!keepAlive) written.addListener(ChannelFutureListener.CLOSE);
        afterResponse.run();
    }
}
