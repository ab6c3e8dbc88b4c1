package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.List;

/**
 * A seized process seen from its tracer thread: a syscall gadget inside its own vDSO and a scratch
 * page mapped into it for syscall outputs. {@link #close} unmaps the page, leaving no trace.
 */
public final class RemoteTask implements AutoCloseable {
    public static final long PAGE = 4096;

    private final Tracer tracer;
    private final Pid pid;
    private final long gadget;
    private final long scratch;

    public RemoteTask(Tracer tracer, Pid pid, List<MapsEntry> maps) {
        this.tracer = tracer;
        this.pid = pid;
        MapsEntry vdso = maps.stream().filter(MapsEntry::isVdso).findFirst()
                .orElseThrow(() -> new KernelException("pid " + pid + " has no [vdso]: cannot inject syscalls"));
        this.gadget = SyscallGadget.find(pid, vdso.start(), vdso.end());
        try (Injector inj = injector(pid.value())) {
            this.scratch = inj.call("mmap", SyscallNr.MMAP, 0, PAGE, 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
        }
    }

    public Pid pid() {
        return pid;
    }

    public Tracer tracer() {
        return tracer;
    }

    public long scratch() {
        return scratch;
    }

    /** An injector for one stopped thread of this task; close it to put the thread's registers back. */
    public Injector injector(int tid) {
        return new Injector(tracer, pid, tid, gadget);
    }

    public byte[] readScratch(int len) {
        return Sys.read(pid, scratch, len);
    }

    @Override
    public void close() {
        try (Injector inj = injector(pid.value())) {
            inj.call("munmap", SyscallNr.MUNMAP, scratch, PAGE);
        }
    }
}
