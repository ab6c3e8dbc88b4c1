package dev.cryo.it;

import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Signals that arrive while cryo holds a thread keep what they say. A dump keeps them in the
 * kernel's queue (every signal blocked while its injected code runs), so a dump that leaves the
 * tree running hands them over untouched, siginfo and all; signals the tracer does hold (a
 * job-control stop) are given back when it lets the thread go, also without a clean detach.
 */
class HeldSignalsTest {
    @TempDir
    Path tmp;

    /**
     * A signal sent while a dump's code runs in the thread stays queued, and reaches the program
     * once the tracer lets go, also when it closes without detaching (a failure path).
     */
    @Test
    void aSignalSentWhileInjectedCodeRunsStaysQueuedAndArrivesWhenTheTracerCloses() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Tracer tracer = new Tracer();
            int pid = p.pid().value();
            java.util.List<Integer> tids = dev.cryo.engine.dump.TaskSeizer.seize(tracer, p.pid());
            dev.cryo.engine.dump.RemoteTask remote = new dev.cryo.engine.dump.RemoteTask(tracer, p.pid(),
                    dev.cryo.kernel.proc.ProcFs.maps(p.pid()), tids.size());
            Sys.kill(p.pid(), Signals.SIGUSR1);
            try (dev.cryo.kernel.ptrace.Injector inj = remote.injector(pid)) {
                for (int i = 0; i < 20; i++) { // the thread runs cryo's code, with SIGUSR1 pending
                    inj.call("getpid", dev.cryo.kernel.SyscallNr.GETPID);
                    long[] r = remote.batch(inj, java.util.List.of(new dev.cryo.kernel.ptrace.SyscallBatch.Call(
                            dev.cryo.kernel.SyscallNr.GETPID)));
                    assertTrue(r != null, "the counter takes batches");
                }
            }
            assertTrue(tracer.heldSignals(pid).isEmpty(), "nothing held: " + tracer.heldSignals(pid));
            long pending = Long.parseLong(dev.cryo.kernel.proc.ProcFs.status(p.pid()).value("ShdPnd").orElseThrow().trim(), 16);
            assertTrue((pending & (1L << (Signals.SIGUSR1 - 1))) != 0, "SIGUSR1 still queued");
            tracer.close(); // what a failure path does: everything still held is let go
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS sigusr1=1 "), verdict);
        }
    }

    /**
     * A signal the tracer does hold (it stopped cryo's code: a thread not kept so) is queued again
     * with its siginfo when the thread is let go, also from an event stop. Before, it rode on
     * PTRACE_DETACH, where the kernel ignores it after an event stop (the value was lost) and sends
     * it by number only after a syscall stop.
     */
    @Test
    void aHeldSignalIsQueuedAgainWithItsSiginfoWhenTheThreadIsLetGoFromAnEventStop() throws Exception {
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/sigstream.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("held.out"), prog))) {
            int pid = p.pid().value();
            Tracer tracer = new Tracer();
            try {
                tracer.seizeAndInterrupt(pid, 0);
                tracer.waitForStop(pid);
                Process sender = new ProcessBuilder(prog, "send", Integer.toString(pid), "1").redirectErrorStream(true)
                        .redirectOutput(tmp.resolve("send.out").toFile()).start();
                assertTrue(sender.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the sender ends");
                try (dev.cryo.kernel.ptrace.Injector inj = new dev.cryo.kernel.ptrace.Injector(tracer, p.pid(), pid,
                        dev.cryo.kernel.ptrace.SyscallGadget.inVdso(p.pid()))) {
                    inj.call("getpid", dev.cryo.kernel.SyscallNr.GETPID); // SIGRTMIN (value 1) stops it first
                }
                int sigrtmin = 34;
                assertTrue(tracer.heldSignals(pid).stream().anyMatch(h -> h.signal() == sigrtmin),
                        "SIGRTMIN held: " + tracer.heldSignals(pid));
                tracer.interrupt(pid);
                tracer.cont(pid, 0);
                assertTrue(tracer.waitForStop(pid).isEventStop(), "in an event stop");
                tracer.detach(pid, pid);
            } finally {
                tracer.close();
            }
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS rt=1 "), verdict);
        }
    }

    /**
     * Real-time signals with a value (sigqueue) sent all through three dumps that leave the tree
     * running, and a POSIX timer firing every 2 ms with a cookie in its sigevent: each arrives
     * once, in order, with its value, its si_code and its cookie. Before, a signal that stopped
     * cryo's code was given back by number only: the timer's cookie came back NULL.
     */
    @Test
    void signalsSentAllThroughDumpsThatLeaveTheTreeRunningArriveWithTheirSiginfo() throws Exception {
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/sigstream.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("stream.out"), prog))) {
            int values = 20000;
            Process sender = new ProcessBuilder(prog, "send", p.pid().toString(), Integer.toString(values))
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("send.out").toFile()).start();
            try {
                for (int i = 0; i < 3 && sender.isAlive(); i++) {
                    Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img" + i).toString(), "-R",
                            "--no-progress");
                    assertEquals(0, r.code(), r.toString());
                }
                assertTrue(sender.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the sender ends");
            } finally {
                sender.destroyForcibly();
            }
            assertTrue(java.nio.file.Files.readString(tmp.resolve("send.out")).contains("sent " + values));
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS rt=" + values + " "), verdict);
        }
    }

    /**
     * zdtm's stopped found it: a child stopped by job control (its stop not yet collected) came back
     * running. The group-stop is held as its signal: carried as pending, it stops the restored child
     * again; given back on a dump that leaves the tree running, it leaves the child stopped.
     */
    @Test
    void aStoppedChildIsStoppedAgainAfterARestoreAndAfterADumpThatLeavesItRunning() throws Exception {
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/stopchild.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("stop1.out"), prog))) {
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img1").toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(Workloads.check(p).contains("PASS"), "left running");
        }
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("stop2.out"), prog))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img2"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * real11 found it (Traffic Server's crash-log helper, a plain sleep): a job-stopped process
     * dumped with -R stayed stopped but had a SIGSTOP pending, which the state comparator saw. The
     * tracer sent the group stop it held back at detach; the kernel keeps the stop by itself.
     */
    @Test
    void aStoppedProcessLeftRunningHasNoStopSignalPending() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("sleep.out"), "sleep", "300")) {
            Sys.kill(p.pid(), Signals.SIGSTOP);
            Workloads.awaitStopped(p.pid(), 1);
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            var status = dev.cryo.kernel.proc.ProcFs.status(p.pid());
            long stop = 1L << (Signals.SIGSTOP - 1);
            for (String field : new String[] {"SigPnd", "ShdPnd"}) {
                long pending = Long.parseLong(status.value(field).orElseThrow().trim(), 16);
                assertEquals(0, pending & stop, field + " has SIGSTOP after the dump");
            }
            assertEquals('T', dev.cryo.kernel.proc.ProcFs.stat(p.pid()).state(), "still stopped");
        }
    }

    /**
     * zdtm's stopped03: a child stopped by SIGTSTP (a ^Z) came back stopped, but its parent's waitid
     * said SIGSTOP had stopped it. The group-stop is held as the signal that made it.
     */
    @Test
    void aChildStoppedBySigtstpIsStoppedBySigtstpAgain() throws Exception {
        String verdict = DumpRestore.workloadVerdict(tmp, "stopchild", "tstp");
        assertTrue(verdict.contains("PASS"), verdict);
    }

    /**
     * A process whose user has no room left for queued signals (RLIMIT_SIGPENDING 0; stress-ng's sigfd
     * stressor floods root's): the signal ending each batch of injected calls came without its siginfo
     * (SI_USER, pid 0), was taken for another's, and the thread ran on past the batch while the dump waited
     * for good (a --pre-copy dump of stress-ng's interrupt stressors hung 6 minutes, until SIGTERM).
     */
    @Test
    void aProcessWithNoRoomForQueuedSignalsIsDumpedAndRestored() throws Exception {
        String verdict = DumpRestore.workloadVerdict(tmp, "sigpendfull");
        assertTrue(verdict.contains("PASS"), verdict);
    }

    /**
     * A process whose signal queue is full (sigqfull.c: RLIMIT_SIGPENDING 64, 64 SIGRTMIN queued to itself,
     * blocked; stress-ng's sigfd worker holds 18,000). cryo's own stop signal at the end of each syscall batch
     * then came without its siginfo (SI_USER from pid 0), was taken for another's, and the thread ran on into
     * its own code while the dump waited for good; and the restore could not queue the signals again under the
     * limit it had just given back ("rt_sigqueueinfo ... EAGAIN"). Every SIGRTMIN comes back with its value, and
     * the limit with it.
     */
    @org.junit.jupiter.api.Test
    void aFullSignalQueueIsDumpedAndComesBackWhole() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "sigqfull");
        assertTrue(out.contains("PASS"), out);
    }
}
