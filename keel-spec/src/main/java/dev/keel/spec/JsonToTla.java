package dev.keel.spec;

/**
 * Turns one JSON value (as TraceRecorder writes it) into a TLA+ expression: objects become
 * records, arrays sequences, strings strings, true/false TRUE/FALSE, integers themselves. Anything
 * else (floats, null, bad syntax) is rejected with the offset, so a damaged trace line is named
 * rather than half-read.
 */
final class JsonToTla {
    private final String s;
    private int pos;
    private final StringBuilder out = new StringBuilder();

    private JsonToTla(String s) {
        this.s = s;
    }

    static String convert(String json) {
        JsonToTla c = new JsonToTla(json);
        c.skipWs();
        c.value();
        c.skipWs();
        if (c.pos != json.length()) throw c.error("trailing characters");
        return c.out.toString();
    }

    private void value() {
        if (pos >= s.length()) throw error("unexpected end");
        char ch = s.charAt(pos);
        switch (ch) {
            case '{' -> object();
            case '[' -> array();
            case '"' -> out.append('"').append(string()).append('"');
            case 't' -> literal("true", "TRUE");
            case 'f' -> literal("false", "FALSE");
            default -> {
                if (ch == '-' || Character.isDigit(ch)) number();
                else throw error("unexpected '" + ch + "'");
            }
        }
    }

    private void object() {
        pos++;
        skipWs();
        out.append('[');
        if (peek() == '}') throw error("empty object");
        elements('}', () -> {
            String key = string();
            if (!key.matches("[A-Za-z][A-Za-z0-9]*")) throw error("field name '" + key + "'");
            skipWs();
            expect(':');
            skipWs();
            out.append(key).append(" |-> ");
            value();
        });
        out.append(']');
    }

    private void array() {
        pos++;
        skipWs();
        out.append("<<");
        if (peek() == ']') {
            pos++;
            out.append(">>");
            return;
        }
        elements(']', this::value);
        out.append(">>");
    }

    /** Comma-separated elements up to {@code close}, each parsed by {@code element}; ", " between them in the output. */
    private void elements(char close, Runnable element) {
        boolean first = true;
        while (true) {
            skipWs();
            if (!first) out.append(", ");
            first = false;
            element.run();
            skipWs();
            if (peek() != ',') break;
            pos++;
        }
        expect(close);
    }

    private String string() {
        expect('"');
        int start = pos;
        while (pos < s.length() && s.charAt(pos) != '"') {
            char ch = s.charAt(pos);
            if (ch == '\\' || ch < ' ') throw error("escapes are not used in traces");
            pos++;
        }
        if (pos >= s.length()) throw error("unterminated string");
        return s.substring(start, pos++);
    }

    private void number() {
        int start = pos;
        if (peek() == '-') pos++;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
        if (pos == start || (pos == start + 1 && s.charAt(start) == '-')) throw error("bad number");
        if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            throw error("only integers are used in traces");
        }
        out.append(s, start, pos);
    }

    private void literal(String word, String tla) {
        if (!s.startsWith(word, pos)) throw error("unexpected token");
        pos += word.length();
        out.append(tla);
    }

    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private void expect(char ch) {
        if (peek() != ch) throw error("expected '" + ch + "'");
        pos++;
    }

    private void skipWs() {
        while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at offset " + pos);
    }
}
