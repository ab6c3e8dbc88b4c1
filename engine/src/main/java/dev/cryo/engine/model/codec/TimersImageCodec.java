package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.TimersImage;

public final class TimersImageCodec implements RecordCodec<TimersImage> {
    public static final TimersImageCodec INSTANCE = new TimersImageCodec();

    public Class<TimersImage> type() { return TimersImage.class; }
    public int id() { return ModelCodecs.TIMERS_ID; }
    public int version() { return 1; }

    public void write(Output out, TimersImage t) {
        ModelFields.writeList(out, ItimerImageCodec.INSTANCE, t.itimers(), ModelLimits.ITIMERS, "TimersImage.itimers");
        ModelFields.writeList(out, PosixTimerImageCodec.INSTANCE, t.posixTimers(), ModelLimits.POSIX_TIMERS,
                "TimersImage.posixTimers");
    }

    public TimersImage read(Input in, int version) {
        return new TimersImage(
                ModelFields.readList(in, ItimerImageCodec.INSTANCE, ModelLimits.ITIMERS, "TimersImage.itimers"),
                ModelFields.readList(in, PosixTimerImageCodec.INSTANCE, ModelLimits.POSIX_TIMERS,
                        "TimersImage.posixTimers"));
    }
}
