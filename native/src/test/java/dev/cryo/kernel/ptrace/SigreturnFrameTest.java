package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.SyscallNr;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SigreturnFrameTest {
    private static byte[] xstate(int len, long xcr0) {
        byte[] x = new byte[len];
        ByteBuffer b = ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(464, xcr0); // what ptrace puts in the software-reserved bytes
        b.putLong(512, 0x7); // xstate_bv
        x[0] = 0x7f; // fcw low byte, to see the area copied
        return x;
    }

    private static Registers regs() {
        long[] w = new long[Registers.WORDS];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0x1000L * (i + 1);
        }
        w[Registers.ORIG_RAX] = -1;
        w[Registers.CS] = 0x33;
        w[Registers.SS] = 0x2b;
        return new Registers(w);
    }

    @Test
    void theFrameHoldsTheRegistersMaskAndAnXsaveAreaTheKernelAccepts() {
        byte[] xs = xstate(832, 0x7);
        long rsp = 0x7ffc_0000_1238L;
        long base = SigreturnFrame.base(rsp, xs);
        assertEquals(0, base & 63);
        assertTrue(base + SigreturnFrame.length(xs) <= rsp - SigreturnFrame.RED_ZONE, "the red zone stays untouched");
        Registers r = regs();
        ByteBuffer f = ByteBuffer.wrap(SigreturnFrame.build(base, r, 0x4000L, xs, 0xabcdL)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xabcdL, f.getLong(0));
        int sc = 8 + 40;
        assertEquals(r.get(Registers.R8), f.getLong(sc));
        assertEquals(r.get(Registers.RDI), f.getLong(sc + 64));
        assertEquals(r.rax(), f.getLong(sc + 104));
        assertEquals(r.rsp(), f.getLong(sc + 120));
        assertEquals(r.rip(), f.getLong(sc + 128));
        assertEquals(r.get(Registers.EFLAGS), f.getLong(sc + 136));
        assertEquals(0x33, f.getShort(sc + 144));
        assertEquals(0x2b, f.getShort(sc + 150));
        assertEquals(base + 448, f.getLong(sc + 184), "fpstate");
        assertEquals(0x4000L, f.getLong(8 + 296), "sigmask");
        assertEquals(3, f.getInt(8 + 16 + 8), "an invalid sigaltstack mode, so the thread's stays");
        assertEquals(0x7f, f.get(448));
        assertEquals(0x46505853, f.getInt(448 + 464), "magic1");
        assertEquals(832 + 4, f.getInt(448 + 468), "extended size");
        assertEquals(0x7L, f.getLong(448 + 472), "features");
        assertEquals(832, f.getInt(448 + 480), "xstate size");
        assertEquals(0x46505845, f.getInt(448 + 832), "magic2");
    }

    @Test
    void amxTileDataIsLeftOutAndANonXsaveAreaRefused() {
        byte[] amx = xstate(11008, 0x60207L);
        assertEquals(11008 - 8192, SigreturnFrame.xstateSize(amx));
        ByteBuffer f = ByteBuffer.wrap(SigreturnFrame.build(0x10000, regs(), 0, amx, 0)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x20207L, f.getLong(448 + 472));
        assertEquals(-1, SigreturnFrame.xstateSize(new byte[512]));
        assertEquals(-1, SigreturnFrame.xstateSize(xstate(832, 0x1)));
    }

    @Test
    void aRelativeSleepRunsAgainAndOtherInterruptedCallsRestart() {
        Registers sleep = regs().with(Registers.RAX, -516).with(Registers.ORIG_RAX, SyscallNr.CLOCK_NANOSLEEP)
                .with(Registers.RIP, 0x5002);
        Registers back = SigreturnFrame.resumed(sleep);
        assertEquals(SyscallNr.CLOCK_NANOSLEEP, back.rax());
        assertEquals(0x5000, back.rip());
        Registers read = regs().with(Registers.RAX, -512).with(Registers.ORIG_RAX, 0).with(Registers.RIP, 0x5002);
        assertEquals(0, SigreturnFrame.resumed(read).rax());
        assertEquals(0x5000, SigreturnFrame.resumed(read).rip());
    }

    /**
     * A dump learns the tree's gadgets before its seize (DumpSupervisor): the find of the frozen
     * window then only checks them, it scans no code (in a cold JVM the scan was some 50 ms of CPU).
     */
    @Test
    void aProcessLearnedBeforeItsSeizeIsNotScannedAgainByFind() {
        dev.cryo.kernel.Pid self = dev.cryo.kernel.Pid.of((int) ProcessHandle.current().pid());
        SigreturnRoute.forgetAll();
        long before = SigreturnRoute.scannedBytes();
        SigreturnRoute.learn(self);
        long learned = SigreturnRoute.scannedBytes();
        assertTrue(learned > before, "learn scans the code of a process it has not seen");
        assertNotNull(SigreturnRoute.find(self, dev.cryo.kernel.proc.ProcFs.maps(self)));
        assertEquals(learned, SigreturnRoute.scannedBytes(), "find scanned again");
    }

    @Test
    void gadgetsAreRecognisedByTheirBytes() {
        byte[] vdso = {0x0f, 0x05, 0x31, (byte) 0xd2, 0x31, (byte) 0xc9, 0x45, 0x31, (byte) 0xdb, (byte) 0xc3};
        assertEquals(0, SigreturnRoute.syscallRetAt(vdso, 0));
        byte[] plain = {0x0f, 0x05, (byte) 0xc3};
        assertEquals(0, SigreturnRoute.syscallRetAt(plain, 0));
        byte[] leave = {0x0f, 0x05, (byte) 0xc9, 0x31, (byte) 0xd2, (byte) 0xc3};
        assertEquals(-1, SigreturnRoute.syscallRetAt(leave, 0), "leave moves rsp");
        byte[] mixed = {0x0f, 0x05, 0x31, (byte) 0xd1, (byte) 0xc3}; // xor ecx, edx: not a clearing
        assertEquals(-1, SigreturnRoute.syscallRetAt(mixed, 0));
        byte[] rexMixed = {0x0f, 0x05, 0x44, 0x31, (byte) 0xc0, (byte) 0xc3}; // xor eax, r8d
        assertEquals(-1, SigreturnRoute.syscallRetAt(rexMixed, 0));
        assertTrue(SigreturnRoute.sigreturnAt(new byte[]{0x48, (byte) 0xc7, (byte) 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05}, 0));
        assertTrue(SigreturnRoute.sigreturnAt(new byte[]{(byte) 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05}, 0));
        assertFalse(SigreturnRoute.sigreturnAt(new byte[]{(byte) 0xb8, 0x0e, 0, 0, 0, 0x0f, 0x05}, 0));
    }
}
