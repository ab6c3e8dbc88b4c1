package dev.cryo.kernel.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A socket address as the kernel stores it: a unix name (a path, an abstract name starting with a
 * NUL byte, or nothing when unbound), an IPv4/IPv6 address with a port, or a netlink port id with
 * its multicast groups, or a vsock context id (cid, in the address's 4 bytes) with a port. {@link #encode()} and {@link #decode} convert to and from {@code struct sockaddr}.
 */
public record SockAddr(int family, byte[] address, int port) {
    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16, AF_PACKET = 17, AF_VSOCK = 40;
    /** linux/vm_sockets.h: any context id or port (bind), and the local host's cid (vsock_loopback). */
    public static final int VMADDR_CID_ANY = -1, VMADDR_PORT_ANY = -1, VMADDR_CID_LOCAL = 1;
    /** sizeof(struct sockaddr_un.sun_path). */
    public static final int SUN_PATH = 108;

    public SockAddr {
        address = address.clone();
    }

    @Override
    public byte[] address() {
        return address.clone();
    }

    /** A unix address; an empty name is an unbound socket, a leading NUL an abstract name. */
    public static SockAddr unix(byte[] name) {
        return new SockAddr(AF_UNIX, name, 0);
    }

    public static SockAddr unixPath(String path) {
        return unix(path.getBytes(StandardCharsets.UTF_8));
    }

    public static SockAddr inet(InetAddress addr, int port) {
        return new SockAddr(addr.getAddress().length == 4 ? AF_INET : AF_INET6, addr.getAddress(), port);
    }

    /** A netlink address: {@code port} is the nl_pid, {@code address} the 4-byte group mask. */
    /** A vsock address (struct sockaddr_vm). */
    public static SockAddr vsock(int cid, int port) {
        return new SockAddr(AF_VSOCK, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(cid).array(), port);
    }

    /** A vsock address's context id. */
    public int cid() {
        return ByteBuffer.wrap(address).order(ByteOrder.nativeOrder()).getInt();
    }

    public static SockAddr netlink(int portId, int groups) {
        return new SockAddr(AF_NETLINK, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(groups).array(), portId);
    }

    public boolean isAbstract() {
        return family == AF_UNIX && address.length > 0 && address[0] == 0;
    }

    public boolean isUnbound() {
        return family == AF_UNIX && address.length == 0;
    }

    public int netlinkGroups() {
        return ByteBuffer.wrap(address).order(ByteOrder.nativeOrder()).getInt();
    }

    public InetAddress inetAddress() {
        try {
            return InetAddress.getByAddress(address);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("bad inet address of " + address.length + " bytes", e);
        }
    }

    /**
     * This address as IPv4 when it is an IPv4-mapped IPv6 one (::ffff:a.b.c.d: an AF_INET6 socket's end
     * of a connection with an AF_INET one), else itself.
     */
    public SockAddr unmapped() {
        return isV4Mapped() ? new SockAddr(AF_INET, Arrays.copyOfRange(address, 12, 16), port) : this;
    }

    /** Whether this is an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
    public boolean isV4Mapped() {
        if (family != AF_INET6 || address.length != 16) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (address[i] != 0) {
                return false;
            }
        }
        return address[10] == (byte) 0xff && address[11] == (byte) 0xff;
    }

    /** True for 0.0.0.0 and ::. */
    public boolean isAnyAddress() {
        for (byte b : address) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    public byte[] encode() {
        switch (family) {
            case AF_UNIX -> {
                // an abstract name may fill all of sun_path (libqb's do, NUL-padded); so may a path,
                // which then has no NUL: the kernel accepts both
                if (address.length > SUN_PATH) {
                    throw new IllegalArgumentException("unix socket name longer than " + SUN_PATH + " bytes");
                }
                boolean nul = !isAbstract() && !isUnbound() && address.length < SUN_PATH;
                ByteBuffer b = ByteBuffer.allocate(2 + address.length + (nul ? 1 : 0)).order(ByteOrder.nativeOrder());
                b.putShort((short) AF_UNIX).put(address);
                return b.array(); // a path gets its NUL from the zeroed buffer
            }
            case AF_INET -> {
                ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN);
                b.order(ByteOrder.nativeOrder()).putShort((short) AF_INET).order(ByteOrder.BIG_ENDIAN)
                        .putShort((short) port).put(address);
                return b.array();
            }
            case AF_INET6 -> {
                ByteBuffer b = ByteBuffer.allocate(28);
                b.order(ByteOrder.nativeOrder()).putShort((short) AF_INET6).order(ByteOrder.BIG_ENDIAN)
                        .putShort((short) port).putInt(0).put(address).putInt(0);
                return b.array();
            }
            case AF_NETLINK -> {
                ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.nativeOrder());
                b.putShort((short) AF_NETLINK).putShort((short) 0).putInt(port).put(address);
                return b.array();
            }
            case AF_VSOCK -> { // family, reserved, port, cid, flags, zero padding
                ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
                b.putShort((short) AF_VSOCK).putShort((short) 0).putInt(port).put(address);
                return b.array();
            }
            default -> throw new IllegalArgumentException("cannot encode address family " + family);
        }
    }

    /** Decodes the first {@code len} bytes of a {@code struct sockaddr} the kernel filled in. */
    public static SockAddr decode(byte[] raw, int len) {
        if (len < 2) {
            return new SockAddr(0, new byte[0], 0); // the kernel gave no address
        }
        ByteBuffer b = ByteBuffer.wrap(raw, 0, len).order(ByteOrder.nativeOrder());
        int family = b.getShort() & 0xffff;
        switch (family) {
            case AF_UNIX -> {
                byte[] name = Arrays.copyOfRange(raw, 2, len);
                if (name.length > 0 && name[0] != 0) { // a path: up to its NUL
                    int end = 0;
                    while (end < name.length && name[end] != 0) {
                        end++;
                    }
                    name = Arrays.copyOf(name, end);
                }
                return unix(name);
            }
            case AF_INET -> {
                b.order(ByteOrder.BIG_ENDIAN);
                int port = b.getShort() & 0xffff;
                byte[] a = new byte[4];
                b.get(a);
                return new SockAddr(AF_INET, a, port);
            }
            case AF_INET6 -> {
                b.order(ByteOrder.BIG_ENDIAN);
                int port = b.getShort() & 0xffff;
                b.getInt();
                byte[] a = new byte[16];
                b.get(a);
                return new SockAddr(AF_INET6, a, port);
            }
            case AF_NETLINK -> {
                b.getShort();
                int pid = b.getInt();
                return netlink(pid, b.getInt());
            }
            case AF_VSOCK -> {
                b.getShort();
                int port = b.getInt();
                return vsock(b.getInt(), port);
            }
            default -> {
                return new SockAddr(family, Arrays.copyOfRange(raw, 2, len), 0);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SockAddr s && s.family == family && s.port == port && Arrays.equals(s.address, address);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(address) * 31 + family * 7 + port;
    }

    @Override
    public String toString() {
        return switch (family) {
            case AF_UNIX -> isUnbound() ? "unbound" : isAbstract()
                    ? "@" + new String(address, 1, address.length - 1, StandardCharsets.UTF_8).replace("\0", "@")
                    : new String(address, StandardCharsets.UTF_8);
            case AF_INET -> inetAddress().getHostAddress() + ":" + port;
            case AF_INET6 -> "[" + inetAddress().getHostAddress() + "]:" + port;
            case AF_NETLINK -> "netlink port " + port + " groups 0x" + Integer.toHexString(netlinkGroups());
            default -> "family " + family;
        };
    }
}
