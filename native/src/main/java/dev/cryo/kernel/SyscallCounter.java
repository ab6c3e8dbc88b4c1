package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How many times a thread (and every thread or child it clones after this opens) passed one
 * syscall tracepoint, filtered in the kernel: its returns from a set of syscalls
 * ({@link #exits}, on {@code raw_syscalls:sys_exit}), or its entries into madvise with some
 * advice ({@link #madviseEntries}, on {@code syscalls:sys_enter_madvise}, whose filter sees the
 * advice argument). Counting, never sampling: nothing is recorded, the task is not slowed beyond
 * the tracepoint's check on its syscalls. A call in progress when an exit counter opens is counted
 * when it returns, and a thread stops for ptrace only after its syscall's exit tracepoint ran, so
 * once a task is frozen its counts are final.
 * <p>A tracepoint's id is read once from a tracefs mounted nowhere (fsopen/fsmount: a detached
 * mount, gone when its fd closes), so nothing needs tracefs mounted on the host.
 * {@link #supported} is false when the kernel has no syscall tracepoints or perf refuses.
 */
public final class SyscallCounter implements AutoCloseable {
    // include/uapi/linux/perf_event.h
    private static final int PERF_TYPE_TRACEPOINT = 2, PERF_ATTR_SIZE_VER0 = 64;
    private static final long ATTR_INHERIT = 1L << 1, PERF_FLAG_FD_CLOEXEC = 8;
    private static final long PERF_EVENT_IOC_SET_FILTER = 0x40082406L; // _IOW('$', 6, char *)
    // include/uapi/linux/mount.h: a detached mount of a new tracefs superblock
    private static final int FSCONFIG_CMD_CREATE = 6, FSMOUNT_CLOEXEC = 1, FSOPEN_CLOEXEC = 1;

    private static final String EXITS = "raw_syscalls/sys_exit", MADVISE_ENTRIES = "syscalls/sys_enter_madvise";
    /** By tracepoint: its id, or -1 when it cannot be used; why not in WHY_NOT. */
    private static final java.util.concurrent.ConcurrentHashMap<String, Long> IDS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final java.util.concurrent.ConcurrentHashMap<String, String> WHY_NOT =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final int tid;
    private final Fd fd;
    private final Memory value = new Memory(8);

    private SyscallCounter(int tid, Fd fd) {
        this.tid = tid;
        this.fd = fd;
    }

    /** Whether exit counters can be opened here; {@link #unsupportedReason} says why not. */
    public static boolean supported() {
        return id(EXITS) > 0;
    }

    public static String unsupportedReason() {
        id(EXITS);
        return WHY_NOT.get(EXITS);
    }

    /** Whether {@link #madviseEntries} can be opened here (a kernel with per-syscall tracepoints). */
    public static boolean madviseSupported() {
        return id(MADVISE_ENTRIES) > 0;
    }

    /** A counter of {@code tid}'s returns from the syscalls {@code numbers}, inherited by what it clones from now on. */
    public static SyscallCounter exits(int tid, int[] numbers) {
        return open(EXITS, tid, Arrays.stream(numbers).mapToObj(n -> "id == " + n).collect(Collectors.joining(" || ")));
    }

    /** A counter of {@code tid}'s calls to madvise with one of {@code advice}, counted as they enter; inherited as above. */
    public static SyscallCounter madviseEntries(int tid, int[] advice) {
        return open(MADVISE_ENTRIES, tid, Arrays.stream(advice).mapToObj(n -> "behavior == " + n)
                .collect(Collectors.joining(" || ")));
    }

    private static SyscallCounter open(String event, int tid, String filter) {
        long id = id(event);
        if (id <= 0) {
            throw new KernelException("perf syscall counters (" + event + "): " + WHY_NOT.get(event));
        }
        Memory attr = new Memory(PERF_ATTR_SIZE_VER0);
        attr.clear();
        attr.setInt(0, PERF_TYPE_TRACEPOINT);
        attr.setInt(4, PERF_ATTR_SIZE_VER0);
        attr.setLong(8, id); // config
        attr.setLong(40, ATTR_INHERIT); // the flags' bit field; enabled from the start
        Fd fd = new Fd((int) Sys.call(() -> "perf_event_open(" + event + ", tid " + tid + ")",
                SyscallNr.PERF_EVENT_OPEN, Sys.address(attr), tid, -1, -1, PERF_FLAG_FD_CLOEXEC, 0));
        Memory text = cString(filter);
        try {
            Sys.call(() -> "ioctl(PERF_EVENT_IOC_SET_FILTER, " + event + ", tid " + tid + ")", SyscallNr.IOCTL, fd.value(),
                    PERF_EVENT_IOC_SET_FILTER, Sys.address(text), 0);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new SyscallCounter(tid, fd);
    }

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

    private static long id(String event) {
        return IDS.computeIfAbsent(event, e -> {
            try {
                return readTracepointId(e);
            } catch (RuntimeException x) {
                WHY_NOT.put(e, x.getMessage());
                return -1L;
            }
        });
    }

    /** events/EVENT/id of a tracefs made for the purpose and never attached. */
    private static long readTracepointId(String event) {
        try (Fd fs = new Fd((int) Sys.call(() -> "fsopen(tracefs)", SyscallNr.FSOPEN, Sys.address(cString("tracefs")),
                FSOPEN_CLOEXEC, 0, 0))) {
            Sys.call(() -> "fsconfig(tracefs, FSCONFIG_CMD_CREATE)", SyscallNr.FSCONFIG, fs.value(), FSCONFIG_CMD_CREATE,
                    0, 0, 0, 0);
            String path = "events/" + event + "/id";
            try (Fd mnt = new Fd((int) Sys.call(() -> "fsmount(tracefs)", SyscallNr.FSMOUNT, fs.value(), FSMOUNT_CLOEXEC,
                    0, 0));
                 Fd file = new Fd((int) Sys.call(() -> "openat(tracefs, " + path + ")", SyscallNr.OPENAT,
                         mnt.value(), Sys.address(cString(path)), Fcntl.O_RDONLY | Fcntl.O_CLOEXEC, 0))) {
                Memory buf = new Memory(32);
                long n = Sys.call(() -> "read(tracefs " + path + ")", SyscallNr.READ, file.value(),
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
