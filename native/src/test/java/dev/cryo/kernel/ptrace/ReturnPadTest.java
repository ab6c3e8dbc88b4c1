package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.SyscallNr;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ReturnPadTest {
    private static Registers regs(long rax, long origRax, long rip) {
        long[] w = new long[Registers.WORDS];
        w[Registers.RAX] = rax;
        w[Registers.ORIG_RAX] = origRax;
        w[Registers.RIP] = rip;
        return new Registers(w);
    }

    @Test
    void aThreadStoppedInAnInterruptedSyscallGoesBackIntoIt() {
        Registers r = ReturnPad.restarted(regs(-512, 0, 0x1002));
        assertEquals(0, r.rax());
        assertEquals(0x1000, r.rip());
        Registers sleep = ReturnPad.restarted(regs(-516, 35, 0x2002));
        assertEquals(SyscallNr.RESTART_SYSCALL, sleep.rax());
        assertEquals(0x2000, sleep.rip());
    }

    @Test
    void aThreadStoppedOutsideASyscallOrAfterOneGoesBackAsItWas() {
        Registers user = regs(-512, -1, 0x1002);
        assertEquals(user, ReturnPad.restarted(user));
        Registers done = regs(-4, 0, 0x1002); // EINTR: the kernel does not restart it either
        assertEquals(done, ReturnPad.restarted(done));
    }

    @Test
    void theCodeStartsWithTheSyscallAndEndsBeforeTheSaveArea() {
        long[] w = new long[Registers.WORDS];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0x1111L * (i + 1);
        }
        w[Registers.ORIG_RAX] = -1;
        byte[] pad = ReturnPad.build(new Registers(w), 0x4002L);
        assertEquals(ReturnPad.SIZE, pad.length);
        assertEquals(0x0f, pad[0]);
        assertEquals(0x05, pad[1]);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(pad).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(w[Registers.RAX], b.getLong(256));
        assertEquals(w[Registers.R15], b.getLong(256 + 15 * 8));
        assertEquals(w[Registers.RIP], b.getLong(256 + 16 * 8));
        assertEquals(w[Registers.EFLAGS], b.getLong(256 + 17 * 8));
        assertEquals(0x4002L, b.getLong(256 + 18 * 8), "the thread's own signal mask, put back on the way");
    }
}
