package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadFdTable;
import dev.cryo.engine.model.ThreadFs;
import dev.cryo.engine.model.ThreadNs;
import dev.cryo.engine.model.ThreadTraps;

public final class ThreadImageCodec implements RecordCodec<ThreadImage> {
    public static final ThreadImageCodec INSTANCE = new ThreadImageCodec();

    public Class<ThreadImage> type() { return ThreadImage.class; }
    public int id() { return ModelCodecs.THREAD_IMAGE_ID; }
    public int version() { return 11; } // 2: the fault switches (ThreadTraps), 3: syscall user dispatch, 4: ThreadFs, 5: ThreadNs, 6: ThreadFdTable, 7: its files alone, 8: a net namespace of its own, 9: a cgroup namespace of its own, 10: an ipc namespace of its own, 11: its NUMA memory policy

    public void write(Output out, ThreadImage t) {
        out.writeVarInt(t.tid(), false);
        ModelFields.writeLongs(out, t.regs(), ModelLimits.REGS, "ThreadImage.regs");
        ModelFields.writeBytes(out, t.xstate(), ModelLimits.XSTATE, "ThreadImage.xstate");
        out.writeLong(t.sigmask());
        out.writeLong(t.rseqAddress());
        out.writeVarInt(t.rseqLength(), false);
        out.writeInt(t.rseqSignature());
        out.writeLong(t.robustListHead());
        out.writeLong(t.robustListLength());
        out.writeLong(t.clearChildTid());
        out.writeLong(t.altStackSp());
        out.writeVarInt(t.altStackFlags(), false);
        out.writeLong(t.altStackSize());
        ModelFields.writeSiginfos(out, t.pendingSignals(), ModelLimits.PENDING_SIGNALS, "ThreadImage.pendingSignals");
        ModelFields.writeText(out, t.name(), ModelLimits.TEXT, "ThreadImage.name");
        out.writeVarInt(t.pdeathSignal(), false);
        RecordFields.writeRecord(out, ThreadSecurityCodec.INSTANCE, t.security());
        RecordFields.writeRecord(out, SchedImageCodec.INSTANCE, t.sched());
        RecordFields.writeNullable(out, t.sleep(), (o, s) -> RecordFields.writeRecord(o, SleepImageCodec.INSTANCE, s));
        out.writeBoolean(t.traps().cpuidFaults());
        out.writeBoolean(t.traps().tscFaults());
        out.writeVarInt(t.traps().mceKill(), true);
        out.writeLong(t.traps().sudMode());
        out.writeLong(t.traps().sudSelector());
        out.writeLong(t.traps().sudOffset());
        out.writeLong(t.traps().sudLength());
        RecordFields.writeNullable(out, t.fs(), (o, fs) -> {
            ModelFields.writeText(o, fs.cwd(), ModelLimits.PATH, "ThreadFs.cwd");
            ModelFields.writeText(o, fs.root(), ModelLimits.PATH, "ThreadFs.root");
            o.writeVarInt(fs.umask(), false);
        });
        RecordFields.writeNullable(out, t.ns(), (o, ns) -> {
            RecordFields.writeNullable(o, ns.hostname(), (o2, h) -> ModelFields.writeText(o2, h, ModelLimits.TEXT, "ThreadNs.hostname"));
            RecordFields.writeNullable(o, ns.domainname(), (o2, d) -> ModelFields.writeText(o2, d, ModelLimits.TEXT, "ThreadNs.domainname"));
            RecordFields.writeNullable(o, ns.netBoundAt(), (o2, n) -> ModelFields.writeText(o2, n, ModelLimits.PATH, "ThreadNs.netBoundAt"));
            o.writeBoolean(ns.netOwn());
            o.writeBoolean(ns.loUp());
            o.writeBoolean(ns.cgroupOwn());
            o.writeBoolean(ns.ipcOwn());
        });
        RecordFields.writeNullable(out, t.files(), (o, files) -> {
            o.writeVarInt(files.entries().size(), true);
            for (ThreadFdTable.Entry e : files.entries()) {
                o.writeVarInt(e.fd(), true);
                o.writeVarInt(e.processFd(), true);
                o.writeBoolean(e.cloexec());
            }
            ModelFields.writeList(o, FdImageCodec.INSTANCE, files.alone(), ModelLimits.FDS, "ThreadFdTable.alone");
        });
        RecordFields.writeNullable(out, t.mempolicy(), MemPolicyCodec::write);
    }

