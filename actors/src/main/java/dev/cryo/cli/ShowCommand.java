package dev.cryo.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cryo.engine.show.ImageJson;
import dev.cryo.engine.show.ImageSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code cryo show DIR [ps|fds|mems|stats]}: verifies an image and prints what it holds, whole as
 * JSON (like {@code crit show}) or as one summary (like {@code crit x}).
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Verify an image and print its contents: all of it as JSON, or one summary "
                + "(ps: the tree; fds: every file descriptor; mems: every mapping and what is carried; stats).")
final class ShowCommand implements Callable<Integer> {
    enum Format { json, table }

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The image directory (or -D DIR).")
    Path dir;

    // CRIU's habit, as dump and restore take it: the image directory as -D DIR, a VIEW then first
    @Option(names = {"-D", "--images-dir"}, paramLabel = "DIR", description = "The image directory, in DIR's stead.")
    Path imagesDir;

    @Parameters(index = "1", arity = "0..1", paramLabel = "VIEW", completionCandidates = Views.class,
            description = "A summary instead of the whole image: ${COMPLETION-CANDIDATES}.")
    String view;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "json",
            description = "json (default) or table (for people).")
    Format format;

    @Option(names = "--pages", description = "Also list every page chunk of each task (whole-image JSON only).")
    boolean pages;

    @Spec
    CommandSpec spec;

    private final PrintWriter out;

    ShowCommand(PrintWriter out) {
        this.out = out;
    }

    /** The views, for help and shell completion. */
    static final class Views implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return List.of("ps", "fds", "mems", "stats").iterator();
        }
    }

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (imagesDir != null) {
            if (view != null) {
                err.println("cryo: show takes the image directory once: -D " + imagesDir + " and " + dir);
                return 2;
            }
            view = dir == null ? null : dir.toString();
            dir = imagesDir;
        } else if (dir == null) {
            err.println("cryo: show needs the image directory: cryo show DIR [VIEW] (or -D DIR)");
            return 2;
        }
        ImageSummary.View summary = null;
        if (view != null) {
            try {
                summary = ImageSummary.View.of(view);
            } catch (IllegalArgumentException e) {
                err.println("cryo: " + e.getMessage());
                return 2;
            }
        }
        Map<String, Object> doc;
        try {
            doc = ImageJson.read(dir, pages && summary == null);
        } catch (IOException e) {
            // image exceptions already name the file and the chunk; nothing was printed yet
            err.println("cryo: " + e.getMessage());
            err.flush();
            return 1;
        }
        if (summary == null && format == Format.table) {
            // for people, the whole image is every summary in turn
            for (ImageSummary.View v : ImageSummary.View.values()) {
                out.println("== " + v.name().toLowerCase(java.util.Locale.ROOT));
                out.println(ImageSummary.table(ImageSummary.rows(v, doc, dumpStats())));
            }
        } else if (summary == null) {
            out.println(Json.pretty(doc));
        } else {
            List<Map<String, Object>> rows = ImageSummary.rows(summary, doc, dumpStats());
            out.print(format == Format.table ? ImageSummary.table(rows) : Json.pretty(rows) + "\n");
        }
        out.flush();
        return 0;
    }

    /** stats.json that the dump left beside the image; a summary does without it. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> dumpStats() {
        Path f = dir.resolve("stats.json");
        try {
            return Files.isRegularFile(f) ? new ObjectMapper().readValue(f.toFile(), Map.class) : Map.of();
        } catch (IOException e) {
            return Map.of("unreadable", f + ": " + e.getMessage());
        }
    }
}
