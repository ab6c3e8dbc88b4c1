package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntPredicate;

/**
 * Who outside the tree holds an object the tree is joined to (the other end of a unix socket),
 * for a refusal that names it: "held by pid 812 (tmux)" tells the user which client to detach or
 * stop. Scans /proc, so it runs only on the way to a refusal.
 */
final class OutsideHolder {
    private OutsideHolder() {}

    /** " (held by pid N (comm))" for the first process outside the tree with an fd linking to {@code link}, else "". */
    static String of(String link, IntPredicate inTree) {
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                int pid = Integer.parseInt(proc.getFileName().toString());
                if (pid == self || inTree.test(pid)) {
                    continue;
                }
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        if (Files.readSymbolicLink(fd).toString().equals(link)) {
                            return " (held by pid " + pid + " (" + ProcFs.stat(Pid.of(pid)).comm() + "))";
                        }
                    }
                } catch (IOException | RuntimeException gone) {
                    // exited, or not ours to read: the next one
                }
            }
        } catch (IOException | RuntimeException e) {
            return "";
        }
        return "";
    }
}
