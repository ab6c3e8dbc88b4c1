package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A task's SEM_UNDO list: what the kernel adds back to each SysV semaphore when the last task
 * sharing the list exits (threads share one: glibc's pthread_create passes CLONE_SYSVSEM). No file
 * shows it: cryo's BPF iterator over the task follows task->sysvsem.undo_list → its list_proc of
 * struct sem_undo {semid, semadj[]}, without changing the task. The iterator cannot know a set's
 * size: it reads the first {@link #MAX_SEMS} adjustments of each, and the caller keeps a set's own.
 */
public record SemUndoList(long address, int tasks, List<Undo> undos) {
    /** The adjustments of set {@code semid}: {@code semadj[i]} for its first {@link #MAX_SEMS} semaphores. */
    public record Undo(int semid, short[] semadj, int unreadChunks) {
        /** Whether semaphore {@code sem}'s adjustment could not be read (a read of kernel memory faulted). */
        public boolean unread(int sem) {
            return (unreadChunks & 1 << sem / CHUNK_SEMS) != 0;
        }
    }

    /** The task has no list. */
    public static final SemUndoList NONE = new SemUndoList(0, 0, List.of());

    public static final int MAX_SEMS = 256, MAX_SETS = 48;
    private static final int CHUNK = 64, CHUNK_SEMS = CHUNK / 2, CHUNKS = MAX_SEMS / CHUNK_SEMS;
    private static final int HEADER = 16, UNDO = 4 + MAX_SEMS * 2 + 4, DONE = 0, TOO_MANY = 1;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overTask("cryo_semundo", () -> program(Btf.kernel()));

    /** A list of more sets than the iterator reads. */
    public static final class TooMany extends IllegalStateException {
        TooMany(String message) {
            super(message);
        }
    }

    public SemUndoList {
        undos = List.copyOf(undos);
    }

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /** The list of thread {@code tid} (fails, {@link TooMany}, where it holds more sets than this reads). */
    public static SemUndoList of(int tid) {
        ByteBuffer b = ByteBuffer.wrap(ITERATOR.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < HEADER + 4 || (b.remaining() - HEADER - 4) % UNDO != 0) {
            throw new IllegalStateException("cryo_semundo gave " + b.remaining() + " bytes for tid " + tid);
        }
        long address = b.getLong();
        int tasks = b.getInt();
        b.getInt();
        List<Undo> undos = new ArrayList<>();
        while (b.remaining() > 4) {
            int semid = b.getInt();
            short[] adj = new short[MAX_SEMS];
            b.asShortBuffer().get(adj);
            b.position(b.position() + MAX_SEMS * 2);
            undos.add(new Undo(semid, adj, b.getInt()));
        }
        if (b.getInt() == TOO_MANY) {
            throw new TooMany("its SEM_UNDO list holds more than " + MAX_SETS + " semaphore sets, more than cryo's BPF"
                    + " iterator reads");
        }
        return address == 0 ? NONE : new SemUndoList(address, tasks, undos);
    }

    /**
     * Writes the list's address, its refcount (the tasks sharing it) and 4 bytes of padding; then for
     * each sem_undo: semid, its first MAX_SEMS semadj (read in chunks of 64 bytes: one past the
     * object's end reads its slab neighbour, dropped by the caller), a bit per chunk whose read
     * faulted; then 0, or 1 where the list holds more than MAX_SETS.
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, seq = 6, at = 7, count = 8, head = 9, buf = -16 - CHUNK;
        int semadj = btf.offset("sem_undo", "semadj");
        Bpf.Program p = new Bpf.Program()
                .load(8, 2, 1, btf.offset("bpf_iter__task", "task")).jumpIfZero(2, "out")
                .load(8, 3, 1, btf.offset("bpf_iter__task", "meta"))
                .load(8, seq, 3, btf.offset("bpf_iter_meta", "seq"))
                .readKernel(head, 2, btf.offset("task_struct", "sysvsem") + btf.offset("sysv_sem", "undo_list"))
                .store(8, fp, -24, head).movImm(1, 0).store(8, fp, -16, 1).jumpIfZero(head, "header")
                .readKernel(1, head, btf.offset("sem_undo_list", "refcnt")).store(4, fp, -16, 1)
                .label("header")
                .mov(1, seq).mov(2, fp).addImm(2, -24).movImm(3, HEADER).call(Bpf.SEQ_WRITE)
                .jumpIfZero(head, "done")
                .addImm(head, btf.offset("sem_undo_list", "list_proc"))
                .readKernel(at, head, 0) // list_head.next
                .movImm(count, MAX_SETS)
                .label("undo").jumpIfSame(at, head, "done").jumpIfZero(at, "done")
                .jumpIfZero(count, "too-many").addImm(count, -1)
                .readKernel(1, at, btf.offset("sem_undo", "semid") - btf.offset("sem_undo", "list_proc"))
                .store(4, fp, -16, 1).movImm(1, 0).store(4, fp, -12, 1)
                .mov(1, seq).mov(2, fp).addImm(2, -16).movImm(3, 4).call(Bpf.SEQ_WRITE);
        for (int c = 0; c < CHUNKS; c++) {
            p.mov(1, fp).addImm(1, buf).movImm(2, CHUNK)
                    .mov(3, at).addImm(3, semadj - btf.offset("sem_undo", "list_proc") + c * CHUNK)
                    .call(Bpf.PROBE_READ_KERNEL).jumpIfZero(0, "read-" + c)
                    .load(4, 1, fp, -12).orImm(1, 1 << c).store(4, fp, -12, 1)
                    .label("read-" + c)
                    .mov(1, seq).mov(2, fp).addImm(2, buf).movImm(3, CHUNK).call(Bpf.SEQ_WRITE);
        }
        return p.mov(1, seq).mov(2, fp).addImm(2, -12).movImm(3, 4).call(Bpf.SEQ_WRITE)
                .readKernel(at, at, 0).jump("undo") // list_head.next
                .label("too-many").movImm(1, TOO_MANY).jump("end")
                .label("done").movImm(1, DONE)
                .label("end").store(4, fp, -16, 1)
                .mov(1, seq).mov(2, fp).addImm(2, -16).movImm(3, 4).call(Bpf.SEQ_WRITE)
                .label("out").movImm(0, 0).exit();
    }
}
