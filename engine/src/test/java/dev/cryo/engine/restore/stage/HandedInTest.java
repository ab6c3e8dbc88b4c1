package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.PipeHandler;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.codec.ModelSamples;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.LocalPipe;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A run of fds whose open files cryo holds is handed into a task in one message and one recvmsg, then
 * moved to their numbers: the fds received land on the run's own numbers, so the moves must go from the
 * highest down (a dup3 in the fds' order would close a received fd not moved yet).
 */
class HandedInTest {
    @TempDir
    Path tmp;


    @Test
    void aRunOfFdsComesInWithOneRecvmsgAndEachLandsAtItsNumberWithItsFlags() throws Exception {
        // received at low..low+3; wanted at low+1, low+2, low+4 (close-on-exec) and low+5
        handIn(new int[] {1, 2, 4, 5}, 2, false);
    }

    /**
     * The task's fd table known, the fds whose numbers are among the lowest free ones are sent to land
     * there (low+1, low+2), the others (low+4, low+5) come in at low and low+3 and are moved.
     */
    @Test
    void withTheTableKnownOnlyTheFdsAboveTheLowestFreeNumbersAreMoved() throws Exception {
        handIn(new int[] {1, 2, 4, 5}, 2, true);
    }

    /**
     * A run listed against the order of its numbers (the image lists a task's fds as /proc did): received in
     * that order, the first would go to low+2 where the third is, and the third to low where the first is.
     */
    @Test
    void aRunListedHighestFirstIsSentInTheOrderOfItsNumbers() throws Exception {
        handIn(new int[] {2, 1, 0}, 1, false);
        handIn(new int[] {2, 1, 0}, 1, true);
    }

    /**
     * Hands pipes in for the fds at {@code low + offsets[i]} ({@code cloexecAt}'s close-on-exec) and checks
     * each; {@code known}: with the task's fd table known to cryo.
     */
    private void handIn(int[] offsets, int cloexecAt, boolean known) throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        List<LocalPipe> pipes = new ArrayList<>();
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker-" + known + ".out"), ticker.toString());
             SocketHub hub = SocketHub.of(List.of(), false)) {
            proc.awaitOutput("tick 2", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            try (Tracer tracer = new Tracer(); BootstrappedTask task = new BootstrappedTask(tracer, pid)) {
                TreeSet<Integer> before = new TreeSet<>(ProcFs.fds(pid));
                int low = 0;
                while (free(before, low) < 6) {
                    low++;
                }
                int[] at = new int[offsets.length];
                List<FdImage> run = new ArrayList<>();
                List<Fd> own = new ArrayList<>();
                for (int i = 0; i < at.length; i++) {
                    at[i] = low + offsets[i];
                    LocalPipe p = LocalPipe.create(new byte[0], 0);
                    pipes.add(p);
                    own.add(new Fd(p.fd(true)));
                    run.add(new FdImage(at[i], i == cloexecAt ? Fcntl.O_CLOEXEC : 0, 0,
                            new PipeHandler.Pipe(i, true, "", new byte[0], 0, null, false, null), null));
                }
                TaskContext t = task.context(ModelSamples.task(pid.value()).withFds(run));
                KeptFds kept = new KeptFds(t, t.remote());
                kept.receiverNow();
                t.flush();
                if (known) {
                    t.fdTableWillBe(new java.util.HashSet<>(ProcFs.fds(pid)));
                }
                long trips = tracer.roundTrips();
                HandedIn.place(t, run, own, kept, hub);
                t.flush();
                assertEquals(2, tracer.roundTrips() - trips, "one recvmsg for them all, then their moves");
                for (int i = 0; i < at.length; i++) {
                    assertEquals(ProcFs.readlink("/proc/self/fd/" + pipes.get(i).fd(true)), ProcFs.fdTarget(pid, at[i]),
                            "fd " + at[i] + " is the pipe handed in for it");
                    assertEquals(i == cloexecAt, (ProcFs.fdInfo(pid, at[i]).flags() & Fcntl.O_CLOEXEC) != 0, "fd " + at[i]);
                }
                kept.close();
                t.flush();
                TreeSet<Integer> expected = new TreeSet<>(before);
                for (int fd : at) {
                    expected.add(fd);
                }
                assertEquals(expected, new TreeSet<>(ProcFs.fds(pid)), "the fds received elsewhere closed again");
                for (int fd : at) {
                    t.later("close", SyscallNr.CLOSE, fd);
                }
                t.flush();
            }
        } finally {
            pipes.forEach(LocalPipe::close);
        }
    }

    /** How many numbers from {@code from} on are free in {@code open}, up to 6. */
    private static int free(Set<Integer> open, int from) {
        int n = 0;
        while (n < 6 && !open.contains(from + n)) {
            n++;
        }
        return n;
    }
}
