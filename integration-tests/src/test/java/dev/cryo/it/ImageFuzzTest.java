package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random corruptions of a real image — bit flips, truncations, duplicated and swapped blocks,
 * lengths set huge, wrong format versions (with a valid header checksum) — through {@code cryo
 * show} and {@code cryo restore}, in process: every one is refused with a one-line error naming
 * the file and the damaged part, no stack trace, nothing printed, and no process created. Huge
 * lengths are also tried with max-chunk raised to 1 GiB. {@code -Dfuzz.count=N} corruptions
 * (default 100; {@code mvn -Pfuzz}: 1000), restore tried on every {@code fuzz.restore-every}-th.
 */
class ImageFuzzTest {
    private static final int COUNT = Integer.getInteger("fuzz.count", 100);
    private static final int RESTORE_EVERY = Integer.getInteger("fuzz.restore-every", 10);
    private static final long SEED = Long.getLong("fuzz.seed", System.nanoTime());

    @TempDir
    static Path tmp;
    static byte[] image;
    static Pid root;

    @BeforeAll
    static void dumpOnce() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
            image = Files.readAllBytes(img.resolve("image.cryo"));
            root = p.pid();
            // the killed counter is reaped by init in its own time: a restore must not find it there
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + root)), java.time.Duration.ofSeconds(30),
                    "the dumped pid " + root + " to be reaped");
        }
    }

    @Test
    void everyCorruptionIsRefusedCleanlyBeforeAnyProcessIsCreated() throws Exception {
        Random random = new Random(SEED);
        Path dir = Files.createDirectories(tmp.resolve("fuzz"));
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        List<String> bad = new ArrayList<>();
        int shows = 0, restores = 0;
        for (int i = 0; i < COUNT; i++) {
            String[] what = new String[1];
            byte[] damaged = mutate(random, what);
            Files.write(dir.resolve("image.cryo"), damaged);
            List<String[]> runs = new ArrayList<>();
            runs.add(new String[]{"show", dir.toString()});
            if (what[0].startsWith("huge")) {
                runs.add(new String[]{"-Dcryo.image.max-chunk=1GiB", "show", dir.toString()});
            }
            if (i % RESTORE_EVERY == 0) {
                runs.add(new String[]{"restore", "-D", dir.toString(), "-d", "--no-progress"});
            }
            for (String[] args : runs) {
                Cli r = Cli.run(args);
                String problem = problem(r);
                if (args[args.length - 1].equals("--no-progress")) {
                    restores++;
                    if (problem == null && Files.exists(Path.of("/proc/" + root))) {
                        problem = "pid " + root + " exists after the refused restore";
                        RestoreTest.killAndReap(DetachedProcess.restored(root, dir.resolve("none")));
                    }
                } else {
                    shows++;
                }
                if (problem != null) {
                    bad.add("#" + i + " " + what[0] + ", " + String.join(" ", args) + ": " + problem);
                }
            }
        }
        String figures = COUNT + " corruptions (seed " + SEED + "): " + shows + " shows and " + restores
                + " restores refused cleanly, " + bad.size() + " not";
        System.out.println(figures);
        assertTrue(bad.isEmpty(), figures + "\n" + String.join("\n", bad.subList(0, Math.min(20, bad.size()))));
    }

    /**
     * A fill chunk (pages that each hold one byte) has no payload length to bound its page count: one
     * forged to run past user space, its chunk's and the index's checksums made right, is refused by
     * show and restore with the chunk named, and no process is created.
     */
    @Test
    void aFillChunkForgedToRunPastUserSpaceIsRefused() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("filldata"));
        Path img = tmp.resolve("fillimg");
        int pid;
        try (DetachedProcess p = Workloads.program(tmp.resolve("fillbytes.out"), "fillbytes", data.toString())) {
            pid = p.pid().value();
            Cli r = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), java.time.Duration.ofSeconds(30),
                    "the dumped pid " + pid + " to be reaped");
        }
        dev.cryo.engine.image.IndexEntry fill;
        long indexAt;
        try (var r = dev.cryo.engine.image.ImageReader.open(img, dev.cryo.engine.model.codec.ModelCodecs.ALL)) {
            // the longest run: a run of one page moved to the last page below 2^56 still ends in user space
            // (the first fill chunk of a CI run's image, under env -i, was such a page)
            fill = r.pageChunks().stream().filter(dev.cryo.engine.image.IndexEntry::fill)
                    .max(java.util.Comparator.comparingInt(dev.cryo.engine.image.IndexEntry::pageCount)).orElseThrow();
            assertTrue(fill.pageCount() > 1, fill.describe() + " holds " + fill.pageCount() + " page");
            var last = r.entries().get(r.entries().size() - 1);
            indexAt = last.offset() + last.totalLength();
        }
        byte[] b = Files.readAllBytes(img.resolve("image.cryo"));
        ByteBuffer f = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int at = (int) fill.offset();
        f.putLong(at + 24, (1L << 56) - 4096); // the first page's address: its run now ends past user space
        checksum(b, at, 1);
        int entry = (int) indexAt + 40 + 4 + 40 * fill.number();
        f.putLong(entry + 24, (1L << 56) - 4096);
        checksum(b, (int) indexAt, f.getInt((int) indexAt + 8));
        Path dir = Files.createDirectories(tmp.resolve("forgedfill"));
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Files.write(dir.resolve("image.cryo"), b);
        for (String[] args : List.of(new String[] {"show", dir.toString()},
                new String[] {"restore", "-D", dir.toString(), "-d", "--no-progress"})) {
            Cli r = Cli.run(args);
            assertEquals(null, problem(r), args[0]);
            assertTrue(r.err().contains("chunk " + fill.number()) && r.err().contains("reach past user space"), r.err());
            assertTrue(!Files.exists(Path.of("/proc/" + pid)), "pid " + pid + " exists after the refused restore");
        }
    }

    /** Makes the CRC32C of the chunk at {@code at} (its header, then {@code payload} bytes) right. */
    private static void checksum(byte[] b, int at, int payload) {
        CRC32C crc = new CRC32C();
        crc.update(b, at, 36);
        crc.update(b, at + 40, payload);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 36, (int) crc.getValue());
    }

    /** Null when the run was refused as it must be. */
    private static String problem(Cli r) {
        if (r.code() == 0) {
            return "accepted: " + r.out().lines().limit(3).toList();
        }
        String err = r.err();
        if (err.contains("Exception") || err.contains("\tat ") || err.contains("Error:")) {
            return "stack trace or exception: " + err;
        }
        if (!err.startsWith("cryo: ") || !err.contains("image.cryo")
                || !err.matches("(?s).*(chunk \\d+|header|trailer|index|truncated|ends|format version).*")) {
            return "unclear error: " + err.trim();
        }
        if (!r.out().isEmpty()) {
            return "printed from a damaged image: " + r.out().lines().limit(2).toList();
        }
        return null;
    }

    private static byte[] mutate(Random random, String[] what) {
        while (true) {
            byte[] b = image.clone();
            int n = b.length;
            switch (random.nextInt(6)) {
                case 0 -> {
                    int at = random.nextInt(n);
                    int bits = 1 + random.nextInt(8);
                    for (int k = 0; k < bits; k++) {
                        b[at] ^= (byte) (1 << random.nextInt(8));
                    }
                    what[0] = "bit flips at " + at;
                }
                case 1 -> {
                    int len = random.nextInt(n);
                    b = Arrays.copyOf(b, len);
                    what[0] = "truncated to " + len;
                }
                case 2 -> {
                    int len = 1 + random.nextInt(Math.min(n / 4, 65536));
                    int from = random.nextInt(n - len), to = random.nextInt(n - len);
                    System.arraycopy(image, from, b, to, len);
                    what[0] = "block of " + len + " duplicated from " + from + " to " + to;
                }
                case 3 -> {
                    int len = 1 + random.nextInt(Math.min(n / 4, 65536));
                    int x = random.nextInt(n - len), y = random.nextInt(n - len);
                    System.arraycopy(image, x, b, y, len);
                    System.arraycopy(image, y, b, x, len);
                    what[0] = "blocks of " + len + " swapped at " + x + " and " + y;
                }
                case 4 -> {
                    int at = random.nextInt(n - 8) & ~3;
                    long v = switch (random.nextInt(3)) {
                        case 0 -> 0xffffffffL;
                        case 1 -> 0x7fffffffL;
                        default -> Long.MAX_VALUE;
                    };
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
                    what[0] = "huge value " + v + " at " + at;
                }
                default -> {
                    int version = random.nextBoolean() ? random.nextInt(1000) + 2 : 0;
                    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                    h.putInt(8, version); // the file header's format version, its checksum made right
                    CRC32C crc = new CRC32C();
                    crc.update(b, 0, 28);
                    h.putInt(28, (int) crc.getValue());
                    what[0] = "format version " + version;
                }
            }
            if (!Arrays.equals(b, image)) {
                return b;
            }
        }
    }
}
