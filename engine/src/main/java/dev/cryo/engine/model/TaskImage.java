package dev.cryo.engine.model;

import java.util.List;

/** One process of the tree: identity, process-wide state, its threads, memory layout and files. */
public record TaskImage(TaskIds ids, String comm, FileRef exe, String cwd, String root, int umask,
                        int personality, Creds creds, List<Rlimit> rlimits, List<SigAction> sigactions,
                        MmImage mm, List<ThreadImage> threads, List<VmaImage> vmas, List<FdImage> fds,
                        List<byte[]> sharedPendingSignals, SecurityImage security) {
    public TaskImage {
        rlimits = List.copyOf(rlimits);
        sigactions = List.copyOf(sigactions);
        threads = List.copyOf(threads);
        vmas = List.copyOf(vmas);
        fds = List.copyOf(fds);
        sharedPendingSignals = List.copyOf(sharedPendingSignals);
        java.util.Objects.requireNonNull(security, "security");
    }

    public int pid() {
        return ids.pid();
    }
}
