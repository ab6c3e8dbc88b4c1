package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SecretMemory;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.Map;

/**
 * A shared mapping of memfd_secret(2) memory (zdtm's memfd-secret00), whose pages the kernel hides
 * from every other process. It is shared memory keyed by its inode, as a memfd's mapping is, but its
 * pages are read through a mapping of cryo's own of the object, taken from the fd the task holds
 * ({@link SecretMemory}; the page copier falls back to it where process_vm_readv fails), and only
 * those the object has (mincore: reading the others would make them). Restore makes one memfd_secret
 * object that every fd and mapping of it takes (pidfd_getfd: its file cannot be opened again), and
 * writes its pages through cryo's own mapping of it. A mapping whose task holds no fd of it is
 * refused: nothing outside the task can reach its pages then.
 */
public final class SecretMemoryArea extends SharedMemory {
    SecretMemoryArea(int id) {
        super(id, "SECRET_MEM");
    }

    /** Whether a mapping is of memfd_secret memory (its file is "/secretmem (deleted)" on no device). */
    public static boolean is(MapsEntry m) {
        return m.shared() && m.deleted() && m.path().equals(SecretMemory.PATH) && m.devMajor() == 0;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return is(m);
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s, java.util.Collection<Integer> tree) {
        if (SecretMemory.holder(pid, m.inode()) < 0) {
            throw new DumpException("pid " + pid + " maps memfd_secret memory " + m.path() + " at 0x"
                    + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end()) + " but holds no fd of it: the"
                    + " kernel hides its pages from every other process (ptrace, process_vm_readv and /proc/PID/mem"
                    + " included), and cryo reads them through the fd: not supported");
        }
    }

    @Override
    public void planPages(PageScan scan) {
        scan.secretObjectPages(scan.file().ino());
    }

    /** Carried whole by the fd that must hold it (SecretMemfdHandler): its pages cannot be read through the area. */
    @Override
    public boolean objectCarriedWhole() {
        return false;
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("secret", true);
    }
}
