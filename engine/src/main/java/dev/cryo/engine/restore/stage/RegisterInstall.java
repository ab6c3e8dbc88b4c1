package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Registers;

/**
 * Always the last state step: unmaps the bootstrap (the main thread's last injected call: at its
 * exit stop the int3 is never fetched) and installs every thread's dumped registers, with
 * syscall restarts done by hand. No syscall can be injected after it.
 */
public final class RegisterInstall implements StateStage {
    private static final int ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514,
            ERESTART_RESTARTBLOCK = 516;

    @Override
    public String name() {
        return "registers";
    }

    @Override
    public void run(TaskContext t) {
        t.call("munmap(bootstrap)", SyscallNr.MUNMAP, t.boot().address(), BootstrapArea.CODE_AND_DATA);
        for (ThreadImage th : t.task().threads()) {
            t.tracer().setXstate(th.tid(), th.xstate());
            Registers fixed = t.resumeFrame(th.tid());
            t.tracer().setRegisters(th.tid(), fixed != null ? fixed : resumeFrame(new Registers(th.regs())));
            // SignalsHeld blocked every signal for the injected calls: the dumped mask goes back now
            t.tracer().setSigmask(th.tid(), th.sigmask());
        }
    }

    /** The frame a thread resumes with: a syscall interrupted by the dump runs again, as the kernel would. */
    public static Registers resumeFrame(Registers r) {
        long rax = r.rax();
        if (r.origRax() >= 0 && (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND
                || rax == -ERESTART_RESTARTBLOCK)) {
            r = r.with(Registers.RAX, r.origRax()).with(Registers.RIP, r.rip() - 2);
        }
        // orig_rax = -1: at detach the kernel must not apply its own restart logic on top
        return r.with(Registers.ORIG_RAX, -1);
    }
}
