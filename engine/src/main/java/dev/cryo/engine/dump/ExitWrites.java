package dev.cryo.engine.dump;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;

/**
 * A write the kernel makes into a task's memory when a thread exits: its clear-child-tid word is set to
 * 0 (and its futex woken). nscd points that word of each cache's prune thread at a field of the cache
 * file it maps shared ({@code nscd_certainly_running}), so clients can tell when it dies: the kill after
 * a dump would change those files (content, and mtime when writeback had cleaned the page), and the
 * restore would find them changed since the dump. A tree a dump kills lives on in its image, so its
 * files must stay as dumped: before the kill, such threads get {@code set_tid_address(NULL)}. The
 * image keeps the dumped address, which the restore sets again.
 */
public final class ExitWrites {
    private ExitWrites() {}

    /** The threads whose clear-child-tid word lies in a writable shared mapping of a file. */
    public static List<Integer> intoSharedFiles(TaskImage task) {
        List<Integer> tids = new ArrayList<>();
        for (ThreadImage t : task.threads()) {
            long at = t.clearChildTid();
            if (at != 0 && task.vmas().stream().anyMatch(v -> at >= v.start() && at < v.end()
                    && (v.flags() & VmaImage.MAP_SHARED) != 0 && (v.prot() & VmaImage.PROT_WRITE) != 0
                    && v.kind().fileBacked())) {
                tids.add(t.tid());
            }
        }
        return tids;
    }

    /**
     * Clears the clear-child-tid word of each thread (seized, stopped) right before the kill. A thread
     * that cannot take it is skipped: the kill then writes the file as it would without cryo.
     * Returns what could not be done, one line per thread, for a warning.
     */
    public static List<String> disarm(Tracer tracer, Pid pid, List<Integer> tids) {
        List<String> problems = new ArrayList<>();
        List<MapsEntry> maps;
        try {
            maps = ProcFs.maps(pid);
        } catch (RuntimeException e) {
            return List.of("pid " + pid + ": " + e.getMessage());
        }
        for (int tid : tids) {
            try (Injector inj = RemoteTask.bareInjector(tracer, pid, tid, maps)) {
                inj.call("set_tid_address", SyscallNr.SET_TID_ADDRESS, 0);
            } catch (RuntimeException e) {
                problems.add("pid " + pid + " tid " + tid + ": " + e.getMessage());
            }
        }
        return problems;
    }
}
