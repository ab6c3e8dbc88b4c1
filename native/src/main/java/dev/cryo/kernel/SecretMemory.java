package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.cryo.kernel.proc.MapsEntry;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * memfd_secret(2) memory: the kernel takes its pages out of its own direct map and refuses them to
 * every access from another process (process_vm_readv/writev, /proc/PID/mem, ptrace), and its file
 * cannot be opened again through /proc (ENXIO). Its file can still be taken whole with pidfd_getfd
 * and mapped here: a mapping of cryo's own reads and writes the very pages the task sees. So cryo
 * reads the pages of a task's secret area through an fd of it the task holds, and writes a restored
 * task's through the object cryo made and holds.
 */
public final class SecretMemory {
    private SecretMemory() {}

    private static final long PAGE = 4096;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, FTRUNCATE = 77;
    /** How /proc shows the file of every memfd_secret object (fd link and maps). */
    public static final String PATH = "/secretmem";

    /** A new memfd_secret object of {@code size} bytes, close-on-exec. */
    public static Fd create(long size) {
        Fd fd = new Fd((int) Sys.call(() -> "memfd_secret(O_CLOEXEC)", SyscallNr.MEMFD_SECRET, Fcntl.O_CLOEXEC, 0, 0, 0));
        try {
            Sys.call(() -> "ftruncate(memfd_secret, " + size + ")", FTRUNCATE, fd.value(), size, 0, 0);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The fd number of process {@code pid} that holds memfd_secret object {@code ino}, or -1. */
    public static int holder(Pid pid, long ino) {
        java.nio.file.Path dir = java.nio.file.Path.of(ExitedLeaders.proc(pid), "fd");
        try (java.nio.file.DirectoryStream<java.nio.file.Path> fds = java.nio.file.Files.newDirectoryStream(dir)) {
            for (java.nio.file.Path fd : fds) {
                try {
                    if (java.nio.file.Files.readSymbolicLink(fd).toString().startsWith(PATH)
                            && ((Number) java.nio.file.Files.getAttribute(fd, "unix:ino")).longValue() == ino) {
                        return Integer.parseInt(fd.getFileName().toString());
                    }
                } catch (java.io.IOException | RuntimeException closedMeanwhile) {
                    // not this one
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }

    /** cryo's own fd of object {@code ino}, taken from the fd {@code pid} holds it by; null when it holds none. */
    public static Fd take(Pid pid, long ino) {
        int fd = holder(pid, ino);
        if (fd < 0) {
            return null;
        }
        try (Fd pidfd = Sys.pidfdOpen(pid)) {
            return Sys.pidfdGetfd(pidfd, pid, fd);
        }
    }

    /** The byte ranges {start, end} of [from, to) of the object whose pages exist (mincore through a mapping of cryo's). */
    public static List<long[]> resident(Fd object, long from, long to) {
        List<long[]> out = new ArrayList<>();
        if (to <= from) {
            return out;
        }
        long len = to - from;
        long at = map(object, from, len, PROT_READ);
        try {
            int pages = (int) ((len + PAGE - 1) / PAGE);
            Memory vec = new Memory(pages);
            Sys.call(() -> "mincore(memfd_secret)", SyscallNr.MINCORE, at, len, Sys.address(vec), 0);
            long start = -1;
            for (int i = 0; i <= pages; i++) {
                boolean in = i < pages && (vec.getByte(i) & 1) != 0;
                if (in && start < 0) {
                    start = from + i * PAGE;
                } else if (!in && start >= 0) {
                    out.add(new long[] {start, Math.min(to, from + i * PAGE)});
                    start = -1;
                }
            }
        } finally {
            unmap(at, len);
        }
        return out;
    }

    /** Copies {@code len} bytes between the object at {@code offset} and {@code direct} at {@code at}. */
    public static void copy(boolean write, Fd object, long offset, ByteBuffer direct, int at, int len) {
        long start = offset / PAGE * PAGE;
        long size = offset + len - start;
        long mapped = map(object, start, size, PROT_READ | (write ? PROT_WRITE : 0));
        try {
            ByteBuffer object0 = new Pointer(mapped).getByteBuffer(offset - start, len);
            if (write) {
                object0.put(0, direct, at, len);
            } else {
                direct.put(at, object0, 0, len);
            }
        } finally {
            unmap(mapped, size);
            java.lang.ref.Reference.reachabilityFence(direct);
        }
    }

    /**
     * Copies {@code len} bytes between a secret area of task {@code pid} at {@code address} and
     * {@code direct}, through an fd of its object that {@code holder} holds (the task itself at
     * dump, cryo at restore); false when no secret area is there or no fd of it is held.
     */
    public static boolean copy(boolean write, Pid pid, Pid holder, long address, ByteBuffer direct, int at, int len) {
        MapsEntry area = null;
        for (MapsEntry m : dev.cryo.kernel.proc.ProcFs.maps(pid)) {
            if (m.contains(address)) {
                area = m;
                break;
            }
        }
        if (area == null || !area.shared() || !PATH.equals(area.path()) || address + len > area.end()) {
            return false;
        }
        long offset = area.offset() + address - area.start();
        boolean self = holder.value() == ProcessHandle.current().pid();
        if (self) {
            int fd = holder(holder, area.inode());
            if (fd < 0) {
                return false;
            }
            copy(write, new Fd(fd), offset, direct, at, len); // cryo's own fd: not closed here
            return true;
        }
        try (Fd object = take(holder, area.inode())) {
            if (object == null) {
                return false;
            }
            copy(write, object, offset, direct, at, len);
            return true;
        }
    }

    private static long map(Fd object, long offset, long len, int prot) {
        return Sys.call(() -> "mmap(memfd_secret, " + len + " bytes at " + offset + ")", SyscallNr.MMAP, 0, len, prot,
                MAP_SHARED, object.value(), offset);
    }

    private static void unmap(long at, long len) {
        Sys.call(() -> "munmap(memfd_secret)", SyscallNr.MUNMAP, at, len, 0, 0);
    }
}
