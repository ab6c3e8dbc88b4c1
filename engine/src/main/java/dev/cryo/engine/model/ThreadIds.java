package dev.cryo.engine.model;

import java.util.List;

/**
 * A thread's own real/effective/saved/fs user and group ids and supplementary groups, kept only
 * when they differ from its task's ({@link Creds}): a raw setresuid/setgroups syscall changes the
 * calling thread alone (glibc broadcasts its wrappers to every thread, the kernel does not).
 */
public record ThreadIds(List<Integer> uids, List<Integer> gids, List<Integer> groups) {
    public ThreadIds {
        uids = List.copyOf(uids);
        gids = List.copyOf(gids);
        groups = List.copyOf(groups);
    }
}
