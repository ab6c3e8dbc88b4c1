package dev.cryo.engine.model.codec;

import dev.cryo.engine.files.FdHandlers;
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
    // 111-117: the fd kinds' records; each id lives with its handler (dev.cryo.engine.files)
    static final int SECURITY_IMAGE_ID = 150;
    static final int THREAD_SECURITY_ID = 151;
    static final int SECCOMP_FILTER_ID = 152;
    static final int ZOMBIE_IMAGE_ID = 160;
    // Ranges for this session's additions (PROTOCOL.md): fd kinds 118-139 (tags 8-29), timers 140-149,
    // security 150-159 (next: 153), zombies 160-169 (next: 162), memory 170-189 (tags 30-39), sockets 190-219
    // (tags 40-59), cluster 220-239, comparator 240-249.
    // timers, scheduling and interrupted sleeps (issue 7): 140-149 (next: 145)
    static final int ITIMER_ID = 140;
    static final int POSIX_TIMER_ID = 141;
    static final int TIMERS_ID = 142;
    static final int SCHED_ID = 143;
    static final int SLEEP_ID = 144;
    static final int GHOST_FILE_ID = 170;
    // deleted files' contents apart from their task's record (ghost51): 5540-5559 (next: 5541)
    static final int GHOST_DATA_ID = 5540;
    // migration downtime (this session's downtime helper): 350-359 (next: 351)
    static final int PRE_COPY_LAYOUT_ID = 350;

    public static final RecordCodecs ALL = withFdKinds(RecordCodecs.builder()
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
            .add(SecurityImageCodec.INSTANCE)
            .add(ThreadSecurityCodec.INSTANCE)
            .add(SeccompFilterCodec.INSTANCE)
            .add(ZombieImageCodec.INSTANCE)
            .add(ItimerImageCodec.INSTANCE)
            .add(PosixTimerImageCodec.INSTANCE)
            .add(TimersImageCodec.INSTANCE)
            .add(SchedImageCodec.INSTANCE)
            .add(SleepImageCodec.INSTANCE)
            .add(dev.cryo.engine.files.SocketOptions.CODEC)
            .add(dev.cryo.engine.files.UnixSocketHandler.MESSAGE_CODEC)
            .add(GhostFileCodec.INSTANCE)
            .add(GhostDataCodec.INSTANCE)
            .add(PreCopyLayoutCodec.INSTANCE)
            .add(dev.cryo.engine.cgroups.CgroupMembership.CODEC)
            .add(dev.cryo.engine.ipc.SemUndo.CODEC)
            .add(dev.cryo.engine.namespaces.NamespaceImage.CODEC)
            .add(dev.cryo.engine.namespaces.NetNamespaceImage.CODEC)
            .add(dev.cryo.engine.namespaces.NetConntrack.CODEC)
            .add(dev.cryo.engine.namespaces.NetConntrack.EXPECTATION_CODEC)
            .add(dev.cryo.engine.namespaces.UserNsImage.CODEC)
            .add(dev.cryo.engine.keyrings.KeyringImage.CODEC)
            .add(dev.cryo.engine.keyrings.KeyringImage.KEY_CODEC)
            .add(dev.cryo.engine.memory.SharedObjectData.CODEC))
            .build();

    /** Every fd kind's record, from the handler table. */
    private static RecordCodecs.Builder withFdKinds(RecordCodecs.Builder b) {
        FdHandlers.codecs().forEach(b::add);
        return b;
    }
}
