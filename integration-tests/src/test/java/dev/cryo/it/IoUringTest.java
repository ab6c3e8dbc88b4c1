package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** io_uring: an idle ring comes back with its counters, its unreaped completions and a prepared SQE. */
class IoUringTest {
    @TempDir
    Path tmp;

    private DetachedProcess start(String... mode) throws Exception {
        String[] cmd = new String[2 + mode.length];
        cmd[0] = TestPrograms.compile("/c/uring.c", "-luring").toString();
        cmd[1] = tmp.resolve("uring.dat").toString();
        System.arraycopy(mode, 0, cmd, 2, mode.length);
        return Workloads.ready(DetachedProcess.start(tmp.resolve("uring.out"), cmd));
    }

    /**
     * 2003 requests went through the ring (250 turns of its 8 SQEs), three NOPs wait unreaped and a read
     * is prepared but not submitted: after the restore the program reaps the NOPs in order, submits
     * the read (liburing's own SQ tail must match the kernel's head) and goes on using the ring.
     */
    @Test
    void anIdleRingComesBackWithItsCountersUnreapedCompletionsAndAPreparedRead() throws Exception {
        try (DetachedProcess p = start()) {
            assertTrue(p.outputText().contains("ready sqhead=2003 sqtail=2003 cqhead=2000 cqtail=2003"), p.outputText());
            Path img = tmp.resolve("img");
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, img));
            assertTrue(out.contains("PASS 2000 round trips"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"io_uring\"") && show.contains("\"sqHead\" : \"2003\""), show);
        }
    }

    /**
     * What a ring was told after its setup and no file shows in full: io-wq worker limits, the range its file table
     * allocates slots from, its clock, NAPI busy polling. A ring made again without them came back with the kernel's
     * worker limits, allocated slot 0 (outside 4-7), waited on CLOCK_MONOTONIC and busy-polled no more, silently.
     * The program checks the limits, an allocated slot and NAPI's fdinfo lines; the clock is checked in a second
     * dump of the restored ring, which reads it from the kernel again.
     */
    @Test
    void theRingsWorkerLimitsFileRangeClockAndNapiComeBack() throws Exception {
        try (DetachedProcess p = start("tuned")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            for (String item : new String[] {"\"iowqMaxWorkers\" : \"bounded 3, unbounded 5\"", "\"fileAllocRange\" : \"4-8\"",
                    "\"clock\" : \"BOOTTIME\"", "\"napi\" : \"dynamic tracking, busy poll 100 us, prefer busy poll\""}) {
                assertTrue(show.contains(item), item + " in " + show);
            }
            Path again = tmp.resolve("again");
            Cli second = Cli.run("dump", "-R", "-t", Integer.toString(r.pid().value()), "-D", again.toString(),
                    "--no-progress");
            assertEquals(0, second.code(), second.err());
            String shown = Cli.run("show", again.toString()).out();
            assertTrue(shown.contains("\"clock\" : \"BOOTTIME\"") && shown.contains("\"iowqMaxWorkers\"")
                    && shown.contains("\"fileAllocRange\" : \"4-8\""), shown);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /**
     * Rings entered by registered slots (IORING_REGISTER_RING_FDS): two in the main thread (slots 0
     * and 1) and one in a second thread (its own slot 0). Each comes back at its slot in its thread;
     * unregistered, the program's next submit failed with EBADF, and a slot holding the other ring
     * would put its requests on the wrong ring.
     */
    @Test
    void ringsRegisteredAtSlotsComeBackAtTheirSlotsInTheirThreads() throws Exception {
        try (DetachedProcess p = start("registered")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            int pid = p.pid().value();
            assertTrue(show.contains("\"tid " + pid + " slot 0\"") && show.contains("\"tid " + pid + " slot 1\""), show);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /**
     * A sparse table of 8 registered buffers (slots 1 and 4 filled) and an empty table of 4 registered
     * files: after the restore the same ranges of the task's memory are at the same slots (bytes the
     * program writes into its memory go out by WRITE_FIXED from slot 1 and come back by READ_FIXED into
     * slot 4; a copy or another slot fails), slot 0 is still empty, and the file table has 4 slots.
     * Refused before ("registered buffer(s)").
     */
    @Test
    void registeredBuffersComeBackAtTheirSlotsOverTheTasksOwnMemory() throws Exception {
        try (DetachedProcess p = start("buffers")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"registeredBufferSlots\" : 8") && show.contains("\"registeredFileSlots\" : \"4 (empty)\""),
                    show);
            String fdinfo = java.nio.file.Files.readString(Path.of("/proc/" + r.pid().value() + "/fdinfo/" + ringFd(r.pid().value())));
            assertTrue(fdinfo.matches("(?s).*UserBufs:\t8\n    0: <none>\n    1: 0x[0-9a-f]+/8192\n.*    4: 0x[0-9a-f]+/512\n.*"),
                    fdinfo);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /**
     * A file registered in a file slot: fdinfo names it by path only (not which open file, nor which end
     * of a pipe), so the dump is refused naming the slot and the file, and the program goes on.
     */
    @Test
    void aRegisteredFileIsRefusedByNameAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = start("files")) {
            assertRefusedAndRunsOn(p, "pid " + p.pid().value() + " fd ",
                    "registered file(s) (IORING_REGISTER_FILES) slot 0 " + tmp.resolve("uring.dat"));
        }
    }

    /**
     * An eventfd registered for the ring's completions (IORING_REGISTER_EVENTFD, QEMU's way to wake on them): no file
     * shows it, and the ring made again had none, so the program waited on an eventfd no completion signalled, with no
     * word (then it was refused by name). The eventfd counts the completions after the restore; `cryo show` names it.
     */
    @Test
    void anEventfdRegisteredForTheRingsCompletionsIsRegisteredAgain() throws Exception {
        try (DetachedProcess p = start("eventfd")) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS 2000 round trips"), out);
            assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("\"registeredEventFd\" : \"fd "), "show");
        }
    }

    /**
     * A provided buffer ring (IORING_REGISTER_PBUF_RING: servers reading with IOSQE_BUFFER_SELECT): no file shows it,
     * and the ring made again had none, so the program's next such read failed with ENOBUFS, with no word. Refused by
     * name.
     */
    @Test
    void aProvidedBufferRingIsRefusedByNameAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = start("bufring")) {
            assertRefusedAndRunsOn(p, "pid " + p.pid().value() + " fd ", "provided buffer groups (a buffer ring,"
                    + " IORING_REGISTER_PBUF_RING, or IORING_OP_PROVIDE_BUFFERS)");
        }
    }

    /**
     * A child sharing its parent's fd table (CLONE_FILES) left a ring of its own only in its slot (fd
     * closed, areas unmapped): the child carries no fds (its parent's record has the table) and was
     * dumped without its slot (silently: its next enter by the slot would fail). Refused by name. (A
     * ring fd in a shared table is refused already: unmapped, or mapped with the child holding it too.)
     */
    @Test
    void aRingRegisteredByAChildSharingItsParentsFdTableIsRefusedByName() throws Exception {
        try (DetachedProcess p = start("sharedfiles")) {
            assertRefusedAndRunsOn(p, "its registered ring slot 0 (IORING_REGISTER_RING_FDS) is taken",
                    "shares its parent's fd table (CLONE_FILES");
        }
    }

    /**
     * A ring that lives only in a registered slot (its fd closed, its areas unmapped) of a process
     * holding no other ring: nothing in /proc shows it, and it was dumped silently (lost). Refused by name.
     */
    @Test
    void aRingLeftOnlyInARegisteredSlotIsRefusedByName() throws Exception {
        try (DetachedProcess p = start("slotonly")) {
            assertRefusedAndRunsOn(p, "its registered ring slot 0 (IORING_REGISTER_RING_FDS) holds an io_uring the task has"
                    + " no fd of");
        }
    }

    /**
     * A ring set up with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN by the main thread, which drives the
     * whole workload through it: made again by the restore in the main thread with both flags, so
     * the program goes on and a second thread is still refused a register call and a wait (a ring
     * made without them would take both). Refused before.
     */
    @Test
    void aRingWithOneIssuerComesBackWithItsMainThreadAsTheIssuer() throws Exception {
        try (DetachedProcess p = start("single")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"SINGLE_ISSUER\", \"DEFER_TASKRUN\""), show);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /** A SINGLE_ISSUER ring whose issuer is a thread other than the main one: refused by name. */
    @Test
    void aRingWhoseOneIssuerIsAnotherThreadIsRefusedByName() throws Exception {
        try (DetachedProcess p = start("otherissuer")) {
            assertRefusedAndRunsOn(p, "pid " + p.pid().value() + " fd ",
                    "(IORING_SETUP_SINGLE_ISSUER), a thread other than the main one");
        }
    }

    /** The dump of {@code p} fails with an error holding every one of {@code parts}; the program then passes its check. */
    private void assertRefusedAndRunsOn(DetachedProcess p, String... parts) throws Exception {
        Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                "--no-progress");
        assertEquals(1, refused.code(), refused.toString());
        for (String part : parts) {
            assertTrue(refused.err().contains(part), refused.err());
        }
        String out = Workloads.check(p);
        assertTrue(out.contains("PASS 2000 round trips"), out);
    }

    /** A second ring kept busy with NOPs by the main thread: the dump meets rings in use, waits for what is in flight and carries both. */
    @Test
    void ringsInUseAtTheDumpComeBackAndGoOn() throws Exception {
        try (DetachedProcess p = start("busy")) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /**
     * A read of an empty pipe waits on the ring: a request in flight cannot be carried, so the dump is
     * refused naming pid, fd and reason, and the program goes on with its ring intact.
     */
    @Test
    void aRequestInFlightIsRefusedByNameAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = start("waiting")) {
            assertRefusedAndRunsOn(p, "pid " + p.pid().value() + " fd ", "io_uring", "1 request(s) armed on a poll");
        }
    }

    /**
     * mpd 0.23 playing to a null output: its I/O thread holds a 1024-entry ring (read requests went
     * through it when the file was opened). After the restore it plays on, and a new song is read
     * through the restored ring (its counters move on from the dumped ones).
     */
    @Test
    void mpdPlaysOnAndReadsTheNextSongThroughItsRestoredRing() throws Exception {
        assumeTrue(java.nio.file.Files.isExecutable(Path.of("/usr/bin/mpd")) && java.nio.file.Files.isExecutable(
                Path.of("/usr/bin/mpc")), "Debian packages mpd and mpc");
        Path music = java.nio.file.Files.createDirectories(tmp.resolve("music"));
        writeTone(music.resolve("tone.wav"));
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path conf = tmp.resolve("mpd.conf");
        java.nio.file.Files.writeString(conf, "music_directory \"" + music + "\"\nplaylist_directory \"" + tmp
                + "\"\ndb_file \"" + tmp.resolve("db") + "\"\nbind_to_address \"127.0.0.1\"\nport \"" + port
                + "\"\naudio_output {\n type \"null\"\n name \"null\"\n}\n");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("mpd.out"), "/usr/bin/mpd", "--no-daemon",
                conf.toString())) {
            DetachedProcess.awaitCondition(() -> mpc(port, "status").contains("volume"), java.time.Duration.ofSeconds(60),
                    "mpd to answer");
            mpc(port, "update", "-w");
            mpc(port, "add", "tone.wav");
            assertTrue(mpc(port, "play").contains("[playing]"));
            int fd = ringFd(p.pid().value());
            // "play" answers before the I/O thread has read: its first read goes through the ring soon after
            DetachedProcess.awaitCondition(() -> sqHead(p.pid().value(), fd) > 0, java.time.Duration.ofSeconds(30),
                    "mpd to read the song through its ring");
            long before = sqHead(p.pid().value(), fd);
            try (DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"))) {
                // mpd may read on between that look and the dump; a ring made anew would count from 0
                long restored = sqHead(r.pid().value(), fd);
                assertTrue(restored >= before, "the restored ring's SQ head " + restored + " is behind " + before);
                assertTrue(mpc(port, "status").contains("[playing]"));
                mpc(port, "add", "tone.wav");
                assertTrue(mpc(port, "play", "2").contains("#2/2"));
                DetachedProcess.awaitCondition(() -> sqHead(r.pid().value(), fd) > restored, java.time.Duration.ofSeconds(30),
                        "the second song to be read through the restored ring");
                assertTrue(mpc(port, "status").contains("[playing] #2/2"));
            }
        }
    }

    private static String mpc(int port, String... args) {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("/usr/bin/mpc", "-p", Integer.toString(port)));
        cmd.addAll(java.util.List.of(args));
        try {
            Process mpc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(mpc.getInputStream().readAllBytes());
            mpc.waitFor();
            return out;
        } catch (java.io.IOException | InterruptedException e) {
            return e.toString();
        }
    }

    private static int ringFd(int pid) throws java.io.IOException {
        try (java.util.stream.Stream<Path> fds = java.nio.file.Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.filter(f -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(f).toString().equals("anon_inode:[io_uring]");
                } catch (java.io.IOException e) {
                    return false;
                }
            }).map(f -> Integer.parseInt(f.getFileName().toString())).findFirst().orElseThrow();
        }
    }

    private static long sqHead(int pid, int fd) {
        try {
            return dev.cryo.kernel.proc.IoUringInfo.read(dev.cryo.kernel.Pid.of(pid), fd).cachedSqHead();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** 30 s of a 8 kHz mono tone. */
    private static void writeTone(Path wav) throws java.io.IOException {
        int samples = 8000 * 30;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(44 + 2 * samples).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt(36 + 2 * samples).put("WAVEfmt ".getBytes()).putInt(16).putShort((short) 1)
                .putShort((short) 1).putInt(8000).putInt(16000).putShort((short) 2).putShort((short) 16)
                .put("data".getBytes()).putInt(2 * samples);
        for (int i = 0; i < samples; i++) {
            b.putShort((short) (3000 * Math.sin(i / 10.0)));
        }
        java.nio.file.Files.write(wav, b.array());
    }
}
