package dev.cryo.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shortcut to the local agent takes exactly the options the commands' picocli model has, and
 * leaves every command line it does not fully understand (or that no agent can take) to picocli.
 */
class PlainCommandLineTest {
    @TempDir
    Path tmp;

    private static final PrintWriter SINK = new PrintWriter(new StringWriter());

    @Test
    void itsOptionsAreTheCommandsOwn() {
        check(new CommandLine(new DumpCommand(SINK, SINK)), PlainCommandLine.DUMP_FLAGS, PlainCommandLine.DUMP_VALUES);
        check(new CommandLine(new RestoreCommand(SINK, SINK)), PlainCommandLine.RESTORE_FLAGS, PlainCommandLine.RESTORE_VALUES);
    }

    private static void check(CommandLine cl, Set<String> flags, Set<String> values) {
        for (String f : flags) {
            OptionSpec o = cl.getCommandSpec().findOption(f);
            assertTrue(o != null && o.arity().max() == 0, f + " is a flag of " + cl.getCommandName());
        }
        for (String v : values) {
            OptionSpec o = cl.getCommandSpec().findOption(v);
            assertTrue(o != null && o.arity().min() == 1 && o.arity().max() == 1, v + " takes one value in "
                    + cl.getCommandName());
        }
    }

    @Test
    void anythingElseGoesToPicocli() {
        for (String[] args : new String[][] {
                {"--version"}, {"-v", "dump", "-t", "1", "-D", "x"}, {"dump", "--help"}, {"dump", "-t", "1"},
                {"dump", "-t", "1", "-D", "x", "--ghost-limit", "4M"}, {"dump", "-t", "1", "-D", "x", "--no-agent"},
                {"dump", "-t", "one", "-D", "x"}, {"dump", "-t", "0", "-D", "x"}, {"dump", "-t", "1", "-t", "2", "-D", "x"},
                {"restore", "-D", "x", "-d", "--bogus"}, {"restore", "-d"}, {"restore", "-D", "x", "--pidfile"}}) {
            assertEquals(java.util.Optional.empty(), PlainCommandLine.parse(args), String.join(" ", args));
        }
        for (String[] args : new String[][] {
                {"dump", "-t", "1", "-D", "x"}, {"dump", "--tree=1", "--images-dir=x", "-R", "--no-progress"},
                {"restore", "-D", "x"}, {"restore", "-D", "x", "-d", "--pidfile", "p"}}) {
            assertTrue(PlainCommandLine.parse(args).isPresent(), String.join(" ", args));
        }
    }

    @Test
    void withoutAnAgentTheAgentsWayTakesNothing() {
        String socket = tmp.resolve("no-agent.sock").toString();
        String old = System.setProperty("cryo.cluster.local-socket", socket);
        try {
            for (String[] args : new String[][] {
                    {"restore", "-D", "x"}, // never the agent's: a waited-for root must be this process's child
                    {"dump", "-t", "1", "-D", "x"}, {"restore", "-D", "x", "-d"}}) { // no agent listens
                assertEquals(java.util.Optional.empty(), PlainCommandLine.tryAgent(args, SINK, SINK), String.join(" ", args));
            }
        } finally {
            if (old == null) {
                System.clearProperty("cryo.cluster.local-socket");
            } else {
                System.setProperty("cryo.cluster.local-socket", old);
            }
        }
    }
}
