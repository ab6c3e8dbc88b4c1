package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.Conntrack;
import dev.cryo.kernel.net.ConntrackAbi;
import dev.cryo.kernel.net.ConntrackEntry;
import dev.cryo.kernel.net.ConntrackExpectation;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The conntrack table of a net namespace the tree made, carried in its {@link NetNamespaceImage}: a made-new
 * namespace starts with an empty one, so a restored connection through a DNAT or masquerade rule lost its NAT (the
 * replies no longer un-NATed), one through a strict stateful filter was dropped, and conntrackd's cache stayed ahead
 * of the kernel for good. Read frozen, once the tree's connections are held (the network lock), made again (ctnetlink,
 * with the remaining timeouts) after the namespace's firewall and before its sockets are rebuilt, then its
 * expectations (a helper's, FTP's or SIP's, waiting for a related connection: without one, the data connection of
 * an FTP session begun before the dump was a new one, which a stateful filter drops and no NAT follows). An entry or
 * expectation ctnetlink cannot make again is refused by name. An entry a helper expected (the data connection open)
 * is made after the others, tied to its master.
 */
public final class NetConntrack {
    private NetConntrack() {}

    /** The record id of one entry (nested in {@link NetNamespaceImage}). */
    public static final int RECORD_ID = 6480;
    /** The record id of one expectation (nested in {@link NetNamespaceImage}). */
    public static final int EXPECTATION_RECORD_ID = 6640;

    /** A table: its entries, and its expectations (made after the entries, their masters among them). */
    public record Table(List<ConntrackEntry> entries, List<ConntrackExpectation> expectations) {
        static final Table EMPTY = new Table(List.of(), List.of());
    }

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(NetConntrack.class);

    private static final int MAX_L4 = 6, MAX_LABELS = 16, MAX_PROTOINFO = 256, HELPER = 64;

    /**
     * {@code nets} with the conntrack tables of those the tree made (not one bound on the host, which it joins
     * again: its table stays with it), read frozen.
     */
    public static List<NetNamespaceImage> withTables(List<NetNamespaceImage> nets, List<NamespaceImage> namespaces) {
        Set<Integer> joined = new HashSet<>();
        namespaces.stream().filter(NamespaceImage::joinsNet).forEach(n -> joined.add(n.pid()));
        List<NetNamespaceImage> out = new ArrayList<>();
        for (NetNamespaceImage n : nets) {
            out.add(joined.contains(n.pid()) ? n : n.withConntrack(read(Pid.of(n.pid()))));
        }
        return out;
    }

    /**
     * The table of the net namespace task {@code p} made; refuses by name what cannot be made again. One that tracks
     * nothing (no conntrack rule: the usual container) is seen empty through /proc/PID/net, and no thread joins it
     * (a thread made, joined and asked took 25 ms of the freeze for a one-entry table at load 20).
     */
    static Table read(Pid p) {
        if (count(NetNamespaceScan.readOr("/proc/" + p + "/net/stat/nf_conntrack", "")) == 0) {
            return Table.EMPTY; // an expectation needs a tracked connection too
        }
        String what = "pid " + p + ": its net namespace (" + Namespaces.link(p.toString(), "net") + ")";
        return Namespaces.inside(p, "net", () -> {
            if (!Conntrack.tracked()) {
                return Table.EMPTY;
            }
            try {
                // one with no second left is gone: made again it would expire at once (and fail the check after)
                List<ConntrackEntry> entries = Conntrack.entries().stream().filter(e -> e.timeout() > 0).toList();
                Set<ConntrackEntry.Tuple> masters = new HashSet<>();
                entries.forEach(e -> masters.add(e.orig()));
                for (ConntrackEntry e : entries) {
                    if (e.master() != null && !masters.contains(e.master())) {
                        throw new DumpException(what + ": conntrack entry " + e.orig() + " was expected by " + e.master()
                                + ", which is expiring (no second left): it cannot be made again tied to it; not supported");
                    }
                }
                List<ConntrackExpectation> expectations = new ArrayList<>();
                for (ConntrackExpectation x : Conntrack.expectations()) {
                    if (x.timeout() > 0 && masters.contains(x.master())) { // else it goes with its master
                        expectations.add(x);
                    }
                }
                return new Table(entries, expectations);
            } catch (ConntrackEntry.NotCarried e) {
                throw new DumpException(what + ": conntrack entry " + e.entry() + ": " + e.reason() + "; not supported");
            } catch (KernelException e) {
                throw new DumpException(what + ": " + e.getMessage(), e);
            }
        });
    }

