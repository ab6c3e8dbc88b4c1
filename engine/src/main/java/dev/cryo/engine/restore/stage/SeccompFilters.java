package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.SeccompFilter;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.Seccomp;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;

import java.util.ArrayList;
import java.util.List;

/**
 * Puts every thread back under its seccomp mode and filters. Runs just before {@link Credentials},
 * as CRIU does: installing a filter needs CAP_SYS_ADMIN or no_new_privs, and the task may have
 * neither once its credentials are back. First every thread of the task gets
 * PTRACE_O_SUSPEND_SECCOMP, so the syscalls cryo still injects afterwards (credentials, signals,
 * the final munmap) are never judged by the filter; the option ends with the detach, and from then
 * on the filter applies. The part of the chains that every thread shares is installed once from the
 * main thread with SECCOMP_FILTER_FLAG_TSYNC, so the threads share it again as the kernel sees it
 * (a later TSYNC by the program behaves as before); what a thread stacked alone is installed in that
 * thread. Strict mode is entered per thread.
 */
public final class SeccompFilters implements StateStage {
    private static final int PROT_RW = 3, MAP_PRIVATE_ANON = 0x22;

    @Override
    public String name() {
        return "seccomp";
    }

    @Override
    public void run(TaskContext t) {
        List<ThreadImage> threads = t.task().threads();
        if (threads.stream().allMatch(th -> th.security().seccompMode() == Seccomp.MODE_DISABLED)) {
            return;
        }
        for (ThreadImage th : threads) {
            t.tracer().setOptions(th.tid(), StubAdoption.TRACE_OPTIONS | Ptrace.O_SUSPEND_SECCOMP);
        }
        SecurityImage sec = t.task().security();
        List<List<Integer>> chains = new ArrayList<>();
        for (ThreadImage th : threads) {
            chains.add(th.security().seccompMode() == Seccomp.MODE_FILTER
                    ? sec.chain(th.security().seccompFilter()) : List.of());
        }
        int shared = commonPrefix(chains);
        for (int i = 0; i < shared; i++) {
            install(t, t.main(), sec, chains.get(0).get(i), Seccomp.FILTER_FLAG_TSYNC);
        }
        for (int n = 0; n < threads.size(); n++) {
            ThreadImage th = threads.get(n);
            Injector inj = t.injector(th.tid());
            List<Integer> chain = chains.get(n);
            for (int i = shared; i < chain.size(); i++) {
                install(t, inj, sec, chain.get(i), 0);
            }
            if (th.security().seccompMode() == Seccomp.MODE_STRICT) {
                inj.call("prctl(PR_SET_SECCOMP, strict) in tid " + th.tid(), SyscallNr.PRCTL, Prctl.PR_SET_SECCOMP,
                        Seccomp.MODE_STRICT);
            }
        }
    }

    /** How many filters, from the oldest, every thread's chain has in common. */
    static int commonPrefix(List<List<Integer>> chains) {
        int n = chains.stream().mapToInt(List::size).min().orElse(0);
        for (int i = 0; i < n; i++) {
            int at = chains.get(0).get(i);
            final int k = i;
            if (!chains.stream().allMatch(c -> c.get(k) == at)) {
                return i;
            }
        }
        return n;
    }

    private static void install(TaskContext t, Injector inj, SecurityImage sec, int index, int extraFlags) {
        SeccompFilter f = sec.seccompFilters().get(index);
        byte[] program = f.program();
        long len = Seccomp.FPROG_SIZE + program.length;
        boolean fits = len <= BootstrapArea.DATA_SIZE;
        // a long program (up to 32 KiB) does not fit the bootstrap data area: borrow a page run
        long at = fits ? t.boot().data() : t.call("mmap(seccomp program)", SyscallNr.MMAP, 0, len, PROT_RW,
                MAP_PRIVATE_ANON, -1, 0);
        try {
            byte[] fprog = new RemoteWriter(Seccomp.FPROG_SIZE).longs(program.length / Seccomp.INSN_SIZE, at + Seccomp.FPROG_SIZE)
                    .toBytes();
            dev.cryo.kernel.Sys.write(t.pid(), at, fprog);
            dev.cryo.kernel.Sys.write(t.pid(), at + Seccomp.FPROG_SIZE, program);
            long r = inj.raw(SyscallNr.SECCOMP, Seccomp.SET_MODE_FILTER, f.flags() | extraFlags, at);
            if (r != 0) {
                String why = Injector.isError(r) ? Injector.errorText(r)
                        : "thread " + r + " cannot share the filter chain";
                throw new RestoreException("pid " + t.pid() + " tid " + inj.tid() + ": seccomp filter " + index + " ("
                        + f.instructions() + " instructions) cannot be installed: " + why);
            }
        } finally {
            if (!fits) {
                t.call("munmap(seccomp program)", SyscallNr.MUNMAP, at, len);
            }
        }
    }
}
