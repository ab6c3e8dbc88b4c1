package dev.cryo.kernel;

import com.sun.jna.Memory;

import static dev.cryo.kernel.Fcntl.O_NOCTTY;

/**
 * Terminal ioctls on cryo's own fds (a pty master cryo opened, or a copy of a task's fd taken with
 * pidfd_getfd), and the request numbers cryo injects into tasks (TIOCSCTTY, TIOCSPGRP). On a pty
 * master, termios, window size, session and foreground group requests act on the slave side: the
 * kernel redirects them to the linked tty.
 */
public final class Terminals {
    private Terminals() {}

    public static final long TCGETS2 = 0x802C542AL, TCSETS2 = 0x402C542BL, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414,
            TIOCPKT = 0x5420, TIOCGPKT = 0x80045438L, TIOCSPTLCK = 0x40045431L, TIOCGPTLCK = 0x80045439L,
            TIOCGPTN = 0x80045430L, TIOCGPTPEER = 0x5441, TIOCEXCL = 0x540C, TIOCGEXCL = 0x80045440L,
            TIOCSCTTY = 0x540E, TIOCSPGRP = 0x5410, TIOCGPGRP = 0x540F, TIOCGSID = 0x5429, FIONREAD = 0x541B,
            TIOCSTI = 0x5412, TIOCGLCKTRMIOS = 0x5456, TIOCSLCKTRMIOS = 0x5457, TCXONC = 0x540A, TCOOFF = 0,
            TIOCGETD = 0x5424, TIOCGDEV = 0x80045432L;

    /** The line discipline every terminal starts with (N_TTY); /proc/tty/ldiscs lists the others. */
    public static final int N_TTY = 0;

    /** struct termios, the layout of the locked-termios requests (termios2 without the speeds). */
    public static final int TERMIOS_SIZE = 36;

    /** The first status byte of every packet-mode read that carries data. */
    public static final int TIOCPKT_DATA = 0;

    /** struct termios2 (flags, line discipline, control characters, speeds) and struct winsize. */
    public static final int TERMIOS2_SIZE = 44, WINSIZE_SIZE = 8;

    /** Major numbers: 5 holds /dev/tty (minor 0) and /dev/ptmx (minor 2); unix98 slaves are 136-143. */
    public static final int TTYAUX_MAJOR = 5, PTS_MAJOR_FIRST = 136, PTS_MAJOR_LAST = 143;

    /** A new pseudo-terminal: /dev/ptmx opened with {@code flags} (never as a controlling terminal). */
    public static Fd openPtmx(int flags) {
        return openPtmx("/dev/ptmx", flags);
    }

    /**
     * A new pseudo-terminal of the devpts instance {@code ptmx} reaches: that instance's own
     * {@code ptmx} node, or a /dev/ptmx whose sibling {@code pts} is the instance.
     */
    public static Fd openPtmx(String ptmx, int flags) {
        return Sys.open(ptmx, flags | O_NOCTTY);
    }

    /** The pty index of a master (its slave is /dev/pts/INDEX). */
    public static int index(Fd master) {
        return getInt(master, TIOCGPTN, "TIOCGPTN");
    }

    /** A new open file of the master's slave, with exactly {@code flags} (TIOCGPTPEER adds no O_LARGEFILE). */
    public static Fd peer(Fd master, int flags) {
        return new Fd((int) ioctl(master, TIOCGPTPEER, flags | O_NOCTTY, "TIOCGPTPEER"));
    }

    public static byte[] termios(Fd fd) {
        return get(fd, TCGETS2, TERMIOS2_SIZE, "TCGETS2");
    }

    public static void termios(Fd fd, byte[] t) {
        set(fd, TCSETS2, t, "TCSETS2");
    }

    public static byte[] winsize(Fd fd) {
        return get(fd, TIOCGWINSZ, WINSIZE_SIZE, "TIOCGWINSZ");
    }

    public static void winsize(Fd fd, byte[] w) {
        set(fd, TIOCSWINSZ, w, "TIOCSWINSZ");
    }

