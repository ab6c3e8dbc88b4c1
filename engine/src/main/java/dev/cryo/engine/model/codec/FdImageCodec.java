package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

/**
 * An fd, then what it refers to as a kind tag followed by that variant's own versioned record.
 * Tags are persisted and never reused. Once a format version has been released, adding a
 * FileDesc kind means a new tag AND a new version of this codec, so an older build refuses the
 * image as too new instead of calling it damaged (eventfd, timerfd, epoll and signalfd joined version 1
 * before its first release).
 */
public final class FdImageCodec implements RecordCodec<FdImage> {
    public static final FdImageCodec INSTANCE = new FdImageCodec();
    static final int REGULAR_FILE = 1, PIPE = 2, CHAR_DEVICE = 3, EVENT_FD = 4, TIMER_FD = 5, EPOLL = 6,
            SIGNAL_FD = 7;

    public Class<FdImage> type() { return FdImage.class; }
    public int id() { return ModelCodecs.FD_IMAGE_ID; }
    public int version() { return 1; }

    public void write(Output out, FdImage f) {
        out.writeVarInt(f.fd(), true);
        out.writeVarInt(f.flags(), true);
        out.writeLong(f.position());
        FileDesc d = f.desc();
        if (d instanceof FileDesc.RegularFile r) {
            out.writeVarInt(REGULAR_FILE, true);
            RecordFields.writeRecord(out, RegularFileCodec.INSTANCE, r);
        } else if (d instanceof FileDesc.Pipe p) {
            out.writeVarInt(PIPE, true);
            RecordFields.writeRecord(out, PipeCodec.INSTANCE, p);
        } else if (d instanceof FileDesc.CharDevice c) {
            out.writeVarInt(CHAR_DEVICE, true);
            RecordFields.writeRecord(out, CharDeviceCodec.INSTANCE, c);
        } else if (d instanceof FileDesc.EventFd e) {
            out.writeVarInt(EVENT_FD, true);
            RecordFields.writeRecord(out, EventFdCodec.INSTANCE, e);
        } else if (d instanceof FileDesc.TimerFd t) {
            out.writeVarInt(TIMER_FD, true);
            RecordFields.writeRecord(out, TimerFdCodec.INSTANCE, t);
        } else if (d instanceof FileDesc.Epoll e) {
            out.writeVarInt(EPOLL, true);
            RecordFields.writeRecord(out, EpollCodec.INSTANCE, e);
        } else if (d instanceof FileDesc.SignalFd sf) {
            out.writeVarInt(SIGNAL_FD, true);
            RecordFields.writeRecord(out, SignalFdCodec.INSTANCE, sf);
        } else {
            throw new IllegalArgumentException("fd " + f.fd() + ": no encoding for " + d);
        }
    }

    public FdImage read(Input in, int version) {
        int fd = in.readVarInt(true);
        int flags = in.readVarInt(true);
        long position = in.readLong();
        int tag = in.readVarInt(true);
        FileDesc desc = switch (tag) {
            case REGULAR_FILE -> RecordFields.readRecord(in, RegularFileCodec.INSTANCE);
            case PIPE -> RecordFields.readRecord(in, PipeCodec.INSTANCE);
            case CHAR_DEVICE -> RecordFields.readRecord(in, CharDeviceCodec.INSTANCE);
            case EVENT_FD -> RecordFields.readRecord(in, EventFdCodec.INSTANCE);
            case TIMER_FD -> RecordFields.readRecord(in, TimerFdCodec.INSTANCE);
            case EPOLL -> RecordFields.readRecord(in, EpollCodec.INSTANCE);
            case SIGNAL_FD -> RecordFields.readRecord(in, SignalFdCodec.INSTANCE);
            default -> throw new KryoException("fd " + fd + ": unknown file kind tag " + tag);
        };
        return new FdImage(fd, flags, position, desc);
    }
}
