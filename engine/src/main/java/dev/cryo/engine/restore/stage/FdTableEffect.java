package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

import java.util.Set;

/**
 * What a syscall does to the fd table of the task that makes it, as far as its number, arguments
 * and result tell: so the table cryo models for queued opens ({@link TaskContext#openQueued}) stays
 * known across the calls made between them.
 */
final class FdTableEffect {
    private FdTableEffect() {}

    /** Calls that neither open nor close an fd, whatever their arguments. */
    static final Set<Integer> NEUTRAL = Set.of(SyscallNr.RT_SIGACTION, SyscallNr.PRLIMIT64, SyscallNr.CHDIR,
            SyscallNr.UMASK, SyscallNr.PERSONALITY, SyscallNr.PRCTL, SyscallNr.RSEQ, SyscallNr.SET_ROBUST_LIST,
            SyscallNr.SET_TID_ADDRESS, SyscallNr.SIGALTSTACK, SyscallNr.ARCH_PRCTL, SyscallNr.MMAP, SyscallNr.MREMAP,
            SyscallNr.MPROTECT, SyscallNr.MADVISE, SyscallNr.MUNMAP, SyscallNr.MLOCK2, SyscallNr.MSEAL);

    /** More of them, which {@link TaskContext#later} never queues while it models the table. */
    private static final Set<Integer> ALSO_NEUTRAL = Set.of(SyscallNr.LSEEK, SyscallNr.BIND, SyscallNr.LISTEN,
            SyscallNr.CONNECT, SyscallNr.SETSOCKOPT, SyscallNr.GETSOCKOPT, SyscallNr.SHUTDOWN, SyscallNr.FCHDIR,
            SyscallNr.SETRESUID, SyscallNr.SETRESGID, SyscallNr.SETFSUID, SyscallNr.SETFSGID, SyscallNr.SETGROUPS,
            SyscallNr.GETGROUPS, SyscallNr.SENDMSG, SyscallNr.SENDTO, SyscallNr.EPOLL_CTL, SyscallNr.TIMERFD_SETTIME,
            SyscallNr.INOTIFY_ADD_WATCH, SyscallNr.FANOTIFY_MARK, SyscallNr.WRITE, SyscallNr.PWRITE64);

    /** Calls whose result is the one new fd they open. */
    private static final Set<Integer> OPENS = Set.of(SyscallNr.OPENAT, SyscallNr.OPEN, SyscallNr.SOCKET,
            SyscallNr.PIDFD_GETFD, SyscallNr.PIDFD_OPEN, SyscallNr.EVENTFD2, SyscallNr.MEMFD_CREATE,
            SyscallNr.EPOLL_CREATE1, SyscallNr.INOTIFY_INIT1, SyscallNr.TIMERFD_CREATE, SyscallNr.FANOTIFY_INIT,
            SyscallNr.USERFAULTFD, SyscallNr.DUP);

    /**
     * Applies call {@code nr} with {@code args}, which returned {@code r}, to {@code table}; false
     * when what it did to the table is not known (a received fd, a call not listed here).
     */
    static boolean apply(Set<Integer> table, int nr, long[] args, long r) {
        if (NEUTRAL.contains(nr) || ALSO_NEUTRAL.contains(nr)) {
            return true;
        }
        if (OPENS.contains(nr) || nr == SyscallNr.SIGNALFD4 && args[0] == -1
                || nr == SyscallNr.FCNTL && (args[1] == Fcntl.F_DUPFD || args[1] == Fcntl.F_DUPFD_CLOEXEC)) {
            table.add((int) r);
            return true;
        }
        if (nr == SyscallNr.FCNTL || nr == SyscallNr.SIGNALFD4) {
            return true; // its other commands change an fd's flags or owner; an existing signalfd's mask
        }
        if (nr == SyscallNr.CLOSE) {
            table.remove((int) args[0]);
            return true;
        }
        if (nr == SyscallNr.DUP3) {
            table.add((int) args[1]);
            return true;
        }
        return false;
    }
}
