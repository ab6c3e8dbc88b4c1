package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SeccompVerdictTest {
    private static final int LD_W_ABS = 0x20, JEQ_K = 0x15, JGE_K = 0x35, JSET_K = 0x45, RET_K = 0x06, RET_A = 0x16,
            ALU_AND_K = 0x54, JA = 0x05, LD_IMM = 0x00;
    private static final int KILL = 0, ERRNO_EPERM = 0x00050001, ALLOW = Seccomp.RET_ALLOW, LOG = 0x7ffc0000;

    private static byte[] program(int[]... insns) {
        ByteBuffer b = ByteBuffer.allocate(insns.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int[] i : insns) {
            b.putShort((short) i[0]).put((byte) i[1]).put((byte) i[2]).putInt(i[3]);
        }
        return b.array();
    }

    /** Arch checked first, then nr: {@code nr} gets {@code action}, the rest is allowed. */
    private static byte[] denying(int nr, int action) {
        return program(new int[] {LD_W_ABS, 0, 0, 4}, new int[] {JEQ_K, 1, 0, SeccompVerdict.AUDIT_ARCH_X86_64},
                new int[] {RET_K, 0, 0, KILL}, new int[] {LD_W_ABS, 0, 0, 0}, new int[] {JEQ_K, 0, 1, nr},
                new int[] {RET_K, 0, 0, action}, new int[] {RET_K, 0, 0, ALLOW});
    }

    @Test
    void everyFilterMustAllow() {
        byte[] noGetppid = denying(SyscallNr.GETPPID, ERRNO_EPERM), noTgkill = denying(SyscallNr.TGKILL, ERRNO_EPERM);
        assertTrue(SeccompVerdict.allowedByAll(List.of(noGetppid), SyscallNr.TGKILL, 0x1000, 1, 1, 23));
        assertFalse(SeccompVerdict.allowedByAll(List.of(noGetppid), SyscallNr.GETPPID, 0x1000));
        assertFalse(SeccompVerdict.allowedByAll(List.of(noGetppid, noTgkill), SyscallNr.TGKILL, 0x1000, 1, 1, 23));
        assertTrue(SeccompVerdict.allowedByAll(List.of(program(new int[] {RET_K, 0, 0, LOG})), SyscallNr.GETPID, 0));
        assertFalse(SeccompVerdict.allowedByAll(List.of(), SyscallNr.GETPID, 0), "no filter read: no answer");
    }

    @Test
    void argumentsAndArithmeticAreReadAsTheKernelWould() {
        // tgkill with a signal >= 32 refused: args[2]'s low word at offset 32
        byte[] rtOnly = program(new int[] {LD_W_ABS, 0, 0, 0}, new int[] {JEQ_K, 0, 3, SyscallNr.TGKILL},
                new int[] {LD_W_ABS, 0, 0, 32}, new int[] {JGE_K, 0, 1, 32}, new int[] {RET_K, 0, 0, ERRNO_EPERM},
                new int[] {RET_K, 0, 0, ALLOW});
        assertTrue(SeccompVerdict.allowedByAll(List.of(rtOnly), SyscallNr.TGKILL, 0, 7, 7, 23));
        assertFalse(SeccompVerdict.allowedByAll(List.of(rtOnly), SyscallNr.TGKILL, 0, 7, 7, 34));
        // the instruction pointer's high word tested with JSET, a value returned from A after an AND
        byte[] byIp = program(new int[] {LD_W_ABS, 0, 0, 12}, new int[] {JSET_K, 0, 2, 0x7f00},
                new int[] {LD_IMM, 0, 0, 0x7fff1234}, new int[] {ALU_AND_K, 0, 0, 0xffff0000}, new int[] {RET_A, 0, 0, 0});
        assertTrue(SeccompVerdict.allowedByAll(List.of(byIp), SyscallNr.GETPID, 0x7f12_0000_0000L));
        assertFalse(SeccompVerdict.allowedByAll(List.of(byIp), SyscallNr.GETPID, 0x1000), "falls to RET A = 0");
    }

    @Test
    void whatTheKernelWouldNotHaveAcceptedIsNotAllowed() {
        assertFalse(SeccompVerdict.allowedByAll(List.of(program(new int[] {LD_W_ABS, 0, 0, 0})), SyscallNr.GETPID, 0),
                "runs off its end");
        assertFalse(SeccompVerdict.allowedByAll(List.of(program(new int[] {LD_W_ABS, 0, 0, 62}, new int[] {RET_K, 0, 0, ALLOW})),
                SyscallNr.GETPID, 0), "a load past seccomp_data");
        assertFalse(SeccompVerdict.allowedByAll(List.of(program(new int[] {JA, 0, 0, 5}, new int[] {RET_K, 0, 0, ALLOW})),
                SyscallNr.GETPID, 0), "a jump out of the program");
        assertFalse(SeccompVerdict.allowedByAll(List.of(program(new int[] {0x28, 0, 0, 0}, new int[] {RET_K, 0, 0, ALLOW})),
                SyscallNr.GETPID, 0), "a half-word load");
    }
}
