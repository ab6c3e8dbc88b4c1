package dev.cryo.kernel.features;

import dev.cryo.kernel.Fcntl;
import com.sun.jna.Memory;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.LibC;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.WaitStatus;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Probes every kernel feature cryo relies on by using it for real on a throw-away stub process
 * (a spawned {@code sleep}): seize it, inject syscalls, copy its memory, fork it with an exact pid.
 * Everything runs on the calling thread, which is the stub's tracer.
 */
final class KernelProbe {
    private static final long PAGE = 4096;
    private final List<Feature> out = new ArrayList<>();

    KernelFeatures run() {
        capabilities();
        try (Stub stub = Stub.start()) {
            probeStub(stub);
        } catch (RuntimeException e) {
            for (String name : List.of(Names.PTRACE_SEIZE, Names.INJECTION, Names.VM_READV, Names.VM_WRITEV,
                    Names.XSTATE, Names.RSEQ, Names.CLONE3_SET_TID)) {
                if (out.stream().noneMatch(f -> f.name().equals(name))) {
                    out.add(Feature.error(name, true, e));
                }
            }
        }
        nsLastPid();
        vdsoLayout();
        prSetMmMap();
        userfaultfd();
        pagemapScan();
        softDirty();
        syscallExitCounters();
        bpfIterators();
        networkLock();
        List<String> order = Names.ORDER;
        out.sort((a, b) -> Integer.compare(order.indexOf(a.name()), order.indexOf(b.name())));
        return new KernelFeatures(out);
    }

    /** The names `cryo check` prints, in its order. */
    static final class Names {
        static final String CAPS = "capabilities", PTRACE_SEIZE = "ptrace-seize", INJECTION = "syscall-injection",
                VM_READV = "process_vm_readv", VM_WRITEV = "process_vm_writev", XSTATE = "xstate",
                RSEQ = "ptrace-rseq-config", CLONE3_SET_TID = "clone3-set-tid", NS_LAST_PID = "ns_last_pid",
                VDSO = "vdso-layout", MM_MAP = "pr-set-mm-map", UFFD = "userfaultfd", UFFD_WP_ASYNC = "uffd-wp-async",
                PAGEMAP_SCAN = "pagemap-scan", SOFT_DIRTY = "soft-dirty", SECCOMP_SUSPEND = "seccomp-suspend",
                SYSCALL_COUNTERS = "syscall-counters", BPF_ITERATORS = "bpf-task-iterators", NETWORK_LOCK = "network-lock";
        static final List<String> ORDER = List.of(CAPS, PTRACE_SEIZE, INJECTION, VM_READV, VM_WRITEV, XSTATE, RSEQ,
                CLONE3_SET_TID, SECCOMP_SUSPEND, NS_LAST_PID, VDSO, MM_MAP, UFFD, UFFD_WP_ASYNC, PAGEMAP_SCAN, SOFT_DIRTY,
                SYSCALL_COUNTERS, BPF_ITERATORS, NETWORK_LOCK);
    }

    private void add(String name, boolean required, Probe probe) {
        try {
            out.add(probe.run());
        } catch (RuntimeException | IOException e) {
            out.add(Feature.error(name, required, e));
        }
    }

    private interface Probe {
        Feature run() throws IOException;
    }

    private void capabilities() {
        add(Names.CAPS, true, () -> {
            long eff = ProcFs.status(Pid.of((int) ProcessHandle.current().pid())).capEff();
            boolean ptrace = bit(eff, 19), ckpt = bit(eff, 40), admin = bit(eff, 21), resource = bit(eff, 24);
            String detail = "CAP_SYS_PTRACE " + yes(ptrace) + ", CAP_CHECKPOINT_RESTORE " + yes(ckpt)
                    + ", CAP_SYS_ADMIN " + yes(admin) + ", CAP_SYS_RESOURCE " + yes(resource) + " (not needed)";
            return ptrace && (ckpt || admin)
                    ? Feature.supported(Names.CAPS, true, detail)
                    : Feature.missing(Names.CAPS, true, detail + ": run as root or grant CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE");
        });
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }

    private static boolean bit(long v, int bit) {
        return (v >>> bit & 1) == 1;
    }

