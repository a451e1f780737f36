package dev.keel.faults;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON-lines history of a fault run: written while the run goes (one line per event, flushed
 * often so that a crashed harness still leaves a readable file) and read back by the checkers.
 * Writes are serialized here, so every line is whole and times are in file order.
 */
public final class History implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Path file;
    private final BufferedWriter out;
    private final long startNanos;
    private final List<Event> events = new ArrayList<>();

    private History(Path file, long startNanos) throws IOException {
        this.file = file;
        this.startNanos = startNanos;
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
    }

    /** Starts a history at {@code file}; times count from now. */
    public static History create(Path file) throws IOException {
        return new History(file, System.nanoTime());
    }

    public Path file() {
        return file;
    }

    /** Nanoseconds since the run started. */
    public long now() {
        return System.nanoTime() - startNanos;
    }

    /** Records an event stamped now, and returns it. */
    public synchronized Event record(Object process, String type, String f, String key, JsonNode value,
                                     Integer node, String error) {
        Event e = new Event(now(), process, type, f, key, value, node, error);
        events.add(e);
        try {
            out.write(toLine(e));
            out.write('\n');
            if (events.size() % 256 == 0) out.flush();
        } catch (IOException ex) {
            throw new UncheckedIOException("writing history " + file, ex);
        }
        return e;
    }

    /**
     * A nemesis event: fault {@code f} starting ({@code start = true}) or ending. The value is
     * {@code {"phase":"start"|"stop","detail":"..."}}; a report shades from a start to the next stop
     * of the same fault.
     */
    public Event nemesis(String f, boolean start, String detail) {
        ObjectNode v = NODES.objectNode();
        v.put("phase", start ? "start" : "stop");
        v.put("detail", detail);
        return record(Event.NEMESIS, Event.INFO, f, null, v, null, null);
    }

    /** Every event so far, in order. */
    public synchronized List<Event> events() {
        return List.copyOf(events);
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }

    /** One event as its JSON line (no newline). */
    public static String toLine(Event e) {
        ObjectNode o = NODES.objectNode();
        o.put("time", e.time());
        if (e.process() instanceof Integer i) o.put("process", i);
        else o.put("process", Event.NEMESIS);
        o.put("type", e.type());
        o.put("f", e.f());
        if (e.key() != null) o.put("key", e.key());
        o.set("value", e.value() == null ? NODES.nullNode() : e.value());
        if (e.node() != null) o.put("node", e.node());
        if (e.error() != null) o.put("error", e.error());
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** Parses one line; a malformed line raises IllegalArgumentException naming what is wrong. */
    public static Event parse(String line) {
        JsonNode o;
        try {
            o = JSON.readTree(line);
        } catch (JsonProcessingException ex) {
            throw new IllegalArgumentException("not JSON: " + ex.getOriginalMessage());
        }
        if (o == null || !o.isObject()) throw new IllegalArgumentException("not a JSON object");
        JsonNode p = o.get("process");
        Object process;
        if (p != null && p.isInt()) process = p.intValue();
        else if (p != null && p.isTextual() && p.textValue().equals(Event.NEMESIS)) process = Event.NEMESIS;
        else throw new IllegalArgumentException("process must be a number or \"nemesis\"");
        JsonNode time = o.get("time");
        if (time == null || !time.canConvertToLong()) throw new IllegalArgumentException("time must be a number");
        JsonNode node = o.get("node");
        JsonNode value = o.get("value");
        return new Event(time.longValue(), process, text(o, "type", true), text(o, "f", true), text(o, "key", false),
                value == null || value.isNull() ? null : value, node == null || node.isNull() ? null : node.intValue(),
                text(o, "error", false));
    }

    private static String text(JsonNode o, String field, boolean required) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            if (required) throw new IllegalArgumentException("missing \"" + field + "\"");
            return null;
        }
        if (!n.isTextual()) throw new IllegalArgumentException("\"" + field + "\" must be a string");
        return n.textValue();
    }

    /** Reads a history file; a bad line is reported with its number. */
    public static List<Event> read(Path file) throws IOException {
        List<Event> out = new ArrayList<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            if (line.isBlank()) continue;
            try {
                out.add(parse(line));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + " line " + n + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** JSON helpers for workloads. */
    public static JsonNode number(long v) {
        return NODES.numberNode(v);
    }

    public static JsonNode array(long... vs) {
        var a = NODES.arrayNode();
        for (long v : vs) a.add(v);
        return a;
    }

    public static JsonNodeFactory nodes() {
        return NODES;
    }
}
