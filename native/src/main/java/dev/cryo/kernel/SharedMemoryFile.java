package dev.cryo.kernel;

import com.sun.jna.Memory;

/**
 * A shared memory object held by cryo while a tree is restored: every task that shared the memory
 * maps this one file through /proc/CRYO_PID/fd/N, so they share it again. Shared anonymous memory
 * is made the way the kernel makes it for MAP_SHARED|MAP_ANONYMOUS (so it reads "/dev/zero
 * (deleted)" in maps, as before); a memfd is made with memfd_create under its own name; a file
 * that was made with O_TMPFILE is made that way again, so it has no name and can still be given one.
 */
public final class SharedMemoryFile implements AutoCloseable {
    private static final int FTRUNCATE = 77, MFD_CLOEXEC = 1, MFD_HUGETLB = 4;
    private static final int PROT_READ_WRITE = 3, MAP_SHARED = 1, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000,
            MAP_HUGETLB = 0x40000, MAP_HUGE_SHIFT = 26;
    private static final long PAGE = 4096;

    private final Fd fd; // null once parked
    private final long parkedAt, parkedLength; // cryo's own area of it, once parked
    private final java.util.concurrent.atomic.AtomicBoolean unmapped = new java.util.concurrent.atomic.AtomicBoolean();

    private SharedMemoryFile(Fd fd) {
        this(fd, 0, 0);
    }

    private SharedMemoryFile(Fd fd, long parkedAt, long parkedLength) {
        this.fd = fd;
        this.parkedAt = parkedAt;
        this.parkedLength = parkedLength;
    }