    public static boolean packetMode(Fd master) {
        return getInt(master, TIOCGPKT, "TIOCGPKT") != 0;
    }

    public static void packetMode(Fd master, boolean on) {
        setInt(master, TIOCPKT, on ? 1 : 0, "TIOCPKT");
    }

    public static boolean locked(Fd master) {
        return getInt(master, TIOCGPTLCK, "TIOCGPTLCK") != 0;
    }

    public static void locked(Fd master, boolean lock) {
        setInt(master, TIOCSPTLCK, lock ? 1 : 0, "TIOCSPTLCK");
    }

    /** Whether new opens of this side are refused (TIOCEXCL). */
    public static boolean exclusive(Fd fd) {
        return getInt(fd, TIOCGEXCL, "TIOCGEXCL") != 0;
    }

    public static void makeExclusive(Fd fd) {
        ioctl(fd, TIOCEXCL, 0, "TIOCEXCL");
    }

    /** The locked termios (TIOCGLCKTRMIOS): bits and characters set here cannot be changed by TCSETS. */
    public static byte[] lockedTermios(Fd fd) {
        return get(fd, TIOCGLCKTRMIOS, TERMIOS_SIZE, "TIOCGLCKTRMIOS");
    }

    /** Sets the locked termios (TIOCSLCKTRMIOS, needs CAP_SYS_ADMIN). */
    public static void lockedTermios(Fd fd, byte[] t) {
        set(fd, TIOCSLCKTRMIOS, t, "TIOCSLCKTRMIOS");
    }

    /**
     * Hands {@code b} to this tty's line discipline as if it had arrived (TIOCSTI, needs CAP_SYS_ADMIN
     * for a tty that is not cryo's own): processed at once, unlike a write to the peer, which the
     * kernel passes on later from a work queue.
     */
    public static void inject(Fd fd, byte b) {
        Memory m = new Memory(1);
        m.setByte(0, b);
        ioctl(fd, TIOCSTI, Sys.address(m), "TIOCSTI");
    }

    /** read(2) of at most {@code max} bytes; an empty array at end of file (a canonical EOF line). */
    public static byte[] read(Fd fd, int max) {
        Memory m = new Memory(max);
        long n = Sys.call(() -> "read(" + fd + ")", SyscallNr.READ, fd.value(), Sys.address(m), max, 0);
        return m.getByteArray(0, (int) n);
    }

    /** poll(2) with no wait: the revents of {@code events} (POLLIN 1, POLLPRI 2). */
    public static int poll(Fd fd, int events) {
        Memory pfd = new Memory(8);
        pfd.setInt(0, fd.value());
        pfd.setShort(4, (short) events);
        pfd.setShort(6, (short) 0);
        Sys.call(() -> "poll(" + fd + ")", SyscallNr.POLL, Sys.address(pfd), 1, 0, 0);
        return pfd.getShort(6);
    }

    public static final int POLLIN = 1, POLLPRI = 2, POLLOUT = 4, POLLERR = 8;

