package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.TunDevices;

import java.io.IOException;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * A {@code /dev/net/tun} file attached to a tun/tap device of cryo's net namespace (openvpn's
 * {@code --dev tun}, a VPN daemon's, a user-space network stack's). The device is the kernel's
 * and holds what the host set on it — addresses, routes, MTU, owner, offloads —, but a device
 * that is not persistent goes away with its last file, which the killing dump closes. So the dump
 * makes it persistent (given back if the tree runs on), and it waits with all of that for the
 * restore, which attaches a new file to it (TUNSETIFF with its flags) and, once the tree runs,
 * makes it non-persistent again as it was (a failed restore leaves it waiting for the next). The
 * restore refuses a device that is gone or is another one now (its index
 * changed): a tree restored on another host finds none. Packets the kernel had queued for the
 * program and it had not read are dropped with the killed file, as a link drops packets.
 *
 * A queue the program detached from its multi-queue device (TUNSETQUEUE IFF_DETACH_QUEUE) is
 * attached and detached again: it gets no packets until the program attaches it.
 *
 * <p>Refused by name: a device of another net namespace (CRIU too needs the namespace dumped) and
 * a tap device's packet filter (TUNATTACHFILTER: it cannot be read back). A file never attached
 * stays {@link CharDeviceHandler}'s (reopened by path).
 */
public final class TunFileHandler implements FdHandler<TunFileHandler.TunFile> {
    public static final int TAG = 840, RECORD_ID = 2210;

    /**
     * The device's name, its index when dumped, its flags (sysfs tun_flags), whether it was persistent
     * before the dump and whether this file's queue is detached from it.
     */
    public record TunFile(String device, int ifindex, int flags, boolean persistent, boolean detached) implements FileDesc {}

    static final RecordCodec<TunFile> CODEC = RecordCodec.of(TunFile.class, RECORD_ID, 1, (out, t) -> {
        ModelFields.writeText(out, t.device(), ModelLimits.PATH, "TunFile.device");
        out.writeInt(t.ifindex());
        out.writeInt(t.flags());
        out.writeBoolean(t.persistent());
        out.writeBoolean(t.detached());
    }, (in, version) -> new TunFile(ModelFields.readText(in, ModelLimits.PATH, "TunFile.device"), in.readInt(),
            in.readInt(), in.readBoolean(), in.readBoolean()));

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

    private static String device(FdProbe fd) {
        return fd.info() == null ? "" : fd.info().value("iff").orElse("").trim();
    }

    @Override
    public TunFile dump(FdProbe fd, DumpContext ctx) {
        String name = device(fd);
        if (!SocketDumpState.inOurNetns(fd.pid())) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is attached to tun/tap device " + name
                    + " of a net namespace other than cryo's; not supported");
        }
        int ifindex = TunDevices.ifindex(name);
        if (ifindex < 0 || !TunDevices.isTun(name)) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is attached to tun/tap device " + name
                    + ", which cryo's net namespace does not show; not supported");
        }
        int flags = TunDevices.flags(name);
        Fd copy = null;
        try (Fd pidfd = Sys.pidfdOpen(fd.pid())) {
            copy = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd());
            boolean detached = TunDevices.detached(copy, name);
            if ((flags & TunDevices.TYPE_MASK) == TunDevices.IFF_TAP && TunDevices.filterLength(copy, name) > 0) {
                throw new DumpException(fd.where() + ": tap device " + name + " has a packet filter (TUNATTACHFILTER),"
                        + " which cannot be read back; not supported");
            }
            boolean persistent = ctx.sockets().tunPersistentBefore(name, (flags & TunDevices.IFF_PERSIST) != 0);
            if (!persistent && (flags & TunDevices.IFF_PERSIST) == 0) {
                // the killing dump closes its last file: kept, with its addresses and routes, for the restore
                TunDevices.persist(copy, name, true);
                Fd held = copy;
                ctx.sockets().giveBackIfRunning(held, () -> TunDevices.persist(held, name, false));
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

    @Override
    public long restore(FdImage fd, TunFile t, RestoreContext ctx) {
        int now = TunDevices.ifindex(t.device());
        if (now != t.ifindex() || !TunDevices.isTun(t.device())) {
            throw new RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd() + ": tun/tap device " + t.device()
                    + " (ifindex " + t.ifindex() + ") " + (now < 0 ? "is gone" : "is another device now (ifindex " + now + ")")
                    + "; its file cannot be attached again (a device lives on the host it was dumped on)");
        }
        Fd own = Sys.open("/dev/net/tun", FdHandlers.openFlags(fd));
        try {
            TunDevices.attach(own, t.device(), t.flags());
            if (t.detached()) {
                TunDevices.detach(own, t.device());
            }
            long planted = ctx.take((int) ProcessHandle.current().pid(), own.value());
            if (t.persistent()) {
                own.close();
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
        if (t.detached()) {
            m.put("queue", "detached");
        }
    }
}
