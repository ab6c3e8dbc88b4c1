package dev.cryo.engine.model;

import java.util.List;

/**
 * One process of the tree: identity, process-wide state, its threads, memory layout and files,
 * its timers and its oom_score_adj, the deleted files it carries and the cgroups it is in. {@code execed}: it ran a
 * program after its fork (stat's PF_FORKNOEXEC is clear), so its restore execs once too.
 */
public record TaskImage(TaskIds ids, String comm, FileRef exe, String cwd, String root, int umask,
                        int personality, Creds creds, List<Rlimit> rlimits, List<SigAction> sigactions,
                        MmImage mm, List<ThreadImage> threads, List<VmaImage> vmas, List<FdImage> fds,
                        List<byte[]> sharedPendingSignals, SecurityImage security,
                        TimersImage timers, int oomScoreAdj, List<GhostFile> ghostFiles, boolean execed,
                        dev.cryo.engine.cgroups.CgroupMembership cgroups, dev.cryo.engine.ipc.SemUndo semUndo) {
    public TaskImage {
        rlimits = List.copyOf(rlimits);
        sigactions = List.copyOf(sigactions);
        threads = List.copyOf(threads);
        vmas = List.copyOf(vmas);
        fds = List.copyOf(fds);
        sharedPendingSignals = List.copyOf(sharedPendingSignals);
        java.util.Objects.requireNonNull(security, "security");
        ghostFiles = List.copyOf(ghostFiles);
        java.util.Objects.requireNonNull(cgroups, "cgroups");
        java.util.Objects.requireNonNull(semUndo, "semUndo");
    }

    /** A task without SEM_UNDO adjustments. */
    public TaskImage(TaskIds ids, String comm, FileRef exe, String cwd, String root, int umask,
                     int personality, Creds creds, List<Rlimit> rlimits, List<SigAction> sigactions,
                     MmImage mm, List<ThreadImage> threads, List<VmaImage> vmas, List<FdImage> fds,
                     List<byte[]> sharedPendingSignals, SecurityImage security,
                     TimersImage timers, int oomScoreAdj, List<GhostFile> ghostFiles, boolean execed,
                     dev.cryo.engine.cgroups.CgroupMembership cgroups) {
        this(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm, threads, vmas, fds,
                sharedPendingSignals, security, timers, oomScoreAdj, ghostFiles, execed, cgroups,
                dev.cryo.engine.ipc.SemUndo.NONE);
    }

    /** A task that carries no deleted files. */
    public TaskImage(TaskIds ids, String comm, FileRef exe, String cwd, String root, int umask, int personality,
                     Creds creds, List<Rlimit> rlimits, List<SigAction> sigactions, MmImage mm,
                     List<ThreadImage> threads, List<VmaImage> vmas, List<FdImage> fds,
                     List<byte[]> sharedPendingSignals, SecurityImage security, TimersImage timers, int oomScoreAdj) {
        this(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm, threads, vmas, fds,
                sharedPendingSignals, security, timers, oomScoreAdj, List.of(), true,
                dev.cryo.engine.cgroups.CgroupMembership.NONE);
    }

    /** The same task with other VMAs (the dump fills in page counts once the pages are copied). */
    public TaskImage withVmas(List<VmaImage> newVmas) {
        return new TaskImage(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm, threads,
                newVmas, fds, sharedPendingSignals, security, timers, oomScoreAdj, ghostFiles, execed, cgroups, semUndo);
    }

    public TaskImage withFds(List<FdImage> newFds) {
        return new TaskImage(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm, threads,
                vmas, newFds, sharedPendingSignals, security, timers, oomScoreAdj, ghostFiles, execed, cgroups, semUndo);
    }

    /** The same task with its deleted files' contents put back ({@link GhostFile#apart()}). */
    public TaskImage withGhostFiles(List<GhostFile> newGhostFiles) {
        return new TaskImage(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm, threads,
                vmas, fds, sharedPendingSignals, security, timers, oomScoreAdj, newGhostFiles, execed, cgroups, semUndo);
    }

    public TaskImage withThreads(List<ThreadImage> newThreads) {
        return new TaskImage(ids, comm, exe, cwd, root, umask, personality, creds, rlimits, sigactions, mm,
                newThreads, vmas, fds, sharedPendingSignals, security, timers, oomScoreAdj, ghostFiles, execed, cgroups, semUndo);
    }

    public int pid() {
        return ids.pid();
    }
}
