package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.Map;

/**
 * The ring of a packet socket mapped by the program ("socket:[INO]", as libpcap maps tcpdump's).
 * Its contents are the socket's: the packet socket's handler carries them and maps the ring again
 * once the socket is planted (FILES); until then the area is held by an inaccessible placeholder.
 * A mapping of another kind of socket, or of one the task holds no fd of, is refused.
 */
final class PacketRingMapping extends MemoryKind {

    PacketRingMapping(int id) {
        super(id, "PACKET_RING");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().startsWith("socket:[");
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        String where = "pid " + pid + " maps " + m.path() + " at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end()) + ": ";
        for (int fd : ProcFs.fds(pid)) {
            if (m.path().equals(ProcFs.fdTarget(pid, fd))) {
                String proto = Sys.getxattr(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd, "system.sockprotoname");
                if (proto == null || !proto.trim().equals("PACKET")) {
                    throw new DumpException(where + "a mapping of a " + (proto == null ? "" : proto.trim() + " ")
                            + "socket is not supported (only packet sockets' rings are)");
                }
                if (!m.shared() && s.kb("Anonymous") > 0) { // written: copies of the ring's pages only the task holds
                    throw new DumpException(where + "a private mapping of a packet socket's rings that the program has"
                            + " written to (" + s.kb("Anonymous") + " kB copied); not supported");
                }
                return;
            }
        }
        throw new DumpException(where + "the task holds no fd of that socket; a ring mapped without one is not supported");
    }

    @Override
    public boolean takesPages() {
        return false;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        Mapper.holdPlace(t, v, "the packet ring");
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {}

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("packetRing", "mapped again by its socket's restore");
    }
}
