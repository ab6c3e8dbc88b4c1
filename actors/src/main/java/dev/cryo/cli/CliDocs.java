package dev.cryo.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.codegen.docgen.manpage.ManPageGenerator;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Build-time only (run by the package phase; picocli-codegen is not in the shipped jar): writes
 * bash completion and AsciiDoc man pages for every command from the CLI's own picocli model.
 * Usage: {@code CliDocs OUTDIR} → OUTDIR/completion/cryo, OUTDIR/man-adoc/cryo*.adoc.
 */
public final class CliDocs {
    private CliDocs() {}

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        PrintWriter sink = new PrintWriter(new StringWriter());
        CommandLine cl = CryoCli.commandLine(new CryoCli(), sink, sink);
        Path completion = out.resolve("completion");
        Files.createDirectories(completion);
        Files.writeString(completion.resolve("cryo"), AutoComplete.bash("cryo", cl));
        Path man = out.resolve("man-adoc");
        Files.createDirectories(man);
        // one page for cryo and one per subcommand (cryo-dump, cryo-restore, ...)
        int rc = ManPageGenerator.generateManPage(man.toFile(), null, new boolean[0], true, cl.getCommandSpec());
        if (rc != 0) {
            throw new IOException("man page generation failed with " + rc);
        }
    }
}
