package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An area of an io_uring (its rings or its SQEs) mapped from the ring's fd. Its bytes travel with the
 * ring's fd record ({@code IoUringHandler}), read once the ring is known to be idle; the memory
 * stage only holds the address with an empty placeholder, which the FILES stage maps the new ring
 * over. So the ring must be one the task holds an fd of, and no process next to it in the tree
 * (parent, children: a fork after the ring was made) may hold it too: theirs could not be mapped.
 */
public final class IoUringArea extends MemoryKind {
    static final String PATH = "anon_inode:[io_uring]";

    IoUringArea(int id) {
        super(id, "IO_URING");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().equals(PATH);
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        String where = "pid " + pid + " maps an io_uring at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end()) + ": ";
        if (!holds(pid, m.inode())) {
            throw new DumpException(where + "it holds no fd of that ring (closed after mapping it, or registered"
                    + " only: IORING_REGISTER_RING_FDS); not supported yet");
        }
        List<Pid> near = new ArrayList<>();
        try {
            near.add(Pid.of(ProcFs.stat(pid).ppid()));
            near.addAll(ProcFs.children(pid));
        } catch (KernelException e) {
            return; // the dump of the task reports it gone
        }
        for (Pid other : near) {
            if (other.value() > 1 && holds(other, m.inode())) {
                throw new DumpException(where + "pid " + other + " holds that ring too (inherited across a fork);"
                        + " a ring shared between processes is not supported yet");
            }
        }
    }

    /** Whether a task holds an fd of the io_uring whose inode is {@code ino}. */
    private static boolean holds(Pid pid, long ino) {
        try {
            for (int fd : ProcFs.fds(pid)) {
                try {
                    if (ProcFs.fdTarget(pid, fd).equals(PATH) && ProcFs.fdInfo(pid, fd).ino() == ino) {
                        return true;
                    }
                } catch (KernelException e) {
                    // closed meanwhile
                }
            }
        } catch (KernelException e) {
            return false;
        }
        return false;
    }

    @Override
    public boolean takesPages() {
        return false;
    }

    /** An inaccessible placeholder at the dumped place until the ring's fd is restored and mapped over it. */
    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        Mapper.holdPlace(t, v, "the io_uring area");
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {
        // the ring's fd handler sets the area's protection
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("ioUring", v.offset() == 0x10000000L ? "SQEs" : "rings");
    }
}
