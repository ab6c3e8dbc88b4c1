package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.LibC;
import dev.cryo.kernel.SyscallException;

import com.sun.jna.Native;

/**
 * Raw ptrace requests. Every call must come from the OS thread that seized the tracee (the kernel
 * answers ESRCH otherwise); {@link Tracer} enforces that, this class only translates.
 */
public final class Ptrace {
    private Ptrace() {}

    static final int PTRACE_NR = 101;

    public static final int CONT = 7, DETACH = 17, SYSCALL = 24, SETOPTIONS = 0x4200, GETEVENTMSG = 0x4201,
            GETSIGINFO = 0x4202, GETREGSET = 0x4204, SETREGSET = 0x4205, SEIZE = 0x4206, INTERRUPT = 0x4207,
            LISTEN = 0x4208, PEEKSIGINFO = 0x4209, GETSIGMASK = 0x420a, SETSIGMASK = 0x420b,
            SECCOMP_GET_FILTER = 0x420c, SECCOMP_GET_METADATA = 0x420d, GET_RSEQ_CONFIGURATION = 0x420f,
            SET_SYSCALL_USER_DISPATCH = 0x4210, GET_SYSCALL_USER_DISPATCH = 0x4211;

    public static final int O_TRACESYSGOOD = 1, O_TRACEFORK = 2, O_TRACEVFORK = 4, O_TRACECLONE = 8,
            O_TRACEEXEC = 0x10, O_TRACEEXIT = 0x40, O_EXITKILL = 0x100000,
            O_SUSPEND_SECCOMP = 0x200000;

    public static final int EVENT_FORK = 1, EVENT_VFORK = 2, EVENT_CLONE = 3, EVENT_EXEC = 4, EVENT_EXIT = 6,
            EVENT_STOP = 128;

    public static final int NT_PRSTATUS = 1, NT_X86_XSTATE = 0x202;

    public static final int PEEKSIGINFO_SHARED = 1;
    public static final int SIGINFO_SIZE = 128;

    static String requestName(int request) {
        return switch (request) {
            case CONT -> "PTRACE_CONT";
            case DETACH -> "PTRACE_DETACH";
            case SYSCALL -> "PTRACE_SYSCALL";
            case SETOPTIONS -> "PTRACE_SETOPTIONS";
            case GETEVENTMSG -> "PTRACE_GETEVENTMSG";
            case GETSIGINFO -> "PTRACE_GETSIGINFO";
            case GETREGSET -> "PTRACE_GETREGSET";
            case SETREGSET -> "PTRACE_SETREGSET";
            case SEIZE -> "PTRACE_SEIZE";
            case INTERRUPT -> "PTRACE_INTERRUPT";
            case LISTEN -> "PTRACE_LISTEN";
            case PEEKSIGINFO -> "PTRACE_PEEKSIGINFO";
            case GETSIGMASK -> "PTRACE_GETSIGMASK";
            case SETSIGMASK -> "PTRACE_SETSIGMASK";
            case GET_RSEQ_CONFIGURATION -> "PTRACE_GET_RSEQ_CONFIGURATION";
            case SET_SYSCALL_USER_DISPATCH -> "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG";
            case GET_SYSCALL_USER_DISPATCH -> "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG";
            case SECCOMP_GET_FILTER -> "PTRACE_SECCOMP_GET_FILTER";
            case SECCOMP_GET_METADATA -> "PTRACE_SECCOMP_GET_METADATA";
            default -> "ptrace request " + request;
        };
    }

    /** ptrace(request, tid, addr, data), throwing {@code ptrace(PTRACE_X, pid N): ERRNO (text)}. */
    public static long request(int request, int tid, long addr, long data) {
        long r = LibC.syscall(PTRACE_NR, request, tid, addr, data, 0, 0);
        if (r == -1) {
            throw new SyscallException("ptrace(" + requestName(request) + ", pid " + tid + ")", Native.getLastError());
        }
        return r;
    }

    /** Like {@link #request} but returns -errno instead of throwing, for probes and races. */
    public static long tryRequest(int request, int tid, long addr, long data) {
        long r = LibC.syscall(PTRACE_NR, request, tid, addr, data, 0, 0);
        return r == -1 ? -Native.getLastError() : r;
    }


}
