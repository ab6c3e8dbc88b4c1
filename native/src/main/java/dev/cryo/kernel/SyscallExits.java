package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How many times a thread (and every thread or child it clones after this opens) returned from
 * a given set of syscalls: a perf counter on the {@code raw_syscalls:sys_exit} tracepoint of that
 * one task, filtered by syscall number in the kernel. Counting, never sampling: nothing is
 * recorded, the task is not slowed beyond the tracepoint's check on its syscalls. A call in
 * progress when the counter opens is counted when it returns, and a thread stops for ptrace only
 * after its syscall's exit tracepoint ran, so once a task is frozen its count is final.
 * <p>The tracepoint's id is read once from a tracefs mounted nowhere (fsopen/fsmount: a detached
 * mount, gone when its fd closes), so nothing needs tracefs mounted on the host.
 * {@link #supported} is false when the kernel has no syscall tracepoints or perf refuses.
 */
public final class SyscallExits implements AutoCloseable {
    // include/uapi/linux/perf_event.h
    private static final int PERF_TYPE_TRACEPOINT = 2, PERF_ATTR_SIZE_VER0 = 64;
    private static final long ATTR_INHERIT = 1L << 1, PERF_FLAG_FD_CLOEXEC = 8;
    private static final long PERF_EVENT_IOC_SET_FILTER = 0x40082406L; // _IOW('$', 6, char *)
    // include/uapi/linux/mount.h: a detached mount of a new tracefs superblock
    private static final int FSCONFIG_CMD_CREATE = 6, FSMOUNT_CLOEXEC = 1, FSOPEN_CLOEXEC = 1;

    private static volatile long tracepointId; // 0: not looked up yet, -1: none
    private static volatile String unsupportedWhy;

    private final int tid;
    private final Fd fd;
    private final Memory value = new Memory(8);

    private SyscallExits(int tid, Fd fd) {
        this.tid = tid;
        this.fd = fd;
    }

    /** Whether counters can be opened here; {@link #unsupportedReason} says why not. */
    public static boolean supported() {
        return id() > 0;
    }

    public static String unsupportedReason() {
        id();
        return unsupportedWhy;
    }

    /** A counter of {@code tid}'s returns from the syscalls {@code numbers}, inherited by what it clones from now on. */
    public static SyscallExits open(int tid, int[] numbers) {
        long id = id();
        if (id <= 0) {
            throw new KernelException("perf syscall counters: " + unsupportedWhy);
        }
        Memory attr = new Memory(PERF_ATTR_SIZE_VER0);
        attr.clear();
        attr.setInt(0, PERF_TYPE_TRACEPOINT);
        attr.setInt(4, PERF_ATTR_SIZE_VER0);
        attr.setLong(8, id); // config
        attr.setLong(40, ATTR_INHERIT); // the flags' bit field; enabled from the start
        Fd fd = new Fd((int) Sys.call(() -> "perf_event_open(raw_syscalls:sys_exit, tid " + tid + ")",
                SyscallNr.PERF_EVENT_OPEN, Sys.address(attr), tid, -1, -1, PERF_FLAG_FD_CLOEXEC, 0));
        String filter = Arrays.stream(numbers).mapToObj(n -> "id == " + n).collect(Collectors.joining(" || "));
        byte[] f = filter.getBytes(StandardCharsets.US_ASCII);
        Memory text = new Memory(f.length + 1L);
        text.write(0, f, 0, f.length);
        text.setByte(f.length, (byte) 0);
        try {
            Sys.call(() -> "ioctl(PERF_EVENT_IOC_SET_FILTER, tid " + tid + ")", SyscallNr.IOCTL, fd.value(),
                    PERF_EVENT_IOC_SET_FILTER, Sys.address(text), 0);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new SyscallExits(tid, fd);
    }

    /** The returns counted so far, the threads it cloned since it opened included. */
    public long count() {
        Sys.call(() -> "read(perf counter of tid " + tid + ")", SyscallNr.READ, fd.value(), Sys.address(value), 8, 0);
        return value.getLong(0);
    }

    public int tid() {
        return tid;
    }

    @Override
    public void close() {
        fd.close();
    }

    private static long id() {
        long id = tracepointId;
        if (id == 0) {
            synchronized (SyscallExits.class) {
                if (tracepointId == 0) {
                    try {
                        tracepointId = readTracepointId();
                    } catch (RuntimeException e) {
                        unsupportedWhy = e.getMessage();
                        tracepointId = -1;
                    }
                }
                id = tracepointId;
            }
        }
        return id;
    }

    /** events/raw_syscalls/sys_exit/id of a tracefs made for the purpose and never attached. */
    private static long readTracepointId() {
        try (Fd fs = new Fd((int) Sys.call(() -> "fsopen(tracefs)", SyscallNr.FSOPEN, Sys.address(cString("tracefs")),
                FSOPEN_CLOEXEC, 0, 0))) {
            Sys.call(() -> "fsconfig(tracefs, FSCONFIG_CMD_CREATE)", SyscallNr.FSCONFIG, fs.value(), FSCONFIG_CMD_CREATE,
                    0, 0, 0, 0);
            try (Fd mnt = new Fd((int) Sys.call(() -> "fsmount(tracefs)", SyscallNr.FSMOUNT, fs.value(), FSMOUNT_CLOEXEC,
                    0, 0));
                 Fd file = new Fd((int) Sys.call(() -> "openat(tracefs, events/raw_syscalls/sys_exit/id)", SyscallNr.OPENAT,
                         mnt.value(), Sys.address(cString("events/raw_syscalls/sys_exit/id")),
                         Fcntl.O_RDONLY | Fcntl.O_CLOEXEC, 0))) {
                Memory buf = new Memory(32);
                long n = Sys.call(() -> "read(tracefs raw_syscalls/sys_exit/id)", SyscallNr.READ, file.value(),
                        Sys.address(buf), 31, 0);
                return Long.parseLong(new String(buf.getByteArray(0, (int) n), StandardCharsets.US_ASCII).trim());
            }
        }
    }

    private static Memory cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        Memory m = new Memory(b.length + 1L);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        return m;
    }
}
