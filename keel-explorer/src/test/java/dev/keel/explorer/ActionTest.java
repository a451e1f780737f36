package dev.keel.explorer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keel.core.TestMutation;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ActionTest {

    @ParameterizedTest
    @ValueSource(strings = {"tick", "tick 5", "tick @2", "tick 3 @2", "timeout 3", "deliver 17", "deliver all",
            "drop 17", "dup 17", "crash 1", "restart 1", "partition 1,2|3", "partition 1|2|3,4", "heal",
            "put k v @2", "read @2", "transfer 3", "add 4", "remove 4"})
    void canonicalLinesRoundTrip(String line) {
        Action a = Action.parse(line);
        assertThat(a.toString()).isEqualTo(line);
        assertThat(Action.parse(a.toString())).isEqualTo(a);
    }

    @Test
    void acceptsLooserSpellings() {
        assertThat(Action.parse("  deliver   #17 ")).isEqualTo(new Action.Deliver(17));
        assertThat(Action.parse("campaign n3")).isEqualTo(new Action.Timeout(3));
        assertThat(Action.parse("partition 1,2 | 3")).isEqualTo(
                new Action.Partition(List.of(Set.of(1, 2), Set.of(3))));
        assertThat(Action.parse("partition 1,2 3").toString()).isEqualTo("partition 1,2|3");
        assertThat(Action.parse("duplicate 4")).isEqualTo(new Action.Duplicate(4));
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "jump 3;                unknown action `jump`",
        "tick x;                tick count `x` is not a number",
        "tick 0;                tick count 0 outside 1..1000",
        "tick 2 3;              expected `tick [COUNT] [@NODE]`",
        "deliver;               expected `deliver ID | deliver all`",
        "deliver seven;         message id `seven` is not a number",
        "drop 0;                message id 0 < 1",
        "crash;                 expected `crash NODE`",
        "crash 1 2;             expected `crash NODE`",
        "put k v;               expected `put KEY VALUE @NODE`",
        "put k v 2;             expected `put KEY VALUE @NODE`",
        "read 2;                expected `read @NODE`",
        "partition 1,1|2;       node 1 twice",
        "partition |;           expected `partition 1,2|3`",
        "timeout -1;            node id -1 < 1",
    })
    void badLinesSayWhatIsWrong(String line, String message) {
        assertThatThrownBy(() -> Action.parse(line))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void headerRoundTripsAndChecksItsValues() {
        Action.Header h = Action.Header.parse("cluster 5 voters=3 seed=42 mutation=GRANT_SECOND_VOTE");
        assertThat(h).isEqualTo(new Action.Header(5, 3, 42, TestMutation.GRANT_SECOND_VOTE));
        assertThat(Action.Header.parse(h.toString())).isEqualTo(h);
        assertThat(Action.Header.parse("cluster 3").toString()).isEqualTo("cluster 3 seed=1");
        assertThatThrownBy(() -> Action.Header.parse("cluster 9")).hasMessageContaining("cluster size 9 outside 1..7");
        assertThatThrownBy(() -> Action.Header.parse("cluster 3 voters=4")).hasMessageContaining("voters 4 outside 1..3");
        assertThatThrownBy(() -> Action.Header.parse("cluster 3 mutation=EVIL")).hasMessageContaining("unknown mutation `EVIL`");
        assertThatThrownBy(() -> Action.Header.parse("cluster 3 speed=2")).hasMessageContaining("unknown cluster option `speed`");
        assertThatThrownBy(() -> Action.Header.parse("tick 3")).hasMessageContaining("a history starts with `cluster N");
    }
}
