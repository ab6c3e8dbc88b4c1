package dev.cryo.kernel;

/** clone(2)/clone3 flags (sched.h), in one place. */
public final class Clone {
    private Clone() {}

    public static final int VM = 0x100, FS = 0x200, FILES = 0x400, SIGHAND = 0x800, PARENT = 0x8000, THREAD = 0x10000,
            SYSVSEM = 0x40000;

    /** The namespace flags (clone3, unshare, setns), by the name /proc/PID/ns gives each kind. */
    public static final int NEWTIME = 0x80, NEWNS = 0x20000, NEWCGROUP = 0x02000000, NEWUTS = 0x04000000,
            NEWIPC = 0x08000000, NEWUSER = 0x10000000, NEWPID = 0x20000000, NEWNET = 0x40000000;

    /** The flag of a namespace kind as /proc/PID/ns names it ("uts"), 0 for an unknown one. */
    public static int namespaceFlag(String kind) {
        return switch (kind) {
            case "pid" -> NEWPID;
            case "uts" -> NEWUTS;
            case "ipc" -> NEWIPC;
            case "net" -> NEWNET;
            case "mnt" -> NEWNS;
            case "user" -> NEWUSER;
            case "cgroup" -> NEWCGROUP;
            case "time" -> NEWTIME;
            default -> 0;
        };
    }

    /** "pid, uts" for the namespace flags set in {@code flags}. */
    public static String describeNamespaces(int flags) {
        StringBuilder b = new StringBuilder();
        for (String k : new String[] {"pid", "uts", "ipc", "net", "mnt", "user", "cgroup", "time"}) {
            if ((flags & namespaceFlag(k)) != 0) {
                b.append(b.length() > 0 ? ", " : "").append(k);
            }
        }
        return b.toString();
    }

    /** "files, fs" for the table-sharing flags set in {@code flags}. */
    public static String describeTables(int flags) {
        StringBuilder b = new StringBuilder();
        if ((flags & FILES) != 0) {
            b.append("fd table (CLONE_FILES)");
        }
        if ((flags & FS) != 0) {
            b.append(b.length() > 0 ? ", " : "").append("cwd, root and umask (CLONE_FS)");
        }
        return b.toString();
    }
}
