package dev.keel.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keel.core.Entry;
import dev.keel.core.HardState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.junit.jupiter.api.Test;

/**
 * Fuzzing storage recovery: a valid data directory with one file (a segment, a snapshot, the hard
 * state or the identity) replaced by arbitrary bytes or damaged (bytes overwritten, truncated,
 * extended) must either open, recovering a log whose every entry reads back, or refuse with a
 * {@link StorageException} (CorruptLogException, CorruptSnapshotException...); never another
 * exception, an OutOfMemoryError or a hang.
 *
 * <p>The corpus in {@code src/test/resources/fuzz-corpus/storage} ({@code <target>-<name>.hex}, the
 * target being the file's kind: segment-newest, segment-sealed, snapshot, hardstate, identity) is
 * replayed on every run.
 */
class RecoveryFuzzTest {
    private static Path root;
    private static Path template;

    @BeforeContainer
    static void writeTemplate() throws IOException {
        root = Files.createTempDirectory("keel-recovery-fuzz");
        template = root.resolve("template");
        Random rnd = new Random(8);
        try (DurableLog log = DurableLog.open(template, TestFiles.cfg().build())) {
            for (long i = 1; i <= 200; i += 4) log.append(TestFiles.entries(rnd, i, i + 3, 1 + i / 50, 80));
            log.setHardState(new HardState(4, 2, 120));
            log.sync();
            log.compact(TestFiles.commitSnapshot(log, 30, log.term(30), TestFiles.data(rnd, 2000)));
        }
    }

    @AfterContainer
    static void removeTemplate() {
        TestFiles.deleteDir(root);
    }

    /** The template's files of one kind. */
    static List<Path> targets(Path dir, String kind) {
        List<Path> segments = TestFiles.segments(dir);
        return switch (kind) {
            case "segment-newest" -> List.of(segments.getLast());
            case "segment-sealed" -> segments.subList(0, segments.size() - 1);
            case "snapshot" -> {
                try (Stream<Path> s = Files.list(dir.resolve(Format.SNAPSHOT_DIR))) {
                    yield s.filter(Files::isRegularFile).sorted().toList();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            case "hardstate" -> List.of(dir.resolve(Format.HARD_STATE_FILE));
            case "identity" -> List.of(dir.resolve(Format.IDENTITY_FILE));
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static final List<String> KINDS = List.of("segment-newest", "segment-sealed", "snapshot", "hardstate", "identity");

    /** A damage to one file: replace it with {@code bytes}, or overwrite at / truncate at / append at {@code at}. */
    record Damage(String kind, int mode, int at, byte[] bytes) {}

    @Provide
    Arbitrary<Damage> damages() {
        return Combinators.combine(Arbitraries.of(KINDS), Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 1 << 16),
                Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(200)).as(Damage::new);
    }

    @Property(tries = 2000)
    void damagedFilesRecoverOrFailWithAStorageException(@ForAll("damages") Damage d) throws IOException {
        Path dir = Files.createTempDirectory(root, "try");
        try {
            TestFiles.copyDir(template, dir);
            List<Path> files = targets(dir, d.kind());
            Path file = files.get(d.at() % files.size());
            byte[] old = Files.readAllBytes(file);
            byte[] damaged = switch (d.mode()) {
                case 0 -> d.bytes();
                case 1 -> {
                    byte[] b = old.clone();
                    int at = old.length == 0 ? 0 : d.at() % old.length;
                    for (int i = 0; i < d.bytes().length && at + i < b.length; i++) b[at + i] = d.bytes()[i];
                    yield b;
                }
                case 2 -> java.util.Arrays.copyOf(old, old.length == 0 ? 0 : d.at() % old.length);
                default -> {
                    byte[] b = java.util.Arrays.copyOf(old, old.length + d.bytes().length);
                    System.arraycopy(d.bytes(), 0, b, old.length, d.bytes().length);
                    yield b;
                }
            };
            Files.write(file, damaged);
            openSafely(dir);
        } finally {
            TestFiles.deleteDir(dir);
        }
    }

    /** Opens {@code dir}: recovered and readable, or a StorageException; anything else fails the test. */
    static void openSafely(Path dir) {
        try (DurableLog log = DurableLog.open(dir, TestFiles.cfg().build())) {
            long first = log.firstIndex();
            long last = log.lastIndex();
            assertThat(first).isLessThanOrEqualTo(last + 1);
            List<Entry> all = new ArrayList<>();
            for (long i = first; i <= last; ) {
                List<Entry> got = log.entries(i, last + 1, 1 << 20);
                assertThat(got).isNotEmpty();
                all.addAll(got);
                i += got.size();
            }
            for (int k = 0; k < all.size(); k++) assertThat(all.get(k).index()).isEqualTo(first + k);
            if (!log.snapshot().isNone()) log.snapshotChunk(log.snapshot().index(), 0, 4096);
        } catch (StorageException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }

    @Test
    void corpusReplays() throws IOException {
        writeTemplate(); // its own: this runs on JUnit's engine, outside jqwik's container lifecycle
        try {
            replayCorpus();
        } finally {
            removeTemplate();
        }
    }

    private static void replayCorpus() throws IOException {
        Path dir = Path.of("src/test/resources/fuzz-corpus/storage");
        List<Path> inputs;
        try (Stream<Path> s = Files.list(dir)) {
            inputs = s.filter(p -> p.toString().endsWith(".hex")).sorted().toList();
        }
        assertThat(inputs).isNotEmpty();
        for (Path input : inputs) {
            String name = input.getFileName().toString();
            String kind = KINDS.stream().filter(name::startsWith).findFirst().orElseThrow();
            Path d = Files.createTempDirectory(root, "corpus");
            try {
                TestFiles.copyDir(template, d);
                Files.write(targets(d, kind).getFirst(), java.util.HexFormat.of().parseHex(Files.readString(input).strip()));
                openSafely(d);
            } finally {
                TestFiles.deleteDir(d);
            }
        }
    }
}
