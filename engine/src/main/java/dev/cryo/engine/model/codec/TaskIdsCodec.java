package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.TaskIds;

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
    }

    public TaskIds read(Input in, int version) {
        return new TaskIds(in.readVarInt(false), in.readVarInt(false), in.readVarInt(false), in.readVarInt(false),
                in.readVarInt(false), in.readVarInt(false));
    }
}
