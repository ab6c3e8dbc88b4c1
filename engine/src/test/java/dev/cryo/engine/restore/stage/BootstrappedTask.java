package dev.cryo.engine.restore.stage;

import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.List;
import java.util.Set;

/**
 * A running test program held as a restore holds its tasks: seized, every signal blocked, cryo's
 * bootstrap code mapped in it and an injector on its main thread. {@link #close} unmaps the code,
 * gives the signal mask back and lets the program go on.
 */
final class BootstrappedTask implements AutoCloseable {
    private static final int PROT_RWX = 7, MAP_PRIVATE_ANON = 0x22;

    final Injector inj;
    final long bootAt;
    private final Tracer tracer;
    private final Pid pid;
    private final List<Integer> tids;
    private final long mask;

    BootstrappedTask(Tracer tracer, Pid pid) {
        this.tracer = tracer;
        this.pid = pid;
        tids = TaskSeizer.seize(tracer, pid);
        mask = tracer.getSigmask(pid.value());
        tracer.setSigmask(pid.value(), -1L); // as a task being restored
        inj = new Injector(tracer, pid, pid.value(), SyscallGadget.inVdso(pid));
        bootAt = inj.call("mmap", SyscallNr.MMAP, 0, BootstrapArea.CODE_AND_DATA, PROT_RWX, MAP_PRIVATE_ANON, -1, 0);
        Sys.write(pid, bootAt, BootstrapArea.CODE);
    }

    /** A restore's context for {@code task}, run through this task's injector. */
    TaskContext context(TaskImage task) {
        TaskContext t = new TaskContext(tracer, task, new BootstrapArea(bootAt), Set.of(pid.value()));
        t.main(inj);
        return t;
    }

    @Override
    public void close() {
        inj.call("munmap", SyscallNr.MUNMAP, bootAt, BootstrapArea.CODE_AND_DATA);
        inj.close();
        tracer.setSigmask(pid.value(), mask);
        TaskSeizer.release(tracer, pid, tids);
    }
}
