package dev.cryo.it;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.TcpRepair;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The lock watchdog's JVM, as it runs once cryo is gone (DumpKillTrialTest kills cryo where every connection is out
 * of repair mode already): a connection of the tree's still in repair mode (one no lock holds, or one caught between
 * a kill's return to repair mode and the kill) leaves it with its SO_REUSEADDR and works on, and the lock's tables go.
 */
class LockWatchdogTest {
    @TempDir
    Path tmp;

    @Test
    void aConnectionLeftInRepairModeWorksAgainAndTheLockGoes() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (SocketRestoreTest.EchoServer echo = new SocketRestoreTest.EchoServer();
             DetachedProcess p = Workloads.sockets(tmp, "tcpclient", Integer.toString(echo.port()), "60")) {
            echo.awaitEchoedMore(echo.echoed.get());
            Sys.kill(p.pid(), Signals.SIGSTOP); // no recv or send of its meets repair mode: cryo's tracer held it so
            String table = "cryo_" + p.pid() + "_watchdogtest";
            try (Fd pidfd = Sys.pidfdOpen(p.pid()); Fd sock = tcpSocket(p.pid(), pidfd)) {
                Sockets.setInt(sock, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
                boolean reuseAddr = TcpRepair.enter(sock);
                NetworkLock.lock(table, List.of());
                Path file = tmp.resolve("watch");
                Files.writeString(file, "cryo-lock-watch 1\ntask " + p.pid() + " " + ProcFs.stat(p.pid()).starttime()
                        + "\ntable " + table + "\nsocket " + inode(sock) + " " + (reuseAddr ? 1 : 0) + "\n");
                String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
                Process w = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-XX:-UsePerfData", "-cp", cp, "dev.cryo.engine.files.LockWatchdog", file.toString())
                        .redirectErrorStream(true).redirectOutput(tmp.resolve("watchdog.out").toFile()).start();
                assertTrue(w.waitFor(120, TimeUnit.SECONDS), "the watchdog ends");
                String said = Files.readString(tmp.resolve("watchdog.out"));
                assertEquals(0, w.exitValue(), said);
                assertTrue(said.contains("1 connection(s) of the tree taken out of TCP repair mode"), said);
                assertEquals(0, Sockets.getInt(sock, Sockets.SOL_TCP, Sockets.TCP_REPAIR), "out of repair mode");
                assertEquals(1, Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR), "SO_REUSEADDR back");
                assertFalse(NetworkLock.isLocked(table), "the lock is gone");
                assertFalse(Files.exists(file), "the watch file is gone");
            } finally {
                if (NetworkLock.isLocked(table)) {
                    NetworkLock.unlock(table);
                }
                Sys.kill(p.pid(), Signals.SIGCONT);
            }
            echo.awaitEchoedMore(echo.echoed.get());
            assertEquals(null, echo.ended.get(), "the peer saw the connection end");
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    /** The tree's TCP socket: the one of its sockets that answers for TCP_REPAIR. */
    private static Fd tcpSocket(Pid pid, Fd pidfd) {
        for (Map.Entry<Integer, String> fd : ProcFs.fdTargets(pid).entrySet()) {
            if (fd.getValue().startsWith("socket:[")) {
                Fd s = Sys.pidfdGetfd(pidfd, pid, fd.getKey());
                try {
                    Sockets.getInt(s, Sockets.SOL_TCP, Sockets.TCP_REPAIR);
                    return s;
                } catch (RuntimeException notTcp) {
                    s.close();
                }
            }
        }
        throw new AssertionError("pid " + pid + " holds no TCP socket");
    }

    private static long inode(Fd sock) {
        for (Map.Entry<Integer, String> fd : ProcFs.fdTargets(Pid.of((int) ProcessHandle.current().pid())).entrySet()) {
            if (fd.getKey() == sock.value()) {
                String t = fd.getValue();
                return Long.parseLong(t.substring(8, t.length() - 1));
            }
        }
        throw new AssertionError("no fd " + sock + " here");
    }
}
