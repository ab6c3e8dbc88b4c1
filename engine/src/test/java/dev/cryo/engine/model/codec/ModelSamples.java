package dev.cryo.engine.model.codec;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.CharDeviceHandler;
import dev.cryo.engine.files.PipeHandler;
import dev.cryo.engine.files.SharedFdHandler;
import dev.cryo.engine.files.EventFdHandler;
import dev.cryo.engine.files.TimerFdHandler;
import dev.cryo.engine.files.SignalFdHandler;
import dev.cryo.engine.files.EpollHandler;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.ItimerImage;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SchedImage;
import dev.cryo.engine.model.SleepImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.SeccompFilter;
import dev.cryo.kernel.Seccomp;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.TcpRepair;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** A deterministic, realistic process model with every field set to something non-default. */
public final class ModelSamples {
    private ModelSamples() {}

    static final int PID = 4242;
    static final long HEAP = 0x5555_5555_9000L, STACK = 0x7ffc_1000_0000L;

    static DumpInfo dumpInfo() {
        return new DumpInfo("0.1.0-test", 1_700_000_000_123L, "host-a", "6.18.0-cryo", PID, List.of(PID), 2688, true);
    }

    /** A siginfo_t: si_signo (LE int32) first, the rest deterministic filler. */
    static byte[] siginfo(int signo, int seed) {
        ByteBuffer b = ByteBuffer.allocate(ModelLimits.SIGINFO).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) (i * 7 + seed));
        b.putInt(0, signo);
        return b.array();
    }

    /** A struct termios2: iflag, oflag, cflag, lflag, line, 19 control characters, speeds. */
    static byte[] termios() {
        ByteBuffer b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x500).putInt(0x5).putInt(0xbf).putInt(0x8a3b).put((byte) 0);
        for (int i = 0; i < 19; i++) b.put((byte) (i + 3));
        b.putInt(38400).putInt(38400);
        return b.array();
    }

    static ThreadImage thread(int tid) {
        long[] regs = new long[27];
        for (int i = 0; i < regs.length; i++) regs[i] = 0x1000L * (i + 1) + tid;
        regs[16] = 0x5555_5555_4123L; // rip
        regs[19] = STACK + 0xe000; // rsp
        byte[] xstate = new byte[1024];
        for (int i = 0; i < xstate.length; i++) xstate[i] = (byte) (i ^ tid);
        return new ThreadImage(tid, regs, xstate, 0x4000L | tid, 0x7f00_0000_1000L + tid, 32, 0x53053053,
                0x7f00_0000_2000L + tid, 24, 0x7f00_0000_3000L + tid, 0x7f00_0010_0000L, 1, 0x2000,
                List.of(siginfo(10, tid), siginfo(34, tid + 1)), "worker-" + tid, 9,
                new ThreadSecurity(0x1L, 0x3L | tid, 0x2L, 0x1ff_ffff_ffffL, 0x1L, 0x14, true, Seccomp.MODE_FILTER,
                        tid % 2 == 0 ? 1 : 2, tid % 2 == 0 ? null : new dev.cryo.engine.model.ThreadIds(
                                List.of(99, 99, 99, 99), List.of(98, 98, 98, 98), List.of(4, 27))),

                new SchedImage(tid % 2 == 0 ? 3 : 6, 1, 7, 0, 1_000_000, 10_000_000, 20_000_000, 128, 900,
                        new long[] {0x5L, 1L << 63}, (2 << 13) | 5, 50_000 + tid),
                tid % 2 == 0 ? new SleepImage(35, 1, 2_000_000_123L) : null,
                tid % 2 == 0 ? new dev.cryo.engine.model.ThreadTraps(true, true, 1, 1, 0x7f00_0000_4000L + tid,
                        0x7f00_0000_5000L, 0x2000) : dev.cryo.engine.model.ThreadTraps.NONE,
                tid % 2 == 0 ? null : new dev.cryo.engine.model.ThreadFs("/srv/share-" + tid, "/", 027),
                tid % 2 == 0 ? new dev.cryo.engine.model.ThreadNs(null, null, "/run/netns/blue-" + tid)
                        : new dev.cryo.engine.model.ThreadNs("worker-" + tid, "(none)", null, true, true, true, true),
                tid % 2 == 0 ? null : new dev.cryo.engine.model.ThreadFdTable(List.of(
                        new dev.cryo.engine.model.ThreadFdTable.Entry(0, 0, false),
                        new dev.cryo.engine.model.ThreadFdTable.Entry(7, 3, true)), List.of(
                        new FdImage(9, 02000002, 17, new RegularFileHandler.RegularFile(file("/srv/share-" + tid + "/log", 40 + tid),
                                List.of(), false)),
                        new FdImage(11, 0, 0, new EventFdHandler.EventFd(2, false)))))
                .withMempolicy(tid % 2 == 0 ? dev.cryo.engine.model.MemPolicy.DEFAULT
                        : new dev.cryo.engine.model.MemPolicy(dev.cryo.engine.model.MemPolicy.MPOL_INTERLEAVE
                                | dev.cryo.engine.model.MemPolicy.MPOL_F_STATIC_NODES, 0b101));
    }

    static FileRef file(String path, long ino) {
        return new FileRef(path, 0xfd01, ino, 12345 + ino, 1_699_999_999_000_000_123L + ino, 0100755);
    }

    public static TaskImage task(int pid) {
        Creds creds = new Creds(List.of(1000, 1001, 1002, 1003), List.of(100, 101, 102, 103), List.of(4, 24, 27),
                0x1L, 0x2L, 0x3L, 0x1ff_ffff_ffffL, 0x4L);
        List<Rlimit> rlimits = List.of(new Rlimit(3, 8 << 20, -1), new Rlimit(7, 1024, 4096));
        List<SigAction> sigactions = List.of(new SigAction(2, 0x5555_5555_5000L, 0x0400_0004L, 0x7f00_0000_9000L, 1L << 14),
                new SigAction(13, 1, 0, 0, 0), new SigAction(15, 0, 0, 0, 0));
        MmImage mm = new MmImage(0x5555_5555_4000L, 0x5555_5555_5000L, 0x5555_5555_7000L, 0x5555_5555_8000L, HEAP,
                HEAP + 0x21000, STACK + 0xf000, STACK + 0xf100, STACK + 0xf200, STACK + 0xf200, STACK + 0xf800,
                new long[] {33, 0x7ffc_1234_5000L, 16, 0xbfebfbff, 6, 4096, 0, 0}, true, 0x3f, 1 << 4, 1, true,
                dev.cryo.kernel.Prctl.MCL_FUTURE | dev.cryo.kernel.Prctl.MCL_ONFAULT, List.of(
                        new dev.cryo.engine.model.MemPolicy.Area(HEAP, HEAP + 0x21000, new dev.cryo.engine.model.MemPolicy(
                                dev.cryo.engine.model.MemPolicy.MPOL_LOCAL, 0)),
                        new dev.cryo.engine.model.MemPolicy.Area(0x7f00_0001_0000L, 0x7f00_0001_8000L,
                                new dev.cryo.engine.model.MemPolicy(dev.cryo.engine.model.MemPolicy.MPOL_BIND, 1))));
        List<VmaImage> vmas = List.of(
                new VmaImage(0x5555_5555_4000L, 0x5555_5555_5000L, 5, VmaImage.MAP_PRIVATE, 0x1000, MemoryKinds.FILE_PRIVATE,
                        file("/usr/bin/sleeper", 77), 0, 0),
                new VmaImage(HEAP, HEAP + 0x21000, 3, VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS, 0, MemoryKinds.HEAP,
                        null, 2, 31, dev.cryo.engine.memory.VmAdvice.HUGEPAGE | dev.cryo.engine.memory.VmAdvice.LOCKED,
                        new long[] {HEAP + 0x3000, 2, HEAP + 0x9000, 1}, new long[] {HEAP, 3, HEAP + 0x10000, 17}),
                new VmaImage(0x7f00_0001_0000L, 0x7f00_0001_8000L, 3, VmaImage.MAP_SHARED | VmaImage.MAP_ANONYMOUS, 0x1000,
                        MemoryKinds.SHARED_ANON, file("/dev/zero", 46), 8, 0).withSeals(6), // as a memfd's GROW|SHRINK
                new VmaImage(0x7f00_0000_0000L, 0x7f00_0000_4000L, 3, VmaImage.MAP_SHARED, 0x2000, MemoryKinds.FILE_SHARED,
                        file("/tmp/shm file ü", 78), 1, 3),
                new VmaImage(STACK, STACK + 0x10000, 3, VmaImage.MAP_PRIVATE | VmaImage.MAP_GROWSDOWN, 0, MemoryKinds.STACK,
                        null, 5, 11));
        List<FdImage> fds = List.of(
                new FdImage(0, 02, 0, new CharDeviceHandler.CharDevice("/dev/pts/3", 0x8803, true)),
                new FdImage(3, 02000000, 4096, new RegularFileHandler.RegularFile(file("/var/log/app.log", 99),
                        List.of(new dev.cryo.engine.files.FileLocks.Lock(dev.cryo.engine.files.FileLocks.FLOCK, true, 0, -1)), true)),
                new FdImage(4, 0, 0, new PipeHandler.Pipe(123456, true, "", new byte[] {'h', 'i', 0, -1}, 1 << 20)),
                new FdImage(5, 01, 0, new PipeHandler.Pipe(123456, false, "", new byte[0], 0)),
                new FdImage(6, 04001, 0, new PipeHandler.Pipe(777, false, "/run/app.fifo", new byte[] {42}, 65536)),
                new FdImage(7, 02004002, 0, new dev.cryo.engine.files.PidFdHandler.PidFd(PID + 7)),
                new FdImage(40, 02100000, 0, new dev.cryo.engine.files.NsFileHandler.NsFile("net", 4026531833L)),
                new FdImage(12, 02, 4096, new SharedFdHandler.SharedFd(pid - 1, 3, RegularFileHandler.TAG,
                        List.of(new dev.cryo.engine.files.FileLocks.Lock(dev.cryo.engine.files.FileLocks.POSIX, false, 5, 14)))),
                new FdImage(8, 024002, 0, new EventFdHandler.EventFd(5, true),
                        new dev.cryo.engine.files.FdOwner(Fcntl.F_OWNER_PID, PID, 29)),
                new FdImage(9, 02, 0, new TimerFdHandler.TimerFd(0, 2, 0, 5_000_000, 0, 10_000_000, 3, 1_800_000_000_123_456_789L)),
                new FdImage(10, 04000, 0, new SignalFdHandler.SignalFd(0x201)),
                new FdImage(11, 02000002, 0, new EpollHandler.Epoll(List.of(new EpollHandler.Epoll.Watch(8, 1, 0x1234),
                        new EpollHandler.Epoll.Watch(999, 1, 7, 8)))),
                new FdImage(13, 04002, 0, new dev.cryo.engine.files.UnixSocketHandler.UnixSocket(5001, 1, 1,
                        new byte[0], 5002, new byte[0], false, 0, 0, new long[0], 2, true,
                        List.of(new dev.cryo.engine.files.UnixSocketHandler.Message(new byte[] {'q', 0, -1}, new byte[0]),
                                new dev.cryo.engine.files.UnixSocketHandler.Message(new byte[] {'r'}, new byte[] {0, 'a', 'b'}),
                                // files passed with it (SCM_RIGHTS: one in flight only, one a task holds too, one
                                // passed earlier in the queue) and the sender's credentials
                                new dev.cryo.engine.files.UnixSocketHandler.Message(new byte[] {'s'}, new byte[0], List.of(
                                        new FdImage(0, 0, 0, new PipeHandler.Pipe(888, true, "", new byte[] {'p'}, 65536)),
                                        new FdImage(1, 02, 17, new SharedFdHandler.SharedFd(pid - 1, 3, RegularFileHandler.TAG)),
                                        new FdImage(2, 0, 0, new SharedFdHandler.SharedFd(0, 0, PipeHandler.TAG))),
                                        PID, 1000, 1000, false),
                                // a sender that had exited by the dump (a stand-in at its pid sends it again)
                                new dev.cryo.engine.files.UnixSocketHandler.Message(new byte[] {'t'}, new byte[0], List.of(),
                                        PID + 900, 0, 4, true)),
                        socketOptions(), -1, -1, -1, "", "", false, new dev.cryo.kernel.net.Sockets.Ucred(PID, 1000, 1001),
                        List.of(1001, 27, 100),
                        // the peer, exited, had pid 7 in the holder's own pid namespace
                        new dev.cryo.engine.files.UnixSocketHandler.PeerInside(pid, 7),
                        true, false)), // ECONNRESET unread (its peer closed with bytes it had not read)
                new FdImage(14, 02, 0, new dev.cryo.engine.files.UnixSocketHandler.UnixSocket(5003, 1, 10,
                        "/run/app.sock".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0, new byte[0], false, 0, 128,
                        new long[] {5004, 0}, 0, true, List.of(), dev.cryo.engine.files.SocketOptions.NONE, 1000, 1000, 0660,
                        "/run", "/run/app-live.sock", true, null, null, null, false, false,
                        // the second waiting connection's client sent a request and exited (a stand-in connects again)
                        List.of(new dev.cryo.engine.files.ClosedClients.Client(List.of(
                                new dev.cryo.engine.files.UnixSocketHandler.Message("GET /".getBytes(
                                        java.nio.charset.StandardCharsets.UTF_8), new byte[0], List.of(), PID + 901, 33,
                                        33, false)), new dev.cryo.kernel.net.Sockets.Ucred(PID + 901, 33, 33),
                                List.of(33, 4), null)))),
                new FdImage(15, 02, 0, new dev.cryo.engine.files.TcpSocketHandler.TcpSocket(5005, 2, 1,
                        new SockAddr(2, new byte[] {127, 0, 0, 1}, 40000), new SockAddr(2, new byte[] {127, 0, 0, 1}, 8080), 0,
                        socketOptions(), true, new TcpRepair.Connection(0x12345678, 0x9abcdef0, new byte[] {1, 2, 3}, 1,
                        new byte[] {4, 5}, 65483, 7, 7, true, true, 123456, new byte[20]), false, "cryo_42_abc")),
                new FdImage(16, 02, 0, new dev.cryo.engine.files.TcpSocketHandler.TcpSocket(5006, 10, 10,
                        new SockAddr(10, new byte[16], 8443), new SockAddr(10, new byte[16], 0), 511,
                        dev.cryo.engine.files.SocketOptions.NONE.atReuseportIndex(3), true, null, false, "")), // 4th of its group
                new FdImage(17, 04002, 0, new dev.cryo.engine.files.UdpSocketHandler.UdpSocket(5007, 2,
                        new SockAddr(2, new byte[] {127, 0, 0, 1}, 5353), new SockAddr(2, new byte[4], 0),
                        dev.cryo.engine.files.SocketOptions.NONE, true, 2, List.of(
                        new dev.cryo.engine.files.UdpSocketHandler.Datagram(new byte[] {'q', '1'},
                                new SockAddr(2, new byte[] {127, 0, 0, 2}, 40001), new SockAddr(2, new byte[] {127, 0, 0, 1}, 5353)),
                        new dev.cryo.engine.files.UdpSocketHandler.Datagram(new byte[0],
                                new SockAddr(2, new byte[] {10, 0, 0, 7}, 53), new SockAddr(2, new byte[] {127, 0, 0, 1}, 5353))),
                        "cryo_4242_udp", new dev.cryo.engine.files.UdpSocketHandler.Datagram(new byte[] {'c', 'k'},
                                new SockAddr(2, new byte[] {127, 0, 0, 1}, 5353), new SockAddr(2, new byte[] {127, 0, 0, 9}, 9)),
                        17, 111)), // an unread ECONNREFUSED, made again by an ICMP error
                new FdImage(18, 02000002, 0, new dev.cryo.engine.files.NetlinkSocketHandler.NetlinkSocket(5008, 3, 0,
                        PID, 1, 0, 0, dev.cryo.engine.files.SocketOptions.NONE, true)),
                new FdImage(25, 02, 0, new dev.cryo.engine.files.RawSocketHandler.RawSocket(5009, 2, 3, 1,
                        new SockAddr(2, new byte[4], 1), null, new dev.cryo.engine.files.SocketOptions(List.of(
                        new dev.cryo.engine.files.SocketOptions.Option(255, 1, new byte[] {(byte) 0xf6, (byte) 0xff, (byte) 0xff, (byte) 0xff}))),
                        true)),
                new FdImage(26, 02000002, 0, new dev.cryo.engine.files.RawSocketHandler.RawSocket(5010, 10, 2, 58,
                        new SockAddr(10, new byte[16], 58), new SockAddr(10, new byte[16], 0),
                        dev.cryo.engine.files.SocketOptions.NONE, true)),
                new FdImage(61, 02004002, 0, new dev.cryo.engine.files.VsockSocketHandler.VsockSocket(5012, 1,
                        SockAddr.vsock(SockAddr.VMADDR_CID_ANY, 5555), 64, 262144, 128, 262144,
                        dev.cryo.engine.files.SocketOptions.NONE, true)), // a listener on any cid
                new FdImage(27, 02004002, 0, new dev.cryo.engine.files.PacketSocketHandler.PacketSocket(5011, 3, 0x0003,
                        "eth0", 0, -1, List.of(new dev.cryo.engine.files.PacketSocketHandler.Membership("eth0", 1, 1, new byte[0]),
                        new dev.cryo.engine.files.PacketSocketHandler.Membership("eth0", 0, 2,
                                new byte[] {1, 0, 0x5e, 1, 2, 3})),
                        new dev.cryo.engine.files.SocketOptions(List.of(
                        new dev.cryo.engine.files.SocketOptions.Option(263, 8, new byte[] {1, 0, 0, 0}))),
                        new dev.cryo.engine.files.PacketRingState(4096, 2, 2048, 4, 100, 0, 0, 1,
                                List.of(new dev.cryo.engine.files.PacketRingState.Block(0, new byte[] {0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0})),
                                List.of(new dev.cryo.engine.files.PacketRingState.Mapping(0x7f0000000000L, 3, 2))), true,
                        new dev.cryo.engine.files.PacketRingState(4096, 4, 2048, 8, 0, 0, 0, 0, List.of(), List.of(), 0,
                                new byte[0]))),
                new FdImage(19, 02004000, 0, new dev.cryo.engine.files.InotifyHandler.Inotify(List.of(
                        new dev.cryo.engine.files.InotifyHandler.Inotify.Watch(1, 0x300, "/srv/in box", 0x20c0c6),
                        new dev.cryo.engine.files.InotifyHandler.Inotify.Watch(3, 0x84000002, "/srv/in box/f", 0x20c0cc),
                        new dev.cryo.engine.files.InotifyHandler.Inotify.Watch(4, 0x400, "/tmp/scratch.db", 91,
                                file("/tmp/scratch.db", 91)),
                        new dev.cryo.engine.files.InotifyHandler.Inotify.Watch(5, 0x2, "/srv/child/f", 92, null, 4243)))),
                new FdImage(20, 02004002, 0, new dev.cryo.engine.files.FanotifyHandler.Fanotify(3, 0x8000, List.of(
                        new dev.cryo.engine.files.FanotifyHandler.Fanotify.Mark(dev.cryo.engine.files.FanotifyHandler.INODE,
                                0x40, 0xa, 0x20, "/srv/watched", 0x20c1df),
                        new dev.cryo.engine.files.FanotifyHandler.Fanotify.Mark(dev.cryo.engine.files.FanotifyHandler.MOUNT,
                                0, 0x8, 0, "/srv/mnt", 64),
                        new dev.cryo.engine.files.FanotifyHandler.Fanotify.Mark(
                                dev.cryo.engine.files.FanotifyHandler.FILESYSTEM, 0, 0x2, 0, "/srv/fs", 0x2a)))),
                new FdImage(21, 0104002, 0, new dev.cryo.engine.files.PtyMasterHandler.PtyMaster(4,
                        termios(), new byte[] {24, 0, 80, 0, 0, 0, 0, 0}, true, false, true, false, true,
                        java.util.Arrays.copyOf(termios(), 36), 1000, 5, 0600,
                        new dev.cryo.engine.files.PtyQueues.Queued(List.of("one\n".getBytes(), new byte[0], "two".getBytes()),
                                "half a li".getBytes(), "out\r\n".getBytes()), true, 0x2a00000029L, 4200, "/dev/pts", 4242, "/dev/ptmx")),
                new FdImage(22, 02, 0, new dev.cryo.engine.files.PtySlaveHandler.PtySlave(4, "/dev/pts/4", false,
                        new byte[0], 0x2a00000029L)),
                new FdImage(23, 0100002, 0, new dev.cryo.engine.files.CurrentTtyHandler.CurrentTty(0x8804)),
                new FdImage(24, 0, 0, new PipeHandler.Pipe(778, true, "/run/gone.fifo", new byte[] {7, 7}, 65536,
                        new PipeHandler.Node(0640, 1000, 1001))),
                new FdImage(25, 02, 0, new dev.cryo.engine.files.PtySlaveHandler.PtySlave(0, "/dev/pts/0", true, termios())),
                new FdImage(28, 04002, 0, new dev.cryo.engine.files.PtySlaveHandler.PtySlave(9, "/dev/pts/9 (deleted)", false,
                        new byte[0], 0, true)),
                new FdImage(41, 02100000, 0, new dev.cryo.engine.files.NsFileHandler.NsFile("time", 4026531834L, true)),
                new FdImage(39, 0200000, 0, new RegularFileHandler.RegularFile(file("/srv/spool", 98)),
                        new dev.cryo.engine.files.FdOwner(Fcntl.F_OWNER_PID, PID, 36),
                        dev.cryo.kernel.DirNotifications.DN_CREATE | dev.cryo.kernel.DirNotifications.DN_MULTISHOT),
                new FdImage(42, 0, 0, new RegularFileHandler.RegularFile(file("/proc/4242/mountinfo", 4243), List.of(),
                        false, 4242, 0, new dev.cryo.engine.files.OutsideProcess(0, 995, 994), null, true)), // a change unseen
                // a POSIX message queue with its holder's notification by signal (SIGRTMIN+3) and value
                new FdImage(43, 02004000, 0, new dev.cryo.engine.files.MessageQueueHandler.MessageQueue("/app-q", 4242, null,
                        new dev.cryo.engine.files.MessageQueueHandler.Notification(0, 37, 0x7f1234abcd58L))));
        return new TaskImage(new TaskIds(pid, 1, pid, 17, 0x8804, pid, dev.cryo.kernel.Clone.FS), "sleeper", file("/usr/bin/sleeper", 77), "/home/u", "/",
                022, 0x0040000, creds, rlimits, sigactions, mm, List.of(thread(pid), thread(pid + 1)), vmas, fds,
                List.of(siginfo(17, 3)), security(),
                new TimersImage(List.of(new ItimerImage(ItimerImage.REAL, 0, 20_000, 0, 50_000),
                        new ItimerImage(ItimerImage.PROF, 1, 999_999, 2, 0)),
                        List.of(new PosixTimerImage(0, 1, PosixTimerImage.SIGEV_SIGNAL, 10, 0x1234abcdL, pid,
                                        0, 12_345_678, 0, 50_000_000, 3, 41),
                                new PosixTimerImage(1_000_000, -6, PosixTimerImage.SIGEV_THREAD_ID, 36, 7, pid + 1,
                                        5, 0, 0, 0, 0))), 300,
                List.of(new dev.cryo.engine.model.GhostFile(file("/tmp/scratch.db", 91), new byte[] {1, 2, -1}, 1000, 1001,
                        new long[] {0, 2, 4, 5}, "", 0, pid + 1), new dev.cryo.engine.model.GhostFile(file("/dev/shm/sem.Xa1b2c", 92),
                        new byte[0], 0, 0, new long[0], "/dev/shm/sem.mp-q1w2e3")), false,
                new dev.cryo.engine.cgroups.CgroupMembership(List.of(
                        new dev.cryo.engine.cgroups.CgroupMembership.Place("memory", "/system.slice/app.service",
                                java.util.Map.of("memory.limit_in_bytes", "67108864")),
                        new dev.cryo.engine.cgroups.CgroupMembership.Place("", "/app", java.util.Map.of("cgroup.type", "threaded"),
                                List.of(new dev.cryo.engine.cgroups.CgroupMembership.Access("", 1000, 1000, 0755),
                                        new dev.cryo.engine.cgroups.CgroupMembership.Access("cgroup.procs", 1000, 1000, 0644)))),
                        List.of(new dev.cryo.engine.cgroups.CgroupMembership.Place("", "/app/idle.slice",
                                java.util.Map.of("cgroup.max.descendants", "4"),
                                List.of(new dev.cryo.engine.cgroups.CgroupMembership.Access("", 1000, 1000, 0775)))),
                        List.of(new dev.cryo.engine.cgroups.CgroupMembership.ThreadPlace(pid + 1,
                                new dev.cryo.engine.cgroups.CgroupMembership.Place("", "/app/workers",
                                        java.util.Map.of("cgroup.type", "threaded"))))));
    }

    static dev.cryo.engine.files.SocketOptions socketOptions() {
        return new dev.cryo.engine.files.SocketOptions(List.of(
                new dev.cryo.engine.files.SocketOptions.Option(1, 7, new byte[] {0, 0, 2, 0}),
                new dev.cryo.engine.files.SocketOptions.Option(6, 1, new byte[] {1, 0, 0, 0})));
    }

    /** A filter table with a shared first filter and one more filter on each branch. */
    static SecurityImage security() {
        byte[] allow = {6, 0, 0, 0, 0, 0, (byte) 0xff, 0x7f}; // ret SECCOMP_RET_ALLOW
        byte[] eperm = {0x20, 0, 0, 0, 0, 0, 0, 0, 0x15, 0, 0, 1, 110, 0, 0, 0, 6, 0, 0, 0, 1, 0, 5, 0, 6, 0, 0, 0, 0, 0,
                (byte) 0xff, 0x7f}; // getppid -> EPERM
        // a systemd service's private session keyring with its invocation id
        return new SecurityImage(0, true, List.of(new SeccompFilter(-1, 0, allow),
                new SeccompFilter(0, Seccomp.FILTER_FLAG_LOG, eperm), new SeccompFilter(0, 0, eperm)), 1000,
                List.of(new dev.cryo.engine.keyrings.KeyringImage("session", 240226503, 0, 0, 0x3f030000, "_ses",
                        List.of(new dev.cryo.engine.keyrings.KeyringImage.Key(98238052, "user", 0, 0, 0x0b0b0000,
                                "invocation_id", new byte[] {0x5d, 0x1f, (byte) 0x8a, 0x2b})))));
    }

    /**
     * A zombie child of the sample task, killed by SIGTERM, in its own group, with a container's reduced
     * capabilities and its two seccomp filters, niced in SCHED_BATCH.
     */
    static ZombieImage zombie() {
        return new ZombieImage(new TaskIds(PID + 7, PID, PID + 7, 17), "worker zombie", 1000, 17, 15, 1L << 9, 0x1_8000_0006L,
                1L << 16, true, new Creds(List.of(1000, 1000, 1000, 1000), List.of(5, 5, 5, 5), List.of(5), 0, 0, 0,
                0x20000420L, 0), true, List.of(new Rlimit(7, 1024, 1024)), 2, 2, 19, 3, 0);
    }

    /** The pre-copy hint of a migration: two areas of the sample task. */
    static dev.cryo.engine.model.PreCopyLayout layout() {
        return new dev.cryo.engine.model.PreCopyLayout(PID, true, List.of(HEAP, HEAP + 0x21000, 0x7f00_1000_0000L,
                0x7f00_1400_0000L), false);
    }

    /** Deterministic page bytes for the golden image. */
    static ByteBuffer pages(long vaddr, int count) {
        ByteBuffer b = ByteBuffer.allocateDirect(count * 4096);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) ((i / 32) * 13 + (vaddr >>> 12)));
        return b;
    }

    /** The content of the model golden image. */
    static void writeModelImage(ImageWriter w) throws IOException {
        w.writeRecord(dumpInfo());
        w.writeRecord(task(PID));
        w.writePages(PID, HEAP, 2, pages(HEAP, 2));
        w.writePages(PID, STACK + 0xb000, 1, pages(STACK + 0xb000, 1));
        w.writeRecord(zombie());
        w.writeRecord(layout());
        w.writeRecord(namespaces());
        w.writeRecord(netNamespace());
    }

    /** That container's net namespace: two sockets in it, an address and a route on lo, its port range, its firewall. */
    static dev.cryo.engine.namespaces.NetNamespaceImage netNamespace() {
        java.util.Map<String, String> sysctls = new java.util.LinkedHashMap<>();
        sysctls.put("net/ipv4/ip_local_port_range", "20000\t20999");
        sysctls.put("net/ipv4/ip_forward", "0");
        java.util.Map<String, String> firewall = new java.util.LinkedHashMap<>();
        firewall.put("iptables", "*filter\n:INPUT ACCEPT [3:180]\n[1:60] -A INPUT -p tcp --dport 22 -j DROP\nCOMMIT\n");
        firewall.put("nft", "table inet fw {\n\tset seen {\n\t\ttype ipv4_addr\n\t\ttimeout 10m\n"
                + "\t\telements = { 10.77.0.9 expires 9m58s12ms }\n\t}\n}\n");
        return new dev.cryo.engine.namespaces.NetNamespaceImage(PID, java.util.List.of(81234L, 81235L),
                java.util.List.of("veth name=cryo-vc mac=02:00:00:00:00:02 mtu=1500 up=1 outer=cryo-vh"
                        + " outermac=02:00:00:00:00:01 outermtu=1500 outerup=1 outeraddr=10.79.0.1/24+scope+global"),
                java.util.List.of("10.77.0.1/24 scope global", "10.79.0.2/24 scope global dev cryo-vc"), java.util.List.of("-4 10.78.0.0/24 dev lo scope link"),
                sysctls, firewall).withConntrack(new dev.cryo.engine.namespaces.NetConntrack.Table(java.util.List.of(
                new dev.cryo.kernel.net.ConntrackEntry( // DNATed :81 to :8080
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 20001, 3, 81}, -1),
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 8080, 3, 20001}, -1),
                0, 0x2e, 431990, 0, new byte[0], new byte[] {20, 0, 1, (byte) 0x80, 5, 0, 1, 0, 3, 0, 0, 0, 6, 0, 4, 0, 0x23,
                (byte) 0xff, 0, 0}, new int[0], "ftp"), new dev.cryo.kernel.net.ConntrackEntry( // the data connection
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 20002, 3, 30001}, -1),
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 30001, 3, 20002}, -1),
                0, 0xf, 431990, 0, new byte[0], new byte[0], new int[0], "",
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 20001, 3, 81}, -1))), java.util.List.of(new dev.cryo.kernel.net.ConntrackExpectation(
                // the FTP helper's, for the passive data connection to :30000 (NAT kept for it, as nf_nat_ftp keeps it)
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 0, 3, 30000}, -1),
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {-1, -1, -1, -1}, new byte[] {-1, -1, -1, -1}, 6,
                        new int[] {2, 0, 3, 0xffff}, -1),
                new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1}, new byte[] {10, 77, 0, 1}, 6,
                        new int[] {2, 20001, 3, 81}, -1),
                298, 0, 0, 0, "ftp", 1, new dev.cryo.kernel.net.ConntrackEntry.Tuple(new byte[] {10, 77, 0, 1},
                        new byte[] {0, 0, 0, 0}, 6, new int[] {2, 30000, 3, 0}, -1), "nat-follow-master"))));
    }

    /** The pid, uts, ipc and net namespaces a container's init (the zombie's parent here) made; {@code entered} filled only to cover its codec. */
    static dev.cryo.engine.namespaces.NamespaceImage namespaces() {
        java.util.Map<Integer, Integer> tids = new java.util.LinkedHashMap<>();
        tids.put(PID, 1);
        tids.put(PID + 1, 2);
        tids.put(PID + 7, 3);
        return new dev.cryo.engine.namespaces.NamespaceImage(PID, dev.cryo.kernel.Clone.NEWPID | dev.cryo.kernel.Clone.NEWUTS
                | dev.cryo.kernel.Clone.NEWIPC | dev.cryo.kernel.Clone.NEWNET | dev.cryo.kernel.Clone.NEWNS, "cryo-box",
                "(none)", tids, true, java.util.List.of("127.0.0.1/8", "::1/128"), mounts(), ipc(),
                new dev.cryo.engine.namespaces.TimeNsImage(new dev.cryo.engine.namespaces.TimeNsImage.Offsets(86400, 0, -5, 999_999_999),
                        new dev.cryo.engine.namespaces.TimeNsImage.Offsets(0, 12, 3600, 0), 123_456_789_012L, 123_999_000_111L),
                PID + 9).entering(java.util.Map.of(dev.cryo.kernel.Clone.NEWNS, PID - 3));
    }

    /**
     * An ipc namespace's objects: a segment with one page of data, one of 2 MiB huge pages marked for
     * removal (a JVM's heap), a semaphore set, a queue of two messages, a POSIX message queue of two.
     */
    static dev.cryo.engine.namespaces.IpcImage ipc() {
        byte[] page = new byte[4096];
        page[17] = 42;
        var owner = new dev.cryo.engine.namespaces.IpcImage.Owner(0, 0x1234, 0640, 1000, 1000);
        return new dev.cryo.engine.namespaces.IpcImage(
                java.util.List.of(new dev.cryo.engine.namespaces.IpcImage.Segment(owner, 3 * 4096, java.util.Map.of(2, page), 0, false),
                        new dev.cryo.engine.namespaces.IpcImage.Segment(new dev.cryo.engine.namespaces.IpcImage.Owner(
                                1, 0, 0600, 0, 0), 4L << 20, java.util.Map.of(512, page), 2048, true)),
                java.util.List.of(new dev.cryo.engine.namespaces.IpcImage.SemSet(
                        new dev.cryo.engine.namespaces.IpcImage.Owner(1, 0x2222, 0600, 0, 0), new int[] {1, 5, 0})),
                java.util.List.of(new dev.cryo.engine.namespaces.IpcImage.Queue(
                        new dev.cryo.engine.namespaces.IpcImage.Owner(2, 0, 0620, 0, 0), 32768, java.util.List.of(
                                new dev.cryo.engine.namespaces.IpcImage.Message(1, "alpha".getBytes()),
                                new dev.cryo.engine.namespaces.IpcImage.Message(7, new byte[0])))),
                sysctls(), java.util.List.of(new dev.cryo.engine.namespaces.IpcImage.PosixQueue("/app-q",
                        new dev.cryo.engine.files.MessageQueueHandler.Removed(0640, 1000, 1000, 4, 64, java.util.List.of(5, 1),
                                java.util.List.of("hi".getBytes(), new byte[0])))));
    }

    /** In a fixed order (Map.of's changes from one JVM to the next, and the bytes with it). */
    private static java.util.Map<String, String> sysctls() {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("msgmnb", "32768");
        m.put("sem", "32000\t1024000000\t500\t32000");
        return m;
    }

    /** A mount namespace: a copy of the host's root, its fresh /proc, a tmpfs with files, a read-only bind, a bind of a host path. */
    static java.util.List<dev.cryo.engine.namespaces.MountImage> mounts() {
        var none = java.util.List.<dev.cryo.engine.namespaces.MountImage.Entry>of();
        var files = java.util.List.of(
                new dev.cryo.engine.namespaces.MountImage.Entry("", 'd', 01777, 0, 0, 1_700_000_000_000_000_000L, 1, new byte[0]),
                new dev.cryo.engine.namespaces.MountImage.Entry("a", 'f', 0644, 1000, 1000, 1_700_000_000_123_456_789L, 3,
                        "hello\n".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        java.util.Map.of("user.cryo", "v".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
                new dev.cryo.engine.namespaces.MountImage.Entry("b", 'h', 0644, 1000, 1000, 0, 3, "a".getBytes()),
                new dev.cryo.engine.namespaces.MountImage.Entry("l", 'l', 0777, 0, 0, 0, 4, "/etc".getBytes()));
        return java.util.List.of(
                new dev.cryo.engine.namespaces.MountImage("/", "ext4", "/dev/vda", "/", "rw,relatime", "rw,discard",
                        java.util.List.of("shared:1"), false, null, none),
                new dev.cryo.engine.namespaces.MountImage("/proc", "proc", "proc", "/", "rw,nosuid,nodev,noexec,relatime",
                        "rw", java.util.List.of(), true, null, none),
                new dev.cryo.engine.namespaces.MountImage("/tmp", "tmpfs", "tmpfs", "/", "rw,relatime", "rw,size=1024k",
                        java.util.List.of(), true, null, files),
                new dev.cryo.engine.namespaces.MountImage("/tmp/etc", "ext4", "/dev/vda", "/etc", "ro,relatime",
                        "rw,discard", java.util.List.of("master:1"), true, "/etc", none),
                new dev.cryo.engine.namespaces.MountImage("/tmp/keys", "devtmpfs", "devtmpfs", "/null", "ro,relatime",
                        "rw,mode=755", java.util.List.of(), true, "/dev/null", none, true).named("KEYS")); // dump --external mnt[/tmp/keys]:KEYS
    }
}
