package dev.cryo.kernel.net;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;

import java.nio.ByteBuffer;

/**
 * Puts a UDP datagram in a local socket's receive queue as if it came from any sender: a raw
 * IPPROTO_RAW packet (IP_HDRINCL / IPV6_HDRINCL, root) whose headers name the original source
 * address and port, so no socket has to be bound there (the port may be in use, the address not
 * local). The raw sockets are bound to {@code lo}: a packet whose destination is not (or no longer)
 * local is dropped there, it never leaves the host with a borrowed source address. They carry
 * {@link NetworkLock#BYPASS_MARK}, so a network lock holding the port lets them through.
 *
 * <p>A socket bound to another device (SO_BINDTODEVICE) hears only what came in through it: {@link #through}
 * binds the raw socket to that device and sends to an address of that device ({@link #localThrough}): the
 * route is then the local table's, the packet loops back through {@code lo}, and the kernel counts it as come
 * in through the device (the route's rt_iif), as a datagram one of the host's own sockets sends there.
 */
public final class UdpInjector implements AutoCloseable {
    /** The IPv4 all-hosts group: a connect to it out of a device picks that device's primary address. */
    private static final byte[] ALL_HOSTS = {(byte) 224, 0, 0, 1};
    private final String device;
    /** Addresses checked by {@link #localThrough} for a device other than lo. */
    private final java.util.Set<java.net.InetAddress> staysHere = new java.util.HashSet<>();
    private Fd v4, v6;

    public UdpInjector() {
        this("lo");
    }

    private UdpInjector(String device) {
        this.device = device;
    }

    /**
     * An injector whose packets go out of {@code device}: only to an IPv4 address {@link #localThrough} gave
     * for it, so they stay on this host.
     */
    public static UdpInjector through(String device) {
        return new UdpInjector(device);
    }

    /**
     * The IPv4 address of this thread's net namespace that a packet sent out of {@code device} reaches
     * without leaving the host: {@code wanted} (a socket bound to that address hears nothing else) or,
     * when that is the wildcard, the device's primary address; null when it has none, or when a packet
     * to it out of that device would leave (the device is down, the address is another device's). A
     * route to a local address gives that address as the source; any other route, one of the device's.
     */
    public static byte[] localThrough(String device, byte[] wanted) {
        byte[] to = wanted;
        if (to == null || new SockAddr(SockAddr.AF_INET, to, 0).isAnyAddress()) {
            to = sourceOut(device, ALL_HOSTS);
            if (to == null) {
                return null;
            }
        }
        return java.util.Arrays.equals(to, sourceOut(device, to)) ? to : null;
    }

    /** The source address the kernel picks for a UDP socket bound to {@code device} and connected to {@code to}. */
    private static byte[] sourceOut(String device, byte[] to) {
        try (Fd probe = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, Sockets.IPPROTO_UDP)) {
            Sockets.setBytes(probe, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE,
                    device.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            Sockets.connect(probe, new SockAddr(SockAddr.AF_INET, to, 9)); // no packet: a UDP connect only routes
            SockAddr source = Sockets.sockName(probe);
            return source.isAnyAddress() ? null : source.address();
        } catch (RuntimeException e) { // no route out of it (ENETUNREACH: down), no such device
            return null;
        }
    }

    /** Sends {@code payload} from {@code from} to the local socket at {@code to} (same family). */
    public void send(SockAddr from, SockAddr to, byte[] payload) {
        int udpLen = 8 + payload.length;
        ByteBuffer udp = ByteBuffer.allocate(udpLen);
        udp.putShort((short) from.port()).putShort((short) to.port()).putShort((short) udpLen).putShort((short) 0);
        udp.put(payload);
        byte[] u = udp.array();
        if (from.family() == SockAddr.AF_INET) {
            // IPv4: a zero UDP checksum means none; the kernel fills the header checksum, id and length
            sendRaw(to, ipv4(Sockets.IPPROTO_UDP, from.address(), to.address(), u), "a UDP datagram");
        } else {
            // IPv6 forbids a zero UDP checksum: computed over the pseudo-header
            int sum = sum(from.address()) + sum(to.address()) + udpLen + Sockets.IPPROTO_UDP + sum(u);
            while ((sum >>> 16) != 0) {
                sum = (sum & 0xffff) + (sum >>> 16);
            }
            int check = ~sum & 0xffff;
            u[6] = (byte) ((check == 0 ? 0xffff : check) >> 8);
            u[7] = (byte) (check == 0 ? 0xffff : check);
            sendRaw(to, ipv6(Sockets.IPPROTO_UDP, from.address(), to.address(), u), "a UDP datagram");
        }
    }

    /**
     * The ICMP error (type, code) whose arrival leaves a connected UDP socket of {@code family} holding
     * {@code errno} for the program (the kernel's icmp_err_convert / icmpv6_err_convert: the errors it
     * reports to a connected socket without IP_RECVERR); null for an errno no ICMP error gives.
     */
    public static int[] icmpFor(int family, int errno) {
        if (family == SockAddr.AF_INET) {
            return switch (errno) {
                case Errno.ENOPROTOOPT -> new int[] {3, 2};
                case Errno.ECONNREFUSED -> new int[] {3, 3};
                case Errno.ENETUNREACH -> new int[] {3, 6};
                case Errno.EHOSTDOWN -> new int[] {3, 7};
                case Errno.ENONET -> new int[] {3, 8};
                case Errno.EHOSTUNREACH -> new int[] {3, 10};
                case Errno.EPROTO -> new int[] {12, 0};
                default -> null;
            };
        }
        return switch (errno) {
            case Errno.EACCES -> new int[] {1, 1};
            case Errno.ECONNREFUSED -> new int[] {1, 4};
            case Errno.EPROTO -> new int[] {4, 0};
            default -> null;
        };
    }

