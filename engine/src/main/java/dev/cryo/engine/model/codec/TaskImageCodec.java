package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.TaskImage;

/** Top-level: one record per process, with everything but its page contents nested inside. */
public final class TaskImageCodec implements RecordCodec<TaskImage> {
    public static final TaskImageCodec INSTANCE = new TaskImageCodec();

    public Class<TaskImage> type() { return TaskImage.class; }
    public int id() { return ModelCodecs.TASK_IMAGE_ID; }
    public int version() { return 2; }

    public void write(Output out, TaskImage t) {
        RecordFields.writeRecord(out, TaskIdsCodec.INSTANCE, t.ids());
        ModelFields.writeText(out, t.comm(), ModelLimits.TEXT, "TaskImage.comm");
        RecordFields.writeNullable(out, t.exe(), (o, f) -> RecordFields.writeRecord(o, FileRefCodec.INSTANCE, f));
        ModelFields.writeText(out, t.cwd(), ModelLimits.PATH, "TaskImage.cwd");
        ModelFields.writeText(out, t.root(), ModelLimits.PATH, "TaskImage.root");
        out.writeVarInt(t.umask(), true);
        out.writeVarInt(t.personality(), true);
        RecordFields.writeRecord(out, CredsCodec.INSTANCE, t.creds());
        ModelFields.writeList(out, RlimitCodec.INSTANCE, t.rlimits(), ModelLimits.RLIMITS, "TaskImage.rlimits");
        ModelFields.writeList(out, SigActionCodec.INSTANCE, t.sigactions(), ModelLimits.SIGACTIONS, "TaskImage.sigactions");
        RecordFields.writeRecord(out, MmImageCodec.INSTANCE, t.mm());
        ModelFields.writeList(out, ThreadImageCodec.INSTANCE, t.threads(), ModelLimits.THREADS, "TaskImage.threads");
        ModelFields.writeList(out, VmaImageCodec.INSTANCE, t.vmas(), ModelLimits.VMAS, "TaskImage.vmas");
        ModelFields.writeList(out, FdImageCodec.INSTANCE, t.fds(), ModelLimits.FDS, "TaskImage.fds");
        ModelFields.writeSiginfos(out, t.sharedPendingSignals(), ModelLimits.PENDING_SIGNALS,
                "TaskImage.sharedPendingSignals");
        RecordFields.writeRecord(out, SecurityImageCodec.INSTANCE, t.security());
        RecordFields.writeRecord(out, TimersImageCodec.INSTANCE, t.timers());
        out.writeInt(t.oomScoreAdj());
        ModelFields.writeList(out, GhostFileCodec.INSTANCE, t.ghostFiles(), ModelLimits.GHOST_FILES, "TaskImage.ghostFiles");
        out.writeBoolean(t.execed());
        RecordFields.writeRecord(out, dev.cryo.engine.cgroups.CgroupMembership.CODEC, t.cgroups());
        RecordFields.writeRecord(out, dev.cryo.engine.ipc.SemUndo.CODEC, t.semUndo()); // v2
    }

    public TaskImage read(Input in, int version) {
        return new TaskImage(RecordFields.readRecord(in, TaskIdsCodec.INSTANCE),
                ModelFields.readText(in, ModelLimits.TEXT, "TaskImage.comm"),
                RecordFields.readNullable(in, i -> RecordFields.readRecord(i, FileRefCodec.INSTANCE)),
                ModelFields.readText(in, ModelLimits.PATH, "TaskImage.cwd"),
                ModelFields.readText(in, ModelLimits.PATH, "TaskImage.root"),
                in.readVarInt(true), in.readVarInt(true),
                RecordFields.readRecord(in, CredsCodec.INSTANCE),
                ModelFields.readList(in, RlimitCodec.INSTANCE, ModelLimits.RLIMITS, "TaskImage.rlimits"),
                ModelFields.readList(in, SigActionCodec.INSTANCE, ModelLimits.SIGACTIONS, "TaskImage.sigactions"),
                RecordFields.readRecord(in, MmImageCodec.INSTANCE),
                ModelFields.readList(in, ThreadImageCodec.INSTANCE, ModelLimits.THREADS, "TaskImage.threads"),
                ModelFields.readList(in, VmaImageCodec.INSTANCE, ModelLimits.VMAS, "TaskImage.vmas"),
                ModelFields.readList(in, FdImageCodec.INSTANCE, ModelLimits.FDS, "TaskImage.fds"),
                ModelFields.readSiginfos(in, ModelLimits.PENDING_SIGNALS, "TaskImage.sharedPendingSignals"),
                RecordFields.readRecord(in, SecurityImageCodec.INSTANCE),
                RecordFields.readRecord(in, TimersImageCodec.INSTANCE), in.readInt(),
                ModelFields.readList(in, GhostFileCodec.INSTANCE, ModelLimits.GHOST_FILES, "TaskImage.ghostFiles"),
                in.readBoolean(),
                RecordFields.readRecord(in, dev.cryo.engine.cgroups.CgroupMembership.CODEC),
                version < 2 ? dev.cryo.engine.ipc.SemUndo.NONE : RecordFields.readRecord(in, dev.cryo.engine.ipc.SemUndo.CODEC));
    }
}
