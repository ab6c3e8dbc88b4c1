package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;

import java.util.function.Supplier;

/**
 * userfaultfd(2) used from outside the mm it serves: the uffd is made inside the target (by injection) and
 * taken out with pidfd_getfd; its ioctls then act on the target's mm from here. The constants of the uffd
 * API live here ({@link WriteTracker} tracks writes with it; a lazy restore serves missing pages).
 */
public final class Uffd {
    private Uffd() {}

    public static final long UFFD_API = 0xAA;
    public static final long UFFDIO_API = 0xC018AA3FL, UFFDIO_REGISTER = 0xC020AA00L, UFFDIO_UNREGISTER = 0x8010AA01L,
            UFFDIO_WAKE = 0x8010AA02L, UFFDIO_COPY = 0xC028AA03L, UFFDIO_ZEROPAGE = 0xC020AA04L;
    public static final long REGISTER_MODE_MISSING = 1, REGISTER_MODE_WP = 1L << 1;
    /** Features: the events a non-cooperative monitor (the page server of a running tree) must see. */
    public static final long FEATURE_EVENT_FORK = 1L << 1, FEATURE_EVENT_REMAP = 1L << 2,
            FEATURE_EVENT_REMOVE = 1L << 3, FEATURE_EVENT_UNMAP = 1L << 6;
    public static final int EVENT_PAGEFAULT = 0x12, EVENT_FORK = 0x13, EVENT_REMAP = 0x14, EVENT_REMOVE = 0x15,
            EVENT_UNMAP = 0x16;
    /** sizeof(struct uffd_msg). */
    public static final int MSG_SIZE = 32;

    /**
     * A uffd of task {@code pid}'s mm: made inside the task (seized; {@code inj} runs a call in it), non-blocking,
     * with {@code flags}, taken out with pidfd_getfd and closed in the task again, so its fd table is as it was.
     */
    public static Fd makeInside(dev.cryo.kernel.ptrace.Injector inj, Pid pid, int flags) {
        int remote = (int) inj.call("userfaultfd", SyscallNr.USERFAULTFD, Fcntl.O_CLOEXEC | Fcntl.O_NONBLOCK | flags);
        try (Fd pidfd = Sys.pidfdOpen(pid)) {
            return Sys.pidfdGetfd(pidfd, pid, remote);
        } finally {
            inj.call("close", SyscallNr.CLOSE, remote);
        }
    }

    /** The API handshake, asking for {@code features}. */
    public static void api(Fd uffd, long features, Supplier<String> what) {
        Memory api = new Memory(24);
        api.clear();
        api.setLong(0, UFFD_API);
        api.setLong(8, features);
        ioctl(uffd, UFFDIO_API, api, what);
    }

    /** Registers [start, start + len) of the uffd's mm with {@code mode}. */
    public static void register(Fd uffd, long start, long len, long mode, Supplier<String> what) {
        Memory reg = new Memory(32);
        reg.clear();
        reg.setLong(0, start);
        reg.setLong(8, len);
        reg.setLong(16, mode);
        ioctl(uffd, UFFDIO_REGISTER, reg, what);
    }

    /** Unregisters [start, start + len): its faults are the kernel's again. */
    public static void unregister(Fd uffd, long start, long len, Supplier<String> what) {
        Memory range = new Memory(16);
        range.setLong(0, start);
        range.setLong(8, len);
        ioctl(uffd, UFFDIO_UNREGISTER, range, what);
    }

    /**
     * UFFDIO_COPY of {@code len} bytes at address {@code src} (of this process) to {@code dst} of the uffd's mm,
     * waking the threads waiting there. Returns the bytes copied, or minus the errno when none was (EEXIST: a
     * page there already; EAGAIN: the mm is changing, read its events first; ESRCH: the mm is gone). A partial
     * copy returns its length: the caller's next call meets the error.
     */
    public static long copy(Fd uffd, Memory arg, long dst, long src, long len) {
        arg.setLong(0, dst);
        arg.setLong(8, src);
        arg.setLong(16, len);
        arg.setLong(24, 0);
        arg.setLong(32, 0);
        return result(LibC.syscall(SyscallNr.IOCTL, uffd.value(), UFFDIO_COPY, Sys.address(arg), 0, 0, 0), arg.getLong(32));
    }

    /** UFFDIO_ZEROPAGE of [dst, dst + len); as {@link #copy}. */
    public static long zeroPage(Fd uffd, Memory arg, long dst, long len) {
        arg.setLong(0, dst);
        arg.setLong(8, len);
        arg.setLong(16, 0);
        arg.setLong(24, 0);
        return result(LibC.syscall(SyscallNr.IOCTL, uffd.value(), UFFDIO_ZEROPAGE, Sys.address(arg), 0, 0, 0), arg.getLong(24));
    }

    /**
     * UFFDIO_WAKE of [start, start + len): the threads waiting on a fault there retry it (one whose area was moved or
     * unmapped since, which no copy can answer); 0 or minus the errno.
     */
    public static long wake(Fd uffd, Memory arg, long start, long len) {
        arg.setLong(0, start);
        arg.setLong(8, len);
        return result(LibC.syscall(SyscallNr.IOCTL, uffd.value(), UFFDIO_WAKE, Sys.address(arg), 0, 0, 0), 0);
    }

    /** A buffer for {@link #copy}, {@link #zeroPage} and {@link #wake} (one per caller thread). */
    public static Memory argument() {
        return new Memory(40);
    }

    private static long result(long r, long done) {
        if (r == 0) {
            return done;
        }
        int errno = Native.getLastError();
        return done > 0 ? done : -errno;
    }

    /**
     * Reads the messages waiting on non-blocking {@code uffd} into {@code into} (a multiple of
     * {@link #MSG_SIZE}); returns how many, 0 when none.
     */
    public static int read(Fd uffd, Memory into) {
        long n = LibC.syscall(SyscallNr.READ, uffd.value(), Sys.address(into), into.size(), 0, 0, 0);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return 0;
            }
            throw new SyscallException("read(userfaultfd)", errno);
        }
        return (int) (n / MSG_SIZE);
    }

    static void ioctl(Fd fd, long request, Memory argp, Supplier<String> what) {
        long r = LibC.syscall(SyscallNr.IOCTL, fd.value(), request, Sys.address(argp), 0, 0, 0);
        if (r < 0) {
            throw new SyscallException(what.get(), Native.getLastError());
        }
    }
}
