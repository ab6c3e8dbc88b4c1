package dev.cryo.it;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.engine.model.VmaImage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The state a task's own syscalls alone show, for the {@link StateComparator}: each caught or
 * ignored signal's handler, flags, restorer and mask, each thread's alternate signal stack, the prctl switches
 * {@code /proc} does not show (child subreaper, parent-death signal, dumpable, keep-capabilities,
 * securebits, THP off, memory-deny-write-execute, TSC and cpuid faulting, I/O flusher, machine-check
 * kill policy), the rseq registration, the seccomp filters' programs and flags, syscall user dispatch,
 * the thread pointer (fs/gs base) and each thread's keyrings (thread, process, session: their keys and payloads). Read from this JVM thread by seizing each thread for a moment
 * (PTRACE_SEIZE + INTERRUPT, seccomp suspended), running the getters in it and letting it go: an
 * interrupted syscall restarts as after any stop, the answers go to a page the probe maps in the
 * process for the moment and unmaps, signals arriving meanwhile are queued again, and a wait the stop failed
 * with EINTR (epoll_wait, semop, sigtimedwait: signal(7)) is run again. So it runs on a tree that
 * runs (before the dump, after the restore), never while cryo traces it; threads stopped, in
 * uninterruptible sleep or traced by someone else are left out, the same way both times.
 */
final class TaskProbe {
    private TaskProbe() {}

    private static final long STOP_WAIT_NANOS = 5_000_000_000L;
    /** The probe's page in the process: getters' answers at its start, keyrings' in its second half. */
    private static final int AREA = 4096;
    private static final int SIGNALS = 64, SIGACTION_SIZE = 32, STACK_T_SIZE = 24;
    /** The mark of a scope whose getters ran (not skipped for rseq or syscall user dispatch). */
    private static final String INJECTED = "probe getters ran";

    /** Waits a mere stop fails with EINTR (signal(7)), without a signal handler running. */
    private static final java.util.Set<Integer> EINTR_WHEN_STOPPED = java.util.Set.of(SyscallNr.SEMOP,
            SyscallNr.SEMTIMEDOP, SyscallNr.EPOLL_WAIT, SyscallNr.EPOLL_PWAIT, SyscallNr.EPOLL_PWAIT2,
            SyscallNr.RT_SIGTIMEDWAIT);

    /**
     * Threads probed at once. A reading is ptrace round trips, each waiting for its tracee to be
     * scheduled (~12 per thread, one per caught signal): under load, the wait is the cost, and the
     * waits of different tracees overlap (a JVM's 40 threads one after the other took 2.3-2.6 s at
     * load 23-31).
     */
    private static final int PARALLEL = 8;

    private static final java.util.concurrent.ExecutorService POOL = java.util.concurrent.Executors.newFixedThreadPool(
            PARALLEL, r -> {
                Thread t = new Thread(r, "task-probe");
                t.setDaemon(true);
                return t;
            });

    /**
     * Items per scope ("pid P", "pid P tid T") of the tree rooted at {@code root}, to merge into a snapshot.
     * Each process's threads are tried in order until one has read the process's items, then the
     * others are read in parallel; each thread from the pool thread that seized it (its tracer).
     */
    static Map<String, Map<String, String>> read(int root) throws Exception {
        // -Dit.probe=false: to measure what the probe costs the suite only, CI keeps it on (not cryo.*:
        // cryo takes every such property for one of its settings)
        if ("false".equals(System.getProperty("it.probe"))) {
            return Map.of();
        }
        List<Integer> pids = StateComparator.tree(root);
        Map<Integer, java.util.concurrent.Future<List<java.util.concurrent.Future<Probed>>>> perProcess = new LinkedHashMap<>();
        for (int pid : pids) {
            perProcess.put(pid, POOL.submit(() -> readProcess(pid)));
        }
        Map<String, Map<String, String>> out = new LinkedHashMap<>();
        for (var process : perProcess.values()) {
            for (var thread : done(process)) {
                Probed r = done(thread);
                out.put("pid " + r.pid() + " tid " + r.tid(), r.thread());
                if (r.process() != null) {
                    out.put("pid " + r.pid(), r.process());
                }
            }
        }
        labelKeyrings(out);
        return out;
    }

