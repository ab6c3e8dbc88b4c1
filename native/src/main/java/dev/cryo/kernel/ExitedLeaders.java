package dev.cryo.kernel;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Processes whose main thread has exited while other threads run on (pthread_exit in main, zdtm's
 * pthread02): the kernel has let go of the leader's mm, fd table and fs, so /proc/PID shows no maps,
 * fds nor cwd, and process_vm_readv of PID fails. While cryo holds such a process it reads them
 * through a live thread (its stand-in), whose /proc/TID — not listed in /proc, but there — shows
 * the process's memory, fds and threads. Registered by the seize, forgotten when the task is let go.
 */
public final class ExitedLeaders {
    private ExitedLeaders() {}

    private static final ConcurrentHashMap<Integer, Integer> STAND_INS = new ConcurrentHashMap<>();

    public static void standIn(Pid pid, int tid) {
        STAND_INS.put(pid.value(), tid);
    }

    public static void forget(Pid pid) {
        STAND_INS.remove(pid.value());
    }

    /** Whether {@code pid}'s main thread has exited (while cryo holds it). */
    public static boolean exited(Pid pid) {
        return STAND_INS.containsKey(pid.value());
    }

    /** The task whose /proc and memory stand for {@code pid}'s: its stand-in thread, or {@code pid} itself. */
    public static int reader(int pid) {
        return STAND_INS.getOrDefault(pid, pid);
    }

    /** "/proc/N" of the task that stands for {@code pid} (see {@link #reader}). */
    public static String proc(Pid pid) {
        return "/proc/" + reader(pid.value());
    }

    public static String proc(long pid) {
        return "/proc/" + reader((int) pid);
    }
}
