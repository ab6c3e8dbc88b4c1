package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.SeccompFilter;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.ThreadIds;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.Seccomp;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStatus;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Capabilities, securebits, no_new_privs and seccomp of each thread, and the process-wide
 * dumpable and child-subreaper flags. Seccomp filters are read with PTRACE_SECCOMP_GET_FILTER and
 * put in one table per task: two threads whose chains hold the same programs in the same order
 * share the entries (the kernel offers no kcmp for filters; content is what TSYNC and inheritance
 * make identical). Refuses what cannot be put back: filters that hand syscalls to a user-space
 * supervisor (SECCOMP_RET_USER_NOTIF, whose listener fd cryo cannot carry) and a dumpable mode
 * prctl cannot set.
 */
final class SecurityCollector {
    private final Tracer tracer;
    private final Pid pid;
    /** A thread's filter programs, oldest first, as its task read them for its batches. */
    private final java.util.function.IntFunction<List<byte[]>> programs;
    private final List<SeccompFilter> filters = new ArrayList<>();
    private final Map<Key, Integer> index = new HashMap<>();

    private record Key(int parent, int flags, ByteBuffer program) {}

    SecurityCollector(RemoteTask remote) {
        this.tracer = remote.tracer();
        this.pid = remote.pid();
        this.programs = remote::seccompPrograms;
    }

    /** One stopped thread; {@code inj} runs inside it (securebits are only readable by the thread). */
    ThreadSecurity thread(Injector inj, int tid) {
        return thread(tid, (int) inj.call("prctl(PR_GET_SECUREBITS)", SyscallNr.PRCTL, Prctl.PR_GET_SECUREBITS));
    }

    /** As {@link #thread(Injector, int)}, with the securebits read already (the thread's batch). */
    ThreadSecurity thread(int tid, int securebits) {
        ProcStatus s = ProcFs.status(pid, Pid.of(tid));
        ProcStatus leader = ProcFs.status(pid);
        // a raw setresuid/setgroups in one thread (glibc's wrappers broadcast to all) leaves it ids of its own
        ThreadIds own = s.uids().equals(leader.uids()) && s.gids().equals(leader.gids())
                && s.groups().equals(leader.groups()) ? null
                : new ThreadIds(s.uids().asList(), s.gids().asList(), s.groups());
        int newest = -1;
        if (s.seccomp() == Seccomp.MODE_FILTER) {
            newest = filters(tid, s.value("Seccomp_filters").map(Integer::parseInt).orElse(-1));
        } else if (s.seccomp() != Seccomp.MODE_DISABLED && s.seccomp() != Seccomp.MODE_STRICT) {
            throw new DumpException("pid " + pid + " tid " + tid + ": unknown seccomp mode " + s.seccomp());
        }
        return new ThreadSecurity(s.capInh(), s.capPrm(), s.capEff(), s.capBnd(), s.capAmb(), securebits,
                s.noNewPrivs(), s.seccomp(), newest, own);
    }

    /** Reads the thread's chain oldest-first into the table; returns the index of its newest filter. */
    private int filters(int tid, int expected) {
        List<byte[]> programs;
        List<Integer> flags = new ArrayList<>();
        try {
            programs = this.programs.apply(tid);
            for (int i = 0; i < programs.size(); i++) {
                byte[] program = programs.get(i);
                if (Seccomp.returnsUserNotif(program)) {
                    throw new DumpException("pid " + pid + " tid " + tid + ": seccomp filter " + i
                            + " (counting from the oldest) can return SECCOMP_RET_USER_NOTIF: a filter with a "
                            + "user-space supervisor (listener fd) is not supported");
                }
                flags.add((int) tracer.seccompFilterFlags(tid, i) & Seccomp.FILTER_FLAG_LOG);
            }
        } catch (KernelException e) {
            throw new DumpException("pid " + pid + " tid " + tid + ": cannot read its seccomp filters: "
                    + e.getMessage(), e);
        }
        if (programs.isEmpty() || (expected >= 0 && expected != programs.size())) {
            throw new DumpException("pid " + pid + " tid " + tid + ": /proc says " + expected
                    + " seccomp filters, PTRACE_SECCOMP_GET_FILTER gave " + programs.size());
        }
        int parent = -1;
        for (int i = 0; i < programs.size(); i++) {
            Key key = new Key(parent, flags.get(i), ByteBuffer.wrap(programs.get(i)));
            Integer at = index.get(key);
            if (at == null) {
                at = filters.size();
                filters.add(new SeccompFilter(parent, flags.get(i), programs.get(i)));
                index.put(key, at);
            }
            parent = at;
        }
        return parent;
    }

    /** Process-wide flags, read in the main thread; call after every thread. */
    SecurityImage task(Injector inj, RemoteTask remote) {
        int dumpable = (int) inj.call("prctl(PR_GET_DUMPABLE)", SyscallNr.PRCTL, Prctl.PR_GET_DUMPABLE);
        inj.call("prctl(PR_GET_CHILD_SUBREAPER)", SyscallNr.PRCTL, Prctl.PR_GET_CHILD_SUBREAPER, remote.scratch());
        return task(dumpable, ThreadCollector.le(remote.readScratch(4)).getInt(0) != 0);
    }

    /** As {@link #task(Injector, RemoteTask)}, from the flags read already (the main thread's batch). */
    SecurityImage task(int dumpable, boolean subreaper) {
        if (dumpable != 0 && dumpable != 1) {
            throw new DumpException("pid " + pid + ": its dumpable flag is " + dumpable
                    + " (set by the kernel after a set-user-id exec), which prctl(PR_SET_DUMPABLE) cannot set back");
        }
        return new SecurityImage(dumpable, subreaper, filters, loginuid(pid));
    }

    /** The main thread's audit login uid (threads inherit it; only a task itself can change its own). */
    static long loginuid(Pid pid) {
        try {
            return Long.parseLong(ProcFs.text(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/loginuid").trim());
        } catch (RuntimeException e) { // a kernel without audit syscall support has no such file
            return SecurityImage.LOGINUID_UNSET;
        }
    }
}