    private static <T> T done(java.util.concurrent.Future<T> f) throws Exception {
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
    }

    /** One thread's reading; {@code process} not null for the thread that tried the process's items. */
    private record Probed(int pid, int tid, Map<String, String> thread, Map<String, String> process) {}

    /** Reads {@code pid}'s items through its first thread that lets it, then hands its other threads to the pool. */
    private static List<java.util.concurrent.Future<Probed>> readProcess(int pid) {
        List<java.util.concurrent.Future<Probed>> out = new java.util.ArrayList<>();
        Map<String, String> process = new TreeMap<>();
        boolean processDone = false;
        long[] gadget = {0}; // found by the first thread once it is stopped, checked again by the others
        try (Tracer tracer = new Tracer()) { // this pool thread is the tracer of the seizes below
            for (int tid : threads(pid)) {
                if (!probeable(pid, tid)) {
                    continue;
                }
                if (processDone) {
                    long g = gadget[0];
                    out.add(POOL.submit(() -> {
                        Map<String, String> thread = new TreeMap<>();
                        try (Tracer own = new Tracer()) {
                            probe(own, pid, tid, new long[] {g}, thread, null);
                        }
                        return new Probed(pid, tid, thread, null);
                    }));
                    continue;
                }
                Map<String, String> thread = new TreeMap<>();
                processDone = probe(tracer, pid, tid, gadget, thread, process);
                out.add(java.util.concurrent.CompletableFuture.completedFuture(new Probed(pid, tid, thread, process)));
            }
        }
        return out;
    }

    /** One thread's and its process's items, injecting at {@code gadget} if it is still one (a test's). */
    static Map<String, String> readThread(int pid, int tid, long gadget) {
        Map<String, String> items = new TreeMap<>();
        try (Tracer tracer = new Tracer()) {
            probe(tracer, pid, tid, new long[] {gadget}, items, items);
        }
        return items;
    }

    /**
     * The syscall instruction to inject at, looked at while the thread is stopped: one found
     * before may be gone, the process having exec'd since (a shell's child becoming its command;
     * injecting at the old [vdso] address got SIGSEGV). 0 if the process has none left.
     */
    private static long gadgetWhileStopped(int pid, long known) {
        Pid p = Pid.of(pid);
        if (known != 0) {
            try {
                byte[] code = Sys.read(p, known, 2);
                if (code[0] == 0x0f && code[1] == 0x05) {
                    return known;
                }
            } catch (RuntimeException unmapped) {
                // exec'd: find it again
            }
        }
        try {
            return SyscallGadget.inVdso(p);
        } catch (RuntimeException gone) {
            return 0;
        }
    }

    /**
     * {@code s} with the items {@code probed} read that the {@code other} reading has too (a thread
     * asleep in a stop or in uninterruptible sleep once, stopped inside an rseq critical section, or
     * born or gone since, is compared without them).
     */
    static StateComparator.Snapshot with(StateComparator.Snapshot s, Map<String, Map<String, String>> probed,
                                         Map<String, Map<String, String>> other) {
        return with(s, probed, other, java.util.Set.of());
    }

    /**
     * As above for a snapshot {@code s} taken at the freeze (the dump's, the restore's) and a
     * reading {@code probed} taken while the tree ran just before or after it, against the other
     * side's: a process whose caught or ignored signals or mapped libraries one reading saw are not
     * those its snapshot saw was still setting itself up between the reading and the freeze (a new
     * worker installing its handlers, a master reloading, a program just exec'd whose loader had not
     * run): its probe is stale, and is left out on both sides (its status SigCgt/SigIgn and its
     * mappings are still compared), said on the output.
     */
    static StateComparator.Snapshot with(StateComparator.Snapshot s, Map<String, Map<String, String>> probed,
                                         StateComparator.Snapshot otherSnapshot, Map<String, Map<String, String>> other) {
        java.util.Set<String> stale = new java.util.TreeSet<>(stale(s, probed));
        stale.addAll(stale(otherSnapshot, other));
        for (String pid : stale) {
            System.out.println("comparator: the probe of pid " + pid + " is left out: its caught or ignored signals"
                    + " or its libraries changed between the probe and the freeze (it was setting itself up)");
        }
        return with(s, probed, other, stale);
    }

