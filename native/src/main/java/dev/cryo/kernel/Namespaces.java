package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Looks at another task's namespaces from inside: a fresh thread of this process joins them
 * (setns is per thread for uts, ipc and net), does the work and ends, so no other thread of cryo
 * ever runs in them. Files like /proc/sysvipc/* and calls like uname answer for the caller's
 * namespace, which is how the tree's are read.
 */
public final class Namespaces {
    private Namespaces() {}

    /** The link /proc/PID/ns/KIND ("uts:[4026531838]"), or null when unreadable (a zombie, a kind the kernel lacks). */
    public static String link(String pid, String kind) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + pid + "/ns/" + kind)).toString();
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** Runs {@code work} on a new thread that joined namespace {@code kind} ("uts", "ipc", "net") of {@code pid}. */
    public static <T> T inside(Pid pid, String kind, Callable<T> work) {
        FutureTask<T> task = new FutureTask<>(() -> {
            try (Fd ns = Sys.open("/proc/" + pid + "/ns/" + kind, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                Sys.call(() -> "setns(/proc/" + pid + "/ns/" + kind + ")", SyscallNr.SETNS, ns.value(),
                        Clone.namespaceFlag(kind), 0, 0);
            }
            return work.call();
        });
        Thread t = new Thread(task, "cryo-ns-" + kind + "-" + pid);
        t.setDaemon(true);
        t.start();
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while reading the " + kind + " namespace of pid " + pid);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new KernelException("cannot read the " + kind + " namespace of pid " + pid + ": " + c, c);
        }
    }

    /** {nodename, domainname} of the calling thread's uts namespace (uname). */
    public static String[] utsNames() {
        Memory u = new Memory(6 * 65);
        u.clear();
        Sys.call(() -> "uname", 63, Sys.address(u), 0, 0, 0);
        return new String[] {cString(u, 65), cString(u, 5 * 65)};
    }

    private static String cString(Memory m, long at) {
        byte[] b = m.getByteArray(at, 65);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }
}
