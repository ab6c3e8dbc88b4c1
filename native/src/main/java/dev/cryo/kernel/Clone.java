package dev.cryo.kernel;

/** clone(2)/clone3 flags (sched.h), in one place. */
public final class Clone {
    private Clone() {}

    public static final int VM = 0x100, FS = 0x200, FILES = 0x400, SIGHAND = 0x800, THREAD = 0x10000,
            SYSVSEM = 0x40000;

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