    private void probeStub(Stub stub) {
        Tracer tracer = stub.tracer;
        int pid = stub.pid.value();
        add(Names.PTRACE_SEIZE, true, () -> {
            tracer.seizeAndInterrupt(pid, Ptrace.O_TRACEFORK | Ptrace.O_EXITKILL);
            WaitStatus st = tracer.waitForStop(pid);
            return Feature.supported(Names.PTRACE_SEIZE, true, "seized and interrupted a test process (" + st + ")");
        });
        if (!out.get(out.size() - 1).ok()) {
            throw new KernelException("needs ptrace-seize, which failed");
        }
        add(Names.SECCOMP_SUSPEND, false, () -> {
            int options = Ptrace.O_TRACESYSGOOD | Ptrace.O_TRACEFORK | Ptrace.O_EXITKILL; // as seized
            long r = Ptrace.tryRequest(Ptrace.SETOPTIONS, pid, 0, options | Ptrace.O_SUSPEND_SECCOMP);
            tracer.setOptions(pid, options);
            return r == 0
                    ? Feature.supported(Names.SECCOMP_SUSPEND, false, "PTRACE_O_SUSPEND_SECCOMP accepted: tasks under "
                            + "seccomp can be dumped and restored")
                    : Feature.missing(Names.SECCOMP_SUSPEND, false, "PTRACE_O_SUSPEND_SECCOMP refused ("
                            + Errno.describe((int) -r) + "): tasks under seccomp cannot be dumped (needs CAP_SYS_ADMIN)");
        });
        long[] vdso = stub.vdso();
        long gadget = SyscallGadget.find(stub.pid, vdso[0], vdso[1]);
        add(Names.VM_READV, true, () -> Feature.supported(Names.VM_READV, true,
                "read the test process's vDSO and found a syscall instruction at +0x" + Long.toHexString(gadget - vdso[0])));
        try (Injector inj = new Injector(tracer, stub.pid, pid, gadget)) {
            add(Names.INJECTION, true, () -> {
                long got = inj.call("getpid", SyscallNr.GETPID);
                if (got != pid) {
                    return Feature.missing(Names.INJECTION, true, "injected getpid returned " + got + ", expected " + pid);
                }
                return Feature.supported(Names.INJECTION, true, "getpid injected through the vDSO");
            });
            long scratch = inj.call("mmap", SyscallNr.MMAP, 0, PAGE, 3, 0x22, -1, 0);
            add(Names.VM_WRITEV, true, () -> {
                byte[] data = "cryo probe".getBytes();
                Sys.write(stub.pid, scratch, data);
                return Arrays.equals(Sys.read(stub.pid, scratch, data.length), data)
                        ? Feature.supported(Names.VM_WRITEV, true, "wrote and read back a page of the test process")
                        : Feature.missing(Names.VM_WRITEV, true, "bytes read back differ from those written");
            });
            add(Names.XSTATE, true, () -> Feature.supported(Names.XSTATE, true,
                    "NT_X86_XSTATE is " + tracer.getXstate(pid).length + " bytes"));
            add(Names.RSEQ, true, () -> {
                RseqConfig rseq = tracer.getRseq(pid);
                return Feature.supported(Names.RSEQ, true, rseq.registered()
                        ? "rseq area of " + rseq.size() + " bytes, signature 0x" + Integer.toHexString(rseq.signature())
                        : "works (the test process registered no rseq)");
            });
            add(Names.CLONE3_SET_TID, true, () -> clone3SetTid(tracer, inj, stub.pid, scratch));
        }
    }

    /** Forks the stub by an injected clone3 asking for a chosen free pid, checks it got it, kills the child. */
    private Feature clone3SetTid(Tracer tracer, Injector inj, Pid stub, long scratch) throws IOException {
        int pidMax = ProcFs.pidMax();
        int want = 0;
        for (int i = 0; i < 100 && want == 0; i++) {
            int candidate = ThreadLocalRandom.current().nextInt(Math.max(1000, pidMax / 2), pidMax);
            if (!Files.exists(Path.of("/proc/" + candidate))) {
                want = candidate;
            }
        }
        Memory args = new Memory(88 + 8);
        args.clear();
        args.setLong(32, Signals.SIGCHLD);          // exit_signal
        args.setLong(64, scratch + 88);             // set_tid
        args.setLong(72, 1);                        // set_tid_size
        args.setInt(88, want);
        Sys.write(stub, scratch, args.getByteArray(0, 96));
        long child = inj.raw(SyscallNr.CLONE3, scratch, 88);
        List<Integer> children = tracer.takeNewTracees();
        for (int c : children) {
            tracer.waitForStop(c);
            Sys.kill(Pid.of(c), Signals.SIGKILL);
            tracer.forget(c);
            Sys.wait4(c, 0);
        }
        if (Injector.isError(child)) {
            return Feature.missing(Names.CLONE3_SET_TID, true, "clone3 with set_tid failed: " + Injector.errorText(child));
        }
        return child == want
                ? Feature.supported(Names.CLONE3_SET_TID, true, "forked a test process as pid " + want)
                : Feature.missing(Names.CLONE3_SET_TID, true, "asked for pid " + want + ", got " + child);
    }

