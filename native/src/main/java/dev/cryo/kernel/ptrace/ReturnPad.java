package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.SyscallNr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A syscall gadget that is safe if the tracer vanishes. An injected syscall leaves the thread with
 * rip past a {@code syscall} instruction and most registers clobbered: if cryo dies there (or at
 * any stop of the injection), the kernel resumes the thread as it is and it crashes. A return pad
 * is a {@code syscall} followed by code that puts the thread's own signal mask back, reloads every
 * general register and the flags from a save area next to it and jumps back to the thread's own rip: a thread let go anywhere in an
 * injection through its pad just runs one harmless syscall and carries on where it was stopped.
 *
 * <p>The saved frame has the kernel's syscall-restart already applied (a thread stopped inside an
 * interrupted syscall resumes by re-running it, as the kernel would have done at the stop), since
 * the pad's jump back bypasses the kernel's restart logic. One pad per thread, {@link #SIZE}
 * bytes, in an executable and writable mapping of the target.
 */
public final class ReturnPad {
    public static final int SIZE = 512;
    /** Where the code after the pad's syscall instruction starts: jumping there takes the thread back. */
    public static final int RESUME = 2;

    private static final int SAVE = 256; // save area offset: 16 registers, rip, flags, signal mask
    private static final int RIP_SLOT = 16, FLAGS_SLOT = 17, MASK_SLOT = 18;
    private static final int SIG_SETMASK = 2;

    /** x86 register numbers (ModRM encoding) 0..15 and where each sits in user_regs_struct. */
    private static final int[] REGS = {Registers.RAX, Registers.RCX, Registers.RDX, Registers.RBX, Registers.RSP,
            Registers.RBP, Registers.RSI, Registers.RDI, Registers.R8, Registers.R9, Registers.R10, Registers.R11,
            Registers.R12, Registers.R13, Registers.R14, Registers.R15};
    private static final int RSP_NUMBER = 4;

    private ReturnPad() {}

    /**
     * The bytes of a pad returning to {@code regs} with the signal mask {@code sigmask} (the thread's
     * own: cryo blocks every signal while injected code runs); the gadget is its first byte.
     */
    public static byte[] build(Registers regs, long sigmask) {
        Registers back = restarted(regs);
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x0f).put((byte) 0x05); // syscall
        // lea rsp, [rip + stack top]: a private stack for the flags, so the target's red zone is untouched
        ripRelative(b, new byte[]{0x48, (byte) 0x8d, 0x25}, SIZE);
        // rt_sigprocmask(SIG_SETMASK, [mask slot], NULL, 8): rax, rcx, r11 are reloaded below, the flags survive
        b.put((byte) 0xb8).putInt(SyscallNr.RT_SIGPROCMASK); // mov eax, rt_sigprocmask
        b.put((byte) 0xbf).putInt(SIG_SETMASK); // mov edi, SIG_SETMASK
        ripRelative(b, new byte[]{0x48, (byte) 0x8d, 0x35}, slot(MASK_SLOT)); // lea rsi, [mask slot]
        b.put(new byte[]{0x31, (byte) 0xd2}); // xor edx, edx
        b.put(new byte[]{0x41, (byte) 0xba}).putInt(8); // mov r10d, 8
        b.put((byte) 0x0f).put((byte) 0x05); // syscall
        ripRelative(b, new byte[]{(byte) 0xff, 0x35}, slot(FLAGS_SLOT)); // push qword [flags]
        b.put((byte) 0x9d); // popfq
        for (int n = 0; n < 16; n++) {
            if (n == RSP_NUMBER) {
                continue;
            }
            // mov r64, [rip + slot n]: REX.W, REX.R for r8..r15
            ripRelative(b, new byte[]{(byte) (n < 8 ? 0x48 : 0x4c), (byte) 0x8b, (byte) (((n & 7) << 3) | 5)},
                    slot(n));
        }
        ripRelative(b, new byte[]{0x48, (byte) 0x8b, 0x25}, slot(RSP_NUMBER)); // mov rsp, [slot]
        ripRelative(b, new byte[]{(byte) 0xff, 0x25}, slot(RIP_SLOT)); // jmp qword [rip slot]
        if (b.position() > SAVE) {
            throw new IllegalStateException("return pad code overflows its save area");
        }
        b.position(SAVE);
        for (int n = 0; n < 16; n++) {
            b.putLong(back.get(REGS[n]));
        }
        b.putLong(back.rip());
        b.putLong(back.get(Registers.EFLAGS));
        b.putLong(sigmask);
        return b.array();
    }

    private static int slot(int n) {
        return SAVE + n * 8;
    }

    /** Emits {@code opcode disp32} with disp32 = target offset - end of the instruction. */
    private static void ripRelative(ByteBuffer b, byte[] opcode, int targetOffset) {
        b.put(opcode);
        int end = b.position() + 4;
        b.putInt(targetOffset - end);
    }

    /**
     * The frame the kernel would return to from the stop: a thread stopped in an interrupted
     * syscall re-runs it (rip back over the 2-byte syscall instruction), as with no handler to run.
     */
    static Registers restarted(Registers r) {
        if (r.origRax() < 0) {
            return r;
        }
        long err = -r.rax();
        if (err == Errno.ERESTARTSYS || err == Errno.ERESTARTNOINTR || err == Errno.ERESTARTNOHAND) {
            return r.with(Registers.RAX, r.origRax()).with(Registers.RIP, r.rip() - 2);
        }
        if (err == Errno.ERESTART_RESTARTBLOCK) {
            return r.with(Registers.RAX, SyscallNr.RESTART_SYSCALL).with(Registers.RIP, r.rip() - 2);
        }
        return r;
    }
}
