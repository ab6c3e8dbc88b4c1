package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.MemPolicies;
import dev.cryo.kernel.Pid;

import java.util.List;

/**
 * NUMA memory policies are not carried: a thread's own (set_mempolicy: numactl --interleave=all, a database's) and an
 * area's (mbind: a JVM with -XX:+UseNUMA). A restore made the tree with the default, with no word: get_mempolicy said
 * interleave on node 0 before and default after. Refused by name, read with cryo's BPF iterators (MemPolicies);
 * where they cannot run, not refused (every task would be).
 */
final class NumaPolicies {
    private NumaPolicies() {}

    /**
     * Refuses the process when its main thread (or the thread reading for an exited one) or one of its memory areas
     * has a policy: two iterator runs per process in the freeze. A policy only a later thread set itself is not seen
     * (numactl's is set before the program starts: every thread inherits it).
     */
    static void refuse(Pid pid, String comm) {
        String who = "pid " + pid + " (" + comm + ")";
        try {
            int reader = dev.cryo.kernel.ExitedLeaders.reader(pid.value());
            if (MemPolicies.threadHasOne(reader)) {
                throw new DumpException(who + " has a NUMA memory policy of its own (set_mempolicy: numactl --interleave,"
                        + " --membind...), which cryo does not set again; not supported yet");
            }
            List<Long> areas = MemPolicies.areasWithOne(reader);
            if (!areas.isEmpty()) {
                throw new DumpException(who + " has a NUMA memory policy on " + areas.size() + " memory area(s) (mbind: at 0x"
                        + Long.toHexString(areas.get(0)) + (areas.size() > 1 ? "..." : "") + "), which cryo does not set"
                        + " again; not supported yet");
            }
        } catch (DumpException e) {
            throw e;
        } catch (RuntimeException cannotTell) {
            // no BTF, no bpf() for cryo, a kernel without NUMA: nothing seen, nothing refused
        }
    }
}