    private void nsLastPid() {
        add(Names.NS_LAST_PID, false, () -> {
            Path p = Path.of("/proc/sys/kernel/ns_last_pid");
            return Files.isWritable(p) ? Feature.supported(Names.NS_LAST_PID, false, "writable")
                    : Feature.missing(Names.NS_LAST_PID, false, p + " is not writable (clone3 set_tid is used instead)");
        });
    }

    private void vdsoLayout() {
        add(Names.VDSO, true, () -> {
            List<String> parts = new ArrayList<>();
            for (MapsEntry m : ProcFs.maps(Pid.of((int) ProcessHandle.current().pid()))) {
                if (m.isVvar() || m.isVdso()) {
                    parts.add(m.path() + " " + m.pages() + (m.pages() == 1 ? " page" : " pages"));
                }
            }
            return parts.stream().anyMatch(s -> s.startsWith("[vdso]"))
                    ? Feature.supported(Names.VDSO, true, String.join(", ", parts))
                    : Feature.missing(Names.VDSO, true, "no [vdso] mapping in /proc/self/maps");
        });
    }

    private void prSetMmMap() {
        add(Names.MM_MAP, true, () -> {
            Memory size = new Memory(4);
            long r = LibC.syscall(SyscallNr.PRCTL, 35 /* PR_SET_MM */, 15 /* PR_SET_MM_MAP_SIZE */, Sys.address(size), 0, 0, 0);
            if (r != 0) {
                return Feature.missing(Names.MM_MAP, true, "prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE): "
                        + Errno.describe(com.sun.jna.Native.getLastError()));
            }
            return Feature.supported(Names.MM_MAP, true, "struct prctl_mm_map is " + size.getInt(0) + " bytes");
        });
    }

    private static final long UFFDIO_API = 0xC018AA3FL;
    private static final long UFFD_FEATURE_WP_ASYNC = 1L << 15;

    private void userfaultfd() {
        long[] features = {-1};
        add(Names.UFFD, false, () -> {
            long fd = LibC.syscall(SyscallNr.USERFAULTFD, 02000000 | 04000 /* O_CLOEXEC|O_NONBLOCK */, 0, 0, 0, 0, 0);
            if (fd < 0) {
                return Feature.missing(Names.UFFD, false, "userfaultfd(): " + Errno.describe(com.sun.jna.Native.getLastError()));
            }
            try {
                Memory api = new Memory(24);
                api.clear();
                api.setLong(0, 0xAA); // UFFD_API
                long r = LibC.syscall(SyscallNr.IOCTL, fd, UFFDIO_API, Sys.address(api), 0, 0, 0);
                if (r != 0) {
                    return Feature.missing(Names.UFFD, false, "ioctl(UFFDIO_API): " + Errno.describe(com.sun.jna.Native.getLastError()));
                }
                features[0] = api.getLong(8);
                return Feature.supported(Names.UFFD, false, "features 0x" + Long.toHexString(features[0]));
            } finally {
                LibC.syscall(SyscallNr.CLOSE, fd, 0, 0, 0, 0, 0);
            }
        });
        add(Names.UFFD_WP_ASYNC, false, () -> features[0] < 0
                ? Feature.missing(Names.UFFD_WP_ASYNC, false, "needs userfaultfd")
                : (features[0] & UFFD_FEATURE_WP_ASYNC) != 0
                    ? Feature.supported(Names.UFFD_WP_ASYNC, false, "UFFD_FEATURE_WP_ASYNC offered")
                    : Feature.missing(Names.UFFD_WP_ASYNC, false, "UFFD_FEATURE_WP_ASYNC not offered"));
    }

    private static final long PAGEMAP_SCAN = 0xC0606610L;

    private void pagemapScan() {
        add(Names.PAGEMAP_SCAN, false, () -> {
            Memory page = new Memory(PAGE * 2);
            long start = (Sys.address(page) + PAGE - 1) & ~(PAGE - 1);
            Memory arg = new Memory(96);
            Memory vec = new Memory(24);
            arg.clear();
            arg.setLong(0, 96);          // size
            arg.setLong(16, start);      // start
            arg.setLong(24, start + PAGE); // end
            arg.setLong(40, Sys.address(vec));
            arg.setLong(48, 1);          // vec_len
            arg.setLong(88, 1L << 1);    // return_mask: PAGE_IS_PRESENT
            try (Fd fd = Sys.open("/proc/self/pagemap", Fcntl.O_RDONLY)) {
                long r = LibC.syscall(SyscallNr.IOCTL, fd.value(), PAGEMAP_SCAN, Sys.address(arg), 0, 0, 0);
                if (r < 0) {
                    return Feature.missing(Names.PAGEMAP_SCAN, false, "ioctl(PAGEMAP_SCAN): "
                            + Errno.describe(com.sun.jna.Native.getLastError()));
                }
                return Feature.supported(Names.PAGEMAP_SCAN, false, "ioctl on /proc/PID/pagemap works");
            }
        });
    }

