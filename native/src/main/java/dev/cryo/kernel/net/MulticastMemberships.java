package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.LibC;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Multicast groups a socket joined (IP_ADD_MEMBERSHIP, MCAST_JOIN_GROUP, source filters). No call
 * lists a socket's groups; its namespace's are in /proc/net/igmp and /proc/net/igmp6 by interface, and
 * getsockopt(MCAST_MSFILTER) for one (interface, group) answers with the socket's filter when it is
 * a member, EADDRNOTAVAIL when not. A membership is that answer as is: a struct group_filter
 * (interface index, group, filter mode, sources), joined again with MCAST_JOIN_GROUP and its
 * filter set with MCAST_MSFILTER.
 */
public final class MulticastMemberships {
    private MulticastMemberships() {}

    public static final int MCAST_JOIN_GROUP = 42, MCAST_MSFILTER = 48;
    /** struct group_filter up to gf_slist, on 64-bit: index, padding, sockaddr_storage group, mode, count. */
    static final int FILTER_HEADER = 144;
    private static final int STORAGE = 128, GROUP_AT = 8, COUNT_AT = 140, GROUP_REQ = GROUP_AT + STORAGE;
    /** Sources read per membership (a filter holds up to net.ipv4.igmp_max_msf, 10 by default). */
    private static final int MAX_SOURCES = 64, FILTER_SIZE = FILTER_HEADER + MAX_SOURCES * STORAGE;

    /** A group the host joined on an interface; {@code address} is 4 or 16 bytes, network order. */
    public record HostGroup(int ifindex, byte[] address) {}

    /**
     * The IPv4 (family AF_INET) or IPv6 groups joined on the interfaces of the net namespace of socket
     * {@code s}: read on a thread in that namespace (/proc/net shows cryo's own, and a socket of a tree's
     * own namespace, avahi's in {@code unshare --net}, joined groups on interfaces only that one has).
     */
    public static List<HostGroup> groupsOf(Fd s, int family) {
        try (Fd ns = Sockets.netns(s)) {
            return groupsIn(ns, family);
        }
    }

    /** The groups {@link #groupsOf} reads, of the net namespace {@code ns} (an fd of it: a socket's SIOCGSKNS). */
    public static List<HostGroup> groupsIn(Fd ns, int family) {
        return dev.cryo.kernel.Namespaces.insideNet(ns, () -> hostGroups(family));
    }

    /** The calling thread's namespace's groups. */
    private static List<HostGroup> hostGroups(int family) {
        try {
            return family == SockAddr.AF_INET ? parseIgmp(Files.readString(Path.of("/proc/thread-self/net/igmp")))
                    : parseIgmp6(Files.readString(Path.of("/proc/thread-self/net/igmp6")));
        } catch (IOException e) {
            return List.of(); // no multicast in this kernel: no socket can be a member either
        }
    }

    /** /proc/net/igmp: an interface line "Idx Device : Count Querier", then its groups, the __be32 printed as a host-order hex word. */
    static List<HostGroup> parseIgmp(String text) {
        List<HostGroup> out = new ArrayList<>();
        int ifindex = -1;
        for (String line : text.split("\n")) {
            String t = line.trim();
            if (t.isEmpty() || t.startsWith("Idx")) {
                continue;
            }
            String[] f = t.split("\\s+");
            if (!Character.isWhitespace(line.charAt(0)) && f.length > 1) {
                ifindex = Integer.parseInt(f[0]);
            } else if (ifindex > 0 && f[0].length() == 8) {
                byte[] le = HexFormat.of().parseHex(f[0]);
                out.add(new HostGroup(ifindex, new byte[] {le[3], le[2], le[1], le[0]}));
            }
        }
        return out;
    }

    /** /proc/net/igmp6: "idx device group users flags timer", the group in network-order hex. */
    static List<HostGroup> parseIgmp6(String text) {
        List<HostGroup> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && f[2].length() == 32) {
                out.add(new HostGroup(Integer.parseInt(f[0]), HexFormat.of().parseHex(f[2])));
            }
        }
        return out;
    }

    /** The socket's membership of {@code g} as a struct group_filter, or null when it is not a member. */
    public static byte[] membership(Fd s, int level, int family, HostGroup g) {
        byte[] group;
        try {
            group = SockAddr.inet(java.net.InetAddress.getByAddress(g.address()), 0).encode();
        } catch (java.net.UnknownHostException e) {
            return null; // not an address: no socket is a member of it
        }
        Memory buf = ASKED.get(); // the filter, then its length
        buf.clear(FILTER_HEADER); // the kernel writes the sources it gives, and gives back the header
        buf.setInt(0, g.ifindex());
        buf.write(GROUP_AT, group, 0, group.length);
        buf.setInt(COUNT_AT, MAX_SOURCES);
        buf.setInt(FILTER_SIZE, FILTER_SIZE);
        if (LibC.syscall(SyscallNr.GETSOCKOPT, s.value(), level, MCAST_MSFILTER, Sys.address(buf),
                Sys.address(buf) + FILTER_SIZE, 0) == -1) {
            int errno = Native.getLastError(); // most asked are not members: an answer, not an exception
            if (errno == Errno.EADDRNOTAVAIL || errno == Errno.EINVAL || errno == Errno.ENODEV) {
                return null;
            }
            throw new SyscallException("getsockopt(" + s + ", MCAST_MSFILTER)", errno);
        }
        int sources = Math.min(buf.getInt(COUNT_AT), MAX_SOURCES);
        return buf.getByteArray(0, FILTER_HEADER + sources * STORAGE);
    }

    /**
     * A thread's buffer for {@link #membership}: a socket is asked once per group its namespace joined, and a
     * new Memory each time (JNA registers every one in a shared map) with the exception of a non-member was most
     * of a datagram socket's options read.
     */
    private static final ThreadLocal<Memory> ASKED = ThreadLocal.withInitial(() -> new Memory(FILTER_SIZE + 4L));

    /** Joins the group of {@code filter} (a {@link #membership}) on its interface, then sets its filter. */
    public static void join(Fd s, int level, byte[] filter) {
        byte[] req = java.util.Arrays.copyOf(filter, GROUP_REQ); // struct group_req: index, padding, group
        Sockets.setBytes(s, level, MCAST_JOIN_GROUP, req);
        Sockets.setBytes(s, level, MCAST_MSFILTER, filter);
    }

    /** "239.1.2.3 on 1 exclude 0 sources" for show. */
    public static String describe(byte[] filter, int family) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(filter).order(java.nio.ByteOrder.nativeOrder());
        byte[] addr = java.util.Arrays.copyOfRange(filter, GROUP_AT + (family == SockAddr.AF_INET ? 4 : 8),
                GROUP_AT + (family == SockAddr.AF_INET ? 8 : 24));
        String group;
        try {
            group = java.net.InetAddress.getByAddress(addr).getHostAddress();
        } catch (java.net.UnknownHostException e) {
            group = HexFormat.of().formatHex(addr);
        }
        return group + " on interface " + b.getInt(0) + (b.getInt(COUNT_AT - 4) == 1 ? " include " : " exclude ")
                + b.getInt(COUNT_AT) + " sources";
    }
}
