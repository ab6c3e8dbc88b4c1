package dev.cryo.engine.show;

import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SeccompFilter;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.kernel.Seccomp;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.ptrace.Registers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One TaskImage (and its page chunks) as a JSON-able tree; see {@link ImageJson}. */
final class TaskJson {
    private TaskJson() {}

    private static final String[] RLIMIT_NAMES = {"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
            "memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"};

    /** {@code fillOf}: the byte a fill chunk's pages hold (read from the image). */
    static Map<String, Object> task(TaskImage t, List<IndexEntry> pages, boolean listPages,
                                    java.util.function.ToIntFunction<IndexEntry> fillOf) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", t.ids().pid());
        m.put("ppid", t.ids().ppid());
        m.put("pgid", t.ids().pgid());
        m.put("sid", t.ids().sid());
        if (t.ids().ttyNr() != 0) {
            m.put("ttyNr", dev.cryo.engine.show.ShowFormat.hex(t.ids().ttyNr()));
            m.put("tpgid", t.ids().tpgid());
        }
        if (t.ids().sharedWithParent() != 0) { // its fds are listed with the parent's
            m.put("sharesWithParent", dev.cryo.kernel.Clone.describeTables(t.ids().sharedWithParent()));
        }
        m.put("comm", t.comm());
        m.put("exe", t.exe() == null ? null : t.exe().path());
        m.put("cwd", t.cwd());
        m.put("root", t.root());
        m.put("umask", octal(t.umask()));
        m.put("personality", hex(Integer.toUnsignedLong(t.personality())));
        m.put("creds", creds(t.creds()));
        m.put("rlimits", t.rlimits().stream().map(TaskJson::rlimit).toList());
        // the ~60 default actions are noise; only what the program changed is shown
        m.put("sigactions", t.sigactions().stream().filter(s -> s.handler() != 0 || s.flags() != 0)
                .map(TaskJson::sigaction).toList());
        m.put("sharedPendingSignals", signals(t.sharedPendingSignals()));
        m.put("mm", mm(t.mm()));
        m.put("threads", t.threads().stream().map(TaskJson::thread).toList());
        m.put("vmas", t.vmas().stream().map(TaskJson::vma).toList());
        if (!t.ghostFiles().isEmpty()) {
            m.put("ghostFiles", t.ghostFiles().stream().map(g -> {
                Map<String, Object> f = new LinkedHashMap<>();
                f.put("path", g.file().path());
                f.put("ino", g.file().ino());
                f.put("mode", Integer.toOctalString(g.file().mode()));
                f.put("size", g.file().size());
                f.put("dataBytes", g.dataBytes());
                if (g.apart()) {
                    f.put("apart", true); // its contents follow in ghost data records, a chunk each
                }
                if (!g.linkedAt().isEmpty()) {
                    f.put("linkedAt", g.linkedAt()); // no contents: the file is still there under that name
                }
                if (g.hugePageBytes() > 0) {
                    f.put("hugePageKb", g.hugePageBytes() / 1024); // made again on a hugetlbfs mount
                }
                if (g.mountOf() != 0) {
                    f.put("mountOf", g.mountOf()); // made again in that task's mount namespace
                }
                return f;
            }).toList());
        }
        m.put("fds", t.fds().stream().map(TaskJson::fd).toList());
        m.put("security", security(t.security()));
        m.put("timers", TimingJson.timers(t.timers()));
        m.put("oomScoreAdj", t.oomScoreAdj());
        m.put("execed", t.execed());
        if (!t.semUndo().adjustments().isEmpty()) {
            m.put("semUndo", t.semUndo().json());
        }
        if (!t.cgroups().places().isEmpty() || !t.cgroups().threads().isEmpty()) {
            m.put("cgroups", t.cgroups().json());
        }
        m.put("pages", pageSummary(pages));
        if (listPages) m.put("pageChunks", pages.stream().map(e -> pageChunk(e, fillOf)).toList());
        return m;
    }

    private static Map<String, Object> creds(Creds c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("uids", c.uids());
        m.put("gids", c.gids());
        m.put("groups", c.groups());
        m.put("capInh", hex(c.capInh()));
        m.put("capPrm", hex(c.capPrm()));
        m.put("capEff", hex(c.capEff()));
        m.put("capBnd", hex(c.capBnd()));
        m.put("capAmb", hex(c.capAmb()));
        return m;
    }

    private static Map<String, Object> rlimit(Rlimit r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("resource", r.resource());
        m.put("name", r.resource() >= 0 && r.resource() < RLIMIT_NAMES.length ? RLIMIT_NAMES[r.resource()] : null);
        m.put("soft", r.soft()); // -1 is RLIM_INFINITY
        m.put("hard", r.hard());
        return m;
    }

    private static Map<String, Object> sigaction(SigAction s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("signal", s.signal());
        m.put("handler", hex(s.handler()));
        m.put("flags", hex(s.flags()));
        m.put("restorer", hex(s.restorer()));
        m.put("mask", hex(s.mask()));
        return m;
    }

    private static Map<String, Object> mm(MmImage mm) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("startCode", hex(mm.startCode()));
        m.put("endCode", hex(mm.endCode()));
        m.put("startData", hex(mm.startData()));
        m.put("endData", hex(mm.endData()));
        m.put("startBrk", hex(mm.startBrk()));
        m.put("brk", hex(mm.brk()));
        m.put("startStack", hex(mm.startStack()));
        m.put("argStart", hex(mm.argStart()));
        m.put("argEnd", hex(mm.argEnd()));
        m.put("envStart", hex(mm.envStart()));
        m.put("envEnd", hex(mm.envEnd()));
        m.put("auxvWords", mm.auxv().length);
        m.put("thpDisabled", mm.thpDisabled());
        m.put("coredumpFilter", hex(mm.coredumpFilter()));
        if (mm.membarrier() != 0) {
            m.put("membarrierRegistrations", hex(mm.membarrier()));
        }
        if (mm.mdwe() != 0) {
            m.put("mdwe", mm.mdwe());
        }
        if (mm.mergeAny()) {
            m.put("ksmMergeAny", true);
        }
        if (mm.mlockFuture() != 0) {
            m.put("mlockFuture", mm.mlockFuture());
        }
        if (!mm.areaPolicies().isEmpty()) {
            m.put("numaPolicies", dev.cryo.engine.memory.NumaPolicies.json(mm));
        }
        return m;
    }

    private static Map<String, Object> thread(ThreadImage t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tid", t.tid());
        Map<String, Object> regs = new LinkedHashMap<>();
        long[] words = t.regs();
        for (int i = 0; i < words.length; i++) {
            regs.put(i < Registers.WORDS ? Registers.name(i) : "word" + i, hex(words[i]));
        }
        m.put("regs", regs);
        m.put("xstateBytes", t.xstate().length);
        m.put("sigmask", hex(t.sigmask()));
        m.put("rseq", ordered("address", hex(t.rseqAddress()), "length", t.rseqLength(),
                "signature", hex(Integer.toUnsignedLong(t.rseqSignature()))));
        m.put("robustList", ordered("head", hex(t.robustListHead()), "length", t.robustListLength()));
        m.put("clearChildTid", hex(t.clearChildTid()));
        m.put("altStack", ordered("sp", hex(t.altStackSp()), "flags", t.altStackFlags(), "size", t.altStackSize()));
        m.put("pendingSignals", signals(t.pendingSignals()));
        m.put("security", threadSecurity(t.security()));
        m.put("sched", TimingJson.sched(t.sched()));
        m.put("sleep", t.sleep() == null ? null : TimingJson.sleep(t.sleep()));
        if (!t.traps().equals(dev.cryo.engine.model.ThreadTraps.NONE)) {
            m.put("traps", t.traps().json());
        }
        if (t.fs() != null) {
            m.put("fs", t.fs().json());
        }
        if (t.mempolicy() != null && !t.mempolicy().isDefault()) {
            m.put("numaPolicy", t.mempolicy().text());
        }
        if (t.ns() != null) {
            m.put("ns", t.ns().json());
        }
        if (t.files() != null) {
            m.put("fdTable", t.files().json());
            if (!t.files().alone().isEmpty()) {
                m.put("fdsAlone", t.files().alone().stream().map(TaskJson::fd).toList());
            }
        }
        return m;
    }

    private static Map<String, Object> security(SecurityImage s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("dumpable", s.dumpable());
        m.put("childSubreaper", s.childSubreaper());
        if (s.loginuid() != SecurityImage.LOGINUID_UNSET) {
            m.put("loginuid", s.loginuid());
        }
        List<Map<String, Object>> filters = new java.util.ArrayList<>();
        for (int i = 0; i < s.seccompFilters().size(); i++) {
            SeccompFilter f = s.seccompFilters().get(i);
            filters.add(ordered("index", i, "parent", f.parent(), "log", (f.flags() & Seccomp.FILTER_FLAG_LOG) != 0,
                    "instructions", f.instructions(), "program", bpf(f.program())));
        }
        m.put("seccompFilters", filters);
        if (!s.keyrings().isEmpty()) {
            m.put("keyrings", s.keyrings().stream().map(dev.cryo.engine.keyrings.Keyrings::json).toList());
        }
        return m;
    }

    /** Each sock_filter as "code jt jf k" in hex, the way bpf_asm -c lists them. */
    private static List<String> bpf(byte[] program) {
        ByteBuffer b = ByteBuffer.wrap(program).order(ByteOrder.LITTLE_ENDIAN);
        List<String> out = new java.util.ArrayList<>();
        for (int off = 0; off + 8 <= program.length; off += 8) {
            out.add(String.format("%04x %02x %02x %08x", b.getShort(off) & 0xffff, b.get(off + 2) & 0xff,
                    b.get(off + 3) & 0xff, b.getInt(off + 4)));
        }
        return out;
    }

    private static final String[] SECCOMP_MODES = {"disabled", "strict", "filter"};

    private static Map<String, Object> threadSecurity(ThreadSecurity s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("capInh", hex(s.capInh()));
        m.put("capPrm", hex(s.capPrm()));
        m.put("capEff", hex(s.capEff()));
        m.put("capBnd", hex(s.capBnd()));
        m.put("capAmb", hex(s.capAmb()));
        m.put("securebits", hex(Integer.toUnsignedLong(s.securebits())));
        m.put("noNewPrivs", s.noNewPrivs());
        m.put("seccompMode", s.seccompMode() >= 0 && s.seccompMode() < SECCOMP_MODES.length
                ? SECCOMP_MODES[s.seccompMode()] : Integer.toString(s.seccompMode()));
        m.put("seccompFilter", s.seccompFilter()); // newest filter of the chain in the task's table, -1: none
        if (s.ownIds() != null) { // ids of its own, not its task's
            m.put("uids", s.ownIds().uids());
            m.put("gids", s.ownIds().gids());
            m.put("groups", s.ownIds().groups());
        }
        return m;
    }

    /** si_signo is the first int32 (little-endian on x86_64) of each 128-byte siginfo_t. */
    private static Map<String, Object> signals(List<byte[]> siginfos) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", siginfos.size());
        m.put("signals", siginfos.stream()
                .map(s -> s.length >= 4 ? ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN).getInt(0) : -1).toList());
        return m;
    }

    private static Map<String, Object> vma(VmaImage v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("start", hex(v.start()));
        m.put("end", hex(v.end()));
        m.put("prot", prot(v.prot(), v.flags()));
        m.put("kind", v.kind().name());
        m.put("file", v.file() == null ? null : v.file().path());
        m.put("offset", hex(v.offset()));
        m.put("dumpedPages", v.dumpedPages());
        m.put("zeroPages", v.zeroPages());
        if (v.advice() != 0) {
            m.put("advice", dev.cryo.engine.memory.VmAdvice.names(v.advice()));
        }
        if (v.inherited().length > 0) { // one frame with the parent's since a fork: restored shared again
            m.put("sharedWithParentPages", v.inheritedPages());
        }
        v.kind().show(v, m);
        return m;
    }

    /** As in /proc/PID/maps: "r-xp", "rw-s". */
    static String prot(int prot, int flags) {
        return "" + ((prot & VmaImage.PROT_READ) != 0 ? 'r' : '-') + ((prot & VmaImage.PROT_WRITE) != 0 ? 'w' : '-')
                + ((prot & VmaImage.PROT_EXEC) != 0 ? 'x' : '-') + ((flags & VmaImage.MAP_SHARED) != 0 ? 's' : 'p');
    }

    private static Map<String, Object> fd(FdImage f) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fd", f.fd());
        m.put("flags", octal(f.flags()));
        m.put("position", f.position());
        m.putAll(FdHandlers.show(f.desc()));
        if (f.owner() != null) {
            m.put("signalOwner", f.owner().toString());
        }
        if (f.dirNotify() != 0) {
            m.put("dirNotify", dev.cryo.kernel.DirNotifications.describe(f.dirNotify()));
        }
        return m;
    }

    private static Map<String, Object> pageSummary(List<IndexEntry> pages) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("chunks", pages.size());
        m.put("pages", pages.stream().mapToLong(e -> Integer.toUnsignedLong(e.pageCount())).sum());
        m.put("bytes", pages.stream().mapToLong(e -> Integer.toUnsignedLong(e.storedLength())).sum());
        long filled = pages.stream().filter(IndexEntry::fill).mapToLong(e -> Integer.toUnsignedLong(e.pageCount())).sum();
        if (filled > 0) {
            m.put("filledPages", filled);
        }
        return m;
    }

    private static Map<String, Object> pageChunk(IndexEntry e, java.util.function.ToIntFunction<IndexEntry> fillOf) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vaddr", hex(e.vaddr()));
        m.put("pages", Integer.toUnsignedLong(e.pageCount()));
        m.put("storedBytes", Integer.toUnsignedLong(e.storedLength()));
        m.put("compressed", e.compressed());
        if (e.fill()) {
            m.put("filledWith", String.format("0x%02x", fillOf.applyAsInt(e)));
        }
        return m;
    }

    /** Map.of has no stable order; printed JSON should. */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        return ShowFormat.ordered(keysAndValues);
    }

    static String hex(long v) {
        return ShowFormat.hex(v);
    }

    static String octal(int v) {
        return ShowFormat.octal(v);
    }
}