    private void softDirty() {
        add(Names.SOFT_DIRTY, false, () -> {
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                if (line.startsWith("VmFlags:") && Arrays.asList(line.substring(8).trim().split(" ")).contains("sd")) {
                    return Feature.supported(Names.SOFT_DIRTY, false, "VMAs carry the soft-dirty flag");
                }
            }
            return Feature.missing(Names.SOFT_DIRTY, false,
                    "no VMA shows the 'sd' flag: CONFIG_MEM_SOFT_DIRTY is off (incremental dumps need another way)");
        });
    }

    /** Without them a pre-copy's freeze reads smaps once more (VmFlagsWatch). */
    private void syscallExitCounters() {
        add(Names.SYSCALL_COUNTERS, false, () -> {
            int self = (int) LibC.syscall(SyscallNr.GETTID, 0, 0, 0, 0, 0, 0);
            try (dev.cryo.kernel.SyscallCounter c = dev.cryo.kernel.SyscallCounter.exits(self, new int[] {SyscallNr.GETPID})) {
                LibC.syscall(SyscallNr.GETPID, 0, 0, 0, 0, 0, 0);
                long n = c.count();
                return n >= 1 ? Feature.supported(Names.SYSCALL_COUNTERS, false,
                        "perf counts a thread's exits from chosen syscalls (raw_syscalls:sys_exit)")
                        : Feature.missing(Names.SYSCALL_COUNTERS, false, "a counted getpid read " + n);
            } catch (RuntimeException e) {
                return Feature.missing(Names.SYSCALL_COUNTERS, false, e.getMessage()
                        + ": a pre-copy's freeze reads smaps once more");
            }
        });
    }

    /** What holds dumped TCP connections' peers, and new connections to the tree's listeners, while no socket answers. */
    private void networkLock() {
        add(Names.NETWORK_LOCK, false, () -> {
            String why = dev.cryo.kernel.net.NfTables.unavailable();
            return why == null
                    ? Feature.supported(Names.NETWORK_LOCK, false, "nf_tables answers over netlink: --tcp-established "
                            + "connections are locked, a dump holds new connections to the tree's listeners back")
                    : Feature.missing(Names.NETWORK_LOCK, false, why + ": --tcp-established cannot lock connections,"
                            + " and a dump holds no listener back");
        });
    }

    /** What cryo reads with its BPF iterators: nothing else shows it. */
    private void bpfIterators() {
        add(Names.BPF_ITERATORS, false, () -> {
            int self = (int) LibC.syscall(SyscallNr.GETTID, 0, 0, 0, 0, 0, 0);
            try {
                dev.cryo.kernel.SemUndoList.of(self); // this JVM's own list: it has threads
                return Feature.supported(Names.BPF_ITERATORS, false, "loaded and ran one (BTF, bpf()): a threaded "
                        + "process's SEM_UNDO list and dnotify watches are read");
            } catch (RuntimeException e) {
                return Feature.missing(Names.BPF_ITERATORS, false, e.getMessage() + ": a threaded process is refused "
                        + "where its ipc namespace has semaphore sets, and a directory fd with a signal owner is refused");
            }
        });
    }

    /** A spawned sleep, traced by the probing thread, killed and reaped at the end. */
    private static final class Stub implements AutoCloseable {
        final Pid pid;
        final Tracer tracer = new Tracer();

        private Stub(Pid pid) {
            this.pid = pid;
        }

        static Stub start() {
            Pid pid = Spawner.spawn("/bin/sleep", List.of("sleep", "600"), List.of(), false);
            Stub stub = new Stub(pid);
            // past exec and glibc start-up, so rseq is registered; on a slow start probe anyway
            Spawner.awaitSleeping(pid, "sleep", 2000);
            return stub;
        }

        long[] vdso() {
            MapsEntry vdso = ProcFs.maps(pid).stream().filter(MapsEntry::isVdso).findFirst()
                    .orElseThrow(() -> new KernelException("test process " + pid + " has no [vdso]"));
            return new long[]{vdso.start(), vdso.end()};
        }

        @Override
        public void close() {
            try {
                Sys.kill(pid, Signals.SIGKILL);
            } catch (RuntimeException ignored) {
                // already gone
            }
            tracer.forget(pid.value());
            Spawner.reap(pid);
        }
    }
}
