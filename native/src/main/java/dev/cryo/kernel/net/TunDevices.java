package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * tun/tap devices (linux/if_tun.h) through an open {@code /dev/net/tun} file this process holds:
 * its own, or a task's taken with pidfd_getfd. Device-wide facts are read from sysfs (cryo's net
 * namespace), where {@code tun_flags} holds the device's flags: TUNGETIFF would not do, it ORs
 * {@code IFF_NOFILTER} into them, which has the value of {@code IFF_NO_PI}.
 */
public final class TunDevices {
    private TunDevices() {}

    /** /dev/net/tun is misc device 10:200. */
    public static final int MISC_MAJOR = 10, MINOR = 200;
    public static final int IFF_TUN = 0x1, IFF_TAP = 0x2, TYPE_MASK = 0xf, IFF_MULTI_QUEUE = 0x100,
            IFF_DETACH_QUEUE = 0x400, IFF_PERSIST = 0x800, IFF_VNET_HDR = 0x4000;
    private static final long TUNSETIFF = ioW(202, 4), TUNSETPERSIST = ioW(203, 4), TUNSETOWNER = ioW(204, 4),
            TUNSETGROUP = ioW(206, 4), TUNGETIFF = ioR(210, 4), TUNGETSNDBUF = ioR(211, 4), TUNSETSNDBUF = ioW(212, 4),
            TUNGETVNETHDRSZ = ioR(215, 4),
            TUNSETVNETHDRSZ = ioW(216, 4), TUNSETQUEUE = ioW(217, 4), TUNSETIFINDEX = ioW(218, 4),
            TUNGETFILTER = ioR(219, 16), TUNGETDEVNETNS = (('T' << 8) | 227), TUNSETOFFLOAD = ioW(208, 4);
    private static final int IFNAMSIZ = Ifreq.IFNAMSIZ;

    private static long ioW(int nr, int size) {
        return (1L << 30) | ((long) size << 16) | ('T' << 8) | nr;
    }

    private static long ioR(int nr, int size) {
        return (2L << 30) | ((long) size << 16) | ('T' << 8) | nr;
    }

    /** The device's flags (sysfs tun_flags): type, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE, IFF_PERSIST... */
    public static int flags(String device) {
        String v = sys(device, "tun_flags");
        return Integer.decode(v);
    }

    /** The device's interface index in cryo's net namespace, or -1 when no device has that name here. */
    public static int ifindex(String device) {
        Path p = Path.of("/sys/class/net", device, "ifindex");
        if (!Files.exists(p)) {
            return -1;
        }
        return Integer.parseInt(sys(device, "ifindex"));
    }

    /** Whether {@code device} is a tun/tap device (it has tun_flags). */
    public static boolean isTun(String device) {
        return Files.exists(Path.of("/sys/class/net", device, "tun_flags"));
    }

    private static String sys(String device, String attr) {
        Path p = Path.of("/sys/class/net", device, attr);
        try {
            return Files.readString(p).strip();
        } catch (IOException e) {
            throw new KernelException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /** TUNSETOFFLOAD's flags: checksum, TCP segmentation (IPv4, IPv6, with ECN) and UDP segmentation (both families). */
    public static final int TUN_F_CSUM = 0x1, TUN_F_TSO4 = 0x2, TUN_F_TSO6 = 0x4, TUN_F_TSO_ECN = 0x8,
            TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;

    /**
     * The TUNSETOFFLOAD flags that give a device its active features {@code features} (ethtool's names):
     * the kernel turns each flag into one feature (the UDP ones, together, into one), so the features
     * name the flags; the flags without checksumming are refused by the kernel and never show.
     * TUN_F_UFO is accepted and ignored by today's kernels: nothing to carry.
     */
    public static int offloads(java.util.Set<String> features) {
        if (!features.contains("tx-checksum-ip-generic")) {
            return 0;
        }
        int f = TUN_F_CSUM;
        if (features.contains("tx-tcp-segmentation")) {
            f |= TUN_F_TSO4;
        }
        if (features.contains("tx-tcp6-segmentation")) {
            f |= TUN_F_TSO6;
        }
        if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) != 0 && features.contains("tx-tcp-ecn-segmentation")) {
            f |= TUN_F_TSO_ECN;
        }
        if (features.contains("tx-udp-segmentation")) {
            f |= TUN_F_USO4 | TUN_F_USO6;
        }
        return f;
    }

    /** Sets the offloads the program takes (TUNSETOFFLOAD, a device-wide setting; the argument is the value). */
    public static void offload(Fd tun, String device, int flags) {
        Sys.call(() -> "ioctl(" + tun + ", TUNSETOFFLOAD 0x" + Integer.toHexString(flags) + ", " + device + ")",
                SyscallNr.IOCTL, tun.value(), TUNSETOFFLOAD, flags, 0);
    }

    /** Makes the device persistent (it outlives its last file) or not. */
    public static void persist(Fd tun, String device, boolean on) {
        Sys.call(() -> "ioctl(" + tun + ", TUNSETPERSIST " + (on ? 1 : 0) + ", " + device + ")", SyscallNr.IOCTL,
                tun.value(), TUNSETPERSIST, on ? 1 : 0, 0);
    }