    /**
     * A handler the program swapped for another between the probe before the dump and the freeze
     * (vsftpd swaps its SIGALRM handler during a session): the image, read at the freeze, holds the
     * handler the restored process has. Only a caught signal both readings saw, whose restored
     * action is exactly the image's; anything else stays a difference.
     */
    static StateComparator.Known actionsAsFrozen(Path img) {
        Map<String, String> frozen = new java.util.HashMap<>();
        try (var r = dev.cryo.engine.image.ImageReader.open(img, dev.cryo.engine.model.codec.ModelCodecs.ALL)) {
            for (Object o : r.records()) {
                if (o instanceof dev.cryo.engine.model.TaskImage t) {
                    for (dev.cryo.engine.model.SigAction a : t.sigactions()) {
                        frozen.put("pid " + t.ids().pid() + " " + a.signal(), action(a.handler(), a.flags(), a.restorer(), a.mask()));
                    }
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            throw new AssertionError("the image " + img + " cannot be read for its signal actions: " + e, e);
        }
        return new StateComparator.Known("a signal's handler the program swapped between the probe and the freeze:"
                + " restored as the image has it", d -> d.item().startsWith("probe sigaction ") && d.dumped() != null
                && d.restored() != null && d.restored().equals(frozen.get(d.scope() + " "
                + d.item().substring("probe sigaction ".length()))));
    }

    private static String action(long handler, long flags, long restorer, long mask) {
        return "handler " + Long.toHexString(handler) + " flags " + Long.toHexString(flags) + " restorer "
                + Long.toHexString(restorer) + " mask " + Long.toHexString(mask);
    }

    /** Not compared: what the reading saw of the process's libraries, to tell a stale reading. */
    private static final String LIBRARIES = "probe libraries mapped";
    private static final java.util.regex.Pattern LIBRARY = java.util.regex.Pattern.compile("\\s(/(?:usr/)?lib\\S*)$");

    /** The libraries mapped in {@code pid}, sorted: read while its thread is stopped. */
    private static java.util.SortedSet<String> libraries(int pid) {
        java.util.SortedSet<String> out = new java.util.TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
                java.util.regex.Matcher m = LIBRARY.matcher(line);
                if (m.find()) {
                    out.add(m.group(1));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            // gone: nothing to tell
        }
        return out;
    }

    /**
     * The pids whose reading is not of the state {@code s} shows at the freeze: its caught or ignored
     * signals, or the libraries it had mapped, are not those (a process just exec'd whose loader had not
     * yet mapped libc nor set its thread pointer and rseq, a worker installing its handlers).
     */
    private static java.util.Set<String> stale(StateComparator.Snapshot s, Map<String, Map<String, String>> probed) {
        java.util.Set<String> stale = new java.util.HashSet<>();
        probed.forEach((scope, items) -> {
            if (!scope.matches("pid \\d+") || !INJECTED.equals(items.get(INJECTED))) {
                return;
            }
            String pid = scope.substring(4);
            Map<String, String> task = s.scopes().get(scope);
            if (task != null && items.containsKey(LIBRARIES)) {
                java.util.SortedSet<String> atFreeze = new java.util.TreeSet<>();
                task.forEach((k, v) -> {
                    java.util.regex.Matcher m = LIBRARY.matcher(v);
                    if (k.startsWith("maps ") && m.find()) {
                        atFreeze.add(m.group(1));
                    }
                });
                if (!String.join(" ", atFreeze).equals(items.get(LIBRARIES))) {
                    stale.add(pid);
                    return;
                }
            }
            Map<String, String> main = s.scopes().get(scope + " tid " + pid);
            if (main == null || main.get("status SigCgt") == null || main.get("status SigIgn") == null) {
                return;
            }
            long handled = Long.parseUnsignedLong(main.get("status SigCgt"), 16) | Long.parseUnsignedLong(main.get("status SigIgn"), 16);
            long seen = 0;
            for (String k : items.keySet()) {
                if (k.startsWith("probe sigaction ")) {
                    seen |= 1L << (Integer.parseInt(k.substring("probe sigaction ".length())) - 1);
                }
            }
            if (seen != handled) {
                stale.add(pid);
            }
        });
        return stale;
    }

    private static StateComparator.Snapshot with(StateComparator.Snapshot s, Map<String, Map<String, String>> probed,
                                                 Map<String, Map<String, String>> other, java.util.Set<String> stalePids) {
        Map<String, Map<String, String>> scopes = new LinkedHashMap<>();
        s.scopes().forEach((k, v) -> scopes.put(k, new TreeMap<>(v)));
        probed.forEach((scope, items) -> {
            Map<String, String> theirs = other.get(scope);
            if (stalePids.contains(scope.split(" ")[1])) {
                return;
            }
            if (theirs != null && scopes.containsKey(scope)) {
                // both readings ran the getters: an item one of them lacks is a difference
                boolean alike = INJECTED.equals(items.get(INJECTED)) == INJECTED.equals(theirs.get(INJECTED));
                items.forEach((k, v) -> {
                    if (!k.equals(LIBRARIES) && (alike || theirs.containsKey(k))) {
                        scopes.get(scope).put(k, v);
                    }
                });
            }
        });
        return new StateComparator.Snapshot(s.root(), scopes);
    }

    /** Seizes {@code tid}, reads its state (and its process's into {@code process} if not null), lets it go. */
    private static boolean probe(Tracer tracer, int pid, int tid, long[] gadget, Map<String, String> thread,
                                 Map<String, String> process) {
        try {
            tracer.seizeAndInterrupt(tid, Ptrace.O_SUSPEND_SECCOMP);
        } catch (RuntimeException goneOrTraced) {
            return false;
        }
        try {
            tracer.waitForStop(tid, STOP_WAIT_NANOS);
        } catch (RuntimeException e) {
            return false; // left seized: the tracer's close lets it go once it stops
        }
        try {
            Registers regs = tracer.getRegisters(tid);
            if (EINTR_WHEN_STOPPED.contains((int) regs.origRax()) && regs.rax() == -Errno.EINTR) {
                // the stop failed its wait with EINTR (signal(7)): it runs the syscall again instead
                regs = regs.with(Registers.RIP, regs.rip() - 2).with(Registers.RAX, regs.origRax());
                tracer.setRegisters(tid, regs);
            }
            thread.put("probe fs_base", Long.toHexString(regs.get(Registers.FS_BASE)));
            thread.put("probe gs_base", Long.toHexString(regs.get(Registers.GS_BASE)));
            RseqConfig rseq = tracer.getRseq(tid);
            thread.put("probe rseq", rseq.registered()
                    ? Long.toHexString(rseq.address()) + " size " + rseq.size() + " sig " + Integer.toHexString(rseq.signature())
                    : "none");
            long[] sud = tracer.getSyscallUserDispatch(tid);
            thread.put("probe syscall user dispatch", sud[0] == 0 ? "off"
                    : "mode " + sud[0] + " selector " + Long.toHexString(sud[1]) + " range " + Long.toHexString(sud[2]) + "+" + sud[3]);
            readSeccomp(tracer, tid, thread);
            // with syscall user dispatch on, an injected syscall outside its range would trap; in an rseq
            // critical section, its return would clear rseq_cs and the section would not abort
            gadget[0] = gadgetWhileStopped(pid, gadget[0]);
            if (gadget[0] != 0 && sud[0] == 0 && !insideCriticalSection(pid, rseq, regs.rip())) {
                inject(tracer, pid, tid, gadget[0], thread, process);
            } else {
                return false;
            }
            return process != null;
        } finally {
            tracer.detach(pid, tid);
        }
    }

    /** Whether {@code rip} is inside the rseq critical section the thread's rseq area names. */
    private static boolean insideCriticalSection(int pid, RseqConfig rseq, long rip) {
        if (!rseq.registered()) {
            return false;
        }
        Pid p = Pid.of(pid);
        long cs = ByteBuffer.wrap(Sys.read(p, rseq.address() + RseqConfig.CS_POINTER_OFFSET, 8))
                .order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (cs == 0) {
            return false;
        }
        ByteBuffer c = ByteBuffer.wrap(Sys.read(p, cs, RseqConfig.CriticalSection.SIZE)).order(ByteOrder.LITTLE_ENDIAN);
        long start = c.getLong(8), length = c.getLong(16);
        return Long.compareUnsigned(rip - start, length) < 0;
    }

    private static void readSeccomp(Tracer tracer, int tid, Map<String, String> into) {
        for (int i = 0; ; i++) {
            byte[] filter;
            try {
                filter = tracer.seccompFilter(tid, i);
            } catch (RuntimeException none) { // EINVAL: no filter mode
                return;
            }
            if (filter == null) {
                return;
            }
            into.put("probe seccomp filter " + i, HexFormat.of().formatHex(sha256(filter), 0, 12)
                    + " (" + filter.length / 8 + " insns) flags " + tracer.seccompFilterFlags(tid, i));
        }
    }

    private static void inject(Tracer tracer, int pid, int tid, long gadget, Map<String, String> thread,
                               Map<String, String> process) {
        Pid p = Pid.of(pid);
        try (Injector in = new Injector(tracer, p, tid, gadget)) {
            // a page of the probe's own: the memory below a thread's stack pointer may be another's (a goroutine's
            // stack is a few KiB, with heap below it that other threads write and Go's scavenger drops: a Go
            // program's keyrings once read back as zeros there); shared, so that it merges with no mapping
            long scratch = in.raw(SyscallNr.MMAP, 0, AREA, VmaImage.PROT_READ | VmaImage.PROT_WRITE,
                    VmaImage.MAP_SHARED | VmaImage.MAP_ANONYMOUS, -1, 0);
            if (Injector.isError(scratch)) {
                thread.put("probe area", Injector.errorText(scratch)); // the getters do not run, both times alike
                return;
            }
            try {
                getters(in, p, pid, tid, scratch, thread, process);
            } finally {
                in.raw(SyscallNr.MUNMAP, scratch, AREA);
            }
        }
    }

    /** The getters' answers, read through the probe's page at {@code scratch}. */
    private static void getters(Injector in, Pid p, int pid, int tid, long scratch, Map<String, String> thread,
                                Map<String, String> process) {
        thread.put(INJECTED, INJECTED);
        if (process != null) {
            process.put(INJECTED, INJECTED);
            process.put(LIBRARIES, String.join(" ", libraries(pid)));
            long set = handled(pid, tid);
            for (int sig = 1; sig <= SIGNALS; sig++) {
                if ((set & 1L << (sig - 1)) != 0 && in.raw(SyscallNr.RT_SIGACTION, sig, 0, scratch, 8) == 0) {
                    ByteBuffer a = ByteBuffer.wrap(Sys.read(p, scratch, SIGACTION_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
                    long handler = a.getLong(), flags = a.getLong(), restorer = a.getLong(), mask = a.getLong();
                    if (handler != 0 || flags != 0 || mask != 0) {
                        process.put("probe sigaction " + sig, action(handler, flags, restorer, mask));
                    }
                }
            }
            process.put("probe prctl CHILD_SUBREAPER", intAnswer(in, p, scratch, Prctl.PR_GET_CHILD_SUBREAPER));
            process.put("probe prctl DUMPABLE", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_DUMPABLE));
            process.put("probe prctl THP_DISABLE", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_THP_DISABLE));
            process.put("probe prctl MDWE", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_MDWE));
            areaPolicies(in, p, pid, scratch, process);
        }
        thread.put("probe mempolicy", mempolicy(in, p, scratch, 0));
        if (in.raw(SyscallNr.SIGALTSTACK, 0, scratch) == 0) {
            ByteBuffer s = ByteBuffer.wrap(Sys.read(p, scratch, STACK_T_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
            long sp = s.getLong(0), size = s.getLong(16);
            int flags = s.getInt(8);
            thread.put("probe sigaltstack", flags == 2 /* SS_DISABLE */ ? "disabled"
                    : Long.toHexString(sp) + "+" + size + " flags " + flags);
        }
        thread.put("probe prctl PDEATHSIG", intAnswer(in, p, scratch, Prctl.PR_GET_PDEATHSIG));
        thread.put("probe prctl TSC", intAnswer(in, p, scratch, Prctl.PR_GET_TSC));
        thread.put("probe prctl KEEPCAPS", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_KEEPCAPS));
        thread.put("probe prctl SECUREBITS", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_SECUREBITS));
        thread.put("probe prctl IO_FLUSHER", answer(in, SyscallNr.PRCTL, Prctl.PR_GET_IO_FLUSHER));
        thread.put("probe prctl MCE_KILL", answer(in, SyscallNr.PRCTL, Prctl.PR_MCE_KILL_GET));
        thread.put("probe arch_prctl CPUID", answer(in, SyscallNr.ARCH_PRCTL, Prctl.ARCH_GET_CPUID));
        keyrings(in, p, scratch + AREA - KEYRING_ROOM, thread);
    }

    /**
     * The thread's NUMA memory policy (address 0), or the own policy of the area at {@code address}, as get_mempolicy
     * answers: "mode 0x.. nodes 0x..".
     */
    private static String mempolicy(Injector in, Pid p, long scratch, long address) {
        long r = in.raw(SyscallNr.GET_MEMPOLICY, scratch, scratch + 8, 64, address, address == 0 ? 0 : 2 /* MPOL_F_ADDR */);
        if (r != 0) {
            return Injector.errorText(r);
        }
        ByteBuffer b = ByteBuffer.wrap(Sys.read(p, scratch, 16)).order(ByteOrder.LITTLE_ENDIAN);
        return "mode 0x" + Integer.toHexString(b.getInt(0)) + " nodes 0x" + Long.toHexString(b.getLong(8));
    }

    /**
     * Each area's own NUMA policy (mbind), not the default: asked only of the areas numa_maps shows with a policy,
     * which it gives to an area with none of its own from the main thread's.
     */
    private static void areaPolicies(Injector in, Pid p, int pid, long scratch, Map<String, String> process) {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/" + pid + "/numa_maps"));
        } catch (java.io.IOException | RuntimeException e) {
            return; // a kernel without NUMA: both times alike
        }
        for (String line : lines) {
            String[] w = line.split(" ", 3);
            if (w.length > 1 && !w[1].equals("default")) {
                long at = Long.parseUnsignedLong(w[0], 16);
                String policy = mempolicy(in, p, scratch, at);
                if (!policy.startsWith("mode 0x0 ")) {
                    process.put("probe numa policy " + w[0], policy);
                }
            }
        }
    }

