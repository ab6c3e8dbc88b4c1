package dev.cryo.it;

import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Pseudo-terminal pairs held inside the tree (issue 8): a program driving a child on a pty comes
 * back with the pair (same index, termios and locked termios, window size, packet, exclusive and
 * lock modes, the slave node's owner and mode), the child's session with the pty as controlling
 * terminal and its foreground group, the bytes sitting in the pair — complete lines, an EOF, a line
 * half typed, the master's unread output — and bytes pass both ways; a pty with an end outside the
 * tree, or a packet-mode status not yet read, is refused at dump with the tree left running. Every dump → restore goes through {@link DumpRestore} (the state
 * comparator).
 */
class PtyTest {
    @TempDir
    Path tmp;

    /**
     * zdtm's vt: a session leader whose controlling terminal is a virtual console (vtctty.c, 4:23, with a
     * node of it in a directory of its own) was refused without --shell-job ("terminal ... is open; dump
     * with --shell-job to take the terminal along"); the leader takes it back as its terminal, its group
     * in the foreground. Skipped where the console does not become the program's terminal.
     */
    @Test
    void aSessionWhoseTerminalIsAVirtualConsoleTakesItBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("vtctty.out"),
                TestPrograms.compile("/c/vtctty.c").toString(), dir.toString())) {
            DetachedProcess.awaitCondition(() -> {
                try {
                    return p.outputText().contains("ready") || p.outputText().contains("skip");
                } catch (java.io.IOException e) {
                    return false;
                }
            }, Duration.ofSeconds(60), "vtctty ready");
            org.junit.jupiter.api.Assumptions.assumeFalse(p.outputText().contains("skip"), p.outputText());
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS") && verdict.split("ready", -1).length == 2, verdict);
        }
    }

    @Test
    void aProgramDrivingAChildOnAPtyGetsThePairAndTheSessionBack() throws Exception {
        assertPassesAfterRestore("pty");
    }

    /**
     * A session leader on a pty of the tree holds /dev/tty in flight in an unread message to itself: it was refused
     * unless dumped with --shell-job ("terminal /dev/tty is open", cryo read its own controlling terminal for a file
     * in flight, not the receiver's). The file reaches the receiver's terminal, so it is opened again there and
     * reaches the same pty after the restore. (One reaching another terminal than the receiver's is refused:
     * NotCarriedTest.)
     */
    @Test
    void aSessionLeaderGetsBackTheDevTtyItPassesItselfInFlight() throws Exception {
        String program = "import fcntl, os, signal, socket, termios\nm, s = os.openpty()\nif os.fork() == 0:\n"
                + "    os.setsid()\n    fcntl.ioctl(s, termios.TIOCSCTTY, 0)\n    a, b = socket.socketpair()\n"
                + "    t = os.open('/dev/tty', os.O_RDWR)\n    socket.send_fds(b, [b'x'], [t])\n    os.close(t)\n"
                + "    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n    print('ready', os.getpid(), flush=True)\n"
                + "    signal.sigwait([signal.SIGUSR1])\n    _, fds, _, _ = socket.recv_fds(a, 1, 1)\n"
                + "    dev = lambda f: fcntl.ioctl(f, 0x80045432, b'0000')\n" // TIOCGDEV: the terminal it reaches
                + "    print('verdict', 'PASS' if dev(fds[0]) == dev(s) else 'FAIL: it reaches another terminal', flush=True)\n"
                + "    os._exit(0)\nos.close(s)\nos.wait()\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("flytty.out"), "python3", "-c", program)) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            p.awaitOutput("\n", Duration.ofSeconds(30)); // its whole line, pid too: once under load, 'ready' alone was read
            int leader = Integer.parseInt(p.outputText().trim().split("\\s+")[1]);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(leader), dev.cryo.kernel.Signals.SIGUSR1);
                r.awaitOutput("verdict", Duration.ofSeconds(30));
                assertTrue(r.outputText().contains("verdict PASS"), r.outputText());
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /** Workload {@code name}.c, ready, dumped and restored, then asked for its verdict: PASS. */
    private void assertPassesAfterRestore(String name, String... args) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(TestPrograms.compile("/c/" + name + ".c").toString()));
        command.addAll(java.util.List.of(args));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"),
                command.toArray(String[]::new)))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                String out = Workloads.check(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void aScriptSessionStillRunsAndPassesBytesBothWays() throws Exception {
        // script(1) reads its stdin from a FIFO (opened read-write, so it never sees EOF) and runs a
        // shell on a pty; the shell's child answers every line it reads from the terminal
        Path fifo = tmp.resolve("in");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "sh", "-c",
                "mkfifo in && exec script -qfec \"echo ready; sh -c 'while read l; do echo got-\\$l; done'\""
                        + " /dev/null <>in")) {
            Workloads.ready(p);
            send(fifo, "hello\n");
            p.awaitOutput("got-hello", Duration.ofSeconds(10));
            awaitQuiet(p);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                send(fifo, "ping\n");
                r.awaitOutput("got-ping", Duration.ofSeconds(10));
                char s = r.state();
                assertTrue(s == 'S' || s == 'R', "script runs on: state " + s);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A container's terminals (ptyns.c: an init in its own pid, mount, net, ipc and uts namespaces,
     * pivoted, with its own devpts instance): a shell-like session leader whose controlling terminal
     * is pty 0 of that instance, and pty 2 (pty 1 closed below it) with a line unread each way, a
     * window size, echo off and its node's mode and owner. Meanwhile this JVM, outside the tree, holds
     * three ptys of the host's instance, whose numbers are the container's too. Before, the dump
     * refused them ("a devpts instance of its own"); now the pairs come back in the container's new
     * instance with their indexes, the shell leads its session on its terminal in the foreground, and
     * the bytes are there.
     */
    @Test
    void aContainersOwnDevptsPtysComeBackWithTheirIndexesQueuesAndControllingTerminal() throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev/pts"));
        Path bin = root.resolve("ptyns");
        Files.copy(TestPrograms.compile("/c/ptyns.c", "-static"), bin);
        java.util.List<dev.cryo.kernel.Fd> host = new java.util.ArrayList<>();
        int init = 0;
        try {
            for (int i = 0; i < 3; i++) { // the host's ptys, open outside the tree, as a user's terminals are
                dev.cryo.kernel.Fd m = dev.cryo.kernel.Terminals.openPtmx(dev.cryo.kernel.Fcntl.O_RDWR);
                host.add(m);
                dev.cryo.kernel.Terminals.locked(m, false);
                host.add(dev.cryo.kernel.Terminals.peer(m, dev.cryo.kernel.Fcntl.O_RDWR));
            }
            Path out = tmp.resolve("ptyns.out");
            try (DetachedProcess starter = DetachedProcess.start(out, bin.toString(), root.toString())) {
                DetachedProcess.awaitCondition(() -> text(out).matches("(?s).*init \\d+\\s.*"), Duration.ofSeconds(60),
                        "the init to be ready");
                String t = text(out);
                init = Integer.parseInt(t.substring(t.indexOf("init ") + 5).trim().split("\\s+")[0]);
                DetachedProcess restored = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(out);
                String verdict = RestoreTest.checkAndReap(restored);
                assertTrue(verdict.contains("PASS"), verdict);
            }
        } finally {
            if (init > 0) {
                Workloads.killQuietly(init);
            }
            host.forEach(dev.cryo.kernel.Fd::close);
        }
    }

    /**
     * The way a user runs --shell-job: a job in the foreground of an interactive shell (rawjob.c, which
     * puts the terminal in raw mode like an editor or a line editor) is dumped, the shell gets its
     * prompt back, and {@code cryo restore --shell-job} typed at that prompt brings the job back in
     * the same session, its own group the terminal's foreground again and the terminal in its modes:
     * a key reaches it at once. It came back in a background group (stopped by SIGTTIN at its first
     * read, out of the user's reach) and in the shell's line mode with echo.
     */
    @Test
    void aForegroundShellJobRestoredAtItsShellsPromptIsTheForegroundJobAgain() throws Exception {
        Path fifo = tmp.resolve("in");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "sh", "-c",
                "mkfifo in && exec script -qfec 'bash --norc --noprofile -i' /dev/null <>in")) {
            DetachedProcess.awaitCondition(() -> Files.exists(fifo), Duration.ofSeconds(10), "the fifo");
            send(fifo, TestPrograms.compile("/c/rawjob.c") + "\n");
            java.util.regex.Pattern ready = java.util.regex.Pattern.compile("ready (\\d+)");
            DetachedProcess.awaitCondition(() -> ready.matcher(text(p)).find(), Duration.ofSeconds(30), "rawjob.c");
            java.util.regex.Matcher m = ready.matcher(text(p));
            assertTrue(m.find());
            int job = Integer.parseInt(m.group(1));
            send(fifo, "a");
            p.awaitOutput("got-a", Duration.ofSeconds(10));
            DumpRestore d = DumpRestore.dump(job, tmp.resolve("img"), "--shell-job").inItsOwnSession();
            Files.writeString(tmp.resolve("restore.sh"), "exec " + String.join(" ", CryoProcess.command("restore",
                    "-D", tmp.resolve("img").toString(), "--shell-job", "--no-progress")) + "\n");
            send(fifo, "sh restore.sh\n");
            p.awaitOutput("Restored 1 task", Duration.ofSeconds(60));
            try {
                DetachedProcess.awaitCondition(() -> text(Path.of("/proc/" + job + "/status")).contains("TracerPid:\t0\n"),
                        Duration.ofSeconds(10), "the restored job to be released");
                d.compareRunning();
                send(fifo, "b"); // one key, no newline: read at once in raw mode
                p.awaitOutput("got-b", Duration.ofSeconds(10));
            } finally {
                Sys.kill(dev.cryo.kernel.Pid.of(job), Signals.SIGKILL);
            }
        }
    }

    @Test
    void aPtyWhoseSlaveIsOpenOutsideTheTreeIsRefused() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "script", "-qfec",
                "echo ready; exec /bin/sleep 600", "/dev/null")) {
            Workloads.ready(p);
            int sleeper = Workloads.sleepUnder(p);
            String pts = Files.readSymbolicLink(Path.of("/proc/" + sleeper + "/fd/0")).toString();
            try (DetachedProcess outside = DetachedProcess.start(tmp.resolve("outside.out"), "sh", "-c",
                    "exec /bin/sleep 600 <" + pts)) {
                DetachedProcess.awaitCondition(() -> isLink("/proc/" + outside.pid() + "/fd/0", pts),
                        Duration.ofSeconds(10), "a process outside the tree to open " + pts);
                Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
                assertEquals(1, r.code(), r.toString());
                assertTrue(r.err().contains("pseudo-terminal " + pts + " (master /dev/ptmx) is also open in pid "
                        + outside.pid() + " fd 0, outside the tree"), r.err());
                assertFalse(Files.exists(tmp.resolve("img").resolve("image.cryo")));
                char s = p.state();
                assertTrue(s == 'S' || s == 'R', "state " + s);
            }
        }
    }

    @Test
    void aHalfTypedLineIsReadWholeOnceAfterTheRestoreWithoutASecondEcho() throws Exception {
        // ptyline.c: a child blocked in a canonical read with "wor" typed, "late\r\nwor" unread on the
        // master, the slave's ICANON locked, its node chown'd and chmod 0600; it checks all of it itself
        try (DetachedProcess p = Workloads.program(tmp.resolve("line.out"), "ptyline")) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                String out = Workloads.check(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void aTreeLeftRunningGetsTheBytesTakenFromItsPtyBack() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("line.out"), "ptyline")) {
            Cli d = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress",
                    "--leave-running");
            assertEquals(0, d.code(), d.toString());
            Cli show = Cli.run("show", tmp.resolve("img").toString());
            assertEquals(0, show.code(), show.toString());
            assertTrue(show.out().contains("\"inputPending\" : \"wor\"") || show.out().contains("\"inputPending\": \"wor\""),
                    show.out());
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void completeLinesAnEofAHalfLineAndAStoppedOutputComeBack() throws Exception {
        // nobody reads the slave: two lines, an EOF (^D alone), a line ended by ^D, and half a line sit
        // in its canonical queue, the echo in the master's, and its output is stopped by ^S; after the
        // restore the program finds output still stopped until ^Q, and reads them all
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lines.out"), "/usr/bin/python3",
                "-c", String.join("\n",
                        "import os,signal,select",
                        "m,s=os.openpty()",
                        "os.write(m,b'one\\n\\x16\\x7fraw\\n\\x04two\\x04hal')",
                        "import fcntl,termios,struct,time",
                        "while struct.unpack('i',fcntl.ioctl(m,termios.FIONREAD,b'1234'))[0]<20: time.sleep(0.01)",
                        "os.write(s,b'out\\n')",
                        "os.write(m,b'\\x13')",
                        "while select.select([],[s],[],0)[1]: time.sleep(0.01)",
                        "signal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGUSR2])",
                        "print('ready',flush=True)",
                        "signal.sigwait([signal.SIGUSR2])",
                        "stopped=not select.select([],[s],[],0)[1]",
                        "os.write(m,b'\\x11f\\n')",
                        "started=bool(select.select([],[s],[],5)[1])",
                        "got=[os.read(s,100) for i in range(5)]",
                        "echo=b''",
                        "while select.select([m],[],[],1)[0]: echo+=os.read(m,100)",
                        "want=[b'one\\n',b'\\x7fraw\\n',b'',b'two',b'half\\n']",
                        "wecho=b'one\\r\\n^\\x08^?raw\\r\\ntwohalout\\r\\nf\\r\\n'",
                        "print('PASS' if got==want and echo==wecho and stopped and started else 'FAIL: %r %r %r %r' % (got, echo, stopped, started),flush=True)",
                        "")))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                String out = Workloads.check(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void anUnreadPacketModeStatusIsRefused() throws Exception {
        // a master in packet mode that has not read the status a flow-control change posted (NOSTOP)
        assertPairRefused("pkt",
                "fcntl.ioctl(m,termios.TIOCPKT,struct.pack('i',1))\n"
                        + "t=termios.tcgetattr(s); t[0]&=~termios.IXON; termios.tcsetattr(s,termios.TCSANOW,t)",
                "holds a packet-mode status its master has not read");
    }

    @Test
    void aSlaveUnderAnotherLineDisciplineIsRefused() throws Exception {
        // n_null (27) is the one other discipline this kernel has built in (/proc/tty/ldiscs)
        assertPairRefused("ldisc", "fcntl.ioctl(s,termios.TIOCSETD,struct.pack('i',27))",
                ": its slave runs line discipline 27 (see /proc/tty/ldiscs), not n_tty");
    }

    /** A process that opens a pair (m, s), runs {@code setup} on it and waits: its dump is refused for {@code reason}. */
    private void assertPairRefused(String name, String setup, String reason) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"), "/usr/bin/python3",
                "-c", String.join("\n",
                        "import os,time,fcntl,termios,struct",
                        "m,s=os.openpty()",
                        setup,
                        "print('ready',m,flush=True)",
                        "time.sleep(600)",
                        "")))) {
            String fd = Workloads.readyFd(p);
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("pid " + p.pid() + " fd " + fd + ": pseudo-terminal /dev/pts/"), r.err());
            assertTrue(r.err().contains(reason), r.err());
            assertFalse(Files.exists(tmp.resolve("img").resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "state " + s);
        }
    }

    @Test
    void aPairWhoseIndexIsTakenComesBackUnderAnotherAndItsSlaveFollows() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("pair.out"), "/usr/bin/python3", "-c",
                "import os,time\nm,s=os.openpty()\nprint('ready',m,s,flush=True)\ntime.sleep(600)\n"))) {
            String[] words = Workloads.readyWords(p, 2);
            int pid = p.pid().value();
            String pts = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + words[2])).toString();
            // not through DumpRestore: the pair comes back under another index on purpose, which the
            // state comparator rightly reports as a difference
            Cli dump = Cli.run("dump", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10),
                    "the dumped pid to go");
            // another program takes the dumped index (opening ptys until it holds it)
            try (DetachedProcess holder = Workloads.ready(DetachedProcess.start(tmp.resolve("holder.out"),
                    "/usr/bin/python3", "-c", "import os,time\nkeep=[]\nwhile True:\n    m,s=os.openpty()\n"
                            + "    keep.append((m,s))\n    if os.ttyname(s)=='" + pts + "' or len(keep)>64: break\n"
                            + "print('ready',os.ttyname(s),flush=True)\ntime.sleep(600)\n"))) {
                assertTrue(holder.outputText().contains("ready " + pts), holder.outputText());
                Cli r = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d");
                assertEquals(0, r.code(), r.toString());
                DetachedProcess restored = DetachedProcess.restored(p.pid(), p.output());
                try {
                    String index = Files.readAllLines(Path.of("/proc/" + pid + "/fdinfo/" + words[1])).stream()
                            .filter(l -> l.startsWith("tty-index:")).findFirst().orElseThrow().split("\\s+")[1];
                    String slave = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + words[2])).toString();
                    assertNotEquals(pts, slave, "the dumped index is the holder's");
                    assertEquals("/dev/pts/" + index, slave, "the slave follows its master to the new index");
                    char s = restored.state();
                    assertTrue(s == 'S' || s == 'R', "state " + s);
                } finally {
                    RestoreTest.killAndReap(restored);
                }
            }
        }
    }

    @Test
    void aProgramThatOutlivedItsTerminalKeepsItsHungUpSlaves() throws Exception {
        // zdtm pty04: the master closed by every process, the slave's node removed; the dump refused it
        assertPassesAfterRestore("ptyhungup");
    }

    /**
     * zdtm pty04 in the ns flavor: the same in a devpts instance of the program's own (mounted in a mount
     * namespace it made) was refused ("has its master outside the tree"); the pair is made in the new
     * instance once the namespace's mounts are made again, and its master closed.
     */
    @Test
    void aProgramThatOutlivedItsTerminalInADevptsOfItsOwnKeepsItsHungUpSlaves() throws Exception {
        assertPassesAfterRestore("ptyhungup", "own");
    }

    @Test
    void aHungUpControllingTerminalTakenAsAShellJobComesBackHungUp() throws Exception {
        // was refused (NotCarriedTest): before that, the shell job's dump took it and killed the tree, and
        // the restore failed to open the removed node again (ENOENT)
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("ctty.out"), "/usr/bin/python3", "-c",
                "import os, fcntl, termios, signal, time\nm, s = os.openpty()\nfcntl.ioctl(s, termios.TIOCSCTTY, 0)\n"
                        + "signal.signal(signal.SIGHUP, signal.SIG_IGN)\nos.close(m)\nprint('ready', s, flush=True)\n"
                        + "time.sleep(600)\n"))) {
            int pid = p.pid().value();
            String fd = Workloads.readyFd(p);
            String img = tmp.resolve("img").toString();
            Cli dump = Cli.run("dump", "-t", Integer.toString(pid), "-D", img, "--shell-job", "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            Cli r = Cli.run("restore", "-D", img, "-d");
            assertEquals(0, r.code(), r.toString());
            DetachedProcess restored = DetachedProcess.restored(p.pid(), p.output());
            try {
                String link = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
                assertTrue(link.matches("/dev/pts/\\d+ \\(deleted\\)"), link);
                char s = restored.state();
                assertTrue(s == 'S' || s == 'R', "state " + s);
            } finally {
                RestoreTest.killAndReap(restored);
            }
        }
    }

    @Test
    void aMasterWhoseSlaveWasClosedStillSeesItClosed() throws Exception {
        // a program whose child on the pty has exited: its master reads EIO (poll: POLLHUP) until a slave opens again
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("hup.out"), "/usr/bin/python3", "-c",
                "import os,time\nm,s=os.openpty()\nos.close(s)\nprint('ready',m,flush=True)\ntime.sleep(600)\n"))) {
            int fd = Integer.parseInt(Workloads.readyFd(p));
            assertTrue(slaveClosed(p.pid(), fd), "the workload's slave is closed before the dump");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertTrue(slaveClosed(r.pid(), fd), "the restored master still sees its slave closed");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void whatAMasterWroteAfterItsSlaveClosedWaitsForTheNextSlave() throws Exception {
        // the slave closed, then the master wrote a line (echoed back to it, unread) and locked the
        // pair; after the restore the master still sees the slave closed, reads the echo, and the
        // next slave opened reads the line
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("closed.out"), "/usr/bin/python3",
                "-c", String.join("\n",
                        "import os,signal,fcntl,termios,struct,select",
                        "m,s=os.openpty()",
                        "name=os.ttyname(s)",
                        "os.close(s)",
                        "os.write(m,b'queued\\n')",
                        "fcntl.ioctl(m,0x40045431,struct.pack('i',1))",
                        "signal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGUSR2])",
                        "print('ready',flush=True)",
                        "signal.sigwait([signal.SIGUSR2])",
                        "p=select.poll()",
                        "p.register(m,select.POLLIN)",
                        "hup=any(e & select.POLLHUP for f,e in p.poll(0))",
                        "echo=os.read(m,100) if select.select([m],[],[],5)[0] else b''",
                        "fcntl.ioctl(m,0x40045431,struct.pack('i',0))",
                        "s=os.open(name,os.O_RDWR|os.O_NOCTTY)",
                        "got=os.read(s,100) if select.select([s],[],[],5)[0] else b''",
                        "print('PASS' if hup and got==b'queued\\n' and echo==b'queued\\r\\n' else 'FAIL: %r %r %r' % (hup,got,echo),flush=True)",
                        "")))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                String out = Workloads.check(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    private static boolean slaveClosed(dev.cryo.kernel.Pid pid, int fd) {
        try (dev.cryo.kernel.Fd pidfd = Sys.pidfdOpen(pid); dev.cryo.kernel.Fd master = Sys.pidfdGetfd(pidfd, pid, fd)) {
            return dev.cryo.kernel.Terminals.slaveClosed(master);
        }
    }

    private static String text(DetachedProcess p) {
        return text(p.output());
    }

    private static String text(Path file) {
        try {
            return Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static void send(Path fifo, String line) throws Exception {
        // the FIFO has a reader (script) that also holds it open for writing: this never blocks
        Files.writeString(fifo, line, java.nio.file.StandardOpenOption.WRITE);
    }

    /** Waits until the tree sleeps in its reads, so no byte is in flight through the pty. */
    private static void awaitQuiet(DetachedProcess p) throws Exception {
        long size = -1;
        for (int i = 0; i < 100; i++) {
            long now = Files.size(p.output());
            if (now == size) {
                return;
            }
            size = now;
            Thread.sleep(50);
        }
    }

    private static boolean isLink(String link, String target) {
        try {
            return Files.readSymbolicLink(Path.of(link)).toString().equals(target);
        } catch (Exception e) {
            return false;
        }
    }
}