    /** The length of the classic BPF filter attached to a tap device's queues (TUNATTACHFILTER), 0 if none. */
    public static int filterLength(Fd tun, String device) {
        Memory m = new Memory(16);
        m.clear();
        Sys.call(() -> "ioctl(" + tun + ", TUNGETFILTER, " + device + ")", SyscallNr.IOCTL, tun.value(), TUNGETFILTER,
                Sys.address(m), 0);
        return m.getShort(0) & 0xffff;
    }

    /** Attaches a file not attached yet to existing device {@code device} with its {@code flags} (TUNSETIFF). */
    public static void attach(Fd tun, String device, int flags) {
        Memory m = ifreq(device, flags);
        Sys.call(() -> "ioctl(" + tun + ", TUNSETIFF, " + device + ", flags 0x" + Integer.toHexString(flags) + ")",
                SyscallNr.IOCTL, tun.value(), TUNSETIFF, Sys.address(m), 0);
    }

    /**
     * Makes device {@code device} with {@code flags} from a file not attached yet, under interface
     * index {@code ifindex} (TUNSETIFINDEX before TUNSETIFF, kernel 3.8+), in the net namespace the
     * file was opened in.
     */
    public static void create(Fd tun, String device, int flags, int ifindex) {
        setInt(tun, device, "TUNSETIFINDEX", TUNSETIFINDEX, ifindex);
        attach(tun, device, flags);
    }

    /** Sets the user ({@code group}: false) or group allowed to attach to the device; -1 for anyone. */
    public static void owner(Fd tun, String device, boolean group, int id) {
        Sys.call(() -> "ioctl(" + tun + (group ? ", TUNSETGROUP " : ", TUNSETOWNER ") + id + ", " + device + ")",
                SyscallNr.IOCTL, tun.value(), group ? TUNSETGROUP : TUNSETOWNER, id, 0);
    }

    /** The size of the virtio-net header before each packet of an IFF_VNET_HDR device (TUNGETVNETHDRSZ). */
    public static int vnetHeaderSize(Fd tun, String device) {
        return getInt(tun, device, "TUNGETVNETHDRSZ", TUNGETVNETHDRSZ);
    }

    /** Sets it again (TUNSETVNETHDRSZ). */
    public static void vnetHeaderSize(Fd tun, String device, int size) {
        setInt(tun, device, "TUNSETVNETHDRSZ", TUNSETVNETHDRSZ, size);
    }

    /** The device's send buffer, in bytes (TUNGETSNDBUF; INT_MAX unless a program set one). */
    public static int sendBuffer(Fd tun, String device) {
        return getInt(tun, device, "TUNGETSNDBUF", TUNGETSNDBUF);
    }

    /** Sets it again (TUNSETSNDBUF). */
    public static void sendBuffer(Fd tun, String device, int bytes) {
        setInt(tun, device, "TUNSETSNDBUF", TUNSETSNDBUF, bytes);
    }

    /** An ioctl that fills an int: {@code name} for the error. */
    private static int getInt(Fd tun, String device, String name, long request) {
        Memory m = new Memory(4);
        Sys.call(() -> "ioctl(" + tun + ", " + name + ", " + device + ")", SyscallNr.IOCTL, tun.value(), request,
                Sys.address(m), 0);
        return m.getInt(0);
    }

    /** An ioctl that reads an int {@code value}. */
    private static void setInt(Fd tun, String device, String name, long request, int value) {
        Memory m = new Memory(4);
        m.setInt(0, value);
        Sys.call(() -> "ioctl(" + tun + ", " + name + " " + value + ", " + device + ")", SyscallNr.IOCTL, tun.value(),
                request, Sys.address(m), 0);
    }

    /** The net namespace the file's device lives in, as an fd of it (TUNGETDEVNETNS, kernel 5.2+). */
    public static Fd deviceNetns(Fd tun, String device) {
        return new Fd((int) Sys.call(() -> "ioctl(" + tun + ", TUNGETDEVNETNS, " + device + ")", SyscallNr.IOCTL,
                tun.value(), TUNGETDEVNETNS, 0, 0));
    }

    /** Whether the file is a queue detached from its multi-queue device (TUNGETIFF shows IFF_DETACH_QUEUE). */
    public static boolean detached(Fd tun, String device) {
        Memory m = new Memory(Ifreq.SIZE);
        m.clear();
        Sys.call(() -> "ioctl(" + tun + ", TUNGETIFF, " + device + ")", SyscallNr.IOCTL, tun.value(), TUNGETIFF,
                Sys.address(m), 0);
        return (m.getShort(IFNAMSIZ) & IFF_DETACH_QUEUE) != 0;
    }

    /** Detaches the file's queue from its multi-queue device (TUNSETQUEUE IFF_DETACH_QUEUE): it gets no packets. */
    public static void detach(Fd tun, String device) {
        Memory m = ifreq("", IFF_DETACH_QUEUE);
        Sys.call(() -> "ioctl(" + tun + ", TUNSETQUEUE IFF_DETACH_QUEUE, " + device + ")", SyscallNr.IOCTL, tun.value(),
                TUNSETQUEUE, Sys.address(m), 0);
    }

    private static Memory ifreq(String device, int flags) {
        Memory m = Ifreq.named(device, "tun/tap device");
        m.setShort(IFNAMSIZ, (short) flags);
        return m;
    }
}