    /** A memfd named {@code name} of {@code size} bytes; {@code flags} are memfd_create's (MFD_*). */
    public static SharedMemoryFile memfd(String name, long size, int flags) {
        Memory n = new Memory(name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        n.setString(0, name, "UTF-8");
        Fd fd = new Fd((int) Sys.call(() -> "memfd_create(" + name + ")", SyscallNr.MEMFD_CREATE, Sys.address(n),
                flags | MFD_CLOEXEC, 0, 0));
        try {
            Sys.call(() -> "ftruncate(memfd " + name + ", " + size + ")", FTRUNCATE, fd.value(), size, 0, 0);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new SharedMemoryFile(fd);
    }

    /** A memfd_secret(2) object of {@code size} bytes, whose pages cryo writes through a mapping of its own. */
    public static SharedMemoryFile secret(long size) {
        return new SharedMemoryFile(SecretMemory.create(size));
    }

    /**
     * A file made with O_TMPFILE in {@code dir} holding {@code contents}, with that owner and mode:
     * it never had a name, reads "DIR/#INO (deleted)" as before, and linkat can still name it.
     */
    public static SharedMemoryFile tmpfile(String dir, byte[] contents, int uid, int gid, int mode) {
        Fd fd = Sys.open(dir, Fcntl.O_TMPFILE | Fcntl.O_RDWR, 0600);
        try {
            pwrite(fd, "O_TMPFILE in " + dir, 0, contents, 0, contents.length);
            Sys.call(() -> "fchown(O_TMPFILE in " + dir + ", " + uid + ", " + gid + ")", SyscallNr.FCHOWN,
                    fd.value(), uid, gid, 0);
            Sys.call(() -> "fchmod(O_TMPFILE in " + dir + ", 0" + Integer.toOctalString(mode) + ")", SyscallNr.FCHMOD,
                    fd.value(), mode, 0, 0);
            return new SharedMemoryFile(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Writes {@code len} bytes of {@code data} from {@code from} at {@code offset} through cryo's fd, not a
     * path: a file made in a task's mount namespace is written from there, whose /proc may not show cryo.
     */
    public void write(long offset, byte[] data, int from, int len, String name) {
        pwrite(fd, name, offset, data, from, len);
    }

    /** Sets the file's size to {@code size} (a tail hole). */
    public void truncate(long size, String name) {
        Sys.call(() -> "ftruncate(" + name + ", " + size + ")", FTRUNCATE, fd.value(), size, 0, 0);
    }

    private static void pwrite(Fd fd, String name, long offset, byte[] data, int from, int len) {
        if (len == 0) {
            return;
        }
        Memory m = new Memory(len);
        m.write(0, data, from, len);
        for (long done = 0; done < len; ) {
            long off = done;
            done += Sys.call(() -> "pwrite(" + name + ", " + (len - off) + " bytes at " + (offset + off) + ")",
                    SyscallNr.PWRITE64, fd.value(), Sys.address(m) + off, len - off, offset + off);
        }
    }

    /**
     * A shared anonymous memory object of {@code size} bytes: mapped here MAP_SHARED|MAP_ANONYMOUS,
     * its file taken through /proc/self/map_files, and unmapped again.
     */
    public static SharedMemoryFile anonymous(long size) {
        long len = Math.max(PAGE, (size + PAGE - 1) / PAGE * PAGE);
        long at = Sys.call(() -> "mmap(MAP_SHARED|MAP_ANONYMOUS, " + len + ")", SyscallNr.MMAP, 0, len,
                PROT_READ_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        try {
            return new SharedMemoryFile(Sys.open("/proc/self/map_files/" + Long.toHexString(at) + "-"
                    + Long.toHexString(at + len), 2 /* O_RDWR */));
        } finally {
            Sys.call(() -> "munmap", SyscallNr.MUNMAP, at, len, 0, 0);
        }
    }

    /**
     * A shared anonymous memory object of {@code size} bytes held by an inaccessible area of cryo's own instead of an
     * fd (its file is {@link #procPath}, /proc/CRYO/map_files/START-END): cryo may open only so many files
     * (RLIMIT_NOFILE, 20,000 here, raised only with CAP_SYS_RESOURCE), and stress-ng's mlock stressor maps some
     * 39,000 such objects, each of which the restore holds until every task has mapped it. Its bytes are written
     * through that path; {@link #fd} is null.
     */
    public static SharedMemoryFile parkedAnonymous(long size) {
        long len = Math.max(PAGE, (size + PAGE - 1) / PAGE * PAGE);
        long at = Sys.call(() -> "mmap(MAP_SHARED|MAP_ANONYMOUS, " + len + ", PROT_NONE)", SyscallNr.MMAP, 0, len,
                0 /* PROT_NONE */, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        return new SharedMemoryFile(null, at, len);
    }

    /** Whether it is held by an area of cryo's, not an fd ({@link #parkedAnonymous}). */
    public boolean parked() {
        return fd == null;
    }

    /**
     * A shared anonymous hugetlb object of {@code size} bytes in pages of {@code pageBytes}, made as
     * {@link #anonymous} with MAP_HUGETLB: its pages are reserved in the host's pool now unless
     * {@code noReserve}, as the program's own mmap reserved them.
     */
    public static SharedMemoryFile hugetlb(long size, long pageBytes, boolean noReserve) {
        long len = Math.max(pageBytes, (size + pageBytes - 1) / pageBytes * pageBytes);
        long flags = MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | (noReserve ? MAP_NORESERVE : 0)
                | ((long) Long.numberOfTrailingZeros(pageBytes) << MAP_HUGE_SHIFT);
        long at = Sys.call(() -> "mmap(MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB" + (noReserve ? "|MAP_NORESERVE" : "")
                        + ", " + len / pageBytes + " huge pages of " + pageBytes / 1024 + " kB: the host's pool must"
                        + " hold them, /proc/sys/vm/nr_hugepages)", SyscallNr.MMAP, 0, len, PROT_READ_WRITE, flags, -1, 0);
        try {
            return new SharedMemoryFile(Sys.open("/proc/self/map_files/" + Long.toHexString(at) + "-"
                    + Long.toHexString(at + len), 2 /* O_RDWR */));
        } finally {
            Sys.call(() -> "munmap", SyscallNr.MUNMAP, at, len, 0, 0);
        }
    }

    /** memfd_create's flags for a memfd of huge pages of {@code pageBytes}: MFD_HUGETLB and the size's log2. */
    public static int hugetlbFlags(long pageBytes) {
        return MFD_HUGETLB | (Long.numberOfTrailingZeros(pageBytes) << MAP_HUGE_SHIFT);
    }

    /**
     * Writes {@code data} at {@code offset} through a mapping of the file (hugetlbfs has no write),
     * the huge pages of {@code pageBytes} it covers mapped here for the copy and unmapped again.
     */
    public void writeMapped(long offset, byte[] data, long pageBytes) {
        writeMapped(fd, procPath(), offset, data, 0, data.length, pageBytes);
    }

    /**
     * As {@link #writeMapped(long, byte[], long)}, for any open hugetlbfs file {@code fd} ({@code name}
     * in messages): {@code len} bytes of {@code data} from {@code from}.
     */
    public static void writeMapped(Fd fd, String name, long offset, byte[] data, int from, int len, long pageBytes) {
        long start = offset / pageBytes * pageBytes;
        long size = (offset + len + pageBytes - 1) / pageBytes * pageBytes - start;
        long at = Sys.call(() -> "mmap(" + name + ", " + size / pageBytes + " huge pages of " + pageBytes / 1024
                        + " kB at " + start + ": the host's pool must hold them, /proc/sys/vm/nr_hugepages)",
                SyscallNr.MMAP, 0, size, PROT_READ_WRITE, MAP_SHARED, fd.value(), start);
        try {
            new com.sun.jna.Pointer(at).write(offset - start, data, from, len);
        } finally {
            Sys.call(() -> "munmap", SyscallNr.MUNMAP, at, size, 0, 0);
        }
    }

    /** cryo's fd of it; for a {@link #parked} object, none: it is opened through {@link #procPath}. */
    public Fd fd() {
        if (fd == null) {
            throw new IllegalStateException("a parked shared memory object has no fd: open " + procPath());
        }
        return fd;
    }

    public String procPath() {
        return fd != null ? "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value()
                : "/proc/" + ProcessHandle.current().pid() + "/map_files/" + Long.toHexString(parkedAt) + "-"
                + Long.toHexString(parkedAt + parkedLength);
    }

    @Override
    public void close() {
        if (fd != null) {
            fd.close();
        } else if (!unmapped.getAndSet(true)) { // once: the range may be another area's after
            Sys.call(() -> "munmap(a parked shared memory object)", SyscallNr.MUNMAP, parkedAt, parkedLength, 0, 0);
        }
    }
}
