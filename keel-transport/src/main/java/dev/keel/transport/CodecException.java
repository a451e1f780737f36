package dev.keel.transport;

/**
 * Bytes from the network that are not a valid Keel frame or handshake: truncated, too long, of an
 * unknown type, with trailing bytes, or with fields the core's records refuse. This is external
 * input, so it is counted, logged and dropped (with the connection that sent it), never asserted.
 *
 * <p>Checked on purpose: every caller that decodes untrusted bytes must decide what to do with a bad
 * frame.
 */
public final class CodecException extends Exception {
    public CodecException(String message) {
        super(message);
    }

    public CodecException(String message, Throwable cause) {
        super(message, cause);
    }
}
