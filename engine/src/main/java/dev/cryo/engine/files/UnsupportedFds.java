package dev.cryo.engine.files;

/** Names the kinds of fds cryo does not carry yet, so the error says what the fd is. */
final class UnsupportedFds {
    private UnsupportedFds() {}

    /** What an fd of /proc/PID/ns/* points to: "net:[4026531833]". */
    private static final java.util.regex.Pattern NAMESPACE =
            java.util.regex.Pattern.compile("(cgroup|ipc|mnt|net|pid|time|user|uts):\\[\\d+\\]");

    static String describe(FdProbe fd) {
        String t = fd.target();
        if (t.startsWith("socket:[")) {
            return socketKind(fd);
        }
        if (t.startsWith("anon_inode:")) {
            String kind = t.substring(11).replace("[", "").replace("]", "");
            return kind.isEmpty() ? "anonymous inode" : kind;
        }
        if (t.startsWith("/memfd:")) {
            return "memfd " + t.substring(7);
        }
        java.util.regex.Matcher ns = NAMESPACE.matcher(t);
        if (ns.matches()) {
            return ns.group(1) + " namespace file '" + t + "' (from /proc/PID/ns/" + ns.group(1) + ")";
        }
        return "'" + t + "'";
    }

    /** Why a kind cryo knows of is not carried (": ..."), or "" for the others. */
    static String why(FdProbe fd) {
        String t = fd.target();
        if (t.equals("anon_inode:[userfaultfd]")) {
            String pending = fd.info() == null ? null : fd.info().value("pending").map(String::trim).orElse(null);
            return ": what the kernel keeps for it, the memory ranges registered on it, the features UFFDIO_API agreed"
                    + (pending == null ? "" : " and the " + pending + " fault events not read yet")
                    + ", no file shows, and cryo does not make them again";
        }
        if (t.equals("anon_inode:[perf_event]")) {
            return ": a perf counter (perf_event_open): its event's attributes are in no file, and its count and any"
                    + " ring of samples are the kernel's, which a counter opened again would start from 0";
        }
        if (t.startsWith("anon_inode:bpf")) {
            return ": a BPF object (bpf(2)): cryo does not load programs, make maps or attach links again";
        }
        if (t.startsWith("anon_inode:kvm")) {
            return ": a KVM virtual machine or CPU, whose state is the kernel's";
        }
        return "";
    }

    /** sockfs names the protocol in the "system.sockprotoname" attribute of the socket's inode. */
    private static String socketKind(FdProbe fd) {
        String proto = SocketProbe.protoName(fd);
        if (proto.isEmpty()) {
            return "socket";
        }
        return switch (proto) {
            case "NETLINK" -> "netlink socket";
            case "UNIX", "UNIX-STREAM", "UNIX-DGRAM" -> "unix socket";
            case "TCP", "TCPv6" -> "TCP socket";
            case "UDP", "UDPv6" -> "UDP socket";
            case "PACKET" -> "packet socket";
            default -> proto + " socket";
        };
    }
}
