package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's "Not carried yet" list, one row per item: a process holding that state is refused
 * at dump time with a message naming the pid, the object and the reason, no image is left, and
 * the process runs on untouched (not stopped, not traced). When cryo learns to carry an item,
 * its row goes (and the README line with it); a new refusal gets a row.
 *
 * <p>Items proven by their owners' tests instead: a zombie that dumped core (ZombieTest), a pidfd
 * of a task outside the tree (PidFdTest), a seccomp filter with a user-space
 * listener (SecurityRestoreTest), SysV shared memory
 * (DumpFailureTest), a pseudo-terminal with an end outside the tree, a packet-mode status its master has
 * not read and another line discipline (PtyTest;
 * the terminal of a shell job without --shell-job: DumpFailureTest), unread fanotify events (FileKindsTest),
 * hugetlb memory (MemoryKindsTest), the socket cases (DumpFailureTest,
 * SocketRestoreTest). Not proven by a test: a dumpable flag of 2
 * (needs fs.suid_dumpable=2 and a set-user-id exec) and a negative oom_score_adj when cryo lacks
 * CAP_SYS_RESOURCE (a process can only get one from an ancestor that had it).
 */
class NotCarriedTest {
    @TempDir
    Path tmp;

    /** {@code command} runs in the test's directory; {@code message} is what the error must say after "pid N". */
    record Item(String name, List<String> command, String message) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** Python lines that map the 16 KiB of rings of packet socket {@code s} shared and write a byte to them. */
    private static final String MMAP_AND_WRITE = "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.mmap.restype = ctypes.c_void_p\n"
            + "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
            + "ctypes.memset(libc.mmap(None, 16384, 3, 1, s.fileno(), 0) + 100, 1, 1)";

    private static Item python(String name, String code, String message) {
        return new Item(name, List.of("/usr/bin/python3", "-c", code + "\nimport time\nprint('ready', flush=True)\n"
                + "time.sleep(600)\n"), message);
    }

    /** A python whose second thread unshares {@code flags} (CLONE_*) for itself, then runs {@code then}. */
    /** Python lines that start a second thread from the one running them, sharing what that one unshared. */
    private static final String SECOND_THREAD = "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n";

    private static Item oneThread(String name, String flags, String then, String message) {
        return python(name, "import ctypes, os, threading, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                + "done = threading.Event()\ndef alone():\n    assert libc.unshare(" + flags + ") == 0\n"
                + then.lines().map(l -> "    " + l + "\n").collect(java.util.stream.Collectors.joining())
                + "    done.set()\n    time.sleep(600)\nthreading.Thread(target=alone, daemon=True).start()\ndone.wait()",
                message);
    }

    private static Item unshare(String ns, String message) {
        return new Item(ns + " namespace", List.of("unshare", "--" + ns, "/bin/sh", "-c", "echo ready; exec /bin/sleep 600"),
                message);
    }

    /** {@code unshare --mount} around a shell that runs {@code setup} with $d a new directory in the test's (its cwd). */
    private static Item mountNs(String name, String setup, String message) {
        return new Item(name, List.of("unshare", "--mount", "/bin/sh", "-c", "d=$(mktemp -d -p \"$PWD\") && " + setup
                + " && echo ready; exec /bin/sleep 600"), message);
    }

    /** detached.c: a file of a tmpfs it unmounted (MNT_DETACH) or never attached, held as {@code mode} says. */
    private static Item detached(String mode, String message) throws Exception {
        Path dir = Files.createTempDirectory("cryo-detached");
        dir.toFile().deleteOnExit();
        return new Item("a " + mode + " on a detached mount", List.of(
                dev.cryo.kernel.testing.TestPrograms.compile("/c/detached.c").toString(), mode, dir.toString()), message);
    }

