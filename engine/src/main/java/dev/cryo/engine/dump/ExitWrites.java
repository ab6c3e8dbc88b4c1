package dev.cryo.engine.dump;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.RobustList;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes the kernel makes into a task's memory when a thread exits. Its clear-child-tid word is set
 * to 0 (and its futex woken): nscd points that word of each cache's prune thread at a field of the
 * cache file it maps shared ({@code nscd_certainly_running}), so clients can tell when it dies. And
 * each robust mutex still on its robust list is marked OWNER_DIED: LMDB's lock file and tdb keep
 * theirs in a file mapped shared. The kill after a dump would change those files (content, and mtime
 * when writeback had cleaned the page): the restore would find them changed since the dump, or the
 * restored program would find its own mutex dead. A tree a dump kills lives on in its image, so its
 * files must stay as dumped: before the kill, such threads get {@code set_tid_address(NULL)} and
 * {@code set_robust_list(NULL)}. The image keeps the dumped addresses, which the restore sets again.
 */
public final class ExitWrites {
    private ExitWrites() {}

    /** A thread whose exit would write a shared file: through its clear-child-tid word, its robust list, or both. */
    public record Disarm(int tid, boolean childTid, boolean robustList) {}

    /**
     * The threads whose exit would write a writable shared mapping of a file; {@code memory} reads the
     * (stopped) task's memory, to walk the robust lists.
     */
    public static List<Disarm> intoSharedFiles(TaskImage task, RobustList.Memory memory) {
        List<Disarm> out = new ArrayList<>();
        for (ThreadImage t : task.threads()) {
            boolean childTid = t.clearChildTid() != 0 && inSharedFile(task, t.clearChildTid());
            boolean robust = t.robustListHead() != 0 && RobustList.futexes(t.robustListHead(), memory).stream()
                    .anyMatch(at -> inSharedFile(task, at));
            if (childTid || robust) {
                out.add(new Disarm(t.tid(), childTid, robust));
            }
        }
        return out;
    }

    private static boolean inSharedFile(TaskImage task, long at) {
        return task.vmas().stream().anyMatch(v -> at >= v.start() && at < v.end()
                && (v.flags() & VmaImage.MAP_SHARED) != 0 && (v.prot() & VmaImage.PROT_WRITE) != 0
                && v.kind().fileBacked());
    }

    /**
     * Clears what each thread (seized, stopped) would write at its exit, right before the kill. A
     * thread that cannot take it is skipped: the kill then writes the file as it would without cryo.
     * Returns what could not be done, one line per thread, for a warning.
     */
    public static List<String> disarm(Tracer tracer, Pid pid, List<Disarm> threads) {
        List<String> problems = new ArrayList<>();
        List<MapsEntry> maps;
        try {
            maps = ProcFs.maps(pid);
        } catch (RuntimeException e) {
            return List.of("pid " + pid + ": " + e.getMessage());
        }
        for (Disarm d : threads) {
            try (Injector inj = RemoteTask.bareInjector(tracer, pid, d.tid(), maps)) {
                if (d.childTid()) {
                    inj.call("set_tid_address", SyscallNr.SET_TID_ADDRESS, 0);
                }
                if (d.robustList()) {
                    inj.call("set_robust_list", SyscallNr.SET_ROBUST_LIST, 0, RobustList.HEAD_SIZE);
                }
            } catch (RuntimeException e) {
                problems.add("pid " + pid + " tid " + d.tid() + ": " + e.getMessage());
            }
        }
        return problems;
    }
}
