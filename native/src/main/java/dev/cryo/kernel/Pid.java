package dev.cryo.kernel;

/** A process or thread id; typed so a pid is never confused with an fd or a count. */
public record Pid(int value) implements Comparable<Pid> {
    public Pid {
        if (value <= 0) {
            throw new IllegalArgumentException("not a pid: " + value);
        }
    }

    public static Pid of(int value) {
        return new Pid(value);
    }

    /** /proc/PID, or the stand-in thread's /proc/TID of a process whose main thread has exited ({@link ExitedLeaders}). */
    public String procDir() {
        return "/proc/" + ExitedLeaders.reader(value);
    }

    @Override
    public int compareTo(Pid o) {
        return Integer.compare(value, o.value);
    }

    @Override
    public String toString() {
        return Integer.toString(value);
    }
}