    /**
     * The entries of a table by its /proc/net/stat/nf_conntrack {@code stat} (a header line, then a line per CPU, the
     * table's count first, in hex): 0 without conntrack, -1 unreadable.
     */
    static long count(String stat) {
        String[] lines = stat.split("\n");
        if (lines.length < 2 || !lines[0].startsWith("entries")) {
            return stat.isBlank() ? 0 : -1;
        }
        try {
            return Long.parseLong(lines[1].strip().split("\\s+")[0], 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Makes the table of {@code n} again in the net namespace of its task (made new by the restore): an entry the
     * kernel refused fails the restore by name. The kernel takes every attribute as given but NAT, which it sets up
     * itself from a range: with NATed entries the table is read back, and one NATed otherwise fails the restore too
     * (reading back all of 2000 entries took 74-132 ms at load 20, twice making them).
     */
    public static void restore(Pid p, List<ConntrackEntry> entries, List<ConntrackExpectation> expectations) {
        restore(p, entries);
        if (expectations.isEmpty()) {
            return;
        }
        String where = "the net namespace of pid " + p;
        Namespaces.inside(p, "net", () -> {
            try {
                Conntrack.createExpectations(expectations);
            } catch (KernelException | ConntrackEntry.NotCarried e) {
                throw new RestoreException(where + ": " + e.getMessage(), e);
            }
            return null;
        });
    }

    public static void restore(Pid p, List<ConntrackEntry> entries) {
        if (entries.isEmpty()) {
            return;
        }
        String where = "the net namespace of pid " + p;
        List<String> missing = Namespaces.inside(p, "net", () -> {
            try {
                long t0 = System.nanoTime();
                // an entry a helper expected is made after the others: its master must be there
                Conntrack.create(java.util.stream.Stream.concat(entries.stream().filter(e -> e.master() == null),
                        entries.stream().filter(e -> e.master() != null)).toList());
                long t1 = System.nanoTime();
                List<ConntrackEntry> nat = entries.stream().filter(e -> e.timeout() > 1 // with a second left: gone maybe
                        && (e.status() & (ConntrackAbi.IPS_SRC_NAT | ConntrackAbi.IPS_DST_NAT)) != 0).toList();
                Set<String> now = new HashSet<>();
                if (!nat.isEmpty()) {
                    Conntrack.entries().forEach(e -> now.add(e.identity()));
                }
                log.debug("{}: {} conntrack entries made in {} µs, {} with NAT read back in {} µs", where, entries.size(),
                        (t1 - t0) / 1000, nat.size(), (System.nanoTime() - t1) / 1000);
                return nat.stream().map(ConntrackEntry::identity).filter(e -> !now.contains(e)).toList();
            } catch (KernelException | ConntrackEntry.NotCarried e) {
                throw new RestoreException(where + ": " + e.getMessage(), e);
            }
        });
        if (!missing.isEmpty()) {
            throw new RestoreException(where + ": conntrack entry " + missing.get(0) + " is not in its table as it was"
                    + " dumped once made again" + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more)" : ""));
        }
    }

    /** For {@code cryo show}: each entry, with its remaining timeout. */
    static List<String> json(List<ConntrackEntry> entries) {
        return entries.stream().map(e -> e.identity() + ", timeout " + e.timeout() + " s").toList();
    }

    /** Version 2: an entry a helper expected, with its master's tuple (refused before). */
    public static final RecordCodec<ConntrackEntry> CODEC = RecordCodec.of(ConntrackEntry.class, RECORD_ID, 2,
            NetConntrack::write, NetConntrack::read);

    private static void write(Output out, ConntrackEntry e) {
        writeTuple(out, e.orig());
        writeTuple(out, e.reply());
        out.writeVarInt(e.zone(), true);
        out.writeVarLong(e.status(), true);
        out.writeVarLong(e.timeout(), true);
        out.writeVarLong(e.mark(), true);
        ModelFields.writeBytes(out, e.labels(), MAX_LABELS, "conntrack entry labels");
        ModelFields.writeBytes(out, e.protoinfo(), MAX_PROTOINFO, "conntrack entry protoinfo");
        out.writeVarInt(e.seqAdj().length, true);
        for (int v : e.seqAdj()) {
            out.writeInt(v);
        }
        ModelFields.writeText(out, e.helper(), HELPER, "conntrack entry helper");
        out.writeBoolean(e.master() != null);
        if (e.master() != null) {
            writeTuple(out, e.master());
        }
    }

    private static ConntrackEntry read(Input in, int version) {
        ConntrackEntry.Tuple orig = readTuple(in), reply = readTuple(in);
        if (orig.src().length != reply.src().length || orig.proto() != reply.proto()) {
            throw new KryoException("conntrack entry: its tuples are of different families or protocols");
        }
        int zone = in.readVarInt(true);
        long status = in.readVarLong(true), timeout = in.readVarLong(true), mark = in.readVarLong(true);
        if (zone > 0xffff || status > 0xffffffffL || timeout > 0xffffffffL || mark > 0xffffffffL) {
            throw new KryoException("conntrack entry: zone, status, timeout or mark out of range");
        }
        byte[] labels = ModelFields.readBytes(in, MAX_LABELS, "conntrack entry labels");
        byte[] protoinfo = ModelFields.readBytes(in, MAX_PROTOINFO, "conntrack entry protoinfo");
        int n = in.readVarInt(true);
        if (n != 0 && n != 6) {
            throw new KryoException("conntrack entry: " + n + " sequence adjustment values (0 or 6)");
        }
        int[] seqAdj = new int[n];
        for (int i = 0; i < n; i++) {
            seqAdj[i] = in.readInt();
        }
        String helper = ModelFields.readText(in, HELPER, "conntrack entry helper");
        ConntrackEntry.Tuple master = version >= 2 && in.readBoolean() ? readTuple(in) : null;
        return new ConntrackEntry(orig, reply, zone, status, timeout, mark, labels, protoinfo, seqAdj,
                helper == null ? "" : helper, master);
    }

    public static final RecordCodec<ConntrackExpectation> EXPECTATION_CODEC = RecordCodec.of(ConntrackExpectation.class,
            EXPECTATION_RECORD_ID, 1, NetConntrack::writeExpectation, (in, version) -> readExpectation(in));

    private static void writeExpectation(Output out, ConntrackExpectation x) {
        writeTuple(out, x.tuple());
        writeTuple(out, x.mask());
        writeTuple(out, x.master());
        out.writeVarLong(x.timeout(), true);
        out.writeVarInt(x.zone(), true);
        out.writeVarLong(x.flags(), true);
        out.writeVarLong(x.cls(), true);
        ModelFields.writeText(out, x.helper(), HELPER, "conntrack expectation helper");
        out.writeVarInt(x.natDir() + 1, true);
        if (x.nat() != null) {
            writeTuple(out, x.nat());
        }
        ModelFields.writeText(out, x.fn(), HELPER, "conntrack expectation function");
    }

    private static ConntrackExpectation readExpectation(Input in) {
        ConntrackEntry.Tuple tuple = readTuple(in), mask = readTuple(in), master = readTuple(in);
        long timeout = in.readVarLong(true);
        int zone = in.readVarInt(true);
        long flags = in.readVarLong(true), cls = in.readVarLong(true);
        if (zone > 0xffff || timeout > 0xffffffffL || flags > 0xffffffffL || cls > 0xffffffffL) {
            throw new KryoException("conntrack expectation: zone, timeout, flags or class out of range");
        }
        String helper = ModelFields.readText(in, HELPER, "conntrack expectation helper");
        int natDir = in.readVarInt(true) - 1;
        if (natDir > 1) {
            throw new KryoException("conntrack expectation: NAT direction " + natDir);
        }
        ConntrackEntry.Tuple nat = natDir < 0 ? null : readTuple(in);
        String fn = ModelFields.readText(in, HELPER, "conntrack expectation function");
        return new ConntrackExpectation(tuple, mask, master, timeout, zone, flags, cls, helper == null ? "" : helper,
                natDir, nat, fn == null ? "" : fn);
    }

    private static void writeTuple(Output out, ConntrackEntry.Tuple t) {
        ModelFields.writeBytes(out, t.src(), 16, "conntrack tuple address");
        ModelFields.writeBytes(out, t.dst(), 16, "conntrack tuple address");
        out.writeVarInt(t.proto(), true);
        out.writeVarInt(t.l4().length / 2, true);
        for (int v : t.l4()) {
            out.writeVarInt(v, true);
        }
        out.writeVarInt(t.zone() + 1, true);
    }

    private static ConntrackEntry.Tuple readTuple(Input in) {
        byte[] src = ModelFields.readBytes(in, 16, "conntrack tuple address");
        byte[] dst = ModelFields.readBytes(in, 16, "conntrack tuple address");
        if (src.length != dst.length || src.length != 4 && src.length != 16) {
            throw new KryoException("conntrack tuple: addresses of " + src.length + " and " + dst.length + " bytes");
        }
        int proto = in.readVarInt(true);
        int n = ModelFields.readCount(in, "conntrack tuple", MAX_L4, "protocol attributes");
        int[] l4 = new int[2 * n];
        for (int i = 0; i < n; i++) {
            int type = in.readVarInt(true), value = in.readVarInt(true);
            int width = ConntrackEntry.l4Width(type);
            if (width == 0 || value < 0 || value >= 1 << (8 * width)) {
                throw new KryoException("conntrack tuple: protocol attribute " + type + " = " + value);
            }
            l4[2 * i] = type;
            l4[2 * i + 1] = value;
        }
        int zone = in.readVarInt(true) - 1;
        if (proto > 255 || zone > 0xffff) {
            throw new KryoException("conntrack tuple: protocol " + proto + " or zone " + zone + " out of range");
        }
        return new ConntrackEntry.Tuple(src, dst, proto, l4, zone);
    }
}