    /**
     * Makes the local UDP socket at {@code local}, connected to {@code remote}, hold {@code errno} as an
     * ICMP error about a datagram it sent there would ({@link #icmpFor}): an ICMP error from {@code remote}
     * quoting such a datagram's headers.
     */
    public void error(SockAddr local, SockAddr remote, int errno) {
        if (local.isV4Mapped() && remote.isV4Mapped()) {
            local = local.unmapped(); // a dual-stack socket connected to an IPv4 peer hears ICMP (v4) errors
            remote = remote.unmapped();
        }
        int[] icmp = icmpFor(local.family(), errno);
        if (icmp == null) {
            throw new IllegalArgumentException("no ICMP error gives a UDP socket " + Errno.name(errno));
        }
        ByteBuffer udp = ByteBuffer.allocate(9); // the quoted datagram: its header and one byte
        udp.putShort((short) local.port()).putShort((short) remote.port()).putShort((short) 9).putShort((short) 0).put((byte) 0);
        if (local.family() == SockAddr.AF_INET) {
            byte[] message = icmpMessage(icmp, ipv4(Sockets.IPPROTO_UDP, local.address(), remote.address(), udp.array()));
            int check = ~fold(sum(message)) & 0xffff;
            message[2] = (byte) (check >> 8);
            message[3] = (byte) check;
            sendRaw(local, ipv4(Sockets.IPPROTO_ICMP, remote.address(), local.address(), message), "an ICMP error");
        } else {
            byte[] message = icmpMessage(icmp, ipv6(Sockets.IPPROTO_UDP, local.address(), remote.address(), udp.array()));
            // ICMPv6's checksum covers the pseudo-header
            int check = ~fold(sum(remote.address()) + sum(local.address()) + message.length + Sockets.IPPROTO_ICMPV6
                    + sum(message)) & 0xffff;
            message[2] = (byte) (check >> 8);
            message[3] = (byte) check;
            sendRaw(local, ipv6(Sockets.IPPROTO_ICMPV6, remote.address(), local.address(), message), "an ICMP error");
        }
    }

    /** An IPv4 packet: its header (the kernel fills the checksum and id of one it sends) and {@code payload}. */
    private static byte[] ipv4(int protocol, byte[] src, byte[] dst, byte[] payload) {
        ByteBuffer ip = ByteBuffer.allocate(20 + payload.length);
        ip.put((byte) 0x45).put((byte) 0).putShort((short) (20 + payload.length)).putShort((short) 0).putShort((short) 0)
                .put((byte) 64).put((byte) protocol).putShort((short) 0).put(src).put(dst).put(payload);
        return ip.array();
    }

    /** An IPv6 packet: its header and {@code payload}. */
    private static byte[] ipv6(int protocol, byte[] src, byte[] dst, byte[] payload) {
        ByteBuffer ip = ByteBuffer.allocate(40 + payload.length);
        ip.putInt(6 << 28).putShort((short) payload.length).put((byte) protocol).put((byte) 64).put(src).put(dst).put(payload);
        return ip.array();
    }

    /** Sends {@code packet}, headers included, to the local address of {@code to} through this injector's raw socket. */
    private void sendRaw(SockAddr to, byte[] packet, String what) {
        if (!device.equals("lo") && !staysHere.contains(to.inetAddress())) {
            // out of another device than lo, only to an address that keeps the packet on this host
            if (to.family() != SockAddr.AF_INET || localThrough(device, to.address()) == null) {
                throw new IllegalArgumentException("cannot give " + what + " to " + to + " through device " + device
                        + ": a packet to that address would leave the host");
            }
            staysHere.add(to.inetAddress());
        }
        int n = Sockets.sendTo(raw(to.family()), packet, 0, new SockAddr(to.family(), to.address(), 0));
        if (n != packet.length) {
            throw new IllegalStateException("sent " + n + " of " + packet.length + " bytes of " + what);
        }
    }

    /** type, code, checksum 0 (filled by the caller), 4 unused bytes, then the quoted packet. */
    private static byte[] icmpMessage(int[] typeCode, byte[] quoted) {
        ByteBuffer m = ByteBuffer.allocate(8 + quoted.length);
        m.put((byte) typeCode[0]).put((byte) typeCode[1]).putShort((short) 0).putInt(0).put(quoted);
        return m.array();
    }

    private static int fold(int sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return sum;
    }

    /** This injector's raw socket of {@code family}, whose packets carry their own IP header. */
    private Fd raw(int family) {
        if (family == SockAddr.AF_INET) {
            if (v4 == null) {
                v4 = boundToDevice(Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_RAW, Sockets.IPPROTO_RAW));
            }
            return v4;
        }
        if (v6 == null) {
            v6 = boundToDevice(Sockets.socket(SockAddr.AF_INET6, Sockets.SOCK_RAW, Sockets.IPPROTO_RAW));
            Sockets.setInt(v6, Sockets.SOL_IPV6, Sockets.IPV6_HDRINCL, 1);
        }
        return v6;
    }

    private Fd boundToDevice(Fd s) {
        Sockets.setBytes(s, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE, device.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        // the dump's network lock may still drop datagrams to this port until the restore ends: these pass
        Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_MARK, NetworkLock.BYPASS_MARK);
        return s;
    }

    private static int sum(byte[] b) {
        int s = 0;
        for (int i = 0; i < b.length; i += 2) {
            s += ((b[i] & 0xff) << 8) | (i + 1 < b.length ? b[i + 1] & 0xff : 0);
            s = (s & 0xffff) + (s >>> 16);
        }
        return s;
    }

    @Override
    public void close() {
        if (v4 != null) {
            v4.close();
        }
        if (v6 != null) {
            v6.close();
        }
    }
}
