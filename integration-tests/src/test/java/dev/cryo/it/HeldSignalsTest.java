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
 * A signal that arrives while cryo holds a thread is kept by the tracer and given back when it
 * lets the thread go — also when it lets go without a clean detach (a tracer closed on a failure
 * path): the counter counts every SIGUSR1 it was sent.
 */
class HeldSignalsTest {
    @TempDir
    Path tmp;

    @Test
    void signalsHeldForAThreadAreGivenBackWhenTheTracerClosesWithoutDetaching() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Tracer tracer = new Tracer();
            int pid = p.pid().value();
            tracer.seizeAndInterrupt(pid, 0);
            tracer.waitForStop(pid);
            Sys.kill(p.pid(), Signals.SIGUSR1);
            for (int i = 0; i < 100 && tracer.heldSignals(pid).isEmpty(); i++) {
                tracer.cont(pid, 0); // let it run into the signal's delivery stop: held, then the interrupt
                Thread.sleep(20); // an interrupt sent before it runs would trap it before the signal again
                tracer.interrupt(pid);
                tracer.waitForStop(pid);
            }
            assertEquals(1, tracer.heldSignals(pid).size(), "SIGUSR1 held");
            tracer.close(); // what a failure path does: everything still held is let go
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS sigusr1=1 "), verdict);
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
     * zdtm's stopped03: a child stopped by SIGTSTP (a ^Z) came back stopped, but its parent's waitid
     * said SIGSTOP had stopped it. The group-stop is held as the signal that made it.
     */
    @Test
    void aChildStoppedBySigtstpIsStoppedBySigtstpAgain() throws Exception {
        String verdict = DumpRestore.workloadVerdict(tmp, "stopchild", "tstp");
        assertTrue(verdict.contains("PASS"), verdict);
    }
}
