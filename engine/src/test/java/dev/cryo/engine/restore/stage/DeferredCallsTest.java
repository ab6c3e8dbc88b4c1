package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.codec.ModelSamples;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Calls the restore queues with {@link TaskContext#later} (the memory stage's munmap, mmap, close,
 * madvise, mprotect) run in one ptrace round trip at the flush, in order before anything else that
 * touches the task, and a failure among them is reported with the call named.
 */
class DeferredCallsTest {
    @TempDir
    Path tmp;

    private static final int PAGE = 4096, PROT_NONE = 0, PROT_READ = 1, MAP_PRIVATE_ANON = 0x22;

    @Test
    void queuedCallsRunInOneRoundTripInOrder() throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker.out"), ticker.toString())) {
            proc.awaitOutput("tick 2", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            try (Tracer tracer = new Tracer(); BootstrappedTask task = new BootstrappedTask(tracer, pid)) {
                Injector inj = task.inj;
                // 20 pages with a hole on each side, so they merge with no neighbour
                long big = inj.call("mmap", SyscallNr.MMAP, 0, 22 * PAGE, PROT_NONE, MAP_PRIVATE_ANON, -1, 0);
                inj.call("munmap", SyscallNr.MUNMAP, big, PAGE);
                inj.call("munmap", SyscallNr.MUNMAP, big + 21L * PAGE, PAGE);
                long region = big + PAGE;
                TaskContext t = task.context(ModelSamples.task(pid.value()));
                List<Integer> fdsAtStart = ProcFs.fds(pid);
                // every other page readable: 10 calls, and the area splits into 20 mappings
                for (int i = 0; i < 20; i += 2) {
                    t.later("mprotect(" + i + ")", SyscallNr.MPROTECT, region + (long) i * PAGE, PAGE, PROT_READ);
                }
                assertEquals(1, mappingsIn(pid, region), "nothing ran before the flush");
                long trips = tracer.roundTrips();
                t.flush();
                assertEquals(1, tracer.roundTrips() - trips, "one round trip for 10 queued calls");
                assertEquals(20, mappingsIn(pid, region));
                // a call runs last in the queue's batch: one round trip for both (three before: the batch, then
                // the call's entry and exit stops), its own result back
                t.later("mprotect(all)", SyscallNr.MPROTECT, region, 20 * PAGE, PROT_READ);
                trips = tracer.roundTrips();
                assertEquals(pid.value(), t.call("getpid", SyscallNr.GETPID));
                assertEquals(1, tracer.roundTrips() - trips, "the queue and the call in one round trip");
                assertEquals(1, mappingsIn(pid, region), "the queued mprotect ran before getpid");
                // the call's own failure is an injection's (its caller may catch it and take another way); a
                // queued call's failure before it is not taken for the call's
                SyscallException own = assertThrows(SyscallException.class, () -> t.call("close", SyscallNr.CLOSE, 999));
                assertTrue(own.getMessage().startsWith("close(999) in pid " + pid) && own.getMessage().contains("EBADF"),
                        own.getMessage());
                t.later("mprotect(unaligned)", SyscallNr.MPROTECT, region + 1, PAGE, PROT_NONE);
                dev.cryo.engine.restore.RestoreException queued = assertThrows(dev.cryo.engine.restore.RestoreException.class,
                        () -> t.call("getpid", SyscallNr.GETPID));
                assertTrue(queued.getMessage().contains("mprotect(unaligned)") && queued.getMessage().contains("EINVAL"),
                        queued.getMessage());
                // the fd table a queued open's number is predicted from follows the calls made between opens (a
                // pidfd opened), and is read again when something it cannot follow changed it (an injection of its own)
                t.fdTableWillBe(new java.util.HashSet<>(ProcFs.fds(pid)));
                long pidfd = t.call("pidfd_open", SyscallNr.PIDFD_OPEN, pid.value(), 0);
                trips = tracer.roundTrips();
                long first = t.openQueued(ticker.toString(), 0);
                assertEquals(trips, tracer.roundTrips(), "queued, the pidfd's number known");
                assertEquals(lowestFree(ProcFs.fds(pid)), first);
                t.flush(); // checks that the open got the fd predicted
                long other = inj.call("pidfd_open", SyscallNr.PIDFD_OPEN, pid.value(), 0);
                trips = tracer.roundTrips();
                long second = t.openQueued(ticker.toString(), 0);
                assertEquals(trips, tracer.roundTrips(), "queued, the table read again");
                assertEquals(lowestFree(ProcFs.fds(pid)), second);
                t.flush();
                for (long fd : new long[] {pidfd, first, other, second}) {
                    t.later("close", SyscallNr.CLOSE, fd);
                }
                t.flush();
                assertEquals(fdsAtStart, ProcFs.fds(pid), "every fd closed again");
                // a file's open, use and close, queued: its fd is the lowest free one, and it is closed again
                List<Integer> fdsBefore = ProcFs.fds(pid);
                trips = tracer.roundTrips();
                for (int i = 0; i < 3; i++) {
                    long at = region + (long) (2 * i) * PAGE;
                    t.laterWithFile(ticker.toString(), 0, fd -> t.later("mmap(ticker)", SyscallNr.MMAP, at, PAGE,
                            PROT_READ, 0x12 /* MAP_PRIVATE|MAP_FIXED */, fd, 0));
                }
                t.flush();
                assertEquals(1, tracer.roundTrips() - trips, "one round trip for 3 opens, mmaps and closes");
                assertEquals(fdsBefore, ProcFs.fds(pid), "every fd closed again");
                assertEquals(3, ProcFs.maps(pid).stream().filter(m -> m.start() >= region && m.end() <= region + 20L * PAGE
                        && ticker.toString().equals(m.path())).count(), "the file mapped 3 times");
                t.later("mprotect(all)", SyscallNr.MPROTECT, region, 20 * PAGE, PROT_READ);
                // a failure names the call
                t.later("mprotect(fine)", SyscallNr.MPROTECT, region, PAGE, PROT_NONE);
                t.later("mprotect(unaligned)", SyscallNr.MPROTECT, region + 1, PAGE, PROT_NONE);
                SyscallException e = assertThrows(SyscallException.class, t::flush);
                assertTrue(e.getMessage().contains("mprotect(unaligned)") && e.getMessage().contains("EINVAL"),
                        e.getMessage());
                inj.call("munmap", SyscallNr.MUNMAP, region, 20 * PAGE);
            }
            int lines = proc.outputText().split("\n").length;
            DetachedProcess.awaitCondition(() -> {
                try {
                    return proc.outputText().split("\n").length > lines + 2;
                } catch (Exception ex) {
                    return false;
                }
            }, Duration.ofSeconds(5), "ticker to go on");
        }
    }

    private static int lowestFree(List<Integer> open) {
        int fd = 0;
        while (open.contains(fd)) {
            fd++;
        }
        return fd;
    }

    private static long mappingsIn(Pid pid, long region) {
        return ProcFs.maps(pid).stream().filter(m -> m.start() >= region && m.end() <= region + 20L * PAGE).count();
    }
}
