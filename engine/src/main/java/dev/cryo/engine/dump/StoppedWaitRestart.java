package dev.cryo.engine.dump;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.Tracer;

/**
 * Linux fails a few waits with EINTR when their thread is merely stopped and resumed, no handler
 * involved (signal(7): semop/semtimedop, epoll_wait/epoll_pwait, sigwaitinfo/sigtimedwait), and
 * PTRACE_INTERRUPT is such a stop: a thread the seize found blocked in one returns EINTR to the
 * program, once it runs again after a dump that left it running, and in the restored tree (DMTCP's
 * sysv-sem: the client's semop returned EINTR after the restore and it exited; an epoll loop that
 * treats EINTR as fatal stops). Right after the seize, such a thread has just left the call with
 * -EINTR (orig_rax its number) and has not run since: its result becomes -ERESTARTNOHAND, the code
 * the kernel gives the waits it restarts, so the resume (the kernel's restart logic at the detach,
 * RegisterInstall in a restore) runs the call again, and a handler's signal that comes first still
 * makes it fail with EINTR, as without the dump.
 *
 * <p>Only waits with no time limit: one with a timeout would start its whole time again. Nor those
 * changing the signal mask for the wait (epoll_pwait with a mask), whose saved mask the restart path
 * would lose.
 */
final class StoppedWaitRestart {
    private StoppedWaitRestart() {}

    static void apply(Tracer tracer, int tid) {
        try {
            Registers r = tracer.getRegisters(tid);
            if (r.rax() == -Errno.EINTR && untimed(r)) {
                tracer.setRegisters(tid, r.with(Registers.RAX, -Errno.ERESTARTNOHAND));
            }
        } catch (KernelException e) {
            // the thread is gone: nothing to resume
        }
    }

    /** A wait without a time limit nor a signal mask of its own, whose EINTR the stop alone may cause. */
    static boolean untimed(Registers r) {
        long nr = r.origRax();
        long rdx = r.get(Registers.RDX), r10 = r.get(Registers.R10), r8 = r.get(Registers.R8); // arguments 3, 4, 5
        if (nr == SyscallNr.SEMOP) {
            return true;
        }
        if (nr == SyscallNr.SEMTIMEDOP) {
            return r10 == 0; // semop's own call: no timeout
        }
        if (nr == SyscallNr.EPOLL_WAIT) {
            return (int) r10 == -1;
        }
        if (nr == SyscallNr.EPOLL_PWAIT) {
            return (int) r10 == -1 && r8 == 0;
        }
        if (nr == SyscallNr.EPOLL_PWAIT2) {
            return r10 == 0 && r8 == 0;
        }
        if (nr == SyscallNr.RT_SIGTIMEDWAIT) {
            return rdx == 0; // sigwaitinfo: no timeout
        }
        return false;
    }
}
