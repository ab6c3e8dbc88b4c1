package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Registers;

/**
 * The last state step that injects (only Scheduling, from outside, follows): unmaps the bootstrap (the main thread's last injected call: at its
 * exit stop the int3 is never fetched) and installs every thread's dumped registers, with
 * syscall restarts done by hand. No syscall can be injected after it.
 */
public final class RegisterInstall implements StateStage {

    @Override
    public String name() {
        return "registers";
    }

    @Override
    public void run(TaskContext t) {
        t.call("munmap(bootstrap)", SyscallNr.MUNMAP, t.boot().address(), BootstrapArea.CODE_AND_DATA);
        t.positionFilesLast(); // a /proc/PID/maps the task reads on renders its layout without the bootstrap
        for (ThreadImage th : t.task().threads()) {
            t.tracer().setXstate(th.tid(), th.xstate());
            Registers fixed = t.resumeFrame(th.tid());
            Registers frame = fixed != null ? fixed : resumeFrame(t.pid(), new Registers(th.regs()));
            if (frame.origRax() >= 0) {
                toSignalCheck(t, th.tid());
            }
            t.tracer().setRegisters(th.tid(), frame);
            // SignalsHeld blocked every signal for the injected calls: the dumped mask goes back now
            t.tracer().setSigmask(th.tid(), th.sigmask());
            var traps = th.traps(); // last: once on, cryo's own syscalls could trap (no more are injected)
            if (traps.sudMode() != 0) {
                t.tracer().setSyscallUserDispatch(th.tid(), traps.sudMode(), traps.sudSelector(), traps.sudOffset(),
                        traps.sudLength());
            }
        }
    }

    /**
     * The frame a thread resumes with: a syscall interrupted by the dump is left to the kernel's own
     * restart logic (orig_rax its number, rax its -ERESTART* code), which runs as the thread leaves
     * {@link #toSignalCheck}: with no signal it runs the call again; a signal with a handler that
     * arrives before the thread runs (one sent the instant the restore returns) makes it fail with
     * EINTR, or restart under SA_RESTART, as it would have without the dump. Rewound by hand instead,
     * the handler ran and the call went on waiting (a pause() loop missed its signal for good).
     * A thread that was already resuming a call through restart_syscall (a stop had interrupted its
     * poll or futex wait before: job control, a debugger, an earlier {@code dump -R}) cannot resume it
     * so here: a restored task's restart block is not the dumped one (it may be a sleep of the stub
     * it was made from). The call is run again from its start when the code shows which it was
     * (glibc's {@code mov $nr, %eax; syscall}; its arguments are still in the registers), else it
     * fails with EINTR, as after a signal (what CRIU does for every restart block). Relative sleeps
     * are re-armed before, with their time left ({@code SleepHandler}). A restart block of the call
     * itself is treated alike (run again from its start, EINTR under a handler, as the kernel does).
     */
    public static Registers resumeFrame(Pid pid, Registers r) {
        long rax = r.rax();
        if (r.origRax() == SyscallNr.RESTART_SYSCALL && rax == -Errno.ERESTART_RESTARTBLOCK) {
            long nr = calledAt(pid, r.rip());
            return nr >= 0 ? r.with(Registers.ORIG_RAX, nr).with(Registers.RAX, -Errno.ERESTARTNOHAND)
                    : r.with(Registers.RAX, -Errno.EINTR).with(Registers.ORIG_RAX, -1);
        }
        if (r.origRax() >= 0 && rax == -Errno.ERESTART_RESTARTBLOCK) {
            return r.with(Registers.RAX, -Errno.ERESTARTNOHAND);
        }
        if (r.origRax() >= 0 && (rax == -Errno.ERESTARTSYS || rax == -Errno.ERESTARTNOINTR || rax == -Errno.ERESTARTNOHAND)) {
            return r;
        }
        // orig_rax = -1: no syscall to restart, the kernel must not apply its restart logic to rax
        return r.with(Registers.ORIG_RAX, -1);
    }

    /**
     * Moves a thread to an event stop inside the kernel's signal check (PTRACE_INTERRUPT, then on):
     * detached from there, the thread takes a pending signal or, with none, the syscall restart,
     * before it runs an instruction. From a syscall stop only a side effect of PTRACE_DETACH (it sets
     * TIF_SIGPENDING) sends it through that check; without it rax would read -ERESTART*. Every signal
     * is still blocked ({@link SignalsHeld}),
     * so none stops it on the way; the main thread's bootstrap is unmapped but never fetched.
     */
    private static void toSignalCheck(TaskContext t, int tid) {
        t.tracer().interrupt(tid);
        t.tracer().cont(tid, 0);
        t.tracer().waitForStop(tid);
    }

    /** The syscall whose {@code mov $nr, %eax; syscall} ends at {@code rip} in the restored task, or -1. */
    private static long calledAt(Pid pid, long rip) {
        byte[] code;
        try {
            code = Sys.read(pid, rip - 7, 7);
        } catch (RuntimeException e) {
            return -1;
        }
        if (code[0] != (byte) 0xb8 || code[5] != 0x0f || code[6] != 0x05) {
            return -1;
        }
        long nr = (code[1] & 0xff) | (code[2] & 0xff) << 8 | (code[3] & 0xff) << 16 | (long) (code[4] & 0xff) << 24;
        return nr == SyscallNr.RESTART_SYSCALL || nr > 1024 ? -1 : nr;
    }
}
