package dev.cryo.cli;

import dev.cryo.engine.show.ImageJson;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code cryo show DIR}: verifies an image and prints what it holds as JSON. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Verify an image and print its contents as JSON.")
final class ShowCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "The image directory.")
    Path dir;

    @Option(names = "--pages", description = "Also list every page chunk of each task.")
    boolean pages;

    @Spec
    CommandSpec spec;

    private final PrintWriter out;

    ShowCommand(PrintWriter out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        Map<String, Object> doc;
        try {
            doc = ImageJson.read(dir, pages);
        } catch (IOException e) {
            // image exceptions already name the file and the chunk; nothing was printed yet
            PrintWriter err = spec.commandLine().getErr();
            err.println("cryo: " + e.getMessage());
            err.flush();
            return 1;
        }
        out.println(Json.pretty(doc));
        out.flush();
        return 0;
    }
}