    /**
     * The terminal an open file reaches, as stat's tty_nr numbers it (TIOCGDEV): for a file of /dev/tty, the
     * controlling terminal of the process that opened it, whichever it has now; -1 once that one hung up.
     */
    public static int device(Fd tty) {
        try {
            return getInt(tty, TIOCGDEV, "TIOCGDEV");
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOTTY || e.errno() == Errno.EIO) {
                return -1;
            }
            throw e;
        }
    }

    /** A terminal by stat's tty_nr: "/dev/pts/N", "none" for 0, else its device numbers. */
    public static String name(int ttyNr) {
        return ttyNr == 0 ? "none" : ttyNr < 0 ? "one that hung up" : isPtySlave(ttyNr) ? "/dev/pts/" + slaveIndex(ttyNr)
                : "tty " + major(ttyNr) + ":" + minor(ttyNr);
    }

    /** The line discipline of this side (TIOCGETD). */
    public static int lineDiscipline(Fd fd) {
        return getInt(fd, TIOCGETD, "TIOCGETD");
    }

    /** Suspends output of this tty as tcflow(TCOOFF) does (only TCOON starts it again). */
    public static void stopOutput(Fd fd) {
        ioctl(fd, TCXONC, TCOOFF, "TCXONC(TCOOFF)");
    }

    /** Bytes waiting to be read on this side. */
    public static int unread(Fd fd) {
        return getInt(fd, FIONREAD, "FIONREAD");
    }

    /**
     * Whether every slave of this master has been closed since one was opened (the master reads EIO,
     * poll reports POLLHUP); a fresh master whose slave was never opened is not. Polling takes nothing.
     */
    public static boolean slaveClosed(Fd master) {
        Memory pfd = new Memory(8);
        pfd.setInt(0, master.value());
        pfd.setShort(4, (short) 1 /* POLLIN */);
        pfd.setShort(6, (short) 0);
        Sys.call(() -> "poll(" + master + ")", SyscallNr.POLL, Sys.address(pfd), 1, 0, 0);
        return (pfd.getShort(6) & 0x10 /* POLLHUP */) != 0;
    }

    /** The slave's foreground process group, or 0 when it has none (no session). */
    public static int foreground(Fd master) {
        return getInt(master, TIOCGPGRP, "TIOCGPGRP");
    }

    /**
     * The session whose controlling terminal this is (TIOCGSID; on a master, its slave's), as the
     * caller's pid namespace numbers it; 0 when it is no session's.
     */
    public static int session(Fd tty) {
        try {
            return getInt(tty, TIOCGSID, "TIOCGSID");
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOTTY) {
                return 0;
            }
            throw e;
        }
    }

    /** Makes {@code pgrp} the terminal's foreground process group (the caller's controlling terminal). */
    public static void foreground(Fd tty, int pgrp) {
        setInt(tty, TIOCSPGRP, pgrp, "TIOCSPGRP " + pgrp);
    }

    private static long ioctl(Fd fd, long request, long arg, String name) {
        return Sys.call(() -> "ioctl(" + fd + ", " + name + ")", SyscallNr.IOCTL, fd.value(), request, arg, 0);
    }

    private static int getInt(Fd fd, long request, String name) {
        Memory m = new Memory(4);
        m.setInt(0, 0);
        ioctl(fd, request, Sys.address(m), name);
        return m.getInt(0);
    }

    private static void setInt(Fd fd, long request, int value, String name) {
        Memory m = new Memory(4);
        m.setInt(0, value);
        ioctl(fd, request, Sys.address(m), name);
    }

    private static byte[] get(Fd fd, long request, int size, String name) {
        Memory m = new Memory(size);
        m.clear();
        ioctl(fd, request, Sys.address(m), name);
        return m.getByteArray(0, size);
    }

    private static void set(Fd fd, long request, byte[] value, String name) {
        Memory m = new Memory(value.length);
        m.write(0, value, 0, value.length);
        ioctl(fd, request, Sys.address(m), name);
    }

    public static int major(long rdev) {
        return (int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL));
    }

    public static int minor(long rdev) {
        return (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL));
    }

    /** A virtual console /dev/ttyN (4:1..63): a device of the host's, not a pty of the tree's. */
    public static boolean isVirtualConsole(long rdev) {
        return major(rdev) == 4 && minor(rdev) >= 1 && minor(rdev) <= 63;
    }

    /** A unix98 pty slave (/dev/pts/N); its minor within the major range is the pty index. */
    public static boolean isPtySlave(long rdev) {
        int major = major(rdev);
        return major >= PTS_MAJOR_FIRST && major <= PTS_MAJOR_LAST;
    }

    /** The pty index of a slave device number: its minor (devpts uses 20-bit minors of major 136). */
    public static int slaveIndex(long rdev) {
        return minor(rdev);
    }

    /** The device number of /dev/pts/INDEX, as stat's tty_nr and st_rdev show it. */
    public static long slaveDevice(int index) {
        return ((long) PTS_MAJOR_FIRST << 8) | (index & 0xff) | ((long) (index & ~0xff) << 12);
    }
}