    /** Bytes of the probe's page a keyring's key list, a description or a payload is read into. */
    private static final int KEYRING_ROOM = 2048;

    /**
     * The thread's thread, process and session keyrings as it sees them: description, owner and
     * permissions, and each key's (a payload by its length and hash). A keyring is named by its serial
     * here, which {@link #read} turns into a label in order of first appearance (serials are renewed: which
     * tasks share one is what must hold).
     */
    private static void keyrings(Injector in, Pid p, long area, Map<String, String> into) {
        String[] kinds = {"thread", "process", "session"}; // KEY_SPEC_THREAD_KEYRING -1, PROCESS -2, SESSION -3
        for (int i = 0; i < kinds.length; i++) {
            long id = in.raw(SyscallNr.KEYCTL, dev.cryo.kernel.Keyctl.KEYCTL_GET_KEYRING_ID, -1 - i, 0);
            if (Injector.isError(id)) {
                into.put("probe keyring " + kinds[i], "none");
                continue;
            }
            StringBuilder b = new StringBuilder("serial " + id + " " + keyDescription(in, p, area, id));
            long n = in.raw(SyscallNr.KEYCTL, dev.cryo.kernel.Keyctl.KEYCTL_READ, id, area, KEYRING_ROOM);
            if (Injector.isError(n) || n > KEYRING_ROOM) {
                b.append(" keys unreadable");
            } else {
                ByteBuffer list = ByteBuffer.wrap(Sys.read(p, area, (int) n)).order(ByteOrder.LITTLE_ENDIAN);
                java.util.SortedSet<String> keys = new java.util.TreeSet<>();
                while (list.remaining() >= 4) {
                    int key = list.getInt();
                    String k = keyDescription(in, p, area, key);
                    long size = in.raw(SyscallNr.KEYCTL, dev.cryo.kernel.Keyctl.KEYCTL_READ, key, area, KEYRING_ROOM);
                    keys.add(k + (Injector.isError(size) ? " payload unreadable" : size > KEYRING_ROOM
                            ? " payload " + size + " bytes" : " payload " + HexFormat.of().formatHex(
                            sha256(Sys.read(p, area, (int) size)), 0, 12)) + " key-serial " + key);
                }
                b.append(" keys ").append(keys);
            }
            into.put("probe keyring " + kinds[i], b.toString());
        }
    }

