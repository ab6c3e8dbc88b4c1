package dev.cryo.engine.restore;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.engine.model.DumpInfo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;

/**
 * Which images this host has restored: one small file per image in {@code /run/cryo/restored} (gone at
 * reboot), written once a restore's tree runs. The image itself is only ever read, so this is how a
 * restore of an image restored before knows it: its tree starts again from the same memory (what it
 * keeps there to be unique comes back as it was), and a network lock its dump left was lifted by
 * that earlier restore, not lost.
 */
public final class RestoredImages {
    private RestoredImages() {}

    static final Path DIR = Path.of("/run/cryo/restored");

    /** An earlier restore of the same image on this host: when, and the root pid it gave. */
    public record Earlier(long epochMillis, int rootPid) {
        /** The restore's time of day in this host's zone, e.g. "03:12:07". */
        public String at() {
            return DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault())
                    .format(Instant.ofEpochMilli(epochMillis));
        }

        /** The warning a repeated restore gives before it makes anything. */
        public String warning() {
            return "this image was restored before on this host (at " + at() + ", root pid " + rootPid + "): its tree"
                    + " starts again from the same memory, so what it keeps there to be unique comes back as it was"
                    + " then — random generators seeded once (OpenSSL's, Node.js's crypto.randomBytes and"
                    + " randomUUID, Tomcat's session ids, Python's random), counters, ids it hands out — and gives the"
                    + " values that restore's tree gave";
        }
    }

    /**
     * The warning for files open for appending that grew since the dump ({@code grown}, from the
     * validator), when another tree went on from this image's memory: an earlier restore's
     * ({@code restoredBefore}), or the tree the dump left running. Null when there is nothing to say.
     */
    public static String grownWarning(List<String> grown, boolean restoredBefore, DumpInfo info) {
        boolean leftRunning = info != null && info.leftRunning();
        if (grown.isEmpty() || !restoredBefore && !leftRunning) {
            return null;
        }
        return "files open for appending grew since the dump, by "
                + (restoredBefore ? "the tree an earlier restore of this image made" : "the tree this dump left running")
                + " or by others: " + String.join("; ", grown) + ". What that tree appended (a database's append-only"
                + " log, such as Redis's, a journal) is in the file but not in this tree's memory: the program goes on"
                + " after it, and reading the file again (a restart) finds both";
    }

    public static Optional<Earlier> earlier(DumpInfo info) {
        return earlier(DIR, info);
    }

    static Optional<Earlier> earlier(Path dir, DumpInfo info) {
        if (info == null) {
            return Optional.empty();
        }
        try {
            String[] f = Files.readString(dir.resolve(key(info)), StandardCharsets.US_ASCII).trim().split(" ");
            return Optional.of(new Earlier(Long.parseLong(f[0]), Integer.parseInt(f[1])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // never restored here, or a mark not ours: nothing to say
        }
    }

    /**
     * Marks the image restored (its tree runs); best effort: a mark not written only loses the notice.
     * The marks are bounded apart, by {@link #prune()}.
     */
    public static void record(DumpInfo info, int rootPid) {
        record(DIR, info, rootPid, System.currentTimeMillis());
    }

    static void record(Path dir, DumpInfo info, int rootPid, long now) {
        if (info == null) {
            return;
        }
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PrivateModes.DIR_ATTRIBUTE);
            }
            Path tmp = Files.createTempFile(dir, ".mark", "",
                    PrivateModes.FILE_ATTRIBUTE);
            Files.writeString(tmp, now + " " + rootPid + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, dir.resolve(key(info)), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException ignored) {
            // /run/cryo not writable (a restore as another user): the next restore of this image warns nothing
        }
    }

    /** Marks kept: the images restored most recently (a host that restores all day keeps a bounded directory). */
    static final int KEPT = 256;
    /**
     * Marks more than {@link #KEPT} before they are pruned: pruning reads every mark (a host that
     * restored often has KEPT of them, and a migration's restore read 257 files before its tree was
     * reported running), so it comes once in SLACK restores, not at each.
     */
    static final int SLACK = 64;

    /**
     * Bounds the marks, best effort: once there are more than KEPT + SLACK, the oldest go down to KEPT.
     * After a restore has reported its tree running: none of it is in a migration's downtime.
     */
    public static void prune() {
        try {
            prune(DIR, KEPT, KEPT + SLACK);
        } catch (IOException | RuntimeException ignored) {
            // not there or not writable: nothing to bound
        }
    }

    /**
     * Removes all but the {@code kept} newest marks (by the time written in them: a restore rewrites its
     * image's mark) when there are more than {@code above}, and temporary files a killed restore left.
     * An image whose mark went warns nothing when restored again.
     */
    static void prune(Path dir, int kept, int above) throws IOException {
        List<Path> all;
        try (var s = Files.list(dir)) {
            all = s.toList();
        }
        long now = System.currentTimeMillis();
        List<Path> marks = new java.util.ArrayList<>();
        for (Path f : all) {
            if (!f.getFileName().toString().startsWith(".mark")) {
                marks.add(f);
            } else if (now - Files.getLastModifiedTime(f).toMillis() > 60_000) { // not one being written now
                Files.deleteIfExists(f);
            }
        }
        if (marks.size() <= above) {
            return;
        }
        java.util.Map<Path, Long> when = new java.util.HashMap<>();
        for (Path f : marks) {
            when.put(f, writtenAt(f));
        }
        marks.sort(java.util.Comparator.comparingLong(when::get));
        for (Path f : marks.subList(0, marks.size() - kept)) {
            Files.deleteIfExists(f);
        }
    }

    /** The restore time a mark holds; 0 (oldest) for a mark that cannot be read. */
    private static long writtenAt(Path mark) {
        try {
            return Long.parseLong(Files.readString(mark, StandardCharsets.US_ASCII).trim().split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The image's identity: the host, root pid and time of its dump. */
    static String key(DumpInfo info) {
        return info.hostname().replaceAll("[^A-Za-z0-9._-]", "_") + "-" + info.rootPid() + "-" + info.createdEpochMillis();
    }
}