    static Stream<Item> items() throws Exception {
        return Stream.concat(Stream.of(
                // an fd of the task's own namespace is carried (zdtm proc-self, FileKindsTest), one of the
                // host's too (TimeNamespaceTest); one of another namespace (a child's gone since) is not
                python("an fd of another namespace", "import ctypes, os, time\nr, w = os.pipe()\npid = os.fork()\n"
                                + "if pid == 0:\n    ctypes.CDLL(None).unshare(0x40000000)\n    os.write(w, b'x')\n"
                                + "    time.sleep(600)\nos.read(r, 1)\nf = open('/proc/%d/ns/net' % pid)\n"
                                + "os.kill(pid, 9)\nos.waitpid(pid, 0)\nos.close(r)\nos.close(w)",
                        " fd 5: namespace file 'net:\\[\\d+\\]' \\(from /proc/PID/ns/net\\) is not the task's own net "
                                + "namespace \\(net:\\[\\d+\\]\\), nor the host's; a namespace file of another namespace is not"
                                + " supported"),
                // a connection whose handshake has not completed has no socket yet: TCP_DEFER_ACCEPT (apache's
                // AcceptFilter, nginx's "deferred") keeps it so until the client's first bytes
                python("a TCP connection to a listener still in its handshake", "import socket\n"
                                + "l = socket.socket()\nl.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 60)\n"
                                + "l.bind(('127.0.0.1', 0))\nl.listen(4)\nc = socket.create_connection(l.getsockname())",
                        " fd 3: TCP socket 127\\.0\\.0\\.1:\\d+ \\(listening\\): 1 connection\\(s\\) have not completed their"
                                + " handshake within cryo\\.dump\\.accept-wait \\(the client's last ACK not in, or"
                                + " TCP_DEFER_ACCEPT waiting for its first bytes\\)"),
                // ulogd's NFLOG input: its group's queue threshold, buffer size and flags cannot be read back, and
                // a socket restored without the binding waited for packets that never came (ulogd ran on, logging nothing)
                python("a netfilter socket bound to an nfnetlink_log group", "import os, socket, struct\n"
                                + "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)\ns.bind((0, 0))\n"
                                + "g = 40000 + os.getpid() % 20000\n"
                                + "s.send(struct.pack('=IHHII', 28, 0x0401, 5, 1, 0) + struct.pack('!BBH', 0, 0, g)"
                                + " + struct.pack('=HHB3x', 5, 1, 1))\n"
                                + "assert struct.unpack('=i', s.recv(4096)[16:20])[0] == 0",
                        " fd 3: netfilter netlink socket bound to nfnetlink_log group \\d+ \\(ulogd's NFLOG, an NFQUEUE"
                                + " consumer\\): the kernel keeps settings of it that no call reads back"),
                // a unix connection waiting to be accepted whose client closed (zdtm's sk-unix-listen03) is carried
                // since a7fcbb33 (UnixBacklogTest)
                // SO_PEERCRED is made again in a process at the recorded pid: not for one that runs outside the tree
                python("a unix socket whose peer credentials name a process outside the tree", "import os, socket, time\n"
                                + "c0, c1 = socket.socketpair()\nparent = os.getpid()\n"
                                + "if os.fork() == 0:\n    if os.fork() == 0:\n        os.setsid()\n"
                                + "        a, b = socket.socketpair()\n        socket.send_fds(c1, [b'x'], [a.fileno()])\n"
                                + "        a.close()\n        b.close()\n"
                                + "        while os.path.exists('/proc/%d' % parent): time.sleep(0.1)\n"
                                + "    os._exit(0)\nos.wait()\nmsg, fds, flags, addr = socket.recv_fds(c0, 1, 1)",
                        " fd 5: unix stream socket unbound: its peer credentials \\(SO_PEERCRED\\) name pid \\d+ \\(uid 0,"
                                + " gid 0\\), which is not in the tree and still runs; a restore could not make the socket"
                                + " in that process's name again"),
                // an O_PATH fd of a symlink, removed since too, is carried (FileKindsTest); one whose path another
                // file took since could not be made again there
                python("a removed symlink held by an O_PATH fd whose path another file took", "import os\n"
                                + "os.symlink('t', 'l')\nfd = os.open('l', os.O_PATH | os.O_NOFOLLOW)\nos.unlink('l')\n"
                                + "open('l', 'w').close()",
                        " fd 3: symlink .*/l \\(deleted\\) \\(an O_PATH fd of the link itself\\) was removed, and another"
                                + " file is at its path now; not supported"),
                // a deleted device node is made again in its directory (FileKindsTest); here that is gone too
                python("a deleted device node whose directory was removed", "import os\nos.mkdir('d')\n"
                                + "os.mknod('d/n', 0o20600, os.makedev(1, 3))\nf = open('d/n', 'w')\nos.unlink('d/n')\n"
                                + "os.rmdir('d')",
                        " fd 3: device node .*/d/n \\(1:3\\), deleted, was in directory .*/d, which is gone too; a"
                                + " restore would have nowhere to make it again: not supported"),
                // a tun file attached to a device of cryo's net namespace is carried (RealServersTest's openvpn,
                // FileKindsTest's queues); a tap device's packet filter cannot be read back
                python("a tap device with a packet filter", "import fcntl, struct, ctypes\n"
                                + "f = open('/dev/net/tun', 'r+b', 0)\n"
                                + "fcntl.ioctl(f, 0x400454ca, struct.pack('16sH', b'cryoq%d', 0x1002))\n"
                                + "code = (ctypes.c_uint64 * 1)(0x0000ffff00000006)\n"
                                + "fcntl.ioctl(f, 0x401054d5, struct.pack('HxxxxxxQ', 1, ctypes.addressof(code)))",
                        " fd 3: tap device cryoq\\d+ has a packet filter \\(TUNATTACHFILTER\\), which cannot be read"
                                + " back; not supported"),
                // a device of the task's own net namespace is made again, without the eBPF programs set on it
                python("an eBPF steering program of a tun device of its own net namespace", "import fcntl, os, struct, ctypes\n"
                                + "libc = ctypes.CDLL(None)\nassert libc.unshare(0x40000000) == 0\n"
                                + "f = open('/dev/net/tun', 'r+b', 0)\n"
                                + "fcntl.ioctl(f, 0x400454ca, struct.pack('16sH', b'cryse0', 0x1001))\n"
                                + "ins = ctypes.create_string_buffer(struct.pack('BBhi', 0xb7, 0, 0, 0)"
                                + " + struct.pack('BBhi', 0x95, 0, 0, 0))\nlic = ctypes.create_string_buffer(b'GPL')\n"
                                + "attr = ctypes.create_string_buffer(struct.pack('IIQQIIQI', 1, 2, ctypes.addressof(ins),"
                                + " ctypes.addressof(lic), 0, 0, 0, 0), 72)\nprog = libc.syscall(321, 5, attr, 72)\n"
                                + "assert prog >= 0\nfcntl.ioctl(f, 0x800454e0, struct.pack('i', prog))\nos.close(prog)",
                        " fd 3: tun/tap device cryse0 has an eBPF steering program \\(TUNSETSTEERINGEBPF, bpf program id"
                                + " \\d+\\), which cannot be read back; not supported"),
                // the same on a persistent device of that namespace that no task holds a file of any more
                python("an eBPF steering program of a persistent tun device no task holds", "import fcntl, os, struct, ctypes\n"
                                + "libc = ctypes.CDLL(None)\nassert libc.unshare(0x40000000) == 0\n"
                                + "f = open('/dev/net/tun', 'r+b', 0)\n"
                                + "fcntl.ioctl(f, 0x400454ca, struct.pack('16sH', b'cryse1', 0x1001))\n"
                                + "fcntl.ioctl(f, 0x400454cb, 1)\n"
                                + "ins = ctypes.create_string_buffer(struct.pack('BBhi', 0xb7, 0, 0, 0)"
                                + " + struct.pack('BBhi', 0x95, 0, 0, 0))\nlic = ctypes.create_string_buffer(b'GPL')\n"
                                + "attr = ctypes.create_string_buffer(struct.pack('IIQQIIQI', 1, 2, ctypes.addressof(ins),"
                                + " ctypes.addressof(lic), 0, 0, 0, 0), 72)\nprog = libc.syscall(321, 5, attr, 72)\n"
                                + "assert prog >= 0\nfcntl.ioctl(f, 0x800454e0, struct.pack('i', prog))\nos.close(prog)\n"
                                + "f.close()",
                        ": tun/tap device cryse1 of its net namespace, which no task holds a file of, has an eBPF"
                                + " steering program \\(TUNSETSTEERINGEBPF, bpf program id \\d+\\), which cannot be read"
                                + " back; not supported"),
                // a signal owner that is a thread of the task itself is carried (FileKindsTest sigowners.c);
                // one of another process's thread is not: threads are made after every task's files
                python("a signal owner that is a thread of another process", "import fcntl, os, socket, struct, threading, time\n"
                                + "r, w = os.pipe()\nif os.fork() == 0:\n    def t():\n"
                                + "        os.write(w, struct.pack('i', threading.get_native_id()))\n        time.sleep(600)\n"
                                + "    threading.Thread(target=t).start()\n    time.sleep(600)\n    os._exit(0)\n"
                                + "tid = struct.unpack('i', os.read(r, 4))[0]\na, b = socket.socketpair()\n"
                                + "fcntl.fcntl(a, 15, struct.pack('ii', 0, tid))",
                        " fd 5 \\(socket:\\[\\d+\\]\\): its signal owner \\(F_SETOWN_EX\\) is thread \\d+ of pid \\d+, a thread"
                                + " of another process; not supported"),
                // a guard page of a shared mapping over a page the object never held is carried (MemoryKindsTest);
                // data of the object behind it cannot be read through that mapping, nor written back
                python("data of shared memory behind a guard page", "import ctypes\nlibc = ctypes.CDLL(None)\n"
                                + "libc.mmap.restype = ctypes.c_void_p\nlibc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t,"
                                + " ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
                                + "p = libc.mmap(None, 16384, 3, 0x21, -1, 0)\nctypes.memset(p + 8192, 7, 4096)\n"
                                + "assert libc.madvise(ctypes.c_void_p(p + 8192), ctypes.c_size_t(4096), 102) == 0",
                        ": the shared memory /dev/zero mapped at 0x[0-9a-f]+ holds data behind its guard page\\(s\\) at"
                                + " 0x[0-9a-f]+ \\(MADV_GUARD_INSTALL\\), which this mapping cannot reach; not supported"),
                // packet sockets and their TPACKET_V2 and V3 rings are carried (PacketSocketTest), and V1 rings
                // never written to; a written V1 ring's frames tell their capture time in microseconds only,
                // which may not tell the last one filled
                python("a packet socket with a TPACKET_V1 receive ring written to", "import socket, struct\n"
                                + "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
                                + "s.setsockopt(263, 5, struct.pack('4I', 4096, 4, 2048, 8))\n"
                                + MMAP_AND_WRITE,
                        " fd 3: packet socket \\d+'s receive ring \\(4 blocks of 4096 bytes\\) is a TPACKET_V1 ring, whose"
                                + " frames carry a capture time in microseconds only: where the kernel writes next cannot be"
                                + " told for sure; only TPACKET_V2 and V3 rings are carried"),
                // a transmit ring is carried while never written to (PacketSocketTest); once the program wrote a
                // frame to it, where the kernel sends from next cannot be read
                // the group came back with its type and no program (every packet to one member)
                python("a packet socket in a fanout group steered by a classic BPF program", "import ctypes, socket, struct\n"
                                + "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))\n"
                                + "s.bind(('lo', 0))\ns.setsockopt(263, 18, 0x5601 | 6 << 16)\n" // PACKET_FANOUT_CBPF
                                + "ret = ctypes.create_string_buffer(struct.pack('HBBI', 6, 0, 0, 1))\n" // ret #1
                                + "s.setsockopt(263, 22, struct.pack('HL', 1, ctypes.addressof(ret)))", // PACKET_FANOUT_DATA
                        " fd 3: packet socket \\d+ is in a fanout group \\(id 22017\\) that picks its member with a BPF program"
                                + " \\(PACKET_FANOUT_CBPF, set with PACKET_FANOUT_DATA\\), which no getsockopt reads back; not supported"),
                python("a packet socket with a transmit ring written to", "import socket, struct\n"
                                + "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
                                + "s.setsockopt(263, 13, struct.pack('4I', 4096, 4, 2048, 8))\n"
                                + MMAP_AND_WRITE,
                        " fd 3: packet socket \\d+ has a transmit ring \\(PACKET_TX_RING, TPACKET_V1, 16384 bytes\\) that"
                                + " has been written to"),
                // a private mapping of never-written rings is carried (PacketSocketTest); the program's own copies
                // of pages it wrote there are not the socket's
                python("a private mapping of a packet socket's rings written to", "import socket, struct\n"
                                + "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
                                + "s.setsockopt(263, 5, struct.pack('4I', 4096, 4, 2048, 8))\n"
                                + MMAP_AND_WRITE.replace("3, 1, s.fileno()", "3, 2, s.fileno()"),
                        " maps socket:\\[\\d+\\] at 0x[0-9a-f]+-0x[0-9a-f]+: a private mapping of a packet socket's rings that"
                                + " the program has written to \\(4 kB copied\\); not supported"),
                // UDP-Lite sockets are carried (SocketRestoreTest), their datagrams not: UDP's raw packets give UDP's back
                python("a UDP-Lite socket holding an unread datagram", "import socket\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136)\ns.bind(('127.0.0.1', 0))\n"
                                + "s.sendto(b'x', s.getsockname())",
                        " fd 3: UDP-Lite socket 127.0.0.1:\\d+ holds datagrams not read or not sent yet; giving them back"
                                + " is not supported yet"),
                // it said only "userfaultfd is not supported yet" (stress-ng's userfaultfd stressor)
                python("a userfaultfd", "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                                + "assert libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK) >= 0",
                        " fd \\d+: userfaultfd is not supported yet: what the kernel keeps for it, the memory ranges"
                                + " registered on it, the features UFFDIO_API agreed and the 0 fault events not read yet, no"
                                + " file shows, and cryo does not make them again"),
                // it said only "perf_event is not supported yet" (a profiler's or a runtime's own counters)
                python("a perf counter", "import ctypes, struct\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                                + "attr = bytearray(128)\nstruct.pack_into('=IIQ', attr, 0, 1, 128, 0)\n" // software, cpu-clock
                                + "assert libc.syscall(298, (ctypes.c_char * 128).from_buffer(attr), 0, -1, -1, 0) >= 0",
                        " fd \\d+: perf_event is not supported yet: a perf counter \\(perf_event_open\\): its event's"
                                + " attributes are in no file"),
                // what a program gives a socket that no getsockopt reads back, seen by a BPF iterator (UnreadableSockState);
                // a raw socket's IP_ROUTER_ALERT is carried (SocketRestoreTest, sockopts.c). Each came back lost.
                python("a UDP socket with an IPsec policy of its own", "import socket, struct\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "sel = bytearray(56)\nstruct.pack_into('=H', sel, 40, 2)\n" // xfrm_selector: IPv4, all
                                + "s.setsockopt(0, 17, bytes(sel) + struct.pack('=4Q', *[2**64 - 1] * 4) + bytes(80))",
                        " fd 3: UDP socket \\d+ has an IPsec policy of its own \\(IP_XFRM_POLICY: an IKE daemon's bypass.*;"
                                + " not supported"),
                new Item("a UDP socket that joined an IPv6 anycast address", List.of("unshare", "--net", "/bin/sh", "-c",
                        "ip link set lo up && ip -6 addr add fd00::1/64 dev lo nodad && exec /usr/bin/python3 -c \""
                                + "import socket, struct, time\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
                                + "s.setsockopt(41, 27, socket.inet_pton(socket.AF_INET6, 'fd00::77') + struct.pack('I', 1))\n"
                                + "print('ready', flush=True)\ntime.sleep(600)\""),
                        " fd 3: UDPv6 socket \\d+ joined an IPv6 anycast address \\(IPV6_JOIN_ANYCAST\\), which no getsockopt"
                                + " reads back; not supported"),
                python("a UDP socket holding an IPv6 flow label lease", "import os, socket, struct\n"
                                + "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n" // in6_flowlabel_req: create, exclusive
                                + "s.setsockopt(41, 32, socket.inet_pton(socket.AF_INET6, '::1')"
                                + " + struct.pack('>I', 0x10000 + os.getpid() % 0xffff) + struct.pack('=BBHHHI', 0, 1, 1, 0, 1, 0))",
                        " fd 3: UDPv6 socket \\d+ holds an IPv6 flow label lease \\(IPV6_FLOWLABEL_MGR\\), which no getsockopt"
                                + " reads back; not supported"),
                python("a UDP socket whose timestamps SO_TIMESTAMPING's OPT_ID numbered", "import socket\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\n"
                                + "s.setsockopt(socket.SOL_SOCKET, 37, 2 | 16 | 128 | 2048)\n"
                                + "for i in range(3):\n    s.sendto(b'x', s.getsockname())",
                        " fd 3: UDP socket \\d+ has SO_TIMESTAMPING's OPT_ID on and numbered 3 timestamped sends: the next"
                                + " one's key would be 0 after a restore, which cannot set it; not supported"),
                // the restore failed: 'setsockopt(fd 12, 1, 37, 8 bytes): EINVAL', the killed tree lost
                python("a TCP connection whose timestamps SO_TIMESTAMPING's OPT_ID numbers", "import socket\n"
                                + "l = socket.socket()\nl.bind(('127.0.0.1', 0))\nl.listen(1)\n"
                                + "c = socket.create_connection(l.getsockname())\na, _ = l.accept()\n"
                                + "c.setsockopt(socket.SOL_SOCKET, 37, 2 | 16 | 128 | 2048)\nc.send(b'x')",
                        " fd 4: TCP socket \\d+ has SO_TIMESTAMPING's OPT_ID on: its timestamps' keys count the bytes sent"
                                + " since it was set, a start a restore cannot set again; not supported"),
                // a connection's error queue and zerocopy numbering came back empty and at 0
                python("a TCP connection's transmit timestamp not read yet", "import socket\n"
                                + "l = socket.socket()\nl.bind(('127.0.0.1', 0))\nl.listen(1)\n"
                                + "c = socket.create_connection(l.getsockname())\na, _ = l.accept()\n"
                                + "c.setsockopt(socket.SOL_SOCKET, 37, 2 | 16 | 2048)\nc.send(b'x')",
                        " fd 4: TCP socket \\d+ holds \\d+ message\\(s\\) in its error queue \\(transmit timestamps,"
                                + " MSG_ZEROCOPY completions or ICMP errors, read with MSG_ERRQUEUE\\) still unread after the"
                                + " dump let the tree run .*; they cannot be queued again; not supported"),
                // the client's end moved past the accepted one's fd: the dump meets the accepted end first
                python("a TCP connection whose saved SYN was not read", "import os, socket\n"
                                + "l = socket.socket()\nl.setsockopt(6, 27, 1)\nl.bind(('127.0.0.1', 0))\nl.listen(1)\n" // TCP_SAVE_SYN
                                + "c = socket.create_connection(l.getsockname())\na, _ = l.accept()\n"
                                + "os.dup2(c.fileno(), 50)\nc.close()",
                        " fd 5: TCP socket \\d+ holds the SYN it was opened by \\(its listener's TCP_SAVE_SYN\\), which the"
                                + " program has not read yet \\(TCP_SAVED_SYN\\) and a restore cannot save again; not supported"),
                // refused before too, as 'holds an error the program has not read yet and is not connected'
                python("a UDP socket's transmit timestamp not read yet", "import socket\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\n"
                                + "s.setsockopt(socket.SOL_SOCKET, 37, 2 | 16 | 2048)\ns.sendto(b'x', s.getsockname())\n"
                                + "s.recv(1)",
                        " fd 3: UDP socket \\d+ holds 1 message\\(s\\) in its error queue \\(transmit timestamps,"
                                + " MSG_ZEROCOPY completions or ICMP errors, read with MSG_ERRQUEUE\\) still unread after the"
                                + " dump let the tree run .*; they cannot be queued again; not supported"),
                python("a TCP connection that numbered MSG_ZEROCOPY sends", "import socket\n"
                                + "l = socket.socket()\nl.bind(('127.0.0.1', 0))\nl.listen(1)\n"
                                + "c = socket.create_connection(l.getsockname())\na, _ = l.accept()\n"
                                + "c.setsockopt(socket.SOL_SOCKET, 60, 1)\nc.sendmsg([b'x'], [], 0x4000000)\n"
                                + "c.recvmsg(1, 64, socket.MSG_ERRQUEUE)", // its completion read
                        " fd 4: TCP socket \\d+ has SO_ZEROCOPY on and numbered 1 MSG_ZEROCOPY sends, whose completions"
                                + " the program matches by number: .*; not supported"),
                python("unread inotify events", "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
                                + "fd = libc.inotify_init1(0)\nassert fd == 3\nos.mkdir('w')\n"
                                + "assert libc.inotify_add_watch(fd, b'w', 0x100) == 1\nopen('w/x', 'w').close()",
                        " fd 3 \\(anon_inode:inotify\\): inotify holds \\d+ bytes of unread events, which cannot be"
                                + " queued again, still unread after the dump let the tree run 5 times over \\d+ ms"),
                // read a moment later, they are carried (SocketRestoreTest); a program that never reads them is refused
                python("unread netlink messages", "import socket, struct\n"
                                + "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\nassert s.fileno() == 3\n"
                                + "s.send(struct.pack('=IHHII', 32, 18, 0x301, 1, 0) + bytes(16))",
                        " fd 3: netlink socket \\(protocol 0\\) holds the kernel's answer to a request it sent"
                                + " \\(message type 16, sequence 1\\) still unread after the dump let the tree run 5 times"
                                + ".*nor asked for again"),
                // a watch on a deleted file is carried (the file as a ghost); a removed directory is not
                python("an inotify watch on a removed directory", "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
                                + "fd = libc.inotify_init1(0)\nassert fd == 3\nos.mkdir('d')\nh = os.open('d', os.O_RDONLY)\n"
                                + "assert libc.inotify_add_watch(fd, b'd', 0x100) == 1\nos.rmdir('d')",
                        " fd 3 inotify watch 1: .*/d was deleted and is not a regular file: not supported yet"),
                // zdtm's session00 found it: a detached grandchild kept the root's session id, so the
                // root's pid could not be created again after the dump killed the tree (restore failed)
                python("a process outside the tree in the root's session", "import os, time\ntry:\n    os.setsid()\n"
                                + "except OSError:\n    pass\nroot = os.getpid()\nif os.fork() == 0:\n    if os.fork() == 0:\n"
                                + "        while os.path.exists('/proc/%d' % root): time.sleep(0.1)\n    os._exit(0)\n"
                                + "os.wait()",
                        ": it is the session id of pid \\d+ \\(python3\\), which is not in the tree; the kernel keeps pid "
                                + "\\d+ taken while pid \\d+ lives, so a restore could not create it again"),
                // a socketpair made with groups dropped since, then a user namespace denying setgroups entered:
                // the restore makes the pair in the task, which cannot take those groups there any more
                python("a unix socket whose peer groups its task dropped before entering a user namespace that denies"
                                + " setgroups", "import ctypes, os, socket\nos.setgroups([1234])\na, b = socket.socketpair()\n"
                                + "os.setgroups([])\nassert ctypes.CDLL(None).unshare(0x10000000) == 0\n"
                                + "for f, t in (('setgroups', 'deny'), ('uid_map', '0 0 1'), ('gid_map', '0 0 1')):\n"
                                + "    open('/proc/self/' + f, 'w').write(t)",
                        " fd \\d+: unix stream socket .*: its peer credentials name pid \\d+ with supplementary groups"
                                + " \\[1234\\] \\(SO_PEERGROUPS\\), which it no longer has \\(\\[\\]\\), and its user"
                                + " namespace denies setgroups"),
                // corked UDP bytes are carried (udpcork.c) by sending them again into the cork, which a socket
                // shut for writing refuses
                python("corked UDP bytes at a socket shut for writing", "import socket\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "s.bind(('127.0.0.1', 0))\ns.connect(s.getsockname())\n"
                                + "s.setsockopt(socket.SOL_UDP, 1, 1)\ns.send(b'corked')\ns.shutdown(socket.SHUT_WR)",
                        " fd 3: UDP socket 127\\.0\\.0\\.1:\\d+ holds bytes written but not sent yet \\(UDP_CORK or"
                                + " MSG_MORE\\) and is shut for writing"),
                // unread datagrams are carried (udpqueue.c) through the loopback device, or through the device a
                // socket is bound to (udpqueue.c dev), to that device's address: 127.0.0.1 is not one
                python("unread UDP datagrams at a socket bound to a device without its address", "import os, socket\n"
                                + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "s.bind(('127.0.0.1', 0))\ns.sendto(b'unread', s.getsockname())\n"
                                // a physical device: another session's veth may be gone before the dump (ENODEV)
                                + "dev = sorted(d for d in os.listdir('/sys/class/net')"
                                + " if os.path.exists('/sys/class/net/' + d + '/device'))[0]\n"
                                + "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())",
                        " fd 3: UDP socket 127\\.0\\.0\\.1:\\d+ has unread datagrams and is bound to device \\w+"),
                // a classic filter is carried (sockfilter.c); an eBPF one (SO_ATTACH_BPF) cannot be read back
                python("an eBPF socket filter", "import os, socket, ctypes, struct\nlibc = ctypes.CDLL(None)\n"
                                + "ins = ctypes.create_string_buffer(struct.pack('BBhi', 0xb7, 0, 0, 0xffff)"
                                + " + struct.pack('BBhi', 0x95, 0, 0, 0))\nlic = ctypes.create_string_buffer(b'GPL')\n"
                                + "attr = ctypes.create_string_buffer(struct.pack('IIQQIIQI', 1, 2, ctypes.addressof(ins),"
                                + " ctypes.addressof(lic), 0, 0, 0, 0), 72)\nprog = libc.syscall(321, 5, attr, 72)\n"
                                + "assert prog >= 0\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "s.setsockopt(socket.SOL_SOCKET, 50, prog)\nos.close(prog)",
                        " fd \\d+: socket \\d+ has an eBPF socket filter \\(SO_ATTACH_BPF\\), which cannot be read back"),
                // a reuseport group's classic program is carried (reuseport.c); an eBPF one keeps no original
                python("an eBPF program of a SO_REUSEPORT group", "import os, socket, ctypes, struct\nlibc = ctypes.CDLL(None)\n"
                                + "ins = ctypes.create_string_buffer(struct.pack('BBhi', 0xb7, 0, 0, 0)"
                                + " + struct.pack('BBhi', 0x95, 0, 0, 0))\nlic = ctypes.create_string_buffer(b'GPL')\n"
                                + "attr = ctypes.create_string_buffer(struct.pack('IIQQIIQI', 1, 2, ctypes.addressof(ins),"
                                + " ctypes.addressof(lic), 0, 0, 0, 0), 72)\nprog = libc.syscall(321, 5, attr, 72)\n"
                                + "assert prog >= 0\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                                + "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\ns.bind(('127.0.0.1', 0))\n"
                                + "s.listen()\ns.setsockopt(socket.SOL_SOCKET, 52, prog)\nos.close(prog)",
                        " fd \\d+: socket \\d+'s SO_REUSEPORT group has an eBPF program \\(SO_ATTACH_REUSEPORT_EBPF, bpf"
                                + " program id \\d+\\), which cannot be read back"),
                // a group's members come back in their order only when the tree holds them all (reuseportorder.c);
                // the other member's holder, orphaned out of the tree, ends with the tree's root
                python("a SO_REUSEPORT group with a member held outside the tree", "import os, socket, time\n"
                                + "def member():\n    m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "    m.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n    return m\n"
                                + "s = member()\ns.bind(('127.0.0.1', 0))\nroot = os.getpid()\nr, w = os.pipe()\n"
                                + "if os.fork() == 0:\n    if os.fork() == 0:\n        os.setsid()\n        o = member()\n"
                                + "        o.bind(s.getsockname())\n        s.close()\n        os.write(w, b'b')\n"
                                + "        while os.path.exists('/proc/%d' % root):\n            time.sleep(0.2)\n"
                                + "    os._exit(0)\nos.wait()\nassert os.read(r, 1) == b'b'\nos.close(r)\nos.close(w)",
                        " fd \\d+: socket \\d+ is member 0 of a SO_REUSEPORT group of 2 sockets, 1 of them held outside the tree"),
                // two children made with CLONE_FILES whose parent unshared since: no clone makes that again
                new Item("processes sharing an fd table their parent no longer holds", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/sharedtables.c").toString(), ".", "siblings"),
                        ", which holds another: a restore shares a table only between a child and its parent"),
                // the watch's fd was closed and only another process of the tree holds the file now
                python("an epoll watch on a file only another process holds", "import os, select, time\n"
                                + "r, w = os.pipe()\nep = select.epoll()\nep.register(r, select.EPOLLIN)\n"
                                + "if os.fork() == 0:\n    ep.close()\n    time.sleep(600)\n    os._exit(0)\nos.close(r)",
                        " fd \\d+: epoll watches a file through fd \\d+, but fd \\d+ was closed and no other fd of the "
                                + "task holds the watched file"),
                // a loop the kernel's garbage collector has not taken yet: a socket in flight in its own queue
                // (one the tree holds too is carried: scmloop.c)
                new Item("a socket in flight in its own queue", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/scminflight.c").toString(), "loop"),
                        " fd \\d+ \\(unix datagram socket unbound\\): file 1 of 1 passed in an unread message"
                                + " \\(socket:\\[\\d+\\]\\): unix datagram socket unbound: file 1 of 1 passed in an"
                                + " unread message \\(socket:\\[\\d+\\]\\): the socket is in flight in its own queue"
                                + " \\(a loop\\), and no task of the tree holds it; not supported"),
                python("an flock on a pipe", "import fcntl, os\nr, w = os.pipe()\nfcntl.flock(r, fcntl.LOCK_EX)",
                        " fd 3 \\(pipe:\\[\\d+\\]\\): a lock on a pipe is not supported yet"),
                // a process outside the tree (a grandchild gone to init) holds the flock through the
                // tree's open file; it leaves when the tree's process does
                python("a lock held through the tree's open file by a process outside it",
                        "import fcntl, os, time\nf = open('locked', 'w')\nparent = os.getpid()\n"
                                + "if os.fork() == 0:\n    if os.fork() == 0:\n        os.setsid()\n        fcntl.flock(f, fcntl.LOCK_EX)\n"
                                + "        while os.path.exists('/proc/%d' % parent): time.sleep(0.1)\n"
                                + "    os._exit(0)\nos.wait()\n"
                                + "while 'lock:' not in open('/proc/self/fdinfo/%d' % f.fileno()).read(): time.sleep(0.01)",
                        " fd 3 \\(.*/locked\\): its flock lock is held by pid \\d+, outside the dumped tree"),
                python("a fanotify group of a permission class", "import ctypes\n"
                                + "fd = ctypes.CDLL(None).fanotify_init(4, 0)\nassert fd == 3",
                        " fd 3 \\(anon_inode:\\[fanotify\\]\\): a fanotify group of a permission class .* is not supported yet"),
                // uts, ipc and pid namespaces of the tree's own are carried with their SysV objects, segments
                // of huge pages and ones marked for removal while attached too (NamespaceTest); a locked one is not
                new Item("a locked SysV segment in an ipc namespace of its own", List.of("unshare", "--ipc",
                        "/usr/bin/python3", "-c", "import ctypes, time\nc = ctypes.CDLL(None)\n"
                                + "i = c.shmget(0, 4096, 0o1600)\nassert c.shmctl(i, 11, None) == 0\n" // SHM_LOCK
                                + "print('ready', flush=True)\ntime.sleep(600)\n"),
                        ": its ipc namespace \\(ipc:\\[\\d+\\]\\) holds the shared memory segment \\d+ \\(key 0x0\\),"
                                + " locked in memory \\(SHM_LOCK\\); not supported yet"),
                // its POSIX message queues are carried (NamespaceTest); one removed while open is not
                new Item("a removed POSIX message queue in an ipc namespace of its own", List.of("unshare", "--ipc",
                        "/usr/bin/python3", "-c", "import ctypes, os, time\nc = ctypes.CDLL(None)\n"
                                + "assert c.mq_open(b'/cryoq', os.O_CREAT | os.O_RDWR, 0o600, None) == 3\n"
                                + "assert c.mq_unlink(b'/cryoq') == 0\nprint('ready', flush=True)\ntime.sleep(600)\n"),
                        " fd 3: POSIX message queue /cryoq \\(deleted\\) was removed \\(mq_unlink\\) while open, in an ipc"
                                + " namespace of the tree's \\(ipc:\\[\\d+\\]\\); not supported"),
                // the child registered through the open file its parent's fd carries: read there, without it
                python("a POSIX message queue whose notification a child registered through its parent's open file",
                        "import ctypes, os, time\nc = ctypes.CDLL(None)\nc.mq_unlink(b'/cryo-nc-s')\n"
                                + "assert c.mq_open(b'/cryo-nc-s', os.O_CREAT | os.O_RDWR, 0o600, None) == 3\n"
                                + "r, w = os.pipe()\nif os.fork() == 0:\n"
                                + "    ev = (ctypes.c_byte * 64)(); ctypes.memmove(ev, (ctypes.c_int * 4)(0, 0, 10, 0), 16)\n"
                                + "    assert c.mq_notify(3, ev) == 0\n    os.write(w, b'x')\n    time.sleep(600)\n"
                                + "    os._exit(0)\nos.read(r, 1)",
                        " fd 3, which carries it without the registration; not supported"),
                // a queue of the host's is carried, named or removed while open (FileKindsTest); a removed one
                // is carried whole only when one open file holds it
                python("a removed POSIX message queue held through two open files", "import ctypes, os\n"
                                + "c = ctypes.CDLL(None)\nassert c.mq_open(b'/cryo-nc-q', os.O_CREAT | os.O_RDWR, 0o600, None) == 3\n"
                                + "assert c.mq_open(b'/cryo-nc-q', os.O_RDONLY, 0, None) == 4\nc.mq_unlink(b'/cryo-nc-q')",
                        " fd 3: POSIX message queue /cryo-nc-q \\(deleted\\) was removed \\(mq_unlink\\) while open, and pid \\d+"
                                + " \\(python3\\) fd 4 holds it through another open of it.*; not supported"),
                python("a removed POSIX message queue whose name another queue took", "import ctypes, os\n"
                                + "c = ctypes.CDLL(None)\nc.mq_unlink(b'/cryo-nc-t')\n" // one name: no queue piles up
                                + "assert c.mq_open(b'/cryo-nc-t', os.O_CREAT | os.O_RDWR, 0o600, None) == 3\nc.mq_unlink(b'/cryo-nc-t')\n"
                                + "assert c.mq_open(b'/cryo-nc-t', os.O_CREAT | os.O_RDWR, 0o600, None) == 4",
                        " fd 3: POSIX message queue /cryo-nc-t \\(deleted\\) was removed \\(mq_unlink\\) while open, and another"
                                + " queue has taken its name since.*; not supported"),
                // a notification the holder registered is carried (FileKindsTest), read by firing it, which
                // a queue holding messages does not do
                python("a POSIX message queue holding messages whose notification the process registered",
                        "import ctypes, os\n"
                                + "c = ctypes.CDLL(None)\nc.mq_unlink(b'/cryo-nc-n')\n" // one name: no queue piles up
                                + "assert c.mq_open(b'/cryo-nc-n', os.O_CREAT | os.O_RDWR, 0o600, None) == 3\n"
                                + "assert c.mq_send(3, b'x', 1, 0) == 0\n"
                                + "ev = (ctypes.c_byte * 64)(); ctypes.memmove(ev, (ctypes.c_int * 4)(0, 0, 10, 0), 16)\n"
                                + "assert c.mq_notify(3, ev) == 0",
                        " fd 3: POSIX message queue /cryo-nc-n: the process registered for its notification \\(mq_notify\\)"
                                + " by signal 10 while the queue holds 1 messages.*; not supported"),
                // a net namespace of its own is carried with lo, its addresses, routes, sysctls and
                // sockets, veth pairs, tun/tap devices, bridges and macvlans, also on a device outside with restore
                // --external macvlan[] (NamespaceTest, NetNamespaceTest); another device kind, a bridge's static
                // forwarding entry, a TCP peer outside the tree in
                // it, or a socket of a net namespace the tree is not in, are not
                new Item("a net namespace of its own with a vxlan device", List.of("unshare", "--net", "/bin/sh", "-c",
                        "ip link add cryo0 type vxlan id 7 dstport 4789 && echo ready; exec /bin/sleep 600"),
                        ": its net namespace \\(net:\\[\\d+\\]\\) has device cryo0 of kind vxlan; only lo, veth pairs,"
                                + " tun/tap devices, bridges and macvlans are supported in a net namespace of the tree's"),
                new Item("a bridge with a static forwarding entry in a net namespace of its own", List.of("unshare", "--net",
                        "/bin/sh", "-c", "ip link add cryo0 type bridge && ip link add cryo1 type veth peer name cryo2"
                                + " && ip link set cryo1 master cryo0 && bridge fdb add 02:00:00:00:00:09 dev cryo1 master static"
                                + " && echo ready; exec /bin/sleep 600"),
                        ": its net namespace \\(net:\\[\\d+\\]\\): bridge cryo0 has a forwarding entry a program added"
                                + " \\(02:00:00:00:00:09 dev cryo1 master cryo0 static\\); static forwarding entries are not carried"),
                // its nftables and iptables-nft rules are carried (NetNamespaceTest); legacy iptables' x_tables are not
                new Item("legacy iptables rules inside a net namespace of its own", List.of("unshare", "--net", "/bin/sh",
                        "-c", "iptables-legacy -A INPUT -p tcp --dport 9 -j DROP && echo ready; exec /bin/sleep 600"),
                        ": its net namespace \\(net:\\[\\d+\\]\\) has legacy iptables tables \\(filter, x_tables, which only"
                                + " iptables-legacy lists\\); rules of iptables-legacy inside a net namespace of the tree's are"
                                + " not supported \\(iptables-nft's are carried\\)"),
                new Item("a TCP connection in a net namespace of its own to a peer outside the tree", List.of("unshare",
                        "--net", "/bin/sh", "-c", "ip link set lo up && (setsid python3 -c \"import socket\nl = socket.socket()\n"
                                + "l.bind(('127.0.0.1', 7070))\nl.listen()\nc, _ = l.accept()\nc.recv(1)\" &) && exec python3"
                                + " -c \"import socket, time\nfor i in range(100):\n    try:\n        s = socket.create_connection("
                                + "('127.0.0.1', 7070))\n        break\n    except OSError:\n        time.sleep(0.1)\n"
                                + "print('ready', flush=True)\ntime.sleep(600)\n\""),
                        " fd \\d+: TCP socket .* -> .*7070 lives in the net namespace pid \\d+ made, and its peer is a socket"
                                + " of that namespace no task of the tree holds"),
                // /dev/tty reaches its opener's controlling terminal: in flight to a task without that terminal, a
                // restore that opened it again in the receiver reached another one, or none (ENXIO)
                python("/dev/tty in flight to a task whose controlling terminal is another", "import fcntl, os, signal, socket, termios\n"
                                + "m, s = os.openpty()\na, b = socket.socketpair()\nif os.fork() == 0:\n    os.setsid()\n"
                                + "    fcntl.ioctl(s, termios.TIOCSCTTY, 0)\n    t = os.open('/dev/tty', os.O_RDWR)\n"
                                + "    socket.send_fds(b, [b'x'], [t])\n    os.close(t)\n    signal.pause()\n"
                                + "os.close(s)\na.recv(1, socket.MSG_PEEK)",
                        " fd \\d+ .*passed in an unread message \\(/dev/tty\\): /dev/tty reaches terminal /dev/pts/\\d+, not"
                                + " the controlling terminal \\([^)]*\\) of pid \\d+, which receives it in flight; not supported"),
                python("a socket of a net namespace no task of the tree is in", "import ctypes, os, socket\n"
                                + "a, b = socket.socketpair()\nif os.fork() == 0:\n    ctypes.CDLL(None).unshare(0x40000000)\n"
                                + "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                + "    socket.send_fds(b, [b'x'], [s.fileno()])\n    os._exit(0)\n"
                                + "msg, fds, _, _ = socket.recv_fds(a, 1, 1)\nos.wait()",
                        " fd \\d+: socket \\d+ is in another network namespace \\(neither the host's nor one a task of the"
                                + " tree made"),
                // a mount namespace of its own is carried with proc, sysfs, mqueue, tmpfs and bind
                // mounts (NamespaceTest); a new mount of another file system, a bind whose source is
                // gone, a tmpfs holding a FIFO are not yet
                // an overlay mounted inside is mounted again on its layers (NamespaceTest); one whose
                // layer the namespace names otherwise than the host is not
                mountNs("an overlay whose layer the namespace reaches otherwise than the host", "mkdir $d/l $d/u $d/w $d/m"
                        + " && mount -t overlay cryo-ovl -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w $d/m && mount -t tmpfs"
                        + " cryo-t $d/l", ": its mount namespace: its mount overlay cryo-ovl on /tmp/.*/m: its layer"
                        + " /tmp/.*/l is another directory in the namespace than on the host"),
                // one mounted after pivot_root is mounted again in the root being built (NamespaceTest);
                // one whose layer is on a mount made after it is not (the layer would be another directory)
                new Item("an overlay after pivot_root whose layer is on a later mount", List.of("unshare", "-m",
                        "--propagation", "private", "/bin/sh", "-c", "r=$PWD/r && mkdir $r $r/bin $r/l $r/u $r/w $r/m $r/old"
                                + " && cp /bin/busybox $r/bin/ && for c in sh mount umount sleep; do ln -s busybox $r/bin/$c;"
                                + " done && mount --bind $r $r && cd $r && pivot_root . old && exec /bin/busybox sh -c"
                                + " 'umount -l /old && mount -t overlay cryo-ovl -o lowerdir=/l,upperdir=/u,workdir=/w /m"
                                + " && mount -t tmpfs cryo-t /l && echo ready; exec sleep 600'"),
                        ": its mount namespace: its mount overlay cryo-ovl on /m: its layer /l is on a mount made after it"
                                + " \\(/l\\)"),
                // zdtm's overmount tests in a container: the dump let it through and the restore, opening the path,
                // failed with ENOENT on the covering tmpfs after the dump had killed the tree
                mountNs("a file held open on a tmpfs another tmpfs covers since", "mount -t tmpfs cryo-t $d && exec 3<>$d/f"
                        + " && mount -t tmpfs cryo-c $d", ": fd 3 \\(/tmp/[^)]*/f\\) is on mount \\d+ \\(tmpfs on /tmp/[^)]*\\),"
                        + " which mount \\d+ \\(tmpfs on /tmp/[^)]*\\) made later covers: its path reaches that mount at"
                        + " restore, not this file; not supported"),
                // a container's console, a pty of a devpts instance of its own bound on a file, is carried (NamespaceTest)
                // a pty of a devpts instance of its own is carried (PtyTest#aContainersOwnDevptsPtys...)
                // a bind mount of a removed file or directory of the host's file system is carried (NamespaceTest)
                // socket files in a tmpfs of a mount namespace of its own are carried (NamespaceTest)
                // a proc shows the pid namespace of its mounter; the restore mounts it from the mount namespace's
                // maker, here unshare, outside the pid namespace its init mounted the proc of (silently wrong before)
                new Item("a proc mounted by the init of a pid namespace the mount namespace's maker unshared", List.of(
                        "unshare", "-m", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/sh", "-c",
                        "echo ready; exec /bin/sleep 600"), ": its mount namespace: its mount proc \\S+ on /proc shows pid"
                        + " namespace pid:\\[\\d+\\], not the one of the namespace's maker \\(pid:\\[\\d+\\]\\)"),
                // nscd's case (a private bind mount over the socket's directory) is carried (NamespaceTest), and a
                // datagram socket's so with unnamed clients of its holder (NamespaceTest, skunixmntns.c); a named
                // client would be bound from cryo's view
                new Item("a unix datagram socket whose socket file only its own mount namespace reaches, with a named client",
                        List.of("unshare", "--mount", "/bin/sh", "-c", "d=$(mktemp -d -p \"$PWD\") && mkdir $d/a $d/b && mount --bind $d/a"
                        + " $d/b && exec /usr/bin/python3 -c \"import os, socket; s = socket.socket(socket.AF_UNIX,"
                        + " socket.SOCK_DGRAM); s.bind('$d/b/sock'); s.set_inheritable(True); c = socket.socket(socket.AF_UNIX,"
                        + " socket.SOCK_DGRAM); c.bind('\\0cryo-nc-dgram-%d' % os.getpid()); c.connect('$d/b/sock');"
                        + " c.set_inheritable(True); print('ready', flush=True); os.execv('/bin/sleep', ['sleep', '600'])\""),
                        " fd \\d+: unix datagram socket /tmp/.*/b/sock: its socket file is reached through the task's own mount"
                        + " namespace or root, and cryo finds none at /tmp/.*/b/sock; binding it again inside that view is not"
                        + " supported when it is a datagram socket of cryo's net namespace whose client, socket \\d+ \\(pid \\d+"
                        + " fd \\d+\\), bound to @cryo-nc-dgram-\\d+, is made again in another view"),
                // a cgroup namespace is carried when its creator is still at its root (SandboxTest); one
                // it has left (here into a pids cgroup, removed by a watcher outside the tree) is not
                new Item("a cgroup namespace its creator has left", List.of("unshare", "--cgroup", "/bin/sh", "-c",
                        "d=/sys/fs/cgroup/pids/cryo-cgns-$$ && mkdir $d && (sh -c \"echo \\$\\$ >"
                                + " /sys/fs/cgroup/pids/cgroup.procs; while kill -0 $$ 2>/dev/null; do sleep 0.2; done;"
                                + " rmdir $d\" &) && echo $$ > $d/cgroup.procs && echo ready; exec /bin/sleep 600"),
                        ": it is no longer at the root of the cgroup namespace it made \\(it is in pids:/cryo-cgns-\\d+"),
                // a user namespace of its own with root inside, owning the namespaces it made along,
                // is carried (NamespaceTest), one without root inside too; one without maps, or not
                // owning a namespace its task made before it is not yet
                // strongSwan's policies and SAs live in the namespace's xfrm tables, which a restore did not
                // make again (real12): the tunnel came back without them, silently
                new Item("IPsec policies in a net namespace of the tree's", List.of("unshare", "-n", "/bin/sh", "-c",
                        "ip xfrm policy add src 127.0.0.1 dst 127.0.0.2 dir out && echo ready; exec /bin/sleep 600"),
                        ": its net namespace \\(net:\\[\\d+\\]\\) has IPsec policies \\(ip xfrm policy: src 127.0.0.1/32"
                                + " dst 127.0.0.2/32 ?\\.\\.\\.\\), which a restore would not make again"),
                unshare("user", ": its user namespace \\(user:\\[\\d+\\]\\) has no uid map written yet"),
                // what one thread unshared for itself (Go's locked OS threads): a restore made every thread with its
                // process's namespaces and fd table, so it came back without, silently (a cwd, root and umask of its
                // own, Samba's worker threads', a uts namespace of its own, a net namespace bound on the host and an fd
                // table of its own holding its process's open files are carried: RestoreTest#aThreadComesBackWithWhatItUnsharedAlone)
                // one a thread made alone and bound nowhere (Go's netns.New()) is carried with its lo, up or down
                // (RestoreTest#aThreadComesBack...), but not with more in it, nor a socket made inside it
                oneThread("a net namespace of one thread bound nowhere, with an address", "0x40000000",
                        "assert os.system('ip link set lo up && ip addr add 10.9.9.9/32 dev lo') == 0\n", " thread \\d+: its net namespace"
                        + " \\(net:\\[\\d+\\]\\), made by that thread alone and bound nowhere, has addresses"),
                oneThread("a socket in a net namespace of one thread bound nowhere", "0x40000000",
                        "import socket\nsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
                        " fd \\d+: socket \\d+ is in another network namespace"),
                // a process whose main thread has exited (pthread_exit in main) shows no namespace at its pid and was
                // taken to be in its parent's: its threads came back there, silently
                new Item("a process whose main thread exited, its threads in a uts namespace of their own", List.of(
                        "unshare", "--uts", dev.cryo.kernel.testing.TestPrograms.compile("/c/mainexit.c", "-pthread").toString()),
                        ": its main thread has exited and its threads are in a uts namespace \\(uts:\\[\\d+\\]\\) other than"
                        + " the host's"),
                new Item("a thread of a process whose main thread exited, in a uts namespace of its own", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/mainexit.c", "-pthread").toString(), "uts"),
                        " thread \\d+: its uts namespace \\(uts:\\[\\d+\\]\\) is not its process's \\(uts:\\[\\d+\\], thread"
                        + " \\d+'s\\), whose main thread has exited"),
                // what a thread unshared and a thread it made since shares: a restore makes it for one thread alone
                // a cgroup namespace and an empty ipc namespace one thread made are carried (RestoreTest#aThreadComesBack...),
                // not one two threads share, nor an ipc namespace holding objects; a mount namespace of one thread is not yet
                oneThread("a cgroup namespace two threads share", "0x02000000", SECOND_THREAD, " thread \\d+: its cgroup"
                        + " namespace \\(cgroup:\\[\\d+\\]\\) is thread \\d+'s too"),
                oneThread("an ipc namespace of one thread holding a message queue", "0x08000000",
                        "assert libc.msgget(0, 0o1600) >= 0\n", " thread \\d+: its ipc namespace \\(ipc:\\[\\d+\\]\\),"
                        + " made by that thread alone, holds 1 message queue"),
                oneThread("a mount namespace of one thread", "0x00020000", "", " thread \\d+: its mnt namespace"
                        + " \\(mnt:\\[\\d+\\]\\) is not its process's"),
                oneThread("a uts namespace two threads share", "0x04000000", SECOND_THREAD, " thread \\d+: its uts"
                        + " namespace \\(uts:\\[\\d+\\]\\) is thread \\d+'s too"),
                oneThread("a current directory two threads share", "0x200", "os.chdir('/')\n" + SECOND_THREAD, " thread \\d+"
                        + " has a current directory, root and umask of its own \\(unshare\\(CLONE_FS\\) in that thread\\)"
                        + " shares it with thread \\d+ but not with its process"),
                oneThread("an fd table two threads share", "0x400", SECOND_THREAD, " thread \\d+ has an fd table of its"
                        + " own \\(unshare\\(CLONE_FILES\\) in that thread\\) that it shares with thread \\d+"),
                // files a thread opened alone after unshare(CLONE_FILES) are carried (RestoreTest#aThreadComesBack...), but
                // not one at two of its fds (each would be made anew), nor an epoll (its watches name the thread's fds)
                oneThread("an open file at two fds of one thread's own table alone", "0x400",
                        "os.dup(os.open('/dev/null', os.O_RDONLY))\n", " thread \\d+: its fd \\d+ \\(/dev/null\\) is the"
                        + " open file of thread \\d+'s fd \\d+, which its process does not hold"),
                oneThread("an epoll of one thread's own table alone", "0x400", "import select\nep = select.epoll()\n",
                        " thread \\d+ fd \\d+ \\(anon_inode:\\[eventpoll\\]\\), in its own fd table alone: an epoll set"),
                // one made by a task of another of the tree's is carried (NamespaceTest); one made inside
                // another by the same task, which leaves no task in the outer one (bwrap --dev /dev run by a user), is not
                new Item("a user namespace its creator made inside another of its own", List.of("unshare", "-Ur", "/bin/sh",
                        "-c", "exec unshare -Ur /bin/sh -c 'echo ready; exec /bin/sleep 600'"), ": its user namespace"
                        + " \\(user:\\[\\d+\\]\\), made inside another user namespace \\(user:\\[\\d+\\]\\), which its"
                        + " parent \\(pid \\d+\\) is not in: the task made both, one inside the other"),
                new Item("a mount namespace made before the user namespace", List.of("unshare", "-m", "/bin/sh", "-c",
                        "exec unshare -Ur /bin/sh -c 'echo ready; exec /bin/sleep 600'"), ": its mnt namespace"
                        + " \\(mnt:\\[\\d+\\]\\) is owned by user namespace user:\\[\\d+\\], not by its own"
                        + " \\(user:\\[\\d+\\]\\)"),
                new Item("a child forked before its parent made a time namespace for its children", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/timens.c").toString(), "late"),
                        "\\) time namespace \\(time:\\[\\d+\\]\\) but was forked before its parent made another"
                        + " for its children"),
                // one of its own threads' /proc files held by the process is carried (FileKindsTest), not one a child shares
                new Item("a thread's /proc file shared by a forked child", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "fork"),
                        " fd \\d+ \\(/proc/\\d+/task/\\d+/stat\\), a /proc file of thread \\d+ of pid \\d+, is shared"
                        + " with pid \\d+; not supported yet \\(a restore opens a thread's files once its threads are made"),
                // nor one of another task's thread, which the restore opened before any thread was made (ENOENT)
                new Item("a /proc file of another task's thread", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "other"),
                        ", another task of the tree; not supported yet \\(a restore opens every task's files before it"
                        + " makes any thread\\)"),
                // nor one in flight in an unread unix message (restored before any thread; dumped before these)
                new Item("a thread's /proc file in flight that the process holds too", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "fly"),
                        " fd \\d+ \\(/proc/\\d+/task/\\d+/stat\\), a /proc file of thread \\d+ of pid \\d+, is shared"
                        + " with a message in flight; not supported"),
                new Item("a thread's /proc file in flight alone", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "flyalone"),
                        "; not supported in flight \\(a restore sends files in flight again before it makes any thread\\)"),
                new Item("a thread pidfd shared by a forked child", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "pidfd-fork"),
                        " fd \\d+ \\(anon_inode:\\[pidfd\\]\\), a pidfd of thread \\d+ of pid \\d+, is shared with pid"
                        + " \\d+; not supported yet"),
                new Item("an epoll watching a thread pidfd", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "pidfd-epoll"),
                        " fd \\d+: epoll watches fd \\d+, a pidfd of thread \\d+ of pid \\d+; not supported yet \\(the restore"
                        + " makes a thread's pidfd once its threads are made"),
                new Item("a thread pidfd in flight", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/threadstat.c").toString(), "pidfd-fly"),
                        " fd \\d+ \\(anon_inode:\\[pidfd\\]\\), a pidfd of thread \\d+ of pid \\d+, is shared with a"
                        + " message in flight; not supported"),
                // zdtm detached_mount, anonymous_mount: reopened by path, they came back as other files (a cwd as
                // "/", an open_tree fd as the host's root) or failed the restore after the dump had killed the tree
                // (a file held open there is carried: FileKindsTest#aFileOfAMountUnmountedWhileOpenComesBackOnADetachedMount)
                detached("two", " fd [34]: /[fg] is on a detached tmpfs \\(mount id \\d+\\) that pid \\d+ fd [34] holds a file"
                        + " of too: a restore makes a tmpfs for each open file, and the two would no longer share one;"
                        + " not supported yet"),
                detached("cwd", ": its current directory / is on a mount that is not attached in its mount namespace"
                        + " \\(mount id \\d+: unmounted with umount -l while in use, or made by open_tree/fsmount and never"
                        + " attached\\), and no path reaches it at restore; not supported"),
                detached("map", ": its mapping at 0x[0-9a-f]+ \\(/f\\) is on a mount that is not attached"),
                detached("tree", ": fd 3 \\(/\\) is on a mount that is not attached"),
                new Item("pid namespace", List.of("unshare", "--pid", "/bin/sh", "-c",
                        "echo ready; exec /bin/sleep 600"), ": it unshared a pid namespace for its children and forked none yet"),
                // a pid namespace unshared for the children is carried when its init is one (NamespaceTest), not
                // beside a child in the task's own
                new Item("a pid namespace for children beside a child in its own", List.of("/bin/sh", "-c", "/bin/sleep 600 &"
                        + " exec unshare --pid --fork /bin/sh -c 'echo ready; exec /bin/sleep 600'"), ": it has children both"
                        + " in its own pid namespace \\(pid \\d+\\) and in the one it unshared for its children"),
                // a restore makes threads after children, and CLONE_THREAD is EINVAL once they get another pid namespace
                new Item("a task with threads whose children get another pid namespace", List.of(
                        dev.cryo.kernel.testing.TestPrograms.compile("/c/deadpidns.c").toString(), "threads"),
                        ": the pid namespace its children get \\(pid:\\[\\d+\\]\\) is not its own and it has 2 threads"),
                // keyrings and their user keys are carried (KeyringTest); a key whose payload the kernel never
                // gives back is not (a logon key: a filesystem's or a VPN's credentials)
                python("a session keyring holding a logon key", "import ctypes, os\nsys = ctypes.CDLL(None).syscall\n"
                                + "assert sys(250, 1, b'cryo-it-%d' % os.getpid()) > 0\n"
                                + "assert sys(248, b'logon', b'cryo:secret', b'hunter2', ctypes.c_size_t(7), ctypes.c_long(-3)) > 0",
                        " \\(python3\\): session keyring 'cryo-it-\\d+' \\(key \\d+\\) holds logon key 'cryo:secret'"
                                + " \\(key \\d+\\), whose payload the kernel never gives back: not carried"),
                // an expiry shows only rounded (/proc/keys: "59m", or "1h" within the second it was set): it would come back later or sooner
                python("a user key with an expiry", "import ctypes, os\nsys = ctypes.CDLL(None).syscall\n"
                                + "assert sys(250, 1, b'cryo-it-%d' % os.getpid()) > 0\n"
                                + "k = sys(248, b'user', b'cryo-secret', b'hunter2', ctypes.c_size_t(7), ctypes.c_long(-3))\n"
                                + "assert sys(250, 15, k, 3600) == 0",
                        " \\(python3\\): session keyring 'cryo-it-\\d+' \\(key \\d+\\) holds user key 'cryo-secret'"
                                + " \\(key \\d+\\), which expires in \\d+[mh] \\(the kernel shows an expiry only rounded\\)"),
                // gdb -p or strace -p run in the tree: the attachment was lost silently (the tracee let go at the
                // kill, the restored gdb believing it still held it). The tracee, a cat reparented out of the tree,
                // ends when the tracer's pipe to it closes. It is attached once it runs cat (the refusal names it by its
                // command: attached before its exec, it was still "python3" at load).
                python("a tracer of a process outside the tree", "import ctypes, os, time\nr, w = os.pipe()\nr2, w2 = os.pipe()\n"
                                + "if os.fork() == 0:\n    c = os.fork()\n    if c == 0:\n        os.dup2(r, 0)\n"
                                + "        os.close(w)\n        os.execvp('cat', ['cat'])\n    os.write(w2, b'%d' % c)\n"
                                + "    os._exit(0)\nos.wait()\nos.close(r)\nc = int(os.read(r2, 16))\n"
                                + "for i in range(3000):\n    if open('/proc/%d/comm' % c).read() == 'cat\\n':\n        break\n"
                                + "    time.sleep(0.01)\n"
                                + "assert ctypes.CDLL(None).ptrace(0x4206, c, None, None) == 0",
                        " \\(python3\\) traces pid \\d+ \\(cat\\), which is not in the tree: a ptrace attachment is"
                                + " not carried"),
                // a memfd_secret mapping whose fd was closed (zdtm's memfd-secret00 keeps it: carried, MemoryKindsTest)
                new Item("a memfd_secret mapping", List.of(dev.cryo.kernel.testing.TestPrograms.compile("/c/secretmem.c")
                        .toString(), "map"), " maps memfd_secret memory /secretmem at 0x[0-9a-f]+-0x[0-9a-f]+ but holds no fd of it: the"
                        + " kernel hides its pages from every other process \\(ptrace, process_vm_readv and /proc/PID/mem"
                        + " included\\), and cryo reads them through the fd: not supported"),
                // sem43: a restore gives each process a SEM_UNDO list of its own, and a process's threads one
                new Item("a SEM_UNDO list two processes share", List.of(dev.cryo.kernel.testing.TestPrograms.compile(
                        "/c/semundoshare.c").toString(), "process"), "(?: shares its SEM_UNDO list with pid \\d+)? \\(cloned"
                        + " with CLONE_SYSVSEM but not as a thread\\): a restore gives each process a list of its own, whose"
                        + " exits would each give back what they took together; not supported"),
                new Item("a thread's SEM_UNDO list of its own", List.of(dev.cryo.kernel.testing.TestPrograms.compile(
                        "/c/semundoshare.c").toString(), "thread"), " thread \\d+ does not share the SEM_UNDO list of thread"
                        + " \\d+ \\(it unshared CLONE_SYSVSEM, or was cloned without it\\): a restore gives the threads of a"
                        + " process one list; not supported")),
                // qemu -accel kvm: named as a mapping of a kernel object (it was "on a mount that is not attached")
                Stream.concat(kvm(), vsock()));
    }

    /**
     * A vsock connection in progress (to VMADDR_CID_LOCAL, which no transport answers here; its connect timeout
     * 600 s): the peer's end is another host's or VM's. Listeners and bound ones are carried (SocketRestoreTest).
     */
    private static Stream<Item> vsock() {
        if (!Files.exists(Path.of("/dev/vsock")) || Files.exists(Path.of("/sys/module/vsock_loopback"))) {
            return Stream.empty(); // with vsock_loopback the connect would be refused at once
        }
        return Stream.of(python("a vsock connection in progress", "import ctypes, socket, struct\n"
                        + "s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\n"
                        + "assert ctypes.CDLL(None).setsockopt(s.fileno(), 40, 6, struct.pack('ll', 600, 0), 16) == 0\n"
                        + "s.setblocking(False)\ns.connect_ex((1, 40000 + __import__('os').getpid() % 20000))",
                " fd 3: AF_VSOCK socket \\d+ is connected or connecting \\(state 2\\): a vsock connection cannot be"
                        + " carried; not supported"));
    }

    /** A KVM virtual machine with one vCPU whose run area is mapped, as qemu holds it; none without /dev/kvm. */
    private static Stream<Item> kvm() {
        if (!Files.isWritable(Path.of("/dev/kvm"))) {
            return Stream.empty();
        }
        return Stream.of(python("a KVM virtual machine", "import fcntl, mmap, os\nk = os.open('/dev/kvm', os.O_RDWR)\n"
                        + "vm = fcntl.ioctl(k, 0xAE01, 0)\ncpu = fcntl.ioctl(vm, 0xAE41, 0)\n"
                        + "run = mmap.mmap(cpu, fcntl.ioctl(k, 0xAE04, 0))",
                " maps the memory of anon_inode:kvm-vcpu:0 at 0x[0-9a-f]+-0x[0-9a-f]+: a mapping of a kernel object other"
                        + " than an io_uring \\(a KVM virtual CPU's, a perf_event ring\\) is not supported"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("items")
    void isRefusedAtDumpTimeAndTheTreeRunsOn(Item item) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("item.out"),
                item.command().toArray(String[]::new)))) {
            int pid = p.pid().value();
            refusedDump(pid, "pid " + pid + item.message());
            for (int t : StateComparator.tree(pid)) {
                try (var threads = Files.newDirectoryStream(Path.of("/proc/" + t + "/task"))) {
                    for (Path th : threads) { // every thread: not traced, not stopped (a leader may be a zombie)
                        String status = Files.readString(th.resolve("status"));
                        assertTrue(status.contains("TracerPid:\t0\n"), th + " is left traced:\n" + status);
                        assertTrue(status.matches("(?s).*State:\t[RSZ].*"), th + " is left stopped:\n" + status);
                    }
                }
            }
            Thread.sleep(50);
            assertTrue(Files.exists(Path.of("/proc/" + pid)), "pid " + pid + " runs on");
        }
    }

    /**
     * A unix socket held in a pid namespace of the tree's whose peer had exited and was never in that
     * namespace (zdtm's sock_peercred in its ns flavor carries a peer that was inside, zdtm23): the
     * holder sees pid 0 in SO_PEERCRED, a pid no restore can give a stand-in there. The tree: a
     * subreaper whose child makes the pair, unshares a pid namespace, forks the holder (its init) and
     * exits; the holder waits for the close of its peer's end before "ready". (Where a holder outside the
     * namespace shares the socket, as {@code unshare --fork} keeps an inherited fd, the dump records it
     * through that one, in cryo's pid namespace, and does not refuse.)
     */
    /**
     * An eventfd the kernel signals through a memory cgroup's registration (cgroup v1's cgroup.event_control with
     * memory.oom_control: older container runtimes' OOM notifier, kubelet's thresholds): made again, the eventfd had
     * none, and the program waited for a notification that never came, with no word. The root memory cgroup's: nothing
     * to make or remove (the registration ends with the program).
     */
    @org.junit.jupiter.api.Test
    void anEventfdAMemoryCgroupNotifiesIsRefused() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/sys/fs/cgroup/memory/cgroup.event_control")),
                "a cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
        String code = "import os, time\nefd = os.eventfd(0, os.EFD_CLOEXEC)\n"
                + "ofd = os.open('/sys/fs/cgroup/memory/memory.oom_control', os.O_RDONLY)\n"
                + "open('/sys/fs/cgroup/memory/cgroup.event_control', 'w').write('%d %d' % (efd, ofd))\n"
                + "print('ready', flush=True)\ntime.sleep(600)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("memcg.out"), "/usr/bin/python3", "-c", code))) {
            int pid = p.pid().value();
            refusedDump(pid, "pid " + pid + " fd \\d+: eventfd is registered with a memory cgroup through cgroup.event_control"
                    + " \\(1 notification\\(s\\): memory.oom_control, a memory.usage_in_bytes threshold or"
                    + " memory.pressure_level\\), which the kernel keeps out of sight and an eventfd made again would not"
                    + " have; not supported");
            assertTrue(Files.exists(Path.of("/proc/" + pid)), "pid " + pid + " runs on");
        }
    }

    /**
     * A tree that holds its own tracer (strace -f PROG, gdb running PROG): the traced task cannot be seized, and the
     * refusal says the tracer is one of its ancestors (it said "another cryo dump or a debugger", as for a tracer
     * from outside). The tree runs on with its own attachment.
     */
    @org.junit.jupiter.api.Test
    void aTreeHoldingItsOwnTracerIsRefusedNamingTheTracerAsAnAncestor() throws Exception {
        String tree = "import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                + "c = os.fork()\nif c == 0:\n    time.sleep(600)\n    os._exit(0)\n"
                + "assert libc.ptrace(0x4206, c, None, None) == 0\n" // PTRACE_SEIZE: traced, running on
                + "print('ready', flush=True)\ntime.sleep(600)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tracer.out"), "/usr/bin/python3",
                "-c", tree))) {
            int pid = p.pid().value();
            refusedDump(pid, "pid \\d+ is already traced by pid " + pid + " \\(python3\\), one of its ancestors \\(strace -f"
                    + " or a debugger running it\\): cryo cannot dump it");
            List<Integer> tasks = StateComparator.tree(pid);
            assertEquals(2, tasks.size(), "the tracer and its child: " + tasks);
            for (int t : tasks) {
                String status = Files.readString(Path.of("/proc/" + t + "/status"));
                assertTrue(status.contains("TracerPid:\t" + (t == pid ? 0 : pid) + "\n")
                        && status.matches("(?s).*State:\t[RSt].*"), status);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aUnixPeerThatExitedOutsideTheHoldersPidNamespaceIsRefused() throws Exception {
        String tree = "import ctypes, os, socket, struct, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                + "libc.prctl(36, 1)\n" // PR_SET_CHILD_SUBREAPER: the holder stays in the tree
                + "if os.fork() == 0:\n    a, b = socket.socketpair()\n"
                + "    assert libc.unshare(0x20000000) == 0\n" // CLONE_NEWPID
                + "    if os.fork() == 0:\n        b.close()\n        assert a.recv(1) == b''\n" // the peer exited
                + "        assert struct.unpack('3i', a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0] == 0\n"
                + "        print('ready', flush=True)\n        time.sleep(600)\n        os._exit(0)\n    os._exit(0)\n"
                + "os.wait()\ntime.sleep(600)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("peer0.out"), "/usr/bin/python3",
                "-c", tree))) {
            int pid = p.pid().value();
            refusedDump(pid, "pid \\d+ fd \\d+: unix socket \\d+: its peer credentials \\(SO_PEERCRED\\) name pid \\d+, which has"
                    + " exited and was outside the pid namespace of pid \\d+ holding it \\(it sees pid 0 there\\)");
            List<Integer> tasks = StateComparator.tree(pid);
            assertEquals(2, tasks.size(), "the subreaper and the holder: " + tasks);
            for (int t : tasks) {
                String status = Files.readString(Path.of("/proc/" + t + "/status"));
                assertTrue(status.contains("TracerPid:\t0\n") && status.matches("(?s).*State:\t[RS].*"), status);
            }
        }
    }


    /**
     * Five memfds of 15 MiB each that no mapping covers: each fits the 16 MiB one fd's record carries (with
     * --ghost-limit 16M), all five do not fit one task's record. The dump failed writing the image ("record TaskImage
     * exceeds the max chunk length of 67108864 bytes", naming no task: stress-ng's memfd stressor); now it is refused by
     * name before the image (at the fourth: 56 MiB a task), and the program runs on.
     */
    @org.junit.jupiter.api.Test
    void memfdContentsBeyondWhatOneTasksRecordCarriesAreRefusedByName() throws Exception {
        refusedAndRunsOn("import os\nfds = [os.memfd_create('big%d' % i) for i in range(5)]\n"
                + "for fd in fds: os.write(fd, os.urandom(15 << 20))\n", "",
                " fd \\d+: memfd big\\d, outside any mapping, holds 15728640 bytes, and the task's other fds carry 47185920"
                + " bytes the same way .*more than the 56 MiB cryo carries in one task's record", "--ghost-limit", "16M");
    }

    /**
     * A net namespace of the tree's whose conntrack entries count bytes and packets ({@code nf_conntrack_acct} 1):
     * ctnetlink sets no counters, so its entries cannot be made again as they are. Refused by name, naming the entry,
     * the tree left running (the table is read once every task is collected, then the dump is given up).
     */
    @org.junit.jupiter.api.Test
    void aConntrackEntryWithCountersIsRefused() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nft")), "nftables");
        String start = "ip link set lo up && echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct && nft 'add table inet t;"
                + " add chain inet t in { type filter hook input priority 0; }; add rule inet t in ct state new counter'"
                + " && exec /usr/bin/python3 -c \"import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                + "s.sendto(b'x', ('127.0.0.1', 10000))\nprint('ready', flush=True)\ntime.sleep(600)\n\"";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("acct.out"), "unshare", "--net",
                "/bin/sh", "-c", start))) {
            int pid = p.pid().value();
            refusedDump(pid, "pid " + pid + ": its net namespace \\(net:\\[\\d+]\\): conntrack entry udp 127\\.0\\.0\\.1:\\d+"
                    + " -> 127\\.0\\.0\\.1:10000: its byte and packet counters \\(nf_conntrack_acct 1\\) cannot be set again;"
                    + " not supported");
            String status = Files.readString(Path.of("/proc/" + pid + "/status"));
            assertTrue(status.contains("TracerPid:\t0\n") && status.matches("(?s).*State:\t[RS].*"), status);
        }
    }

    /**
     * A process at its address-space limit (RLIMIT_AS just above what it maps: stress-ng's rlimit stressor) has no room
     * for cryo's working area: refused saying so, where the dump said only "mmap(0x..., 20480, 3) in pid N: ENOMEM".
     */
    @org.junit.jupiter.api.Test
    void aProcessAtItsAddressSpaceLimitIsRefusedSayingSo() throws Exception {
        refusedAndRunsOn("import resource\n"
                + "size = sum(int(l.split('-')[1].split()[0], 16) - int(l.split('-')[0], 16) for l in open('/proc/self/maps'))\n"
                + "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
                + "resource.setrlimit(resource.RLIMIT_AS, (size + 4096, hard))\n",
                "resource.setrlimit(resource.RLIMIT_AS, (soft, hard))\n",
                ": cryo's working area could not be mapped in it \\(ENOMEM.*its address-space limit \\(RLIMIT_AS\\) is \\d+ bytes");
    }

    /**
     * A python3 running {@code setup}, then waiting for SIGUSR2 (blocked from its start), then running {@code after} and
     * printing PASS: its dump ({@code options}) is refused with {@code expected} (a regex) after "pid PID", and the
     * program runs on to its PASS.
     */
    private void refusedAndRunsOn(String setup, String after, String expected, String... options) throws Exception {
        String script = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])\n" + setup
                + "print('ready', flush=True)\nsignal.sigwait([signal.SIGUSR2])\n" + after + "print('PASS', flush=True)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("refused.out"), "/usr/bin/python3", "-c",
                script))) {
            refusedDump(p.pid().value(), "pid " + p.pid().value() + expected, options);
            dev.cryo.kernel.Sys.kill(p.pid(), dev.cryo.kernel.Signals.SIGUSR2);
            p.awaitOutput("PASS", java.time.Duration.ofSeconds(30)); // the refused tree ran on
        }
    }

    /**
     * A dump of {@code pid} ({@code options}: more of its options) that fails with a one-line message in which
     * {@code expected} (a regex) is found, no stack trace, and no image left.
     */
    private void refusedDump(int pid, String expected, String... options) {
        Path img = tmp.resolve("img");
        List<String> args = new ArrayList<>(List.of("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress"));
        args.addAll(List.of(options));
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(1, r.code(), r.toString());
        String err = r.err().strip();
        assertTrue(java.util.regex.Pattern.compile(expected).matcher(err).find(), "expected '" + expected + "' in:\n" + err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), "a message, not a stack trace:\n" + err);
        assertFalse(Files.exists(img.resolve("image.cryo")), "no image may be left");
    }
}
