package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

/**
 * The stub's bootstrap area, and the exec a stub makes when the task it becomes had exec'd after
 * its fork: stat's PF_FORKNOEXEC is clear only after an exec, and a stub forked by clone3 has it set.
 */
public final class StubExec {
    /** What the stub runs: never a single instruction of it, the tracer stops it at the exec's end. */
    static final String PROGRAM = "/bin/sleep";

    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
    private static final int PROT_RWX = 7;

    private StubExec() {}

    /** Maps the bootstrap area (code + data) at its fixed address and makes its gadget the injection point. */
    public static void mapBootstrap(Injector inj, Pid pid, BootstrapArea boot) {
        long at = inj.call("mmap(bootstrap)", SyscallNr.MMAP, boot.address(), BootstrapArea.CODE_AND_DATA,
                PROT_RWX, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (at != boot.address()) {
            throw new KernelException("bootstrap area landed at 0x" + Long.toHexString(at) + " in pid " + pid);
        }
        Sys.write(pid, boot.address(), BootstrapArea.CODE);
        inj.gadget(boot.gadget());
    }

    /**
     * Execs {@link #PROGRAM} in a stub that waits in its bootstrap area (stopped at the syscall's
     * exit, before the program runs), maps the bootstrap area again in the new address space and
     * returns the injector to use from then on (the old one's saved registers are gone). A stub in
     * a container's root may find no {@link #PROGRAM} there (zdtm's ns roots hold only the tests and
     * their libraries): it then execs {@code fallback}, the task's own program in its view, or its
     * own through /proc/self/exe when there is none.
     */
    public static Injector exec(Tracer tracer, Injector inj, Pid pid, BootstrapArea boot, String fallback) {
        String program = PROGRAM;
        long r = execve(inj, pid, boot, program);
        if (r == -dev.cryo.kernel.Errno.ENOENT) {
            program = fallback != null && fallback.startsWith("/") ? fallback : "/proc/self/exe";
            r = execve(inj, pid, boot, program);
        }
        if (Injector.isError(r)) {
            throw new SyscallException("execve(" + program + ") in pid " + pid, (int) -r);
        }
        Injector fresh = new Injector(tracer, pid, pid.value(), SyscallGadget.inVdso(pid));
        mapBootstrap(fresh, pid, boot);
        return fresh;
    }

    private static long execve(Injector inj, Pid pid, BootstrapArea boot, String program) {
        long path = boot.data(), argv = boot.data() + 4096;
        Sys.write(pid, path, RemoteWriter.cString(program));
        Sys.write(pid, argv, new RemoteWriter(16).longs(path, 0).toBytes());
        return inj.raw(SyscallNr.EXECVE, path, argv, argv + 8);
    }
}
