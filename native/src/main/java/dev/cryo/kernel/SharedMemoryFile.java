package dev.cryo.kernel;

import com.sun.jna.Memory;

/**
 * A memfd held by cryo to stand for one shared anonymous memory object of a restored tree: every
 * task that shared the memory maps this one file through /proc/CRYO_PID/fd/N, so they share it
 * again.
 */
public final class SharedMemoryFile implements AutoCloseable {
    private static final int FTRUNCATE = 77, MFD_CLOEXEC = 1;

    private final Fd fd;

    private SharedMemoryFile(Fd fd) {
        this.fd = fd;
    }

    public static SharedMemoryFile create(String name, long size) {
        Memory n = new Memory(name.length() + 1L);
        n.setString(0, name, "UTF-8");
        Fd fd = new Fd((int) Sys.call(() -> "memfd_create(" + name + ")", SyscallNr.MEMFD_CREATE, Sys.address(n),
                MFD_CLOEXEC, 0, 0));
        try {
            Sys.call(() -> "ftruncate(memfd " + name + ", " + size + ")", FTRUNCATE, fd.value(), size, 0, 0);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new SharedMemoryFile(fd);
    }

    public String procPath() {
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value();
    }

    @Override
    public void close() {
        fd.close();
    }
}
