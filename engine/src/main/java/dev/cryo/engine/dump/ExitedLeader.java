package dev.cryo.engine.dump;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.ptrace.Registers;

import java.util.List;

/**
 * The main thread of a process whose main thread has exited while other threads run on (pthread_exit
 * in main; see {@link dev.cryo.kernel.ExitedLeaders}). The kernel keeps nothing of it but its exit
 * status, and a process cannot be made without it, so the image holds a main thread that exits
 * again the moment the restored process runs: a live thread's registers, pointed at a {@code syscall}
 * of the process's own vDSO with exit(status) in them and every signal blocked, and no robust list,
 * clear-child-tid word nor rseq area, so its exit writes nothing into the program's memory.
 */
final class ExitedLeader {
    private ExitedLeader() {}

    /** struct robust_list_head's size, which set_robust_list takes with a null head (none). */
    private static final long ROBUST_LIST_HEAD_SIZE = 24;
    private static final int SS_DISABLE = 2;

    static ThreadImage of(Pid pid, ThreadImage standIn, long vdsoSyscall) {
        // the leader's own stat, not the stand-in's (/proc/PID/task/PID: no alias applies there)
        ProcStat leader = ProcFs.stat(pid, pid);
        long[] regs = standIn.regs().clone();
        regs[Registers.RAX] = SyscallNr.EXIT;
        regs[Registers.RDI] = (leader.exitCode() >> 8) & 0xff;
        regs[Registers.ORIG_RAX] = -1; // no syscall to restart: the exit runs as the first instruction
        regs[Registers.RIP] = vdsoSyscall;
        return new ThreadImage(pid.value(), regs, standIn.xstate(), -1L, 0, 0, 0, 0, ROBUST_LIST_HEAD_SIZE, 0,
                0, SS_DISABLE, 0, List.of(), leader.comm(), 0, standIn.security(), standIn.sched(), null);
    }
}
