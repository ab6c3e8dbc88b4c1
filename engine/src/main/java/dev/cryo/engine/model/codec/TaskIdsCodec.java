package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.kernel.Clone;

public final class TaskIdsCodec implements RecordCodec<TaskIds> {
    public static final TaskIdsCodec INSTANCE = new TaskIdsCodec();

    public Class<TaskIds> type() { return TaskIds.class; }
    public int id() { return ModelCodecs.TASK_IDS_ID; }
    public int version() { return 1; }

    public void write(Output out, TaskIds t) {
        out.writeVarInt(t.pid(), false);
        out.writeVarInt(t.ppid(), false);
        out.writeVarInt(t.pgid(), false);
        out.writeVarInt(t.sid(), false);
        out.writeVarInt(t.ttyNr(), false);
        out.writeVarInt(t.tpgid(), false);
        out.writeVarInt(t.sharedWithParent(), true);
    }

    public TaskIds read(Input in, int version) {
        TaskIds ids = new TaskIds(in.readVarInt(false), in.readVarInt(false), in.readVarInt(false),
                in.readVarInt(false), in.readVarInt(false), in.readVarInt(false), in.readVarInt(true));
        if ((ids.sharedWithParent() & ~(Clone.FILES | Clone.FS)) != 0) { // only these are ever forked with
            throw new KryoException("TaskIds.sharedWithParent: unexpected clone flags 0x"
                    + Integer.toHexString(ids.sharedWithParent()));
        }
        return ids;
    }
}
