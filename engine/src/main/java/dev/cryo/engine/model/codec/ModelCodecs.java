package dev.cryo.engine.model.codec;

import dev.cryo.engine.image.RecordCodecs;

/**
 * The registry of the process model's records. DumpInfo and TaskImage are written as RECORD
 * chunks; the others are nested inside them, each with its own version, and are registered too
 * so their ids are reserved.
 *
 * <p>RULE: ids are persisted in every image. Never change or reuse one; when a record type is
 * removed, keep its id with {@code .retire(id)} and hand out the next unused number.
 */
public final class ModelCodecs {
    private ModelCodecs() {}

    static final int DUMP_INFO_ID = 100;
    static final int TASK_IMAGE_ID = 101;
    static final int TASK_IDS_ID = 102;
    static final int CREDS_ID = 103;
    static final int RLIMIT_ID = 104;
    static final int SIG_ACTION_ID = 105;
    static final int MM_IMAGE_ID = 106;
    static final int THREAD_IMAGE_ID = 107;
    static final int FILE_REF_ID = 108;
    static final int VMA_IMAGE_ID = 109;
    static final int FD_IMAGE_ID = 110;
    static final int REGULAR_FILE_ID = 111;
    static final int PIPE_ID = 112;
    static final int CHAR_DEVICE_ID = 113;
    static final int EVENT_FD_ID = 114;
    static final int TIMER_FD_ID = 115;
    static final int EPOLL_ID = 116;
    static final int SIGNAL_FD_ID = 117;
    static final int SECURITY_IMAGE_ID = 150;
    static final int THREAD_SECURITY_ID = 151;
    static final int SECCOMP_FILTER_ID = 152;
    // next free id: 118 (security owns 150-159; next of those: 153)

    public static final RecordCodecs ALL = RecordCodecs.builder()
            .add(DumpInfoCodec.INSTANCE)
            .add(TaskImageCodec.INSTANCE)
            .add(TaskIdsCodec.INSTANCE)
            .add(CredsCodec.INSTANCE)
            .add(RlimitCodec.INSTANCE)
            .add(SigActionCodec.INSTANCE)
            .add(MmImageCodec.INSTANCE)
            .add(ThreadImageCodec.INSTANCE)
            .add(FileRefCodec.INSTANCE)
            .add(VmaImageCodec.INSTANCE)
            .add(FdImageCodec.INSTANCE)
            .add(RegularFileCodec.INSTANCE)
            .add(PipeCodec.INSTANCE)
            .add(CharDeviceCodec.INSTANCE)
            .add(EventFdCodec.INSTANCE)
            .add(TimerFdCodec.INSTANCE)
            .add(EpollCodec.INSTANCE)
            .add(SignalFdCodec.INSTANCE)
            .add(SecurityImageCodec.INSTANCE)
            .add(ThreadSecurityCodec.INSTANCE)
            .add(SeccompFilterCodec.INSTANCE)
            .build();
}
