package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.namespaces.TreeTunDevices;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.TunDevices;
import dev.cryo.kernel.net.TunPrograms;

import java.io.IOException;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * A {@code /dev/net/tun} file attached to a tun/tap device of cryo's net namespace (openvpn's
 * {@code --dev tun}, a VPN daemon's, a user-space network stack's). The device is the kernel's
 * and holds what the host set on it — addresses, routes, MTU, owner, offloads —, but a device
 * that is not persistent goes away with its last file, which the killing dump closes. So the dump
 * makes it persistent right before its kill (a tree that runs on, or that cryo's death lets go,
 * keeps it as it was: SocketDumpState#persistAtKill; a migration, whose source dies only once its copy
 * runs, makes nothing persistent), and it waits with all of that for the
 * restore, which attaches a new file to it (TUNSETIFF with its flags) and, once the tree runs,
 * makes it non-persistent again as it was (a failed restore leaves it waiting for the next). The
 * restore refuses a device that is gone or is another one now (its index
 * changed): a tree restored on another host finds none. Packets the kernel had queued for the
 * program and it had not read are dropped with the killed file, as a link drops packets.
 *
 * A queue the program detached from its multi-queue device (TUNSETQUEUE IFF_DETACH_QUEUE) is
 * attached and detached again: it gets no packets until the program attaches it.
 *
 * <p>A file attached to a device of the task's own net namespace, one of the tree's, is carried
 * too: the namespace dies with the tree, so the restore makes the device again in the new one
 * ({@link TreeTunDevices}, with the namespace's other devices, before its addresses) and attaches a
 * file opened inside it, with the flags, virtio-net header size and send buffer the device had; a device that
 * was not persistent is made so again as soon as the task holds the file (a failed restore takes
 * the namespace along). Nothing is made persistent at the dump: the device goes with the namespace.
 *
 * <p>Refused by name: a device of a net namespace that is neither cryo's nor the task's own, a
 * tap device's packet filter (TUNATTACHFILTER: it cannot be read back), and the eBPF steering and
 * filter programs of a device of the task's own namespace (made again without them). A file never attached
 * stays {@link CharDeviceHandler}'s (reopened by path).
 */
public final class TunFileHandler implements FdHandler<TunFileHandler.TunFile> {
    public static final int TAG = 840, RECORD_ID = 2210;

    /**
     * The device's name, its index when dumped, its flags (sysfs tun_flags), whether it was persistent
     * before the dump and whether this file's queue is detached from it; whether the device is in the
     * task's own net namespace (one of the tree's) rather than cryo's, and then its virtio-net header
     * size (0: not read, images before version 2 and devices without IFF_VNET_HDR) and send buffer
     * (TUNSETSNDBUF; 0: not read, images before version 3).
     */
    public record TunFile(String device, int ifindex, int flags, boolean persistent, boolean detached,
                          boolean treeNet, int vnetHeaderSize, int sendBuffer) implements FileDesc {
        public TunFile(String device, int ifindex, int flags, boolean persistent, boolean detached) {
            this(device, ifindex, flags, persistent, detached, false, 0, 0);
        }
    }

    static final RecordCodec<TunFile> CODEC = RecordCodec.of(TunFile.class, RECORD_ID, 3, (out, t) -> {
        ModelFields.writeText(out, t.device(), ModelLimits.PATH, "TunFile.device");
        out.writeInt(t.ifindex());
        out.writeInt(t.flags());
        out.writeBoolean(t.persistent());
        out.writeBoolean(t.detached());
        out.writeBoolean(t.treeNet());
        out.writeInt(t.vnetHeaderSize());
        out.writeInt(t.sendBuffer());
    }, (in, version) -> {
        TunFile t = new TunFile(ModelFields.readText(in, ModelLimits.PATH, "TunFile.device"), in.readInt(),
                in.readInt(), in.readBoolean(), in.readBoolean());
        return version < 2 ? t : new TunFile(t.device(), t.ifindex(), t.flags(), t.persistent(), t.detached(),
                in.readBoolean(), in.readInt(), version < 3 ? 0 : in.readInt());
    });

    @Override
    public String kind() {
        return "tun/tap file";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<TunFile> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        // one never attached is reopened by path
        return FileIdentity.isDevice(fd, TunDevices.MISC_MAJOR, TunDevices.MINOR) && !device(fd).isEmpty();
    }

    /**
     * A device made again loses the eBPF programs a program set on it (TUNSETSTEERINGEBPF,
     * TUNSETFILTEREBPF), which no ioctl gives back: refused by name (a device of cryo's namespace
     * waits for the restore, programs and all).
     */
    private static void refuseEbpf(FdProbe fd, String name) {
        TunPrograms.Attached a;
        try {
            a = TunPrograms.of(fd.pid().value()).get(fd.fd());
        } catch (RuntimeException e) {
            throw new DumpException(fd.where() + ": whether tun/tap device " + name + " has eBPF programs"
                    + " (TUNSETSTEERINGEBPF/TUNSETFILTEREBPF) cannot be read here: " + e.getMessage());
        }
        if (a != null) {
            throw new DumpException(fd.where() + ": tun/tap device " + name + " has " + a.describe()
                    + ", which cannot be read back; not supported");
        }
    }

    private static String device(FdProbe fd) {
        return fd.info() == null ? "" : fd.info().value("iff").orElse("").trim();
    }

    @Override
    public TunFile dump(FdProbe fd, DumpContext ctx) {
        String name = device(fd);
        Fd copy = null;
        try (Fd pidfd = Sys.pidfdOpen(fd.pid())) {
            copy = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd());
            String net = deviceNetns(copy, name);
            boolean treeNet = !net.equals(Namespaces.link("self", "net"));
            if (treeNet && !net.equals(Namespaces.link(fd.pid().toString(), "net"))) {
                throw new DumpException(fd.where() + ": " + fd.target() + " is attached to tun/tap device " + name
                        + " of a net namespace (" + net + ") that is neither cryo's nor its own; not supported");
            }
            int ifindex, flags;
            if (treeNet) {
                TreeTunDevices.Tun t = TreeTunDevices.of(fd.pid(), name);
                ifindex = t.ifindex();
                flags = t.flags();
            } else {
                ifindex = TunDevices.ifindex(name);
                if (ifindex < 0 || !TunDevices.isTun(name)) {
                    throw new DumpException(fd.where() + ": " + fd.target() + " is attached to tun/tap device " + name
                            + ", which cryo's net namespace does not show; not supported");
                }
                flags = TunDevices.flags(name);
            }
            boolean detached = TunDevices.detached(copy, name);
            if ((flags & TunDevices.TYPE_MASK) == TunDevices.IFF_TAP && TunDevices.filterLength(copy, name) > 0) {
                throw new DumpException(fd.where() + ": tap device " + name + " has a packet filter (TUNATTACHFILTER),"
                        + " which cannot be read back; not supported");
            }
            if (treeNet) { // goes with its namespace: nothing to keep on the host
                refuseEbpf(fd, name);
                int vnet = (flags & TunDevices.IFF_VNET_HDR) != 0 ? TunDevices.vnetHeaderSize(copy, name) : 0;
                return new TunFile(name, ifindex, flags & ~TunDevices.IFF_PERSIST,
                        (flags & TunDevices.IFF_PERSIST) != 0, detached, true, vnet, TunDevices.sendBuffer(copy, name));
            }
            boolean persistent = (flags & TunDevices.IFF_PERSIST) != 0; // the dump makes it so only at the kill
            if (!persistent) {
                // a killing dump closes its last file: kept, with its addresses and routes, for the restore
                ctx.sockets().persistAtKill(copy, name);
                copy = null;
            }
            return new TunFile(name, ifindex, flags & ~TunDevices.IFF_PERSIST, persistent, detached);
        } catch (KernelException e) {
            throw new DumpException(fd.where() + ": tun/tap device " + name + ": " + e.getMessage());
        } finally {
            if (copy != null) {
                copy.close();
            }
        }
    }

    /** The net namespace the file's device lives in ("net:[4026531840]"). */
    private static String deviceNetns(Fd tun, String name) {
        try (Fd ns = TunDevices.deviceNetns(tun, name)) {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + ns.value())).toString();
        } catch (IOException e) {
            throw new KernelException("cannot read the net namespace of tun/tap device " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public long restore(FdImage fd, TunFile t, RestoreContext ctx) {
        Fd own;
        if (t.treeNet()) { // its device was made in the task's new namespace with the others (TreeTunDevices)
            Pid task = Pid.of(ctx.taskPid());
            own = Namespaces.inside(task, "net", () -> Sys.open("/dev/net/tun", FdHandlers.openFlags(fd)));
        } else {
            int now = TunDevices.ifindex(t.device());
            if (now != t.ifindex() || !TunDevices.isTun(t.device())) {
                throw new RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd() + ": tun/tap device " + t.device()
                        + " (ifindex " + t.ifindex() + ") " + (now < 0 ? "is gone" : "is another device now (ifindex " + now + ")")
                        + "; its file cannot be attached again (a device lives on the host it was dumped on)");
            }
            own = Sys.open("/dev/net/tun", FdHandlers.openFlags(fd));
        }
        try {
            TunDevices.attach(own, t.device(), t.flags());
            if (t.vnetHeaderSize() > 0) {
                TunDevices.vnetHeaderSize(own, t.device(), t.vnetHeaderSize());
            }
            if (t.sendBuffer() > 0) {
                TunDevices.sendBuffer(own, t.device(), t.sendBuffer());
            }
            if (t.detached()) {
                TunDevices.detach(own, t.device());
            }
            long planted = ctx.take((int) ProcessHandle.current().pid(), own.value());
            if (t.persistent()) {
                own.close();
            } else if (t.treeNet()) { // a failed restore takes the namespace, and the device, along anyway
                try (own) {
                    TunDevices.persist(own, t.device(), false);
                }
            } else {
                // it goes with its last file again once the tree runs: a restore that fails before
                // leaves it persistent, waiting for the next one
                ctx.whenRestored(own, f -> TunDevices.persist(f, t.device(), false));
            }
            return planted;
        } catch (KernelException e) {
            own.close();
            throw new RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd() + ": attaching tun/tap device "
                    + t.device() + ": " + e.getMessage());
        }
    }

    @Override
    public void show(TunFile t, Map<String, Object> m) {
        m.put("kind", "tun");
        m.put("device", t.device());
        m.put("ifindex", t.ifindex());
        m.put("tunFlags", hex(t.flags()));
        m.put("persistent", t.persistent());
        if (t.treeNet()) {
            m.put("netns", "the task's own");
        }
        if (t.vnetHeaderSize() > 0) {
            m.put("vnetHeaderSize", t.vnetHeaderSize());
        }
        if (t.sendBuffer() > 0 && t.sendBuffer() != Integer.MAX_VALUE) {
            m.put("sendBuffer", t.sendBuffer());
        }
        if (t.detached()) {
            m.put("queue", "detached");
        }
    }
}
