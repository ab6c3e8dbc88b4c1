package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.Tracer;

/**
 * A thread stopped inside an rseq critical section is sent to the section's abort handler at
 * once, as the kernel does when it next returns to such a thread after a preemption: the
 * section must restart, since a per-CPU commit made on the strength of a CPU read before the stop
 * may now land on another CPU's data. Left alone, the first syscall cryo injects clears the
 * thread's {@code rseq_cs} (its ip is outside the section then), and the thread — let go, or
 * restored — would run on through the section and commit it unchecked.
 *
 * <p>Done right after the seize, before anything is injected. A thread stopped in a syscall is
 * never inside a section (syscalls are not allowed there); a section whose abort handler lacks
 * the thread's signature is left as it is (the kernel would kill the thread instead).
 */
final class RseqAbort {
    private RseqAbort() {}

    static void apply(Tracer tracer, Pid pid, int tid) {
        RseqConfig rseq = tracer.getRseq(tid);
        if (!rseq.registered()) {
            return;
        }
        try {
            long csAddress = ThreadCollector.le(Sys.read(pid, rseq.address() + RseqConfig.CS_POINTER_OFFSET, 8)).getLong(0);
            if (csAddress == 0) {
                return;
            }
            Registers regs = tracer.getRegisters(tid);
            RseqConfig.CriticalSection cs = RseqConfig.CriticalSection.parse(
                    Sys.read(pid, csAddress, RseqConfig.CriticalSection.SIZE));
            if (regs.origRax() != -1 || !cs.contains(regs.rip())
                    || ThreadCollector.le(Sys.read(pid, cs.abortIp() - 4, 4)).getInt(0) != rseq.signature()) {
                return;
            }
            tracer.setRegisters(tid, regs.with(Registers.RIP, cs.abortIp()));
            Sys.write(pid, rseq.address() + RseqConfig.CS_POINTER_OFFSET, new byte[8]);
        } catch (KernelException e) {
            // an rseq area or section the thread cannot read either: the kernel would kill it on its way out
        }
    }
}
