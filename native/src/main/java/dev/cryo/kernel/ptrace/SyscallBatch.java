package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcStatus;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Many syscalls run in a stopped thread in one ptrace round trip, instead of two stops each. A
 * few dozen bytes of code, written into the thread's executable scratch area next to a table of
 * calls, run every call of the table (storing each result over its number) and then send the
 * thread a signal it ignores: traced, the thread stops in a signal-delivery stop at a known
 * address and cryo takes it back (the signal is cryo's own and is discarded); untraced (cryo died
 * in the meantime) the kernel drops an ignored signal at once, and the code jumps into the
 * thread's {@link ReturnPad}, which takes it back to where it was stopped. So the batch is as safe
 * as a single injection through the pad.
 *
 * <p>The stop signal must be one the thread ignores by default or explicitly, catches nowhere,
 * does not block and has not pending ({@link #stopSignal}); without one (or without a return pad,
 * or under seccomp, which might refuse the final tgkill) callers inject call by call.
 */
public final class SyscallBatch {
    /** One entry of the table: number then six arguments; the result overwrites the number. */
    public static final int ENTRY = 56;
    /** The code's room before the table. */
    public static final int CODE = 128;

    /** A syscall and its arguments (at most six). */
    public record Call(int nr, long... args) {
        public Call {
            if (args.length > 6) {
                throw new IllegalArgumentException("a syscall takes at most 6 arguments");
            }
        }
    }

    private SyscallBatch() {}

    /**
     * Bytes a batch of {@code calls} calls takes at the start of its area: the code, the table
     * (with the closing unblock of the stop signal) and that signal's set.
     */
    public static int size(int calls) {
        return CODE + (calls + 1) * ENTRY + 8;
    }

    /**
     * A signal that stops the traced thread and is dropped without a trace if it is not traced:
     * ignored (by default or SIG_IGN), not caught, not blocked by the thread's own mask {@code mask},
     * not pending; 0 when none fits. {@code thread}: the thread's own /proc status, for its seccomp
     * mode and the signals its process catches (neither changes while it is frozen);
     * {@code pending}: {@link Tracer#pendingSignals}.
     */
    public static int stopSignal(ProcStatus thread, long mask, long pending) {
        return stopSignal(thread, mask, pending, false, null);
    }

    /**
     * As above; {@code goRuntime}: the process runs Go ({@link dev.cryo.kernel.proc.GoRuntime}), which
     * catches every signal but takes a spurious SIGURG as a preemption request that finds nothing to
     * do: the SIGURG that only a tracer dying mid-batch would let through is harmless there, and Go's
     * threads get one round trip per batch instead of one per call. For a thread under seccomp filters,
     * {@code filtersLetEnd} tells whether its filters let the batch end with a signal
     * ({@link #endsUnderFilters}); null, as for strict mode: no batch. A filter that refused the ending's
     * calls would let the thread run on where cryo waits for its stop.
     */
    public static int stopSignal(ProcStatus thread, long mask, long pending, boolean goRuntime,
                                 java.util.function.IntPredicate filtersLetEnd) {
        boolean filtered = thread.seccomp() != 0;
        if (filtered && (filtersLetEnd == null || thread.seccomp() != dev.cryo.kernel.Seccomp.MODE_FILTER)) {
            return 0;
        }
        for (int sig : new int[] {Signals.SIGURG, Signals.SIGWINCH}) {
            long bit = 1L << (sig - 1);
            long caught = goRuntime && sig == Signals.SIGURG ? 0 : thread.sigCgt();
            if (((caught | mask | pending) & bit) == 0 && (!filtered || filtersLetEnd.test(sig))) {
                return sig;
            }
        }
        return 0;
    }

    /**
     * Whether seccomp filters {@code filters} (oldest first or not: every one must allow) let a batch of
     * {@code calls} calls written at {@code at} end: its closing rt_sigprocmask, then getpid, gettid and
     * tgkill({@code tgid}, {@code tid}, {@code signal}) with the ids as the thread sees them. The batch's
     * own calls need no check: a filter treats them as it would the same calls injected one by one.
     */
    public static boolean endsUnderFilters(List<byte[]> filters, long at, int tgid, int tid, int signal, int calls) {
        long set = at + CODE + (calls + 1L) * ENTRY;
        return dev.cryo.kernel.SeccompVerdict.allowedByAll(filters, SyscallNr.RT_SIGPROCMASK, at + SYSCALL_ENDS[0],
                SIG_UNBLOCK, set, 0, 8)
                && dev.cryo.kernel.SeccompVerdict.allowedByAll(filters, SyscallNr.GETPID, at + SYSCALL_ENDS[1])
                && dev.cryo.kernel.SeccompVerdict.allowedByAll(filters, SyscallNr.GETTID, at + SYSCALL_ENDS[2])
                && dev.cryo.kernel.SeccompVerdict.allowedByAll(filters, SyscallNr.TGKILL, at + SYSCALL_ENDS[3],
                tgid, tid, signal);
    }

    /** Offsets just past the code's four syscall instructions (the table's loop, getpid, gettid, tgkill). */
    private static final int[] SYSCALL_ENDS = syscallEnds();

    private static int[] syscallEnds() {
        byte[] c = code(0, 1, 0, 0, 0, 0); // zero immediates: no other 0f 05 in it before the last jump's address
        int[] ends = new int[4];
        int found = 0;
        for (int i = 0; i + 1 < c.length - 12 && found < ends.length; i++) {
            if (c[i] == 0x0f && c[i + 1] == 0x05) {
                ends[found++] = i + 2;
            }
        }
        if (found != ends.length) {
            throw new IllegalStateException("the batch's code has " + found + " syscall instructions, not 4");
        }
        return ends;
    }

    /**
     * Runs {@code calls} in the thread of {@code inj}, whose gadget must be its return pad, with code
     * and table written at {@code at} (an executable, writable area of {@link #size} bytes at least)
     * and returns the raw results (negative errno on failure), in order. The thread is left with its
     * own registers, as if nothing had run. One batch at a time per area.
     */
    public static long[] run(Tracer tracer, Injector inj, long at, List<Call> calls, int stopSignal) {
        if (calls.isEmpty()) {
            return new long[0];
        }
        long stop = prepare(tracer, inj, at, calls, stopSignal);
        tracer.continueToOwnSignal(inj.pid().value(), inj.tid(), stopSignal, stop);
        // out of the code at once: the next batch of the task rewrites it (for another thread)
        tracer.setRegisters(inj.tid(), inj.savedRegisters());
        return results(inj, at, calls.size());
    }

    /** SIG_UNBLOCK for rt_sigprocmask. */
    private static final int SIG_UNBLOCK = 1;

    /**
     * A signal to end a batch in a task a restore is building: every signal is blocked there, so
     * any that is not {@code pending} ({@link Tracer#pendingSignals}) will do (the batch unblocks it
     * just before sending it). 0 when none fits.
     */
    public static int stopSignalWhileBuilt(long pending) {
        for (int sig : new int[] {Signals.SIGURG, Signals.SIGWINCH, Signals.SIGPWR}) {
            long bit = 1L << (sig - 1);
            if ((pending & bit) == 0) {
                return sig;
            }
        }
        return 0;
    }

    /**
     * Like {@link #run}, in a task a restore is building: it blocks every signal and dies with its
     * tracer (PTRACE_O_EXITKILL), so there is no way back to prepare (no return pad); every signal
     * is blocked again afterwards. {@code stopSignal}: chosen by {@link #stopSignalWhileBuilt};
     * {@code at}: an executable, writable area of {@link #size} bytes; {@code park}: where an
     * untraced thread would wait (never reached while the tracer lives). One round trip however
     * many calls.
     */
    public static long[] runWhileBuilt(Tracer tracer, Injector inj, long at, List<Call> calls, int stopSignal,
                                       long park) {
        if (calls.isEmpty()) {
            return new long[0];
        }
        write(inj, at, calls, stopSignal, park);
        tracer.setRegisters(inj.tid(), inj.savedRegisters().forSyscall(at, 0, new long[0]));
        tracer.continueToOwnSignal(inj.pid().value(), inj.tid(), stopSignal, at + STOP);
        tracer.setSigmask(inj.tid(), -1L);
        return results(inj, at, calls.size());
    }

    /**
     * Writes the code, the table and the stop signal's set at {@code at}. The table ends with the
     * unblock of the stop signal: the thread may be running with every signal blocked (a task a
     * restore builds, a dumped thread whose signals stay queued) and must still take it.
     */
    private static void write(Injector inj, long at, List<Call> calls, int stopSignal, long after) {
        long set = at + CODE + (calls.size() + 1L) * ENTRY;
        java.util.ArrayList<Call> all = new java.util.ArrayList<>(calls);
        all.add(new Call(SyscallNr.RT_SIGPROCMASK, SIG_UNBLOCK, set, 0, 8));
        byte[] code = build(at, all, inj.pid().value(), inj.tid(), stopSignal, after);
        byte[] withSet = java.util.Arrays.copyOf(code, code.length + 8);
        ByteBuffer.wrap(withSet, code.length, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << (stopSignal - 1));
        Sys.write(inj.pid(), at, withSet);
    }

    /** The results of the {@code n} calls, once the closing unblock is known to have worked. */
    private static long[] results(Injector inj, long at, int n) {
        ByteBuffer table = ByteBuffer.wrap(Sys.read(inj.pid(), at + CODE, (n + 1) * ENTRY))
                .order(ByteOrder.LITTLE_ENDIAN);
        long unblocked = table.getLong(n * ENTRY);
        if (unblocked != 0) {
            throw new dev.cryo.kernel.SyscallException("rt_sigprocmask(SIG_UNBLOCK) ending a batch in tid " + inj.tid(),
                    (int) -unblocked);
        }
        long[] out = new long[n];
        for (int i = 0; i < out.length; i++) {
            out[i] = table.getLong(i * ENTRY);
        }
        return out;
    }

    /**
     * Writes the code and table at {@code at} and points the thread at them (it runs them when
     * resumed); returns the address where the traced thread will stop.
     */
    public static long prepare(Tracer tracer, Injector inj, long at, List<Call> calls, int stopSignal) {
        write(inj, at, calls, stopSignal, inj.gadget() + ReturnPad.RESUME);
        tracer.setRegisters(inj.tid(), inj.savedRegisters().forSyscall(at, 0, new long[0]));
        return at + STOP;
    }

    /** Offset of the instruction after the final tgkill: where the traced thread stops. */
    static final int STOP = code(0, 1, 0, 0, 0, 0).length - 12; // mov rax, imm64 + jmp rax follow it

    /** The code followed by the table, as written at {@code at}. */
    static byte[] build(long at, List<Call> calls, int tgid, int tid, int stopSignal, long resume) {
        byte[] code = code(at, calls.size(), tgid, tid, stopSignal, resume);
        ByteBuffer b = ByteBuffer.allocate(CODE + calls.size() * ENTRY).order(ByteOrder.LITTLE_ENDIAN);
        b.put(code);
        b.position(CODE);
        for (Call c : calls) {
            b.putLong(c.nr());
            for (int i = 0; i < 6; i++) {
                b.putLong(i < c.args().length ? c.args()[i] : 0);
            }
        }
        return b.array();
    }

    /**
     * x86-64: rbx walks the table, r12 counts down (both survive syscalls); rcx and r11 are
     * clobbered by syscall, every register is reloaded by the return pad anyway.
     */
    private static byte[] code(long at, int count, int tgid, int tid, int stopSignal, long resume) {
        ByteBuffer b = ByteBuffer.allocate(CODE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x48, (byte) 0x8d, 0x1d}); // lea rbx, [rip + table]
        b.putInt(CODE - (b.position() + 4));
        b.put(new byte[] {0x41, (byte) 0xbc}).putInt(count); // mov r12d, count
        int loop = b.position();
        b.put(new byte[] {0x48, (byte) 0x8b, 0x03}); // mov rax, [rbx]
        b.put(new byte[] {0x48, (byte) 0x8b, 0x7b, 0x08}); // mov rdi, [rbx+8]
        b.put(new byte[] {0x48, (byte) 0x8b, 0x73, 0x10}); // mov rsi, [rbx+16]
        b.put(new byte[] {0x48, (byte) 0x8b, 0x53, 0x18}); // mov rdx, [rbx+24]
        b.put(new byte[] {0x4c, (byte) 0x8b, 0x53, 0x20}); // mov r10, [rbx+32]
        b.put(new byte[] {0x4c, (byte) 0x8b, 0x43, 0x28}); // mov r8, [rbx+40]
        b.put(new byte[] {0x4c, (byte) 0x8b, 0x4b, 0x30}); // mov r9, [rbx+48]
        b.put(new byte[] {0x0f, 0x05}); // syscall
        b.put(new byte[] {0x48, (byte) 0x89, 0x03}); // mov [rbx], rax
        b.put(new byte[] {0x48, (byte) 0x83, (byte) 0xc3, ENTRY}); // add rbx, ENTRY
        b.put(new byte[] {0x41, (byte) 0xff, (byte) 0xcc}); // dec r12d
        b.put((byte) 0x75).put((byte) (loop - (b.position() + 1))); // jnz loop
        // the thread names itself as it sees itself: inside a pid namespace its pids are not cryo's
        b.put((byte) 0xb8).putInt(SyscallNr.GETPID); // mov eax, getpid
        b.put(new byte[] {0x0f, 0x05}); // syscall
        b.put(new byte[] {(byte) 0x89, (byte) 0xc7}); // mov edi, eax
        b.put((byte) 0xb8).putInt(SyscallNr.GETTID); // mov eax, gettid
        b.put(new byte[] {0x0f, 0x05}); // syscall
        b.put(new byte[] {(byte) 0x89, (byte) 0xc6}); // mov esi, eax
        b.put((byte) 0xb8).putInt(SyscallNr.TGKILL); // mov eax, tgkill
        b.put((byte) 0xba).putInt(stopSignal); // mov edx, signal
        b.put(new byte[] {0x0f, 0x05}); // syscall: the traced thread stops right after it
        b.put(new byte[] {0x48, (byte) 0xb8}).putLong(resume); // mov rax, pad's way back
        b.put(new byte[] {(byte) 0xff, (byte) 0xe0}); // jmp rax
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
