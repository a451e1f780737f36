package dev.keel.core;

import java.nio.charset.StandardCharsets;

/** Small helpers for printing commands in traces and error messages. */
public final class Bytes {
    private Bytes() {}

    /** Printable form of up to 24 bytes: the text if it is printable ASCII, hex otherwise. */
    public static String preview(byte[] data) {
        int n = Math.min(data.length, 24);
        boolean printable = true;
        for (int i = 0; i < n; i++) {
            if (data[i] < 0x20 || data[i] > 0x7e) {
                printable = false;
                break;
            }
        }
        StringBuilder sb = new StringBuilder();
        if (printable) {
            sb.append(new String(data, 0, n, StandardCharsets.US_ASCII));
        } else {
            sb.append("0x");
            for (int i = 0; i < n; i++) sb.append(String.format("%02x", data[i] & 0xff));
        }
        if (data.length > n) sb.append("...(").append(data.length).append("B)");
        return sb.toString();
    }
}
