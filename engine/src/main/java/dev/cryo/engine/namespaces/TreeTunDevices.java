package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.net.Ethtool;
import dev.cryo.kernel.net.TunDevices;
import dev.cryo.kernel.net.TunPrograms;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tun/tap devices of a net namespace of the tree's (a VPN, wireguard-go, qemu's or
 * firecracker's tap inside a container): the device dies with the namespace, so the restore makes
 * it again in the new one before its addresses and routes — under its old ifindex (TUNSETIFINDEX),
 * with its flags (tun or tap, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE...), owner, group, MTU,
 * MAC, queue length, the offloads a program set (TUNSETOFFLOAD: qemu's, firecracker's,
 * wireguard-go's; read as the device's active features), persistent for now — and the tasks' files
 * attach to it later ({@code TunFileHandler}), which makes it non-persistent again where it was. A
 * persistent device no task holds a file of keeps its virtio-net header size here (read through a
 * file cryo attaches for that moment; its send buffer is a file's, a new file starts with none); its
 * eBPF programs, seen through that file, are refused. One line of
 * {@link NetDevices}' {@code key=value} words each, starting with "tun".
 */
public final class TreeTunDevices {
    private TreeTunDevices() {}

    /** What sysfs shows of a tun device: its index, flags (tun_flags), owner and group (-1: anyone) and queue length. */
    public record Tun(String name, int ifindex, int flags, int owner, int group, int qlen) {}

    /**
     * The tun devices of {@code p}'s net namespace, by name. Read from a sysfs mounted inside it (a
     * private mount namespace of a child's): cryo's /sys shows cryo's namespace's devices, and
     * {@code ip} names the owner by its user name.
     */
    static Map<String, Tun> read(Pid p) {
        String text = NetnsCommand.run(p, "unshare", "-m", "--propagation", "private", "sh", "-c",
                "mount -t sysfs sysfs /sys && for f in /sys/class/net/*/tun_flags; do [ -e \"$f\" ] || continue;"
                        + " d=${f%/tun_flags}; echo ${d##*/} $(cat $d/ifindex $f $d/owner $d/group $d/tx_queue_len); done");
        Map<String, Tun> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.strip().split(" ");
            if (f.length == 6) {
                out.put(f[0], new Tun(f[0], Integer.parseInt(f[1]), Integer.decode(f[2]), Integer.parseInt(f[3]),
                        Integer.parseInt(f[4]), Integer.parseInt(f[5])));
            }
        }
        return out;
    }

    /** Tun device {@code device} of {@code p}'s net namespace. */
    public static Tun of(Pid p, String device) {
        Tun t = read(p).get(device);
        if (t == null) {
            throw new KernelException("the net namespace of pid " + p + " shows no tun device " + device);
        }
        return t;
    }

    /** The image line of {@code l}, a tun device of {@code p}'s namespace. */
    static String line(Pid p, NetDevices.Link l, Map<String, Tun> tuns) {
        Tun t = tuns.get(l.name());
        if (t == null) {
            throw new KernelException("the net namespace of pid " + p + " shows no tun device " + l.name()
                    + " in its sysfs");
        }
        StringBuilder b = new StringBuilder("tun name=").append(l.name()).append(" index=").append(l.index())
                .append(" mtu=").append(l.mtu()).append(" up=").append(l.up() ? 1 : 0)
                .append(" flags=0x").append(Integer.toHexString(t.flags())).append(" owner=").append(t.owner())
                .append(" group=").append(t.group()).append(" qlen=").append(t.qlen());
        if (!l.mac().isEmpty()) { // a tap's; a tun has none
            b.append(" mac=").append(l.mac());
        }
        int offloads = Namespaces.inside(p, "net", () -> TunDevices.offloads(Ethtool.activeFeatures(l.name())));
        if (offloads != 0) {
            b.append(" offload=0x").append(Integer.toHexString(offloads));
        }
        if ((t.flags() & TunDevices.IFF_PERSIST) != 0 && fileless(p, t)) {
            Integer v = withCarrierUnseen(p, l, () -> Namespaces.inside(p, "net", () -> {
                try (Fd tun = Sys.open("/dev/net/tun", Fcntl.O_RDWR | Fcntl.O_CLOEXEC)) {
                    TunDevices.attach(tun, t.name(), t.flags() & ~TunDevices.IFF_PERSIST);
                    // its eBPF programs, which the device made again would not have, seen from cryo's file
                    TunPrograms.Attached a = TunPrograms.of((int) ProcessHandle.current().pid()).get(tun.value());
                    if (a != null) {
                        throw new DumpException("pid " + p + ": tun/tap device " + t.name() + " of its net namespace,"
                                + " which no task holds a file of, has " + a.describe() + ", which cannot be read back;"
                                + " not supported");
                    }
                    return (t.flags() & TunDevices.IFF_VNET_HDR) != 0 ? TunDevices.vnetHeaderSize(tun, t.name()) : null;
                } catch (SyscallException e) {
                    if (e.is(Errno.EBUSY)) { // a task's file holds it: TunFileHandler reads them there
                        return null;
                    }
                    throw e;
                }
            }));
            if (v != null) {
                b.append(" vnethdr=").append(v);
            }
        }
        return b.toString();
    }

    /**
     * Runs {@code attach}, which attaches a file to device {@code l} for a moment, without the live
     * device's address configuration seeing its carrier come on: on an up device the kernel would then
     * configure ipv6 (a tun's addr_gen_mode 0 becomes 3 with a random stable_secret, a tap gets a
     * link-local address), which stays after the file is gone. In link mode dormant the carrier makes
     * the device dormant, not up, and ipv6 waits for up; the mode is given back once the file is closed
     * (carrier off again), so whenever the kernel's link watch looks it finds no carrier.
     */
    private static <T> T withCarrierUnseen(Pid p, NetDevices.Link l, java.util.function.Supplier<T> attach) {
        boolean calm = l.up() && !NetnsCommand.run(p, "ip", "-o", "link", "show", "dev", l.name()).contains(" mode DORMANT ");
        if (calm) {
            NetnsCommand.run(p, "ip", "link", "set", "dev", l.name(), "mode", "dormant");
        }
        try {
            return attach.get();
        } finally {
            if (calm) {
                NetnsCommand.run(p, "ip", "link", "set", "dev", l.name(), "mode", "default");
            }
        }
    }

    /**
     * Whether no file may be attached to {@code t}: a single-queue device answers that by refusing a
     * second file (EBUSY), a multi-queue one takes any number, so ip's count of its queues decides.
     */
    private static boolean fileless(Pid p, Tun t) {
        if ((t.flags() & TunDevices.IFF_MULTI_QUEUE) == 0) {
            return true;
        }
        String d = NetnsCommand.run(p, "ip", "-o", "-d", "link", "show", "dev", t.name());
        return d.contains(" numqueues 0 numdisabled 0 ");
    }

    /** Makes device {@code d} (a line's fields) in {@code p}'s new namespace, persistent, down. */
    static void make(Pid p, Map<String, String> d) {
        String name = d.get("name");
        int flags = Integer.decode(d.get("flags")), index = Integer.parseInt(d.get("index"));
        if (index < 2 || (flags & TunDevices.TYPE_MASK) == 0) {
            throw new RestoreException("bad tun device line in the image: " + d);
        }
        // a tun file makes its device in the net namespace it was opened in
        try (Fd tun = Namespaces.inside(p, "net", () -> Sys.open("/dev/net/tun", Fcntl.O_RDWR | Fcntl.O_CLOEXEC))) {
            TunDevices.create(tun, name, flags & ~TunDevices.IFF_PERSIST, index);
            int owner = Integer.parseInt(d.get("owner")), group = Integer.parseInt(d.get("group"));
            if (owner != -1) {
                TunDevices.owner(tun, name, false, owner);
            }
            if (group != -1) {
                TunDevices.owner(tun, name, true, group);
            }
            if (d.containsKey("offload")) {
                TunDevices.offload(tun, name, number(d, "offload"));
            }
            if (d.containsKey("vnethdr") && number(d, "vnethdr") > 0) {
                TunDevices.vnetHeaderSize(tun, name, number(d, "vnethdr"));
            }
            TunDevices.persist(tun, name, true); // outlives this file until the tasks' attach to it
        }
        List<String> cmd = new ArrayList<>(List.of("ip", "link", "set", "dev", name, "mtu", d.get("mtu"), "txqueuelen",
                d.get("qlen")));
        if (d.containsKey("mac")) {
            cmd.addAll(List.of("address", d.get("mac")));
        }
        NetnsCommand.run(p, cmd.toArray(String[]::new));
    }

    private static int number(Map<String, String> d, String key) {
        try {
            return Integer.decode(d.get(key));
        } catch (NumberFormatException e) {
            throw new RestoreException("bad tun device line in the image: " + key + "=" + d.get(key) + " is not a number");
        }
    }
}
