package dev.cryo.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Holds a restored tree to the tree that was dumped, as far as {@code /proc} shows it: a restored
 * task must be the task that was dumped.
 *
 * <p>{@link #take(int)} snapshots every task (process) and every thread of the tree rooted at a
 * pid; {@link #assertSame} compares a snapshot taken just before the dump with one taken just
 * after the restore, matching tasks by pid and threads by tid, and fails with one line per
 * difference. What is compared:
 * <ul>
 *   <li>per thread: every {@code status} field (name, umask, state class, ids, credentials,
 *       groups, capability sets, NoNewPrivs, Seccomp and its filter count, signal masks — blocked,
 *       ignored, caught, pending —, CPU and memory node affinity, speculation controls…), the
 *       {@code stat} fields that are state (pgrp, session, tty, flags, priority, nice, rt
 *       priority, policy, exit signal, the mm layout fields), {@code sched} policy and prio
 *       and what sched_getattr adds (flags, a deadline task's times, utilization clamps),
 *       {@code comm}, {@code timerslack_ns}, its {@code cgroup}, the LSM label ({@code attr/current}), the I/O
 *       priority and the robust futex list's head; its cwd and root, and which of its {@code ns/*} links are not
 *       its process's (what it unshared or entered alone), and its own fd table's numbers and close-on-exec flags;</li>
 *   <li>per task: {@code limits}, {@code timers} (id, signal and value, notification, clock),
 *       {@code maps} (range, protections, offset, device, inode, path) with each mapping's
 *       {@code smaps} VmFlags, every fd's link target and {@code fdinfo} (flags, mnt_id, ino,
 *       and what each kind shows: eventfd count and mode, timerfd clock, interval and whether it
 *       is armed, signalfd mask, epoll watches, inotify marks…), cwd, root, exe, the
 *       {@code ns/*} links (and the firewall of a net namespace of the tree's: its iptables-nft and nftables
 *       rules, sets and elements; its devices' ifindexes, names, MTUs and MACs; its sysctls; its established TCP conntrack entries), the offsets of the time namespace its children get ({@code timens_offsets}:
 *       a restore on the host of the dump gives them back as they were), personality, oom_score_adj,
 *       loginuid, sessionid, coredump_filter,
 *       cgroup, the autogroup's nice, cmdline, environ, auxv, arch_status, ksm_merge_any,
 *       the id maps of its user namespace ({@code uid_map}, {@code gid_map}, {@code projid_map},
 *       {@code setgroups}); the mount table of a mount namespace of the tree's (options,
 *       propagation, file systems); the SysV objects and limits of an ipc namespace of the tree's
 *       (keys, ids, modes, owners, sizes, semaphore values, queue bytes);</li>
 *   <li>per fd, what only a syscall on a copy of it shows ({@link HeldFdState}): the SIGIO owner
 *       and signal, a lease, a pipe's capacity, a memfd's seals and a renewed file's mode, owner and
 *       size, a socket's options, filter and TCP state, a terminal's settings, a message queue's
 *       attributes.</li>
 * </ul>
 * Kernel object identities that a restore necessarily renews (the inode of a pipe, a socket,
 * a shared anonymous mapping, a memfd; an eventfd's id) are compared as a <em>structure</em>:
 * each is replaced by a label given in order of first appearance in the tree, so "these two fds
 * are one pipe" and "these two tasks map one shared object" are still checked. A regular file's
 * device and inode are compared as they are (same host, same file).
 *
 * <p>Restored processes run on, so only what is state is compared, never what moves. The
 * allow-list ({@link #IGNORED}) names each thing left out and why; it holds only what cannot be
 * the same after a restore or moves on its own, never state cryo could carry. Values that move
 * but have a state part are reduced to that part: a task's state letter to running/stopped/zombie,
 * a timerfd's remaining time to armed or not, a regular file's position to "not behind the dumped
 * one" (the task reads or writes on).
 */
final class StateComparator {
    private StateComparator() {}

    /** One thing left out of the comparison, and why. */
    record Ignored(Pattern item, String why) {
        Ignored(String regex, String why) {
            this(Pattern.compile(regex), why);
        }
    }

    /** The allow-list: items (matched against "file field", e.g. "status VmRSS") never compared. */
    static final List<Ignored> IGNORED = List.of(
            new Ignored("status (Vm\\w+|Rss\\w+|HugetlbPages)",
                    "memory usage figures: they move as the task runs (the mappings themselves are compared)"),
            new Ignored("status (voluntary|nonvoluntary)_ctxt_switches", "counters"),
            new Ignored("status SigQ",
                    "signals queued for the whole real uid, across every process of that user"),
            new Ignored("status FDSize",
                    "the size the fd table grew to (grows in steps, never shrinks): history, not the set of open fds"),
            new Ignored("stat (minflt|cminflt|majflt|cmajflt|utime|stime|cutime|cstime|delayacct_blkio_ticks"
                    + "|guest_time|cguest_time|nswap|cnswap)", "counters"),
            new Ignored("stat (starttime)", "start time: a restored task is a new kernel task"),
            new Ignored("stat (vsize|rss)", "memory usage figures (the mappings themselves are compared)"),
            new Ignored("stat (kstkesp|kstkeip|wchan|processor)", "where the task happens to be right now"),
            new Ignored("stat (state)", "compared through status State"),
            new Ignored("stat (signal|blocked|sigignore|sigcatch|rsslim)",
                    "duplicates of status SigPnd/SigBlk/SigIgn/SigCgt and limits"));

    /**
     * Differences that ARE real state cryo does not carry right yet: bugs, each written up in
     * /work/coord/FINDINGS.md for the helper whose area it is. They are not allowed: they are
     * printed as warnings on every run, and each entry goes away with its fix (then any such
     * difference fails). Keep this list short and each entry as narrow as the bug.
     */
    record Known(String finding, java.util.function.Predicate<Diff> matches) {}

    /** One difference: the item, its dumped and its restored value (null when absent). */
    record Diff(String scope, String item, String dumped, String restored) {
        @Override
        public String toString() {
            return scope + ": " + item + ": dumped " + show(dumped) + ", restored " + show(restored);
        }
    }

    static final List<Known> KNOWN = List.of(new Known(
            "a repaired IPv6 connection's segment size (TCP_MAXSEG, the kernel's mss_cache) above 32755 bytes (loopback's) "
                    + "comes back as 32755 (32767 without timestamps) until a larger window arrives: repair mode's connect "
                    + "sizes segments from TCP_MAXSEG as the restore sets it, which the kernel caps at 32767 (TcpRepair; an IPv4 one is sized again after the repair, exactly)",
            d -> d.item().matches("fd \\d+ sockopt TCP_MAXSEG") && d.restored() != null && d.dumped() != null
                    && d.restored().matches("32755|32767") && Integer.parseInt(d.dumped()) > Integer.parseInt(d.restored())),
            new Known(
            "an fd made with O_TMPFILE comes back without O_TMPFILE in its flags: its file is made again once for "
                    + "all its holders (fds and mappings), then opened like a file",
            d -> d.item().matches("fd \\d+ fdinfo flags") && d.dumped() != null && d.restored() != null
                    && (Integer.parseInt(d.dumped(), 8) & 020200000) == 020200000
                    && (Integer.parseInt(d.dumped(), 8) & ~020200000) == Integer.parseInt(d.restored(), 8)),
            new Known(
            "a namespace file the host bound under /run/netns (another session's ip netns add or del between the dump"
                    + " and the restore) is in the tree's mount namespace as the host has it at the restore: such copies"
                    + " come and go with the host's, and the restore neither requires nor compares them (MountRestore)",
            d -> d.item().startsWith("mount ") && hostNetnsChange(d.item().substring("mount ".length()), d.dumped(),
                    d.restored())));

    /**
     * Whether a mount point's values differ only by a host copy of an nsfs mount gone from the host since
     * the dump (restored absent, the host lacks it now) or made on the host since (dumped absent).
     */
    private static boolean hostNetnsChange(String point, String dumped, String restored) {
        String present = dumped != null ? dumped : restored;
        if ((dumped == null) == (restored == null) || !present.contains(" - nsfs ") || !present.endsWith(HOST_COPY)) {
            return false;
        }
        return hostMountPoints().contains(point) == (restored != null);
    }

    /** The end of a mount's value in a snapshot when the host had the same mount at the same point then. */
    static final String HOST_COPY = " (the host's copy)";

    private static Set<String> hostMountPoints() {
        Set<String> points = new java.util.HashSet<>();
        hostMounts().values().forEach(m -> points.add(m.substring(0, m.indexOf(' '))));
        return points;
    }

    /**
     * An fd of a pipe whose other end was outside the tree, joined again to the very pipe through
     * /proc/HOLDER/fd/N: the kernel's open adds O_LARGEFILE, which F_SETFL cannot clear (only
     * pipe() makes a pipe file without it, and that would be another pipe). Harmless on a pipe.
     */
    static Known outsidePipe(int fd) {
        return new Known("fd " + fd + " is a pipe joined again to its reader or writer outside the tree: O_LARGEFILE added",
                d -> d.item().equals("fd " + fd + " fdinfo flags") && d.dumped() != null && d.restored() != null
                        && (Integer.parseInt(d.dumped(), 8) | 0100000) == Integer.parseInt(d.restored(), 8));
    }

    /** fd {@code fd} is another file, handed over by {@code --inherit-fd}: its identity and offset are that file's. */
    static Known inheritedFile(int fd) {
        return new Known("fd " + fd + " is the file --inherit-fd gave in its stead",
                d -> d.item().startsWith("fd " + fd + " "));
    }

    /**
     * A task whose audit login uid was set: writing it back (the only way, from inside the task)
     * makes the kernel hand out a new audit session id. CRIU's restore does the same.
     */
    static final Known NEW_AUDIT_SESSION = new Known("the audit session id is new once the login uid is set again",
            d -> d.item().equals("sessionid"));

    /**
     * With --shell-job (FINDINGS fd-2; cannot be the same, kept as a known difference so it stays
     * visible): a shell job's session, and its process group unless it led its own, are led by
     * processes outside the tree (the shell that started it, still running), and a process enters a
     * session only by being forked inside it. Like criu --shell-job, cryo restores the job into the
     * restorer's session, where its controlling terminal is the restorer's (none under a test runner:
     * tty_nr 0, tpgid -1); a root that led its own group gets it back (criu moves it into the
     * restorer's group instead), else it joins the restorer's. Pty pairs inside the tree are not
     * concerned: their sessions, groups and controlling terminals come back (PtyTest). Applies only to
     * dumps made with --shell-job. The autogroup belongs to the session (setsid makes one), so it is
     * the restorer's too: empty when that session is in the root autogroup, as under a CI runner.
     */
    static final List<Known> KNOWN_SHELL_JOB = List.of(new Known(
            "FINDINGS fd-2: a --shell-job restore puts the job in the restorer's session (its group, its terminal)",
            d -> d.item().matches("stat (pgrp|session|tpgid|tty_nr)|status NS(pgid|sid)|autogroup nice")));

    /** With --tcp-close the tree's connections come back closed, as asked: their state and segment size are a closed socket's. */
    static final List<Known> KNOWN_TCP_CLOSE = List.of(new Known("--tcp-close: connections come back closed, as asked",
            d -> d.item().matches("fd \\d+ (tcp_info|sockopt TCP_MAXSEG)")));

    /**
     * VmFlags a restore does not reproduce yet: none since FINDINGS memory-2 was fixed (ac, nh, hg
     * and nr are carried). Adjacent anonymous private mappings that look alike are still compared
     * as one: the kernel merges two areas restore maps side by side that it had kept apart in the
     * dumped task (different anon_vma after a fork or mremap), which no mmap can prevent.
     */
    static final Set<String> KNOWN_VMFLAGS = Set.of();

    /** The parent of the tree's root is outside the tree: a restored root is the restorer's child. */
    private static final Set<String> ROOT_ONLY_IGNORED = Set.of("status PPid", "stat ppid");

    private static final String[] STAT_FIELDS = {
            null, "pid", "comm", "state", "ppid", "pgrp", "session", "tty_nr", "tpgid", "flags", "minflt",
            "cminflt", "majflt", "cmajflt", "utime", "stime", "cutime", "cstime", "priority", "nice",
            "num_threads", "itrealvalue", "starttime", "vsize", "rss", "rsslim", "startcode", "endcode",
            "startstack", "kstkesp", "kstkeip", "signal", "blocked", "sigignore", "sigcatch", "wchan",
            "nswap", "cnswap", "exit_signal", "processor", "rt_priority", "policy", "delayacct_blkio_ticks",
            "guest_time", "cguest_time", "start_data", "end_data", "start_brk", "arg_start", "arg_end",
            "env_start", "env_end", "exit_code"};

    /**
     * PF_SUPERPRIV in stat's flags: "used a capability", set by the kernel when the restorer's
     * injected syscalls (PR_SET_MM_MAP, clone3 with set_tid...) exercise cryo's privileges. Process
     * accounting history that the task can neither see in its own state nor set.
     */
    private static final long PF_SUPERPRIV = 0x100;

    /** Marks an item of the dumped side as not comparable this time, with the reason as value. */
    private static final String SKIP_MARK = " (not comparable)";

    /** What /proc showed of a tree: "pid P" / "pid P tid T" → item → value. */
    record Snapshot(int root, Map<String, Map<String, String>> scopes) {
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            scopes.forEach((scope, items) -> items.forEach((k, v) -> b.append(scope).append(": ").append(k)
                    .append(" = ").append(v).append('\n')));
            return b.toString();
        }
    }

    /**
     * Snapshots the tree rooted at {@code root} (the root and every descendant, every thread) while
     * cryo, in this JVM, holds it stopped under ptrace (see {@code TreeObservers}): the tracing
     * stop and this JVM as tracer are cryo's, not the tree's, and read as "alive, untraced".
     */
    static Snapshot takeFrozen(int root) throws IOException {
        return take(root, true);
    }

    /** Snapshots a running tree. */
    static Snapshot take(int root) throws IOException {
        return take(root, false);
    }

    private static Snapshot take(int root, boolean frozenByUs) throws IOException {
        Map<String, Map<String, String>> scopes = new LinkedHashMap<>();
        Labels labels = new Labels();
        Map<String, String> cgroups = new TreeMap<>();
        treeCgroups(tree(root), cgroups);
        scopes.put("the tree's cgroups", cgroups);
        labels.tree = tree(root);
        for (int pid : tree(root)) {
            Map<String, String> task = new TreeMap<>();
            readTask(pid, task, labels);
            long[] cryos = dev.cryo.api.TreeObservers.cryoArea(pid); // mapped by a pre-copy before the freeze
            if (cryos != null) {
                String range = Long.toHexString(cryos[0]) + "-" + Long.toHexString(cryos[1]);
                task.remove("maps " + range);
                task.remove("smaps " + range + " VmFlags");
            }
            if (pid == root) {
                task.keySet().removeIf(ROOT_ONLY_IGNORED::contains);
            }
            scopes.put("pid " + pid, task);
            List<Integer> tids = new ArrayList<>();
            for (int tid : ints(Path.of("/proc/" + pid + "/task"))) {
                // an io_uring worker is the kernel's, made again on demand: not one of the program's threads
                if (tid == pid || !dev.cryo.kernel.proc.ProcFs.ioWorker(dev.cryo.kernel.Pid.of(pid), dev.cryo.kernel.Pid.of(tid))) {
                    tids.add(tid);
                }
            }
            boolean leaderExited = procOf(pid) != pid;
            Map<Integer, Map<String, String>> threads = new java.util.LinkedHashMap<>();
            for (int tid : tids) {
                Map<String, String> thread = new TreeMap<>();
                if (tid == pid && leaderExited) {
                    // pthread_exit in main: nothing of it is left to compare; the restore makes one that exits again
                    // when the tree runs (its restored state before that is a stand-in's), the workload checks it did
                    thread.put(EXITED_MAIN_THREAD, "yes");
                    scopes.put("pid " + pid + " tid " + tid, thread);
                    continue;
                }
                // every thread listed is held: one gone before its files are read was not (cryo's seize missed it)
                readThread(pid, tid, thread, frozenByUs, labels);
                threads.put(tid, thread);
            }
            int count = tids.size();
            threads.forEach((tid, thread) -> {
                thread.replace("status Threads", Integer.toString(count));
                thread.replace("stat num_threads", Integer.toString(count));
                if (pid == root) {
                    thread.keySet().removeIf(ROOT_ONLY_IGNORED::contains);
                }
                scopes.put("pid " + pid + " tid " + tid, thread);
            });
        }
        return new Snapshot(root, scopes);
    }

    /** Fails with every difference between the dumped tree and the restored one, one per line. */
    static void assertSame(Snapshot before, Snapshot after) {
        assertSame(before, after, List.of());
    }

    /** {@link #assertSame(Snapshot, Snapshot)} with further known findings that apply to this dump's options. */
    static void assertSame(Snapshot before, Snapshot after, List<Known> alsoKnown) {
        List<String> diffs = diff(before, after, alsoKnown);
        if (!diffs.isEmpty()) {
            throw new AssertionError("the restored tree of pid " + before.root() + " differs from the dumped one ("
                    + diffs.size() + " difference(s)):\n  " + String.join("\n  ", diffs));
        }
    }

    static List<String> diff(Snapshot before, Snapshot after, List<Known> alsoKnown) {
        List<String> diffs = new ArrayList<>();
        List<Known> known = new ArrayList<>(KNOWN);
        known.addAll(alsoKnown);
        for (Diff d : diffs(before, after)) {
            Known k = known.stream().filter(x -> x.matches().test(d)).findFirst().orElse(null);
            if (k == null) {
                diffs.add(d.toString());
            } else {
                System.err.println("state comparator: known difference (" + k.finding() + "): " + d);
            }
        }
        return diffs;
    }

    private static List<Diff> diffs(Snapshot before, Snapshot after) {
        List<Diff> diffs = new ArrayList<>();
        Set<String> scopes = new TreeSet<>(before.scopes().keySet());
        scopes.addAll(after.scopes().keySet());
        for (String scope : scopes) {
            Map<String, String> b = before.scopes().get(scope);
            Map<String, String> a = after.scopes().get(scope);
            if (b != null && b.containsKey(EXITED_MAIN_THREAD) && a != null) {
                continue;
            }
            if (b == null) {
                diffs.add(new Diff(scope, "the task or thread", null, "present"));
                continue;
            }
            if (a == null) {
                diffs.add(new Diff(scope, "the task or thread", "present", null));
                continue;
            }
            Set<String> items = new TreeSet<>(b.keySet());
            items.addAll(a.keySet());
            for (String item : items) {
                String vb = b.get(item);
                String va = a.get(item);
                if (vb != null && vb.equals(va) || item.endsWith("-may-advance") || item.endsWith(SKIP_MARK)
                        || b.containsKey(item + SKIP_MARK)) {
                    continue;
                }
                if (vb != null && va != null && item.matches("status (SigPnd|ShdPnd)")
                        && onlyTimerSignalsAdded(vb, va, a.get(TIMER_SIGNALS))) {
                    continue; // a carried timer fired between its arming and the resume, as it would have run on
                }
                if (va != null && startingUp(b, a) && (item.equals(FS_BASE) || item.equals(RSEQ) && "none".equals(vb))) {
                    continue; // probed at the dump before its loader set its thread pointer and rseq: it ran on to set them
                }
                if (va != null && item.equals(RSEQ) && "none".equals(vb) && registeredAsItsSiblings(before, scope, va)) {
                    continue; // a thread caught between its clone and its libc's rseq registration: it ran on to it
                }
                if (vb != null && va != null && item.endsWith(" pos") && b.containsKey(item + "-may-advance")
                        && Long.parseLong(va) >= Long.parseLong(vb)) {
                    continue; // a regular file's position: the task reads or writes on
                }
                diffs.add(new Diff(scope, item, vb, va));
            }
        }
        return diffs;
    }

    private static final String FS_BASE = "probe fs_base", RSEQ = "probe rseq";

    /**
     * A thread the dump's probe caught with no thread pointer, which it has after the restore: a
     * program just exec'd whose loader had mapped its libraries but not yet set up TLS (seen at load
     * 30 for a shell's child). The other way, a pointer lost, stays a difference.
     */
    private static boolean startingUp(Map<String, String> before, Map<String, String> after) {
        return "0".equals(before.get(FS_BASE)) && after.get(FS_BASE) != null && !"0".equals(after.get(FS_BASE));
    }

    /**
     * Whether {@code scope}'s thread now has rseq registered with the size and signature another thread of its
     * process had at the dump: libc registers each new thread in its start routine, after the clone (seen at load 20
     * for mpd's just-started thread: 'none' dumped, its own area restored).
     */
    private static boolean registeredAsItsSiblings(Snapshot before, String scope, String restored) {
        String process = scope.substring(0, scope.indexOf(" tid ") + 5);
        String kind = restored.substring(restored.indexOf(' '));
        return before.scopes().entrySet().stream().anyMatch(e -> e.getKey().startsWith(process)
                && !e.getKey().equals(scope) && e.getValue().getOrDefault(RSEQ, "none").endsWith(kind));
    }

    private static String show(String v) {
        if (v == null) {
            return "(absent)";
        }
        String s = v.replace("\n", "\\n");
        return "'" + (s.length() > 300 ? s.substring(0, 300) + "…" : s) + "'";
    }

    // ---- reading /proc ----

    /** Gives kernel object identities that a restore renews a label by order of first appearance. */
    private static final class Labels {
        private final Map<String, String> byId = new HashMap<>();
        /** A net namespace's firewall, read once per snapshot: ns link → rules. */
        private final Map<String, String> firewalls = new HashMap<>();
        /** An ipc namespace's SysV objects and limits, read once per snapshot: ns link → objects. */
        private final Map<String, String> ipc = new HashMap<>();
        /** A mount namespace's mount table, read once per snapshot: ns link → mounts. */
        private final Map<String, Map<String, String>> mounts = new HashMap<>();
        /** A net namespace's devices, read once per snapshot: ns link → devices. */
        private final Map<String, String> devices = new HashMap<>();
        /** A net namespace's established TCP conntrack entries, read once per snapshot: ns link → entries. */
        private final Map<String, String> conntrack = new HashMap<>();
        /** A net namespace's sysctls, read once per snapshot: ns link → path under /proc/sys/net → value. */
        private final Map<String, Map<String, String>> sysctls = new HashMap<>();
        /** The tree's pids, whose mount namespaces an fd's mount may be of. */
        private List<Integer> tree = List.of();

        /** How many labels each kind has given: one kind's count never shifts another's numbers. */
        private final Map<String, Integer> counts = new HashMap<>();

        String of(String kind, String id) {
            return byId.computeIfAbsent(kind + ":" + id, k -> kind + "#" + counts.merge(kind, 1, Integer::sum));
        }
    }

    private static boolean ignored(String item) {
        for (Ignored i : IGNORED) {
            if (i.item().matcher(item).matches()) {
                return true;
            }
        }
        return false;
    }

    private static void put(Map<String, String> into, String item, String value) {
        if (!ignored(item)) {
            into.put(item, value);
        }
    }

    private static void readThread(int pid, int tid, Map<String, String> into, boolean frozenByUs, Labels labels)
            throws IOException {
        Path dir = Path.of("/proc/" + pid + "/task/" + tid);
        for (String line : lines(dir.resolve("status"))) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon);
            String value = line.substring(colon + 1).strip();
            if (frozenByUs && key.equals("State") && value.startsWith("t")) {
                value = "S"; // cryo's tracing stop
            }
            if (frozenByUs && key.equals("TracerPid") && Files.exists(Path.of("/proc/self/task/" + value))) {
                value = "0"; // cryo (a thread of this JVM) is the tracer
            }
            if (key.equals("State")) {
                value = stateClass(value);
            }
            put(into, "status " + key, value);
        }
        String stat = read(dir.resolve("stat"));
        if (stat.lastIndexOf(')') > stat.indexOf('(') && !stat.startsWith("(unreadable")) {
            int open = stat.indexOf('(');
            int close = stat.lastIndexOf(')');
            put(into, "stat comm", stat.substring(open + 1, close));
            String[] rest = stat.substring(close + 2).strip().split(" ");
            for (int i = 0; i < rest.length && i + 3 < STAT_FIELDS.length; i++) {
                String v = rest[i];
                if (STAT_FIELDS[i + 3].equals("flags")) {
                    v = Long.toString(Long.parseLong(v) & ~PF_SUPERPRIV);
                }
                put(into, "stat " + STAT_FIELDS[i + 3], v);
            }
        }
        for (String line : lines(dir.resolve("sched"))) {
            String[] kv = line.split(":", 2);
            if (kv.length == 2 && (kv[0].strip().equals("policy") || kv[0].strip().equals("prio"))) {
                put(into, "sched " + kv[0].strip(), kv[1].strip());
            }
        }
        // a thread inside rt_sigsuspend, pselect6, ppoll, epoll_pwait(2) or io_pgetevents runs
        // with the call's temporary mask; the image holds the mask it returns to and the rewound
        // call installs the temporary one again when the thread runs: SigBlk is compared elsewhere
        String nr = read(dir.resolve("syscall")).split(" ", 2)[0].strip();
        if (Set.of("130", "270", "271", "281", "441", "333").contains(nr)) {
            into.put("status SigBlk" + SKIP_MARK, "inside syscall " + nr);
        }
        into.put(TIMER_SIGNALS, Long.toHexString(timerSignals(read(Path.of("/proc/" + procOf(pid) + "/timers")))));
        put(into, "comm", read(dir.resolve("comm")).strip());
        put(into, "sched_attr", schedAttr(tid));
        put(into, "ioprio", callOrError(() -> Integer.toString(dev.cryo.kernel.Sched.ioprioGet(tid))));
        put(into, "robust_list", callOrError(() -> java.util.Arrays.toString(
                java.util.Arrays.stream(dev.cryo.kernel.Sys.getRobustList(tid)).mapToObj(Long::toHexString).toArray())));
        put(into, "attr/current", read(dir.resolve("attr/current")).strip());
        put(into, "timerslack_ns", read(Path.of("/proc/" + tid + "/timerslack_ns")).strip());
        put(into, "cgroup", cgroups(read(dir.resolve("cgroup")))); // a thread may be in cgroups of its own
        put(into, "thread cwd", readLink(dir.resolve("cwd")));
        put(into, "thread root", readLink(dir.resolve("root")));
        String ownNs = nsOfItsOwn(pid, dir);
        put(into, "ns not its process's", ownNs);
        if (List.of(ownNs.split(",")).contains("net")) { // one the thread made alone is made again: what it holds
            put(into, "own net namespace", callOrError(() -> dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(tid),
                    "net", dev.cryo.kernel.Namespaces::network).toString()));
        }
        if (List.of(ownNs.split(",")).contains("cgroup")) { // one the thread made alone: where it is in it
            put(into, "own cgroup namespace sees", callOrError(() -> dev.cryo.kernel.Namespaces.inside(
                    dev.cryo.kernel.Pid.of(tid), "cgroup", () -> dev.cryo.kernel.proc.ProcFs.text(dir.resolve("cgroup").toString()))));
        }
        if (tid != pid) {
            put(into, "fd table", fdTable(pid, tid, dir));
            filesAlone(pid, tid, dir, into, labels);
        }
    }

    /**
     * The fds of a thread's own table whose open files its process does not hold (opened since its unshare), as the
     * process's fds are compared, under "alone ".
     */
    private static void filesAlone(int pid, int tid, Path dir, Map<String, String> into, Labels labels) throws IOException {
        dev.cryo.kernel.Pid p = dev.cryo.kernel.Pid.of(pid), t = dev.cryo.kernel.Pid.of(tid);
        try {
            if (dev.cryo.kernel.Sys.shareResource(p, t, dev.cryo.kernel.Sys.KCMP_FILES)) {
                return;
            }
        } catch (RuntimeException e) {
            return; // a zombie leader's, or gone: fdTable says
        }
        List<Integer> processFds = ints(Path.of("/proc/" + pid + "/fd"));
        for (int fd : ints(dir.resolve("fd"))) {
            boolean held = processFds.stream().anyMatch(m -> {
                try {
                    return dev.cryo.kernel.Sys.sameOpenFile(p, m, t, fd);
                } catch (RuntimeException e) {
                    return false;
                }
            });
            if (!held) {
                Map<String, String> one = new TreeMap<>();
                readFd(dir, null, fd, one, labels, Set.of(), null);
                one.forEach((k, v) -> into.put("alone " + k, v));
            }
        }
    }

    /** "its process's", or the numbers of the thread's own table (unshare(CLONE_FILES)), "c" after a close-on-exec one. */
    private static String fdTable(int pid, int tid, Path dir) throws IOException {
        try {
            if (dev.cryo.kernel.Sys.shareResource(dev.cryo.kernel.Pid.of(pid), dev.cryo.kernel.Pid.of(tid),
                    dev.cryo.kernel.Sys.KCMP_FILES)) {
                return "its process's";
            }
        } catch (RuntimeException e) {
            return "(unreadable: " + e.getClass().getSimpleName() + ")"; // a zombie leader's, or gone
        }
        List<String> fds = new ArrayList<>();
        for (int fd : ints(dir.resolve("fd"))) {
            String flags = lines(dir.resolve("fdinfo/" + fd)).stream().filter(l -> l.startsWith("flags:")).findFirst()
                    .orElse("flags: 0").substring(6).strip();
            fds.add(fd + ((Integer.parseInt(flags, 8) & 02000000) != 0 ? "c" : ""));
        }
        return String.join(",", fds);
    }

    /** The kinds of namespace thread {@code dir} is in that its process's main thread is not. */
    private static String nsOfItsOwn(int pid, Path dir) throws IOException {
        List<String> own = new ArrayList<>();
        for (Path ns : list(dir.resolve("ns"))) {
            String theirs = readLink(ns), main = readLink(Path.of("/proc/" + pid + "/ns/" + ns.getFileName()));
            if (!theirs.startsWith("(unreadable") && !main.startsWith("(unreadable") && !theirs.equals(main)) {
                own.add(ns.getFileName().toString());
            }
        }
        return String.join(",", own.stream().sorted().toList());
    }

    /**
     * /proc/PID/cgroup with a named v1 hierarchy's number left out (and so in an order of its own): a
     * hierarchy made again (mounted only inside the tree, gone with it) is numbered anew by the kernel;
     * programs find it by name.
     */
    private static String cgroups(String text) {
        return java.util.Arrays.stream(text.strip().split("\n")).map(l -> l.replaceFirst("^[0-9]+:(name=)", "$1")).sorted()
                .collect(java.util.stream.Collectors.joining("\n"));
    }

    /** A value read by a syscall, or the error it gave ("(...)": a thread gone meanwhile). */
    private static String callOrError(java.util.function.Supplier<String> call) {
        try {
            return call.get();
        } catch (dev.cryo.kernel.KernelException e) {
            return "(" + e.getMessage() + ")";
        }
    }

    /** What sched_getattr shows beyond sched's policy and prio: its flags, a deadline task's times, the utilization clamps. */
    private static String schedAttr(int tid) {
        try {
            var a = dev.cryo.kernel.Sched.getattr(tid);
            return "flags " + a.flags() + " runtime " + a.runtime() + " deadline " + a.deadline() + " period " + a.period()
                    + " util " + a.utilMin() + "-" + a.utilMax();
        } catch (dev.cryo.kernel.KernelException e) {
            return "(" + e.getMessage() + ")";
        }
    }

    /** The signals a task's POSIX timers send (hex mask): restore arms them last, and they may fire before the resume. */
    private static final String TIMER_SIGNALS = "timer signals-may-advance";

    static long timerSignals(String timers) {
        // and the interval timers' SIGALRM, SIGVTALRM, SIGPROF: /proc does not show whether they are armed
        long mask = 1L << 13 | 1L << 25 | 1L << 26;
        for (String line : timers.split("\n")) {
            if (line.startsWith("signal: ")) {
                int sig = Integer.parseInt(line.substring(8, line.indexOf('/')).strip());
                if (sig > 0 && sig <= 64) {
                    mask |= 1L << (sig - 1);
                }
            }
        }
        return mask;
    }

    private static boolean onlyTimerSignalsAdded(String dumped, String restored, String timerSignals) {
        long d = Long.parseUnsignedLong(dumped, 16), r = Long.parseUnsignedLong(restored, 16);
        long allowed = timerSignals == null ? 0 : Long.parseUnsignedLong(timerSignals, 16);
        return (d & ~r) == 0 && (r & ~d & ~allowed) == 0;
    }

    private static String stateClass(String state) {
        char c = state.isEmpty() ? '?' : state.charAt(0);
        return switch (c) {
            case 'R', 'S', 'D', 'I' -> "alive (running or sleeping: moves)";
            case 'T' -> "stopped";
            case 't' -> "traced";
            case 'Z' -> "zombie";
            default -> state;
        };
    }

    /** The scope of the main thread of a process whose main thread had exited when it was dumped. */
    private static final String EXITED_MAIN_THREAD = "exited main thread";

    /**
     * The task whose /proc/N shows {@code pid}'s process: {@code pid}, or when its main thread has exited
     * while others run on (a zombie leader, whose /proc/PID shows no maps, fds nor cwd) its lowest other thread.
     */
    private static int procOf(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            if (stat.charAt(stat.lastIndexOf(')') + 2) != 'Z') {
                return pid;
            }
            return ints(Path.of("/proc/" + pid + "/task")).stream().filter(t -> t != pid).findFirst().orElse(pid);
        } catch (IOException | RuntimeException gone) {
            return pid;
        }
    }

    /** Whether {@code tid} is a thread other than its process's leader (its status's Tgid is another). */
    private static boolean isThreadOnly(int tid) {
        try {
            return lines(Path.of("/proc/" + tid + "/status")).stream().noneMatch(l -> l.equals("Tgid:\t" + tid));
        } catch (RuntimeException gone) {
            return false;
        }
    }

    private static void readTask(int pid, Map<String, String> into, Labels labels) throws IOException {
        Path dir = Path.of("/proc/" + procOf(pid));
        for (String line : lines(dir.resolve("limits"))) {
            if (!line.startsWith("Limit")) {
                put(into, "limits " + line.substring(0, Math.min(26, line.length())).strip(),
                        line.substring(Math.min(26, line.length())).strip().replaceAll("\\s+", " "));
            }
        }
        put(into, "timers", read(dir.resolve("timers")).strip());
        readMaps(dir, into, labels);
        readFds(dir, into, labels);
        for (String link : new String[] {"cwd", "root", "exe"}) {
            put(into, link, readLink(dir.resolve(link)));
        }
        for (Path ns : list(dir.resolve("ns"))) {
            // a namespace of the tree's own is a new one after a restore (its inode is the kernel's):
            // which tasks share it is compared, and that it is not the host's
            String link = readLink(ns);
            String host = readLink(Path.of("/proc/1/ns/" + ns.getFileName()));
            put(into, "ns " + ns.getFileName(), link.equals(host) ? link : labels.of("ns", link));
            // pid 1's links may be unreadable (a sandboxed runner): the test's own namespace is the host's then
            if (ns.getFileName().toString().equals("ipc") && !link.equals(host) && !link.startsWith("(unreadable")
                    && !link.equals(readLink(Path.of("/proc/self/ns/ipc")))) {
                put(into, "ipc objects", labels.ipc.computeIfAbsent(link, l -> ipcObjects(dir)));
            }
            if (ns.getFileName().toString().equals("mnt") && !link.equals(host) && !link.startsWith("(unreadable")
                    && !link.equals(readLink(Path.of("/proc/self/ns/mnt")))) {
                labels.mounts.computeIfAbsent(link, l -> mountTable(dir, labels)).forEach((point, m) -> put(into, "mount " + point, m));
            }
            if (ns.getFileName().toString().equals("net") && !link.equals(host) && !link.startsWith("(unreadable")
                    && !link.equals(readLink(Path.of("/proc/self/ns/net")))) {
                put(into, "net firewall", labels.firewalls.computeIfAbsent(link, l -> firewall(dir)));
                put(into, "net devices", labels.devices.computeIfAbsent(link, l -> devices(dir)));
                put(into, "net conntrack", labels.conntrack.computeIfAbsent(link, l -> conntrack(dir)));
                labels.sysctls.computeIfAbsent(link, l -> sysctls(dir)).forEach((k, v) -> put(into, "net sysctl " + k, v));
            }
        }
        for (String file : new String[] {"personality", "oom_score_adj", "loginuid", "sessionid", "coredump_filter",
                "timens_offsets", "uid_map", "gid_map", "projid_map", "setgroups", "attr/current"}) {
            put(into, file, read(dir.resolve(file)).strip().replaceAll("[ \t]+", " "));
        }
        put(into, "cgroup", cgroups(read(dir.resolve("cgroup"))));
        put(into, "auxv", auxv(dir));
        for (String line : lines(dir.resolve("arch_status"))) { // "AVX512_elapsed_ms" is a clock
            if (!line.startsWith("AVX512_elapsed_ms")) {
                put(into, "arch_status", line);
            }
        }
        for (String line : lines(dir.resolve("ksm_stat"))) { // PR_SET_MEMORY_MERGE; the rest are counters
            if (line.startsWith("ksm_merge_any")) {
                put(into, "ksm_stat ksm_merge_any", line.substring(line.indexOf(':') + 1).strip());
            }
        }
        // "/autogroup-65 nice 0": the group's number is the kernel's, its nice is state; a pre-copy's
        // freeze raises the frozen tree's group for its own ptrace round trips (FreezePriority) and
        // sets it back: the group's own nice is the one from before
        String group = read(dir.resolve("autogroup")).strip();
        java.util.OptionalInt before = dev.cryo.engine.dump.FreezePriority.niceBeforeRaise(group.split("\\s+")[0]);
        put(into, "autogroup nice", before.isPresent() ? "nice " + before.getAsInt() : group.replaceAll("^\\S+\\s*", ""));
        put(into, "cmdline", read(dir.resolve("cmdline")).replace('\0', ' '));
        put(into, "environ", read(dir.resolve("environ")).replace('\0', '\n'));
    }

    /**
     * In a cgroup's files: what is not a setting (membership, counters, pressure figures, triggers),
     * and cgroup.freeze, which dump --freeze-cgroup sets while a frozen snapshot is taken (not carried: README).
     * Of memory.oom_control only its first line, oom_kill_disable, is a setting.
     */
    private static final Pattern CGROUP_NOT_SETTING = Pattern.compile("cgroup\\.procs|tasks|cgroup\\.threads|.*\\.pressure"
            + "|.*failcnt|.*max_usage_in_bytes|cgroup\\.freeze");

    /**
     * The cgroups of the tree as a service manager leaves them: per hierarchy, the lowest cgroup
     * holding all its processes and every one below it (below each process's own where that is the
     * host's root), empty or not, each with its owner, mode and every setting (a file its owner may
     * read and write, and a v1 devices cgroup's rules).
     */
    private static void treeCgroups(List<Integer> pids, Map<String, String> into) {
        dev.cryo.engine.cgroups.CgroupMounts mounts = dev.cryo.engine.cgroups.CgroupMounts.read();
        Map<String, Set<String>> paths = new TreeMap<>(); // hierarchy -> the processes' cgroups
        for (int pid : pids) {
            for (String line : lines(Path.of("/proc/" + procOf(pid) + "/cgroup"))) {
                String[] f = line.split(":", 3);
                if (f.length == 3) {
                    paths.computeIfAbsent(f[1], h -> new TreeSet<>()).add(f[2]);
                }
            }
        }
        paths.forEach((hierarchy, own) -> {
            String top = own.iterator().next();
            for (String path : own) {
                while (!(path + "/").startsWith(top.equals("/") ? "/" : top + "/")) {
                    top = top.substring(0, Math.max(1, top.lastIndexOf('/')));
                }
            }
            Set<String> roots = top.equals("/") ? own : Set.of(top);
            for (String r : roots) {
                if (r.equals("/")) {
                    continue;
                }
                java.util.Optional<Path> dir = mounts.dir(hierarchy, r);
                if (dir.isEmpty()) {
                    continue;
                }
                List<Path> subs;
                try (var walk = Files.walk(dir.get())) {
                    subs = walk.filter(d -> Files.isDirectory(d) && (roots == own ? !d.equals(dir.get()) : true)).sorted().toList();
                } catch (IOException | java.io.UncheckedIOException e) {
                    put(into, "cgroup " + hierarchy + ":" + r, "(unreadable: " + e + ")");
                    continue;
                }
                for (Path sub : subs) {
                    String rel = dir.get().relativize(sub).toString();
                    put(into, "cgroup " + (hierarchy.isEmpty() ? "unified" : hierarchy) + ":" + r + (rel.isEmpty() ? "" : "/" + rel),
                            cgroupSettings(sub));
                }
            }
        });
    }

    /** A cgroup's owner, mode and settings, as "0:0 755; memory.limit_in_bytes=...; ...". */
    private static String cgroupSettings(Path dir) {
        StringBuilder b = new StringBuilder();
        try (var files = Files.list(dir)) {
            b.append(Files.getAttribute(dir, "unix:uid")).append(':').append(Files.getAttribute(dir, "unix:gid"))
                    .append(' ').append(Integer.toOctalString((Integer) Files.getAttribute(dir, "unix:mode") & 07777));
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                int mode = (Integer) Files.getAttribute(file, "unix:mode");
                String name = file.getFileName().toString();
                if (name.equals("devices.list") || ((mode & 0600) == 0600 && !CGROUP_NOT_SETTING.matcher(name).matches())) {
                    String text = read(file).strip();
                    if (name.equals("memory.oom_control")) {
                        text = text.lines().findFirst().orElse(""); // oom_kill_disable; under_oom and oom_kill count
                    }
                    b.append("; ").append(name).append('=').append(text.replace('\n', ','));
                }
            }
        } catch (IOException e) {
            b.append(" (unreadable: ").append(e).append(')');
        }
        return b.toString();
    }

    /** The auxiliary vector the task was started with, as "type=value" pairs (its pointers are into its stack, which comes back at its address). */
    private static String auxv(Path dir) {
        try {
            StringBuilder b = new StringBuilder();
            for (var e : dev.cryo.kernel.proc.Auxv.parse(Files.readAllBytes(dir.resolve("auxv"))).entries()) {
                b.append(e.type()).append('=').append(Long.toHexString(e.value())).append(' ');
            }
            return b.toString().strip();
        } catch (IOException | RuntimeException e) {
            return "(unreadable: " + e.getClass().getSimpleName() + ")";
        }
    }

    private static final Pattern MAPS = Pattern.compile(
            "^(\\p{XDigit}+-\\p{XDigit}+)\\s+(\\S+)\\s+(\\p{XDigit}+)\\s+(\\S+)\\s+(\\d+)\\s*(.*)$");

    private static void readMaps(Path dir, Map<String, String> into, Labels labels) throws IOException {
        record Vma(long start, long end, String rest, String flags) {}
        List<Vma> vmas = new ArrayList<>();
        long start = 0;
        long end = 0;
        String rest = null;
        for (String line : lines(dir.resolve("smaps"))) {
            Matcher m = MAPS.matcher(line);
            if (m.matches()) {
                String[] r = m.group(1).split("-");
                start = Long.parseUnsignedLong(r[0], 16);
                end = Long.parseUnsignedLong(r[1], 16);
                String dev = m.group(4);
                String ino = m.group(5);
                String path = m.group(6);
                // a JVM's perf-data file is made again when another JVM deleted it (JvmPerfData): a new inode
                boolean renewed = dev.equals("00:01") || path.startsWith("/memfd:") || path.endsWith("(deleted)")
                        || path.matches("/tmp/hsperfdata_[^/]+/\\d+");
                String identity = renewed ? labels.of("shmem", dev + ":" + ino) : dev + " " + ino;
                Matcher socket = OBJECT_LINK.matcher(path);
                if (socket.matches()) { // a packet socket's ring: the socket is made anew, its inode compared as a label
                    path = socket.group(1) + ":[" + labels.of("inode", socket.group(2)) + "]";
                    identity = dev + " " + labels.of("inode", ino);
                } else if (path.startsWith("anon_inode:")) { // an io_uring's areas: the ring is made anew, its fd's label
                    identity = dev + " " + labels.of("inode", ino);
                }
                rest = m.group(2) + " " + m.group(3) + " " + identity + " " + tmpfileName(path, labels);
            } else if (rest != null && line.startsWith("VmFlags:")) {
                List<String> flags = new ArrayList<>(List.of(line.substring(8).strip().split(" ")));
                flags.removeAll(KNOWN_VMFLAGS);
                // "uw": userfaultfd write-protect registration. On a frozen dumped tree it is cryo's own
                // pre-copy tracking (a tree's own userfaultfd is an fd the dump refuses)
                flags.remove("uw");
                // "lo" on memfd_secret memory: its mmap locks every mapping of it (VM_LOCKED) and no call unlocks
                // one (mlock_fixup skips it), so a forked child's copy, which fork left unlocked, comes back locked
                if (rest.endsWith(dev.cryo.kernel.SecretMemory.PATH + " (deleted)")) {
                    flags.remove("lo");
                }
                Vma v = new Vma(start, end, rest, String.join(" ", flags));
                Vma last = vmas.isEmpty() ? null : vmas.get(vmas.size() - 1);
                // "gu" (guard pages were installed, Linux 6.18) is a sticky flag: the kernel merges areas
                // that differ only by it and the merged area keeps it, so coalescing does the same
                if (last != null && last.end() == v.start() && last.rest().equals(v.rest())
                        && withoutSticky(last.flags()).equals(withoutSticky(v.flags()))
                        && v.rest().matches("\\S+p 00000000 00:00 0 (\\[heap\\])?")) {
                    String merged = (" " + v.flags() + " ").contains(" gu ") ? v.flags() : last.flags();
                    vmas.set(vmas.size() - 1, new Vma(last.start(), v.end(), v.rest(), merged)); // see KNOWN_VMFLAGS
                } else {
                    vmas.add(v);
                }
                rest = null;
            }
        }
        for (Vma v : vmas) {
            String range = Long.toHexString(v.start()) + "-" + Long.toHexString(v.end());
            put(into, "maps " + range, v.rest());
            put(into, "smaps " + range + " VmFlags", v.flags());
        }
    }

    private static String withoutSticky(String flags) {
        return (" " + flags + " ").replace(" gu ", " ").strip();
    }

    private static final Pattern TMPFILE_NAME = Pattern.compile("/#(\\d+) \\(deleted\\)$");

    /** A file made with O_TMPFILE is named "DIR/#INO" after its inode, which a restore renews: a label. */
    private static String tmpfileName(String path, Labels labels) {
        Matcher m = TMPFILE_NAME.matcher(path);
        return m.find() ? path.substring(0, m.start()) + "/#" + labels.of("inode", m.group(1)) + " (deleted)" : path;
    }

    private static final Pattern OBJECT_LINK = Pattern.compile("^([a-z_]+):\\[(\\d+)\\]$");
    private static final Pattern HEX_INO = Pattern.compile("\\bino:(\\p{XDigit}+)");

    private static void readFds(Path dir, Map<String, String> into, Labels labels) throws IOException {
        // objects are labelled in fd order first: an epoll set lists its targets in the order of
        // the kernel's file pointers, which is no order at all
        for (int fd : ints(dir.resolve("fd"))) {
            Matcher obj = OBJECT_LINK.matcher(readLink(dir.resolve("fd/" + fd)));
            if (obj.matches()) {
                labels.of("inode", obj.group(2));
            }
        }
        // deleted files and memfds are made anew by a restore: an inotify watch on one names the
        // new inode and file handle, compared as labels like the fds' own inodes
        Set<String> renewed = new java.util.HashSet<>(boundSocketFiles(dir));
        for (int fd : ints(dir.resolve("fd"))) {
            String link = readLink(dir.resolve("fd/" + fd));
            if (link.startsWith("/") && (link.startsWith("/memfd:") || link.endsWith("(deleted)"))) {
                for (String line : lines(dir.resolve("fdinfo/" + fd))) {
                    if (line.startsWith("ino:")) {
                        renewed.add(line.substring(4).strip());
                    }
                }
            }
        }
        Map<String, String> ownMounts = ownMountNamespace(dir);
        dev.cryo.kernel.Fd pidfd = pidfd(dir);
        try {
            for (int fd : ints(dir.resolve("fd"))) {
                readFd(dir, pidfd, fd, into, labels, renewed, ownMounts);
            }
        } finally {
            if (pidfd != null) {
                pidfd.close();
            }
        }
    }

    /**
     * The inodes of the files the unix sockets of the process at {@code dir} are bound to: the restore binds them
     * again, which makes new files (an inotify watch on one, wireguard-go's on its UAPI socket, names the new one).
     */
    private static Set<String> boundSocketFiles(Path dir) throws IOException {
        Set<String> sockets = new java.util.HashSet<>();
        for (int fd : ints(dir.resolve("fd"))) {
            Matcher obj = OBJECT_LINK.matcher(readLink(dir.resolve("fd/" + fd)));
            if (obj.matches() && obj.group(1).equals("socket")) {
                sockets.add(obj.group(2));
            }
        }
        Set<String> out = new java.util.HashSet<>();
        if (sockets.isEmpty()) {
            return out;
        }
        for (String line : lines(dir.resolve("net/unix"))) {
            String[] f = line.strip().split("\\s+");
            if (f.length == 8 && f[7].startsWith("/") && sockets.contains(f[6])) {
                try {
                    out.add(Files.getAttribute(dir.resolve("root").resolve(f[7].substring(1)), "unix:ino").toString());
                } catch (IOException | RuntimeException gone) {
                    // removed since it was bound: no file to watch
                }
            }
        }
        return out;
    }

    /** A pidfd of the task of {@code dir}, or null when it is gone. */
    private static dev.cryo.kernel.Fd pidfd(Path dir) {
        try {
            dev.cryo.kernel.Pid p = dev.cryo.kernel.Pid.of(Integer.parseInt(dir.getFileName().toString()));
            // the thread that stands for a process whose main thread has exited (procOf) takes a thread's pidfd
            return dev.cryo.kernel.Sys.pidfdOpen(p, isThreadOnly(p.value()) ? dev.cryo.kernel.Sys.PIDFD_THREAD : 0);
        } catch (dev.cryo.kernel.KernelException e) {
            return null;
        }
    }

    /** Whether fd {@code fd} of the process at {@code dir} is a POSIX message queue of an ipc namespace other than ours. */
    private static boolean ownIpcQueue(Path dir, int fd, String link) {
        try {
            return link.matches("/[^/]+") && dev.cryo.kernel.Sys.fsMagic(dir.resolve("fd/" + fd).toString())
                    == dev.cryo.kernel.Sys.MQUEUE_MAGIC && !readLink(dir.resolve("ns/ipc")).equals(readLink(Path.of("/proc/self/ns/ipc")));
        } catch (RuntimeException gone) {
            return false;
        }
    }

    /** Whether fd {@code fd} of the process at {@code dir} is a file of a cgroup file system (v1 or v2). */
    private static boolean cgroupFile(Path dir, int fd) {
        try {
            long magic = dev.cryo.kernel.Sys.fsMagic(dir.resolve("fd/" + fd).toString());
            return magic == dev.cryo.kernel.Sys.CGROUP_SUPER_MAGIC || magic == dev.cryo.kernel.Sys.CGROUP2_SUPER_MAGIC;
        } catch (RuntimeException gone) {
            return false;
        }
    }

    private static void readFd(Path dir, dev.cryo.kernel.Fd pidfd, int fd, Map<String, String> into, Labels labels,
                               Set<String> renewed, Map<String, String> ownMounts) {
        {
            String link = readLink(dir.resolve("fd/" + fd));
            Matcher obj = OBJECT_LINK.matcher(link);
            boolean regular = link.startsWith("/") && !link.startsWith("/memfd:") && !link.endsWith("(deleted)");
            String shownLink = obj.matches() ? obj.group(1) + ":" + labels.of("inode", obj.group(2)) : link;
            if (!regular && !obj.matches() && link.startsWith("/")) {
                shownLink = tmpfileName(link, labels); // memfd or deleted file: the path is state, the inode is compared as a label
            }
            String prefix = "fd " + fd + " ";
            put(into, prefix + "link", shownLink);
            if (obj.matches() && obj.group(1).equals("socket")) {
                readUnixSocket(dir, fd, prefix, into);
            }
            if (pidfd != null) {
                HeldFdState.read(dir, pidfd, fd, link, prefix, (k, v) -> put(into, k, v));
            }
            // through the fd, not its path: a lookup of a /proc/PID/net path drops the dentry the fd holds (it then reads "(deleted)")
            boolean isFile = regular && Files.isRegularFile(dir.resolve("fd/" + fd));
            boolean timerfd = link.equals("anon_inode:[timerfd]");
            List<String> fdinfo = byTarget(lines(dir.resolve("fdinfo/" + fd)));
            // a periodic timerfd that has expired shows no time left until the program reads it (the
            // kernel sets its next expiry then): it is as armed as one counting down
            boolean periodic = timerfd && fdinfo.stream().anyMatch(l -> l.startsWith("it_interval:") && !l.endsWith("(0, 0)"));
            // a one-shot timerfd that expired (ticks unread) did what the armed one it was does: a timer
            // with a few ms left at the dump may expire while the restored tree is held for the snapshot
            boolean fired = timerfd && fdinfo.stream().anyMatch(l -> l.startsWith("ticks:") && !l.substring(6).strip().equals("0"));
            for (String line : fdinfo) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String key = line.substring(0, colon).strip();
                String value = line.substring(colon + 1).strip();
                switch (key) {
                    case "pos" -> {
                        if (isFile) {
                            into.put(prefix + "fdinfo pos-may-advance", "yes");
                        }
                        if (link.equals("/dev/net/tun")) {
                            continue; // bytes through a tun file: it cannot seek (ESPIPE), nothing reads it back
                        }
                    }
                    case "ino" -> {
                        // a file of a process's own /proc directory gets a new inode with the new
                        // process instance (procfs numbers them as it goes), a POSIX queue of the tree's
                        // own ipc namespace is made anew with it, a cgroup's file too when the restore made
                        // the cgroup again (kernfs numbers files as they are made): compared as a label
                        if (!regular || link.matches("/proc/\\d+/.*") || ownIpcQueue(dir, fd, link) || cgroupFile(dir, fd)) {
                            value = labels.of("inode", value);
                        }
                    }
                    case "mnt_id" -> {
                        // mount ids are the kernel's, new with every mount: in a mount namespace the
                        // restore made again, the mount is named by its point and file system instead
                        if (ownIpcQueue(dir, fd, link)) {
                            // mq_open's file is on its ipc namespace's internal mqueue mount, in no mount table
                            value = "its ipc namespace's own mqueue mount";
                        } else if (ownMounts != null) {
                            // an fd opened before the namespace was made is on the host's mount
                            String own = ownMounts.get(value);
                            value = own != null ? own : hostMounts().getOrDefault(value, treeMount(dir, value, labels));
                        }
                    }
                    case "eventfd-id" -> value = labels.of("eventfd", value);
                    case "ticks" -> {
                        if (timerfd) {
                            continue; // expirations counted since the last read: they accrue as time passes
                        }
                    }
                    case "it_value" -> {
                        if (timerfd) {
                            value = value.equals("(0, 0)") && !periodic && !fired ? "disarmed" : "armed";
                        }
                    }
                    case "tfd" -> value = relabelHexInodes(withoutTunPos(dir, line), labels);
                    case "inotify", "fanotify ino" -> value = relabelHexInodes(line, labels);
                    case "inotify wd" -> value = relabelRenewedWatch(value, renewed, labels);
                    case "lock" -> value = relabelRenewedLock(value, renewed, labels);
                    default -> {
                    }
                }
                String item = prefix + "fdinfo " + key;
                // several lines share a key (epoll's tfd, inotify's marks): keep them all, sorted, as
                // the kernel lists them in the order of its own pointers
                into.merge(item, value, (x, y) -> String.join("\n",
                        new TreeSet<>(List.of((x + "\n" + y).split("\n")))));
            }
        }
    }

    /**
     * The established TCP entries of the conntrack table of a net namespace of the tree's, each with what makes it the
     * same entry (tuples, so its NAT, status bits, mark, labels, helper: {@link dev.cryo.kernel.net.ConntrackEntry#identity}):
     * a table lost at the restore breaks its NAT and stateful filters. Other entries come and go with traffic and time
     * out in seconds (a ping's, a closed connection's): NetNamespaceTest checks those it carries.
     */
    private static String conntrack(Path dir) {
        try (dev.cryo.kernel.Fd ns = dev.cryo.kernel.Sys.open(dir.resolve("ns/net").toString(),
                dev.cryo.kernel.Fcntl.O_RDONLY | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
            return dev.cryo.kernel.Namespaces.insideNet(ns, () -> !dev.cryo.kernel.net.Conntrack.tracked() ? ""
                    : String.join("\n", new TreeSet<>(dev.cryo.kernel.net.Conntrack.entries().stream()
                    .filter(e -> "ESTABLISHED".equals(e.tcpState())).map(e -> e.identity()).toList())));
        } catch (RuntimeException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /**
     * The firewall of a net namespace of the tree's, as a user of each tool sees it: iptables-nft's
     * tables by iptables-nft-save, the others by nft (sets, maps, their elements). Counters move as
     * packets pass (a restored connection's kernel sends an ACK before the tree resumes; iptables-nft-restore
     * gives a built-in chain a policy counter iptables made without), and an element's remaining time
     * moves: only their presence is compared (NetNamespaceTest checks values). A restore's network lock inside the
     * namespace (table inet cryo_restore_*) is left out: it holds connection attempts until the tree runs, and goes then.
     * "" without nft.
     */
    private static String firewall(Path dir) {
        if (!Files.isExecutable(Path.of("/usr/sbin/nft"))) {
            return "";
        }
        String ns = "--net=" + dir.resolve("ns/net");
        StringBuilder out = new StringBuilder();
        Set<String> byIptables = new TreeSet<>();
        for (String tool : new String[] {"iptables", "ip6tables"}) {
            if (Files.isExecutable(Path.of("/usr/sbin/" + tool + "-nft-save"))) {
                for (String line : command("nsenter", ns, tool + "-nft-save", "-c").split("\n")) {
                    if (!line.startsWith("#")) {
                        out.append(tool).append(": ").append(line.replaceAll("\\[\\d+:\\d+]", "[:]")).append('\n');
                    }
                    if (line.startsWith("*")) {
                        byIptables.add("table " + (tool.equals("iptables") ? "ip " : "ip6 ") + line.substring(1) + " {");
                    }
                }
            }
        }
        boolean skip = false;
        for (String line : command("nsenter", ns, "nft", "list", "ruleset").split("\n")) {
            skip = line.startsWith("table ") ? byIptables.contains(line) || line.startsWith("table inet cryo_restore_") : skip;
            if (!skip && !line.startsWith("#") && !line.isBlank()) { // blank: none at all, or between sets and chains
                out.append("nft: ").append(line.replaceAll(" expires \\S+", "")
                        .replaceAll("packets \\d+ bytes \\d+", "packets bytes")).append('\n');
            }
        }
        return out.toString();
    }

    /**
     * The devices of a net namespace of the tree's: ifindex, name, the peer's name when it is in the
     * same namespace, MTU and MAC. Programs hold ifindexes (multicast memberships, packet sockets,
     * their own tables): a device that came back under another index is another device to them. The
     * index of a peer in another namespace ("@if12") is that namespace's and is left out. A tun/tap
     * device's also its up flag, queue length and what {@code ip -d} shows of it: type, flags, queues,
     * persistence, owner and group.
     */
    private static String devices(Path dir) {
        StringBuilder out = new StringBuilder();
        for (String line : command("nsenter", "--net=" + dir.resolve("ns/net"), "ip", "-d", "-o", "link", "show").split("\n")) {
            String[] f = line.replace("\\", " ").strip().split("\\s+");
            if (f.length < 3 || !f[0].matches("\\d+:")) {
                out.append(line).append('\n'); // "(... failed)"
                continue;
            }
            StringBuilder d = new StringBuilder(f[0]).append(' ').append(f[1].replaceAll("@if\\d+:$", ":"));
            int tun = List.of(f).indexOf("tun");
            for (int i = 3; i + 1 < f.length; i++) {
                if (f[i].equals("link/none")) { // a tun's: no address follows
                    d.append(' ').append(f[i]);
                } else if (f[i].equals("mtu") || f[i].startsWith("link/") || tun > 0 && f[i].equals("qlen")) {
                    d.append(' ').append(f[i]).append(' ').append(f[i + 1]);
                }
            }
            for (String part : line.split("\\\\")) { // a bridge's, its ports' and a macvlan's settings, but timers
                String w = part.strip();
                if (w.startsWith("bridge ") || w.startsWith("bridge_slave ") || w.startsWith("macvlan ")) {
                    int tail = w.indexOf(" addrgenmode ");
                    d.append(' ').append((tail > 0 ? w.substring(0, tail) : w).replaceAll("[a-z_]*timer +[0-9.]+ ?", ""));
                }
            }
            int master = List.of(f).indexOf("master");
            if (master > 0) {
                d.append(" master ").append(f[master + 1]);
            }
            if (tun > 0 && f[tun - 2].equals("maxmtu")) {
                d.append(' ').append(f[2]); // up, and its carrier: whether a file is attached
                for (int i = tun; i < f.length && !f[i].equals("addrgenmode"); i++) {
                    d.append(' ').append(f[i]);
                }
            }
            out.append(d).append('\n');
        }
        return out.toString();
    }

    /**
     * The sysctls of a net namespace of the tree's that a program may set: every file under
     * /proc/sys/net its owner may read and write (conf/all, conf/default, each device's, neigh, TCP,
     * unix...), as a task of the namespace reads them. An unset stable_secret cannot be read and is left out.
     */
    private static Map<String, String> sysctls(Path dir) {
        Map<String, String> out = new TreeMap<>();
        String lines = command("nsenter", "--net=" + dir.resolve("ns/net"), "sh", "-c",
                "cd /proc/sys/net && find . -type f -perm -u=rw -exec grep -sH '' {} + ; true");
        for (String line : lines.split("\n")) { // "./ipv4/conf/all/forwarding:1"; a multi-line value gives a line each
            int colon = line.indexOf(':');
            String key = colon > 2 && line.startsWith("./") ? line.substring(2, colon) : "(unread)";
            out.merge(key, colon > 2 ? line.substring(colon + 1) : line, (x, y) -> x + "\n" + y);
        }
        return out;
    }

    private static String command(String... argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.waitFor() == 0 ? out : "(" + String.join(" ", argv) + " failed)";
        } catch (IOException e) {
            return "(" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    /** The options a program sets on a unix socket that /proc does not show, and what the restore must make again. */
    private static final Map<String, Integer> UNIX_OPTIONS = new LinkedHashMap<>();

    static {
        UNIX_OPTIONS.put("SO_PASSCRED", dev.cryo.kernel.net.Sockets.SO_PASSCRED);
        UNIX_OPTIONS.put("SO_PASSSEC", dev.cryo.kernel.net.Sockets.SO_PASSSEC);
        UNIX_OPTIONS.put("SO_PASSPIDFD", dev.cryo.kernel.net.Sockets.SO_PASSPIDFD);
        UNIX_OPTIONS.put("SO_PEEK_OFF", dev.cryo.kernel.net.Sockets.SO_PEEK_OFF);
        UNIX_OPTIONS.put("SO_RCVLOWAT", dev.cryo.kernel.net.Sockets.SO_RCVLOWAT);
        UNIX_OPTIONS.put("SO_SNDBUF", dev.cryo.kernel.net.Sockets.SO_SNDBUF);
        UNIX_OPTIONS.put("SO_RCVBUF", dev.cryo.kernel.net.Sockets.SO_RCVBUF);
    }

    /**
     * A unix socket's SO_PEERCRED (what the kernel recorded at socketpair, connect or listen: D-Bus,
     * polkit, a database's peer authentication check it), its name and its peer's (an accepted socket
     * repeats its listener's) and its {@link #UNIX_OPTIONS}, read through a
     * copy of the fd (pidfd_getfd). The peer's pid is given as the holder sees it, in its pid namespace.
     */
    private static void readUnixSocket(Path dir, int fd, String prefix, Map<String, String> into) {
        dev.cryo.kernel.Pid pid = dev.cryo.kernel.Pid.of(Integer.parseInt(dir.getFileName().toString()));
        try (dev.cryo.kernel.Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(pid);
             dev.cryo.kernel.Fd s = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, pid, fd)) {
            if (dev.cryo.kernel.net.Sockets.getInt(s, dev.cryo.kernel.net.Sockets.SOL_SOCKET,
                    dev.cryo.kernel.net.Sockets.SO_DOMAIN) != dev.cryo.kernel.net.SockAddr.AF_UNIX) {
                readUdpSocket(s, prefix, into);
                return;
            }
            var c = dev.cryo.kernel.net.Sockets.peerCred(s);
            put(into, prefix + "SO_PEERCRED", c.present() ? "pid " + pidSeenBy(c.pid(), dir) + " uid " + c.uid()
                    + " gid " + c.gid() : "none");
            put(into, prefix + "SO_PEERGROUPS", java.util.Arrays.toString(dev.cryo.kernel.net.Sockets.peerGroups(s)));
            put(into, prefix + "SO_PEERPIDFD", peerPidfd(s, c));
            put(into, prefix + "sockname", dev.cryo.kernel.net.Sockets.sockName(s).toString());
            var peer = dev.cryo.kernel.net.Sockets.peerName(s);
            put(into, prefix + "peername", peer == null ? "none" : peer.toString());
            for (Map.Entry<String, Integer> o : UNIX_OPTIONS.entrySet()) {
                put(into, prefix + o.getKey(), Integer.toString(dev.cryo.kernel.net.Sockets.getInt(s,
                        dev.cryo.kernel.net.Sockets.SOL_SOCKET, o.getValue())));
            }
        } catch (dev.cryo.kernel.KernelException e) {
            put(into, prefix + "SO_PEERCRED" + SKIP_MARK, e.getMessage()); // the fd closed meanwhile
        }
    }

    /**
     * A UDP socket's cork: UDP_CORK and whether bytes wait corked (their count is the kernel's buffer
     * accounting, which also counts datagrams handed to IP still waiting below the socket, for neighbour
     * discovery or in a qdisc: a restore lets those go); a UDP-Lite socket's also its protocol and checksum coverage.
     */
    private static void readUdpSocket(dev.cryo.kernel.Fd s, String prefix, Map<String, String> into) {
        int protocol = dev.cryo.kernel.net.Sockets.getInt(s, dev.cryo.kernel.net.Sockets.SOL_SOCKET,
                dev.cryo.kernel.net.Sockets.SO_PROTOCOL);
        if (protocol == dev.cryo.kernel.net.Sockets.IPPROTO_UDPLITE) {
            put(into, prefix + "SO_PROTOCOL", "UDP-Lite");
            for (int o : new int[] {dev.cryo.kernel.net.Sockets.UDPLITE_SEND_CSCOV, dev.cryo.kernel.net.Sockets.UDPLITE_RECV_CSCOV}) {
                put(into, prefix + "UDPLITE cscov " + o, Integer.toString(dev.cryo.kernel.net.Sockets.getInt(s,
                        dev.cryo.kernel.net.Sockets.SOL_UDPLITE, o)));
            }
        } else if (protocol != dev.cryo.kernel.net.Sockets.IPPROTO_UDP) {
            return;
        }
        put(into, prefix + "UDP_CORK", Integer.toString(dev.cryo.kernel.net.Sockets.getInt(s,
                dev.cryo.kernel.net.Sockets.SOL_UDP, dev.cryo.kernel.net.Sockets.UDP_CORK)));
        put(into, prefix + "corked bytes", dev.cryo.kernel.net.Sockets.ioctlInt(s, dev.cryo.kernel.net.Sockets.SIOCOUTQ,
                "SIOCOUTQ") > 0 ? "some" : "none");
    }

    /**
     * What SO_PEERPIDFD gives: a pidfd of the very process SO_PEERCRED names ("the peer"), of one
     * that has exited ("exited", the kernel keeps its pid), of another ("pid N"), or none.
     */
    private static String peerPidfd(dev.cryo.kernel.Fd s, dev.cryo.kernel.net.Sockets.Ucred c) {
        int fd;
        try {
            fd = dev.cryo.kernel.net.Sockets.getInt(s, dev.cryo.kernel.net.Sockets.SOL_SOCKET,
                    dev.cryo.kernel.net.Sockets.SO_PEERPIDFD);
        } catch (dev.cryo.kernel.SyscallException e) {
            return "none (" + e.getMessage().replaceAll(".*: ", "") + ")";
        }
        try (dev.cryo.kernel.Fd pidfd = new dev.cryo.kernel.Fd(fd)) {
            for (String line : lines(Path.of("/proc/self/fdinfo/" + pidfd.value()))) {
                if (line.startsWith("Pid:")) {
                    int pid = Integer.parseInt(line.substring(4).strip());
                    return pid == c.pid() && pid > 0 ? "the peer" : pid <= 0 ? "exited" : "pid " + pid;
                }
            }
            return "(no Pid in its fdinfo)";
        }
    }

    /**
     * Host pid {@code pid} as the task of {@code dir} sees it: its number in the task's pid namespace
     * (NSpid), when it runs there; else "host N" (a process gone, or outside the task's namespace).
     */
    private static String pidSeenBy(int pid, Path dir) {
        String[] holder = nsPids(dir);
        if (holder.length <= 1) {
            return Integer.toString(pid);
        }
        String[] peer = nsPids(Path.of("/proc/" + pid));
        if (peer.length >= holder.length && readLink(Path.of("/proc/" + pid + "/ns/pid")).equals(readLink(dir.resolve("ns/pid")))) {
            return peer[holder.length - 1];
        }
        return "host " + pid;
    }

    private static String[] nsPids(Path dir) {
        for (String line : lines(dir.resolve("status"))) {
            if (line.startsWith("NSpid:")) {
                return line.substring(6).strip().split("\\s+");
            }
        }
        return new String[0];
    }

    /**
     * The mount table of a mount namespace of the tree's, by mount point (mounts stacked on one
     * point sorted too): root, per-mount options, propagation (peer groups as labels: their numbers are the
     * kernel's), file system, source and super-block options. A restore may mount siblings in another order.
     */
    private static Map<String, String> mountTable(Path dir, Labels labels) {
        List<String[]> mounts = new ArrayList<>();
        Set<String> host = new java.util.HashSet<>(hostMounts().values());
        Set<String> copies = new java.util.HashSet<>();
        for (String line : lines(dir.resolve("mountinfo"))) {
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (dash < 6 || dash + 3 >= f.length) {
                mounts.add(new String[] {line, line});
                continue;
            }
            boolean copy = host.contains(f[4] + " " + f[dash + 1] + " " + f[dash + 2] + " " + f[3]);
            if (copy) {
                copies.add(f[4]); // the host has it too: a copy the host may unmount on its own
            }
            // an nsfs mount of a namespace of the tree's names it, and a restore renews it: a label (one the
            // host bound names the host's, which the restore leaves as it is)
            String root = NS_ROOT.matcher(f[3]).matches() && !copy && !isHostNamespace(f[3]) ? labels.of("ns", f[3]) : f[3];
            StringBuilder b = new StringBuilder(root).append(' ').append(f[5]);
            for (int i = 6; i < dash; i++) {
                b.append(' ').append(f[i]);
            }
            b.append(" - ").append(f[dash + 1]).append(' ').append(f[dash + 2]).append(' ').append(f[dash + 3]);
            mounts.add(new String[] {f[4], b.toString()});
        }
        mounts.sort(java.util.Comparator.comparing((String[] m) -> m[0] + " " + PEER_GROUP.matcher(m[1]).replaceAll("$1"))
                .thenComparing(m -> m[1]));
        Map<String, String> table = new TreeMap<>();
        for (String[] m : mounts) { // peer groups labelled in the sorted order, which the restore cannot change
            Matcher g = PEER_GROUP.matcher(m[1]);
            StringBuilder b = new StringBuilder();
            while (g.find()) {
                g.appendReplacement(b, g.group(1) + ":" + labels.of("peer group", g.group(2)));
            }
            g.appendTail(b);
            table.merge(m[0], b.toString(), (x, y) -> x + "\n" + y); // mounts stacked on one point
        }
        copies.forEach(point -> table.computeIfPresent(point, (k, v) -> v + HOST_COPY));
        return table;
    }

    private static final Pattern NS_ROOT = Pattern.compile("[a-z_]+:\\[\\d+\\]");

    private static boolean isHostNamespace(String link) {
        String kind = link.substring(0, link.indexOf(':'));
        return link.equals(readLink(Path.of("/proc/1/ns/" + kind))) || link.equals(readLink(Path.of("/proc/self/ns/" + kind)));
    }

    /** /proc/sysvipc's columns that are not state: the pids and times of the last operations (no call sets them), memory use. */
    private static final Set<String> IPC_MOVING = Set.of("cpid", "lpid", "atime", "dtime", "ctime", "rss", "swap", "otime",
            "lspid", "lrpid", "stime", "rtime");

    /**
     * The SysV objects of an ipc namespace of the tree's, as a task in it sees them (/proc/sysvipc
     * shows the reader's namespace): each segment's, semaphore set's and queue's key, id, mode, size,
     * attachments, owners, message bytes and count, each semaphore's value and waiters (ipcs); and the
     * namespace's limits.
     */
    private static String ipcObjects(Path dir) {
        String script = "for f in shm sem msg; do echo \"== $f\"; cat /proc/sysvipc/$f; done;"
                + " for id in $(awk 'NR>1{print $2}' /proc/sysvipc/sem); do echo \"== sem $id\"; ipcs -s -i $id; done;"
                + " cd /proc/sys/kernel && echo \"== limits\" && cat shmmax shmall shmmni msgmax msgmnb msgmni sem;"
                // the rest of IpcImage.SYSCTLS, by name: the next ids and the POSIX queue limits
                + " for f in shm_rmid_forced auto_msgmni msg_next_id sem_next_id shm_next_id ../fs/mqueue/queues_max"
                + " ../fs/mqueue/msg_max ../fs/mqueue/msgsize_max ../fs/mqueue/msg_default ../fs/mqueue/msgsize_default;"
                + " do echo \"${f##*/} $(cat $f)\"; done";
        StringBuilder out = new StringBuilder();
        String[] header = null;
        for (String line : command("nsenter", "--ipc=" + dir.resolve("ns/ipc"), "sh", "-c", script).split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (line.startsWith("==") || line.isBlank()) {
                header = null;
                out.append(line.strip()).append('\n');
            } else if (header == null && f[0].equals("key")) {
                header = f;
            } else if (header != null && f.length == header.length) {
                for (int i = 0; i < f.length; i++) {
                    if (!IPC_MOVING.contains(header[i])) {
                        out.append(header[i]).append('=').append(f[i]).append(' ');
                    }
                }
                out.append('\n');
            } else if (!line.matches("\\s*(otime|ctime|semnum).*") && f.length != 5) {
                out.append(line.strip()).append('\n'); // ipcs's owner and mode lines, the limits
            } else if (f.length == 5 && f[0].matches("\\d+")) {
                out.append("semnum ").append(f[0]).append(" value ").append(f[1]).append(" ncount ").append(f[2])
                        .append(" zcount ").append(f[3]).append('\n'); // the last pid to operate is the restore's
            }
        }
        return out.toString();
    }

    private static final Pattern PEER_GROUP = Pattern.compile("\\b(shared|master|propagate_from):(\\d+)");

    /** Mount id → "point fs source root" when the task is in a mount namespace other than pid 1's; else null. */
    private static Map<String, String> ownMountNamespace(Path dir) throws IOException {
        String mine = readLink(dir.resolve("ns/mnt"));
        if (mine.startsWith("(unreadable") || mine.equals(readLink(Path.of("/proc/1/ns/mnt")))) {
            return null;
        }
        return mountsOf(dir);
    }

    /**
     * Mount {@code id} named by point and file system in the mount namespace of another task of the tree
     * (a child keeps an fd its parent opened before the child made its own namespace: zdtm's mntns_open), or
     * in its own as a task of the tree that is not chrooted sees it (zdtm's chroot in a container).
     */
    private static String treeMount(Path dir, String id, Labels labels) {
        String mine = readLink(dir.resolve("ns/mnt"));
        for (int pid : labels.tree) {
            Path other = Path.of("/proc/" + pid);
            String ns = readLink(other.resolve("ns/mnt"));
            String m = mountsOf(other).get(id);
            if (m != null) { // of its own namespace too when the task is chrooted: its table shows the mounts below its root only
                return ns.equals(mine) ? m : "pid " + pid + "'s namespace's " + m;
            }
        }
        // a detached mount (umount -l, open_tree, fsmount): a restore makes a new one, compared by order of appearance
        return "a mount in no mountinfo, " + labels.of("detached mount", id);
    }

    private static Map<String, String> hostMounts() {
        return mountsOf(Path.of("/proc/self"));
    }

    private static Map<String, String> mountsOf(Path dir) {
        Map<String, String> out = new java.util.HashMap<>();
        for (String line : lines(dir.resolve("mountinfo"))) {
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (dash > 4 && dash + 2 < f.length) {
                out.put(f[0], f[4] + " " + f[dash + 1] + " " + f[dash + 2] + " " + f[3]);
            }
        }
        return out;
    }

    private static final Pattern WATCH_INO = Pattern.compile("\\bino:(\\p{XDigit}+)");
    /** A lock line's file: "MAJ:MIN:INO" (inode in decimal). */
    private static final Pattern LOCK_FILE = Pattern.compile("\\b(\\p{XDigit}+:\\p{XDigit}+):(\\d+)\\b");

    /** A lock on a renewed file (deleted, memfd) names its new inode: compared as a label. */
    private static String relabelRenewedLock(String value, Set<String> renewed, Labels labels) {
        Matcher m = LOCK_FILE.matcher(value);
        if (!m.find() || !renewed.contains(m.group(2))) {
            return value;
        }
        return value.substring(0, m.start()) + m.group(1) + ":" + labels.of("inode", m.group(2)) + value.substring(m.end());
    }
    private static final Pattern WATCH_HANDLE = Pattern.compile("\\bf_handle:(\\p{XDigit}+)");

    /**
     * An inotify watch on a renewed file (deleted, memfd), or on a file system no mount of the host shows (a tmpfs
     * a mount namespace of the tree's mounted, made anew by the restore: zdtm's inotify01): its inode, device and
     * file handle as labels.
     */
    private static String relabelRenewedWatch(String value, Set<String> renewed, Labels labels) {
        Matcher m = WATCH_INO.matcher(value);
        if (!m.find()) {
            return value;
        }
        String ino = Long.toString(Long.parseLong(m.group(1), 16));
        Matcher d = WATCH_DEV.matcher(value);
        String dev = d.find() ? d.group(1) : null;
        boolean treesOwn = dev != null && !hostDevices().contains(dev);
        if (!renewed.contains(ino) && !treesOwn) {
            return value;
        }
        String key = treesOwn ? dev + ":" + ino : ino; // inode numbers repeat across file systems
        String v = WATCH_INO.matcher(value).replaceAll("ino:" + labels.of("inode", key));
        if (treesOwn) {
            v = WATCH_DEV.matcher(v).replaceAll("sdev:" + labels.of("device", dev));
        }
        return WATCH_HANDLE.matcher(v).replaceAll("f_handle:" + labels.of("handle", key));
    }

    private static final Pattern WATCH_DEV = Pattern.compile("\\bsdev:(\\p{XDigit}+)");

    /** The devices of the host's mounts as an inotify line's sdev shows them (hex, 12-bit major above a 20-bit minor). */
    private static Set<String> hostDevices() {
        Set<String> out = new java.util.HashSet<>();
        for (String line : lines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[2].matches("\\d+:\\d+")) {
                String[] mm = f[2].split(":");
                out.add(Long.toHexString((Long.parseLong(mm[0]) << 20) | Long.parseLong(mm[1])));
            }
        }
        return out;
    }

    /** epoll and inotify lines name the watched file by hex inode: label them like the fds' own. */
    /**
     * An epoll's fdinfo with its watches ("tfd:" lines) in the order of their fd numbers: the
     * kernel lists them in the order of its file pointers, new in a restored tree, and files first
     * seen there get their inode labels in the order they are read.
     */
    private static List<String> byTarget(List<String> fdinfo) {
        List<String> watches = fdinfo.stream().filter(l -> l.startsWith("tfd:"))
                .sorted(Comparator.comparingInt((String l) -> Integer.parseInt(l.substring(4).strip().split("\\s+")[0]))
                        .thenComparing(Comparator.naturalOrder()))
                .toList();
        if (watches.isEmpty()) {
            return fdinfo;
        }
        List<String> out = new ArrayList<>(fdinfo.stream().filter(l -> !l.startsWith("tfd:")).toList());
        out.addAll(watches);
        return out;
    }

    private static final Pattern TFD_NUMBER = Pattern.compile("^tfd:\\s*(\\d+)\\b"), TFD_POS = Pattern.compile("\\bpos:\\d+\\s*");

    /** An epoll watch's line without the position of a watched tun file, which is not compared (see "pos"). */
    private static String withoutTunPos(Path dir, String line) {
        Matcher m = TFD_NUMBER.matcher(line);
        try {
            if (m.find() && readLink(dir.resolve("fd/" + m.group(1))).equals("/dev/net/tun")) {
                return TFD_POS.matcher(line).replaceAll("");
            }
        } catch (RuntimeException closedSince) {
            // the watch was added through an fd closed since: nothing to tell it by
        }
        return line;
    }

    private static String relabelHexInodes(String line, Labels labels) {
        Matcher m = HEX_INO.matcher(line);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(b, "ino:" + labels.of("inode", Long.toString(Long.parseLong(m.group(1), 16))));
        }
        m.appendTail(b);
        return b.toString().strip();
    }

    /** The root and every descendant, by scanning every task's parent. */
    static List<Integer> tree(int root) throws IOException {
        Map<Integer, List<Integer>> children = new HashMap<>();
        for (int pid : ints(Path.of("/proc"))) {
            String stat = read(Path.of("/proc/" + pid + "/stat"));
            int close = stat.lastIndexOf(')');
            if (close < 0 || stat.startsWith("(unreadable")) {
                continue; // gone meanwhile
            }
            int ppid = Integer.parseInt(stat.substring(close + 2).split(" ")[1]);
            children.computeIfAbsent(ppid, k -> new ArrayList<>()).add(pid);
        }
        List<Integer> out = new ArrayList<>();
        List<Integer> queue = new ArrayList<>(List.of(root));
        while (!queue.isEmpty()) {
            int p = queue.remove(0);
            out.add(p);
            List<Integer> c = new ArrayList<>(children.getOrDefault(p, List.of()));
            c.sort(null);
            queue.addAll(c);
        }
        out.sort(null);
        return out;
    }

    private static List<Integer> ints(Path dir) throws IOException {
        List<Integer> out = new ArrayList<>();
        for (Path p : list(dir)) {
            String n = p.getFileName().toString();
            if (!n.isEmpty() && n.chars().allMatch(Character::isDigit)) {
                out.add(Integer.parseInt(n));
            }
        }
        out.sort(null);
        return out;
    }

    private static List<Path> list(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(out::add);
        } catch (java.nio.file.NoSuchFileException e) {
            return out;
        }
        out.sort(null);
        return out;
    }

    private static String read(Path p) {
        try {
            return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e.getClass().getSimpleName() + ")";
        }
    }

    private static List<String> lines(Path p) {
        String s = read(p);
        return s.startsWith("(unreadable") ? List.of(s) : s.lines().toList();
    }

    private static String readLink(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (IOException e) {
            return "(unreadable: " + e.getClass().getSimpleName() + ")";
        }
    }
}
