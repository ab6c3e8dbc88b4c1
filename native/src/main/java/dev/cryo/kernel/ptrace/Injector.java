package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallException;

import java.util.Arrays;

/**
 * Runs syscalls inside a stopped thread: saves its registers, points rip at a {@code syscall}
 * instruction already present in the target (its vDSO, or a bootstrap page), steps through
 * entry and exit stops and reads rax. {@link #close} puts the registers back exactly.
 * About 20 µs per call; no byte of the target's code is modified.
 */
public final class Injector implements AutoCloseable {
    private final Tracer tracer;
    private final Pid pid;
    private final int tid;
    private final Registers saved;
    private long gadget;
    private int calls;
    private boolean restoreOnClose = true;
    private long stack;
    private Runnable afterClose;

    public Injector(Tracer tracer, Pid pid, int tid, long gadget) {
        this.tracer = tracer;
        this.pid = pid;
        this.tid = tid;
        this.gadget = gadget;
        this.saved = tracer.getRegisters(tid);
    }

    public Registers savedRegisters() {
        return saved;
    }

    public int tid() {
        return tid;
    }

    public Pid pid() {
        return pid;
    }

    /** Number of syscalls injected so far. */
    public int calls() {
        return calls;
    }

    /** Where the injected syscalls run: a {@code syscall} instruction in the target. */
    public long gadget() {
        return gadget;
    }

    public void gadget(long address) {
        this.gadget = address;
    }

    /**
     * Injected syscalls run with this rsp instead of the thread's own (a {@link SigreturnRoute}
     * places its frame there).
     */
    public void stack(long rsp) {
        this.stack = rsp;
    }

    /** Runs once the registers are back, when this injector closes. */
    public void afterClose(Runnable action) {
        this.afterClose = action;
    }

    /** The registers an injected syscall {@code nr} starts from. */
    public Registers frameFor(int nr, long... args) {
        Registers frame = saved.forSyscall(gadget, nr, args);
        return stack == 0 ? frame : frame.with(Registers.RSP, stack);
    }

    /** Leave the thread's registers as the last call left them (restore installs its own frame). */
    public void keepRegistersOnClose() {
        this.restoreOnClose = false;
    }

    /** The raw return value: negative errno on failure, as the kernel gives it. */
    public long raw(int nr, long... args) {
        if (args.length > 6) {
            throw new IllegalArgumentException("a syscall takes at most 6 arguments");
        }
        tracer.setRegisters(tid, frameFor(nr, args));
        tracer.toNextSyscallStop(tid); // entry
        tracer.toNextSyscallStop(tid); // exit
        calls++;
        return tracer.getRegisters(tid).rax();
    }

    /** {@link #raw}, running {@code atEntry} while the thread sits at the syscall's entry stop. */
    public long rawAtEntry(Runnable atEntry, int nr, long... args) {
        if (args.length > 6) {
            throw new IllegalArgumentException("a syscall takes at most 6 arguments");
        }
        tracer.setRegisters(tid, frameFor(nr, args));
        tracer.toNextSyscallStop(tid); // entry
        atEntry.run();
        tracer.toNextSyscallStop(tid); // exit
        calls++;
        return tracer.getRegisters(tid).rax();
    }

    /**
     * Runs a blocking syscall that is interrupted as soon as it would wait (PTRACE_INTERRUPT at its
     * entry stop), the way a signal would interrupt it: it returns what the kernel returns then,
     * e.g. -ERESTART_RESTARTBLOCK from a sleep, having armed the thread's restart block.
     */
    public long rawInterrupted(int nr, long... args) {
        if (args.length > 6) {
            throw new IllegalArgumentException("a syscall takes at most 6 arguments");
        }
        tracer.setRegisters(tid, frameFor(nr, args));
        tracer.toNextSyscallStop(tid); // entry
        tracer.interrupt(tid);
        tracer.toNextSyscallStop(tid); // exit
        calls++;
        return tracer.getRegisters(tid).rax();
    }

    /**
     * Runs the syscall and throws on failure with a message naming it, e.g.
     * {@code mmap(0x0, 4096) in pid 4242: ENOMEM (Cannot allocate memory)}.
     */
    public long call(String name, int nr, long... args) {
        long r = raw(nr, args);
        if (r < 0 && r >= -4095) {
            throw failure(name, args, pid, r);
        }
        return r;
    }

    /** The failure {@link #call} throws for result {@code r} of call {@code name} with {@code args} in {@code pid}. */
    public static SyscallException failure(String name, long[] args, Pid pid, long r) {
        return new SyscallException(name + "(" + describeArgs(args) + ") in pid " + pid, (int) -r);
    }

    private static String describeArgs(long[] args) {
        StringBuilder b = new StringBuilder();
        for (long a : Arrays.copyOf(args, Math.min(args.length, 3))) {
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append(Math.abs(a) >= (1L << 24) ? "0x" + Long.toHexString(a) : Long.toString(a));
        }
        return b.toString();
    }

    public static boolean isError(long r) {
        return r < 0 && r >= -4095;
    }

    public static String errorText(long r) {
        return Errno.describe((int) -r);
    }

    @Override
    public void close() {
        if (restoreOnClose) {
            tracer.setRegisters(tid, saved);
        }
        if (afterClose != null) {
            Runnable action = afterClose;
            afterClose = null;
            action.run();
        }
    }
}