    /** KEYCTL_DESCRIBE's "type;uid;gid;perm;description". */
    private static String keyDescription(Injector in, Pid p, long area, long id) {
        long n = in.raw(SyscallNr.KEYCTL, dev.cryo.kernel.Keyctl.KEYCTL_DESCRIBE, id, area, KEYRING_ROOM);
        return Injector.isError(n) ? Injector.errorText(n) : n > KEYRING_ROOM ? "described in " + n + " bytes"
                : new String(Sys.read(p, area, (int) Math.max(0, n - 1)), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static final java.util.regex.Pattern SERIAL = java.util.regex.Pattern.compile("^serial (\\d+) ");

    private static final java.util.regex.Pattern KEY_SERIAL = java.util.regex.Pattern.compile(" key-serial (\\d+)");

    /**
     * Each keyring serial of {@code out}'s keyring items as a label given in order of first appearance, and
     * each key's serial likewise (a key in two keyrings is one key: which keyrings share it must hold).
     */
    private static void labelKeyrings(Map<String, Map<String, String>> out) {
        Map<String, String> labels = new java.util.HashMap<>();
        Map<String, String> keyLabels = new java.util.HashMap<>();
        for (Map<String, String> items : out.values()) {
            items.replaceAll((k, v) -> {
                java.util.regex.Matcher m = SERIAL.matcher(v);
                if (!k.startsWith("probe keyring ") || !m.find()) {
                    return v;
                }
                String label = labels.computeIfAbsent(m.group(1), s -> "keyring #" + (labels.size() + 1));
                return KEY_SERIAL.matcher(label + " " + v.substring(m.end())).replaceAll(r ->
                        " key #" + keyLabels.computeIfAbsent(r.group(1), s -> Integer.toString(keyLabels.size() + 1)));
            });
        }
    }

    /**
     * The signals caught or ignored (status SigCgt, SigIgn): the others are at their default, whose
     * flags and mask no program sets (one call per signal costs a ptrace round trip each).
     */
    private static long handled(int pid, int tid) {
        try {
            String status = Files.readString(Path.of("/proc/" + pid + "/task/" + tid + "/status"));
            return Long.parseUnsignedLong(field(status, "SigCgt"), 16) | Long.parseUnsignedLong(field(status, "SigIgn"), 16);
        } catch (java.io.IOException | RuntimeException e) {
            return -1L; // every signal
        }
    }

    private static String answer(Injector in, int nr, long... args) {
        long r = in.raw(nr, args);
        return Injector.isError(r) ? "error " + -r : Long.toString(r);
    }

    /** A prctl getter that writes an int at its second argument. */
    private static String intAnswer(Injector in, Pid p, long scratch, int option) {
        long r = in.raw(SyscallNr.PRCTL, option, scratch);
        return Injector.isError(r) ? "error " + -r
                : Integer.toString(ByteBuffer.wrap(Sys.read(p, scratch, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt());
    }

    private static List<Integer> threads(int pid) {
        try (var s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            return s.map(t -> Integer.parseInt(t.getFileName().toString())).sorted().toList();
        } catch (java.io.IOException | RuntimeException gone) {
            return List.of();
        }
    }

    /** Not stopped, not in uninterruptible sleep, not a zombie, not traced: what a seize may touch. */
    private static boolean probeable(int pid, int tid) {
        try {
            String status = Files.readString(Path.of("/proc/" + pid + "/task/" + tid + "/status"));
            String state = field(status, "State"), tracer = field(status, "TracerPid");
            return tracer.equals("0") && !state.startsWith("T") && !state.startsWith("t") && !state.startsWith("D")
                    && !state.startsWith("Z") && !state.startsWith("X")
                    && !dev.cryo.kernel.proc.ProcFs.ioWorker(Pid.of(pid), Pid.of(tid));
        } catch (java.io.IOException | RuntimeException gone) {
            return false;
        }
    }

    private static String field(String status, String name) {
        for (String line : status.split("\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(name.length() + 1).strip();
            }
        }
        return "";
    }

    private static byte[] sha256(byte[] b) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(b);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