    public ThreadImage read(Input in, int version) {
        return new ThreadImage(in.readVarInt(false),
                ModelFields.readLongs(in, ModelLimits.REGS, "ThreadImage.regs"),
                ModelFields.readBytes(in, ModelLimits.XSTATE, "ThreadImage.xstate"),
                in.readLong(), in.readLong(), in.readVarInt(false), in.readInt(), in.readLong(), in.readLong(),
                in.readLong(), in.readLong(), in.readVarInt(false), in.readLong(),
                ModelFields.readSiginfos(in, ModelLimits.PENDING_SIGNALS, "ThreadImage.pendingSignals"),
                ModelFields.readText(in, ModelLimits.TEXT, "ThreadImage.name"), in.readVarInt(false),
                RecordFields.readRecord(in, ThreadSecurityCodec.INSTANCE),
                RecordFields.readRecord(in, SchedImageCodec.INSTANCE),
                RecordFields.readNullable(in, i -> RecordFields.readRecord(i, SleepImageCodec.INSTANCE)),
                version >= 2 ? traps(in, version) : ThreadTraps.NONE,
                version >= 4 ? RecordFields.readNullable(in, ThreadImageCodec::fs) : null,
                version >= 5 ? RecordFields.readNullable(in, i -> ns(i, version)) : null,
                version >= 6 ? RecordFields.readNullable(in, i -> files(i, version)) : null,
                version >= 11 ? RecordFields.readNullable(in, MemPolicyCodec::read) : null);
    }

    private static ThreadFdTable files(Input in, int version) {
        int n = ModelFields.readCount(in, "ThreadFdTable", ModelLimits.FDS, "entries");
        java.util.List<ThreadFdTable.Entry> entries = new java.util.ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                entries.add(new ThreadFdTable.Entry(in.readVarInt(true), in.readVarInt(true), in.readBoolean()));
            }
        } catch (IllegalArgumentException e) {
            throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
        }
        return new ThreadFdTable(entries, version >= 7
                ? ModelFields.readList(in, FdImageCodec.INSTANCE, ModelLimits.FDS, "ThreadFdTable.alone") : java.util.List.of());
    }

    private static ThreadNs ns(Input in, int version) {
        String host = RecordFields.readNullable(in, i -> ModelFields.readText(i, ModelLimits.TEXT, "ThreadNs.hostname"));
        String domain = RecordFields.readNullable(in, i -> ModelFields.readText(i, ModelLimits.TEXT, "ThreadNs.domainname"));
        String net = RecordFields.readNullable(in, i -> ModelFields.readText(i, ModelLimits.PATH, "ThreadNs.netBoundAt"));
        try {
            return version >= 8 ? new ThreadNs(host, domain, net, in.readBoolean(), in.readBoolean(),
                    version >= 9 && in.readBoolean(), version >= 10 && in.readBoolean()) : new ThreadNs(host, domain, net);
        } catch (IllegalArgumentException e) {
            throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
        }
    }

    private static ThreadFs fs(Input in) {
        String cwd = ModelFields.readText(in, ModelLimits.PATH, "ThreadFs.cwd");
        String root = ModelFields.readText(in, ModelLimits.PATH, "ThreadFs.root");
        try {
            return new ThreadFs(cwd, root, in.readVarInt(false));
        } catch (IllegalArgumentException e) {
            throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
        }
    }

    private static ThreadTraps traps(Input in, int version) {
        boolean cpuid = in.readBoolean(), tsc = in.readBoolean();
        int mce = in.readVarInt(true);
        long[] sud = version >= 3 ? new long[] {in.readLong(), in.readLong(), in.readLong(), in.readLong()} : new long[4];
        try {
            return new ThreadTraps(cpuid, tsc, mce, sud[0], sud[1], sud[2], sud[3]);
        } catch (IllegalArgumentException e) {
            throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
        }
    }
}
