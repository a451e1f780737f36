package dev.keel.kv.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Percent-encoding of arbitrary bytes in paths and queries (RFC 3986 §2.1). Keys are bytes, not
 * text: {@code /v1/kv/a%FF} is the two-byte key {@code 0x61 0xFF}. Characters that are not
 * percent-encoded stand for their UTF-8 bytes. In queries {@code +} means a space, as in HTML forms
 * and etcd/Go servers; write {@code %2B} for a plus.
 */
public final class UrlBytes {
    private UrlBytes() {}

    /** Thrown for a malformed escape such as {@code %G1} or a trailing {@code %}. */
    public static final class BadEncodingException extends Exception {
        BadEncodingException(String message) {
            super(message, null, false, false);
        }
    }

    public static byte[] decode(String raw, boolean plusIsSpace) throws BadEncodingException {
        byte[] in = raw.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length);
        for (int i = 0; i < in.length; i++) {
            byte c = in[i];
            if (c == '%') {
                if (i + 2 >= in.length) throw new BadEncodingException("incomplete escape at position " + i);
                int hi = Character.digit(in[i + 1], 16);
                int lo = Character.digit(in[i + 2], 16);
                if (hi < 0 || lo < 0) throw new BadEncodingException("bad escape at position " + i);
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c == '+' && plusIsSpace) {
                out.write(' ');
            } else {
                out.write(c);
            }
        }
        return out.toByteArray();
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** Encodes every byte except RFC 3986's unreserved characters (and '/' when {@code keepSlash}). */
    public static String encode(byte[] bytes, boolean keepSlash) {
        StringBuilder sb = new StringBuilder(bytes.length + 8);
        for (byte b : bytes) {
            int c = b & 0xff;
            boolean unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || (keepSlash && c == '/');
            if (unreserved) {
                sb.append((char) c);
            } else {
                sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        return sb.toString();
    }

    /** Parses a raw query string into name → decoded value bytes (the first occurrence wins). */
    public static Map<String, byte[]> parseQuery(String rawQuery) throws BadEncodingException {
        Map<String, byte[]> params = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) return params;
        for (String part : rawQuery.split("&")) {
            if (part.isEmpty()) continue;
            int eq = part.indexOf('=');
            String name = new String(decode(eq < 0 ? part : part.substring(0, eq), true), StandardCharsets.UTF_8);
            byte[] value = eq < 0 ? new byte[0] : decode(part.substring(eq + 1), true);
            params.putIfAbsent(name, value);
        }
        return params;
    }
}
