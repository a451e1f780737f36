package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class StorageConfigTest {
    @Test
    void defaults() {
        StorageConfig c = StorageConfig.builder(3, "prod-eu.1").build();
        assertThat(c.segmentBytes()).isEqualTo(64L << 20);
        assertThat(c.cacheBytes()).isEqualTo(64L << 20);
        assertThat(c.keepSnapshots()).isEqualTo(2);
        assertThat(c.sync()).isTrue();
        assertThat(c.maxEntryDataBytes()).isEqualTo((64L << 20) - 49);
    }

    @Test
    void validationNamesFieldAndValue() {
        assertThatThrownBy(() -> StorageConfig.builder(0, "c").build()).hasMessage("nodeId (0) must be positive");
        assertThatThrownBy(() -> StorageConfig.builder(1, "").build()).hasMessageContaining("clusterId ('')");
        assertThatThrownBy(() -> StorageConfig.builder(1, "a b").build()).hasMessageContaining("clusterId ('a b')");
        assertThatThrownBy(() -> StorageConfig.builder(1, null).build()).hasMessageContaining("clusterId (null)");
        assertThatThrownBy(() -> StorageConfig.builder(1, "x".repeat(65)).build()).hasMessageContaining("1 to 64 characters");
        assertThatThrownBy(() -> StorageConfig.builder(1, "c").segmentBytes(4095).build())
                .hasMessage("segmentBytes (4095) must be between 4096 and 1073741824");
        assertThatThrownBy(() -> StorageConfig.builder(1, "c").cacheBytes(-1).build()).hasMessage("cacheBytes (-1) must not be negative");
        assertThatThrownBy(() -> StorageConfig.builder(1, "c").keepSnapshots(0).build())
                .hasMessage("keepSnapshots (0) must be at least 1");
    }
}
