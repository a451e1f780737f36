package dev.keel.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HistoryTest {
    @TempDir
    Path dir;

    @Test
    void eventsRoundTripThroughTheFileInOrder() throws Exception {
        Path file = dir.resolve("h.jsonl");
        try (History h = History.create(file)) {
            h.record(3, Event.INVOKE, "cas", "r1", History.array(1, 2), 2, null);
            h.nemesis("partition", true, "isolate the leader 1");
            h.record(3, Event.FAIL, "cas", "r1", History.array(1, 2), 2, "412 CONDITION_FAILED");
        }
        List<Event> events = History.read(file);
        assertThat(events).hasSize(3);
        Event inv = events.get(0);
        assertThat(inv.client()).isEqualTo(3);
        assertThat(inv.value().get(1).longValue()).isEqualTo(2);
        assertThat(inv.node()).isEqualTo(2);
        assertThat(events.get(1).isNemesis()).isTrue();
        assertThat(events.get(1).value().path("phase").asText()).isEqualTo("start");
        assertThat(events.get(1).value().path("detail").asText()).isEqualTo("isolate the leader 1");
        assertThat(events.get(2).error()).isEqualTo("412 CONDITION_FAILED");
        assertThat(events.get(0).time()).isLessThanOrEqualTo(events.get(1).time());
        assertThat(events.get(1).time()).isLessThanOrEqualTo(events.get(2).time());
        assertThat(Files.readAllLines(file).get(0))
                .isEqualTo("{\"time\":" + inv.time() + ",\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"r1\",\"value\":[1,2],\"node\":2}");
    }

    @Test
    void aMalformedLineIsReportedWithItsNumber() throws Exception {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"time\":1,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null}\n"
                + "{\"time\":2,\"process\":1,\"type\":\"done\",\"f\":\"read\"}\n");
        assertThatThrownBy(() -> History.read(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 2").hasMessageContaining("type must be invoke, ok, fail or info");
        assertThatThrownBy(() -> History.parse("[1,2]")).hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> History.parse("{\"time\":1,\"process\":\"x\",\"type\":\"ok\",\"f\":\"read\"}"))
                .hasMessageContaining("process must be");
        assertThatThrownBy(() -> History.parse("{\"time\":\"soon\",\"process\":1,\"type\":\"ok\",\"f\":\"read\"}"))
                .hasMessageContaining("time must be a number");
        assertThatThrownBy(() -> History.parse("{oops")).hasMessageContaining("not JSON");
    }
}
