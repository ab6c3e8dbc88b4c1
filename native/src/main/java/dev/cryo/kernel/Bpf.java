package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * bpf(2) for cryo's own BPF iterators over a task's files (iter/task_file) or over the task itself
 * (iter/task): a small assembler for their instructions, the program load, and one run over one
 * task read to its end.
 */
public final class Bpf {
    private static final int PROG_LOAD = 5, LINK_CREATE = 28, ITER_CREATE = 33;
    private static final int PROG_TYPE_TRACING = 26, TRACE_ITER = 28;
    /** Helpers the iterators call. */
    public static final int PROBE_READ_KERNEL = 113, SEQ_WRITE = 127, SOCK_FROM_FILE = 162;

    private Bpf() {}

    /** Instructions with forward and backward jumps to named labels. */
    public static final class Program {
        private final List<long[]> insns = new ArrayList<>(); // code, dst, src, off, imm
        private final Map<Integer, String> jumps = new HashMap<>();
        private final Map<String, Integer> labels = new HashMap<>();

        private Program op(int code, int dst, int src, int off, int imm) {
            insns.add(new long[] {code, dst, src, off, imm});
            return this;
        }

        public Program label(String name) {
            labels.put(name, insns.size());
            return this;
        }

        /** dst = src (64 bits). */
        public Program mov(int dst, int src) {
            return op(0xbf, dst, src, 0, 0);
        }

        public Program movImm(int dst, int imm) {
            return op(0xb7, dst, 0, 0, imm);
        }

        public Program addImm(int dst, int imm) {
            return op(0x07, dst, 0, 0, imm);
        }

        /** dst += src (64 bits, registers). */
        public Program add(int dst, int src) {
            return op(0x0f, dst, src, 0, 0);
        }

        /** dst &= imm (64 bits). */
        public Program andImm(int dst, int imm) {
            return op(0x57, dst, 0, 0, imm);
        }

        /** dst = a 64-bit constant (two instruction slots). */
        public Program movImm64(int dst, long imm) {
            op(0x18, dst, 0, 0, (int) imm);
            return op(0, 0, 0, 0, (int) (imm >>> 32));
        }

        /** dst <<= imm (64 bits). */
        public Program shiftLeft(int dst, int imm) {
            return op(0x67, dst, 0, 0, imm);
        }

        /** dst >>= imm (unsigned, 64 bits). */
        public Program shiftRight(int dst, int imm) {
            return op(0x77, dst, 0, 0, imm);
        }

        /** dst = *(size *)(src + off), size 8, 4 or 2 bytes. */
        public Program load(int size, int dst, int src, int off) {
            return op(0x61 | sizeBits(size), dst, src, off, 0);
        }

        /** *(size *)(dst + off) = src. */
        public Program store(int size, int dst, int off, int src) {
            return op(0x63 | sizeBits(size), dst, src, off, 0);
        }

        public Program jumpIfZero(int reg, String label) {
            jumps.put(insns.size(), label);
            return op(0x15, reg, 0, 0, 0);
        }

        /** if (reg > imm, unsigned) goto label. */
        public Program jumpIfAbove(int reg, int imm, String label) {
            jumps.put(insns.size(), label);
            return op(0x25, reg, 0, 0, imm);
        }

        /** if (reg != imm) goto label. */
        public Program jumpIfNot(int reg, int imm, String label) {
            jumps.put(insns.size(), label);
            return op(0x55, reg, 0, 0, imm);
        }

        /** if (a == b) goto label (registers). */
        public Program jumpIfSame(int a, int b, String label) {
            jumps.put(insns.size(), label);
            return op(0x1d, a, b, 0, 0);
        }

        /** dst |= imm (64 bits). */
        public Program orImm(int dst, int imm) {
            return op(0x47, dst, 0, 0, imm);
        }

        /**
         * dst = *(u64 *)(base + off), read with bpf_probe_read_kernel through fp - 8 (base a plain number
         * or a kernel pointer: a read that faults gives 0). Clobbers r1-r5.
         */
        public Program readKernel(int dst, int base, int off) {
            return mov(3, base).addImm(3, off).mov(1, 10).addImm(1, -8).movImm(2, 8).call(PROBE_READ_KERNEL)
                    .load(8, dst, 10, -8);
        }

        /** if (a >= b, unsigned) goto label (registers). */
        public Program jumpIfAtLeast(int a, int b, String label) {
            jumps.put(insns.size(), label);
            return op(0x3d, a, b, 0, 0);
        }

        /** if (a != b) goto label (registers). */
        public Program jumpIfNotSame(int a, int b, String label) {
            jumps.put(insns.size(), label);
            return op(0x5d, a, b, 0, 0);
        }

        public Program jump(String label) {
            jumps.put(insns.size(), label);
            return op(0x05, 0, 0, 0, 0);
        }

        public Program call(int helper) {
            return op(0x85, 0, 0, 0, helper);
        }

        /** A call of the kernel function (kfunc) of vmlinux BTF id {@code btfId} (BPF_PSEUDO_KFUNC_CALL). */
        public Program callKernel(int btfId) {
            return op(0x85, 0, 2, 0, btfId);
        }

        public Program exit() {
            return op(0x95, 0, 0, 0, 0);
        }

        /**
         * A task_file iterator's bpf_seq_write of {@code len} bytes at {@code fp + at} to its seq_file
         * ({@code ctx->meta->seq}); r1-r3 are taken, r0 holds the helper's answer.
         */
        public Program seqWrite(Btf btf, int ctx, int fp, int at, int len) {
            return load(8, 1, ctx, btf.offset("bpf_iter__task_file", "meta"))
                    .load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                    .mov(2, fp).addImm(2, at).movImm(3, len).call(SEQ_WRITE);
        }

        /**
         * A task_file iterator's opening for a file whose file system and private data it looks at: r{@code ctx} =
         * the context, r{@code file} = its file, r{@code magic} = its super_block's s_magic, r{@code priv} = its
         * private_data (0 for some); a file or inode that is not there jumps to "out". Clobbers r1-r5.
         */
        public Program fileSystemAndPrivate(Btf btf, int ctx, int file, int magic, int priv) {
            mov(ctx, 1).load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out")
                    .load(8, 1, file, btf.offset("file", "f_inode")).jumpIfZero(1, "out");
            readKernel(1, 1, btf.offset("inode", "i_sb")).jumpIfZero(1, "out");
            readKernel(magic, 1, btf.offset("super_block", "s_magic"));
            return load(8, priv, file, btf.offset("file", "private_data"));
        }

        /**
         * The task_file iterator's fd stored at {@code fp + at}, where a record of {@code len} bytes starts,
         * then that record written ({@link #seqWrite}).
         */
        public Program writeFdRecord(Btf btf, int ctx, int fp, int at, int len) {
            return load(4, 1, ctx, btf.offset("bpf_iter__task_file", "fd")).store(4, fp, at, 1).seqWrite(btf, ctx, fp, at, len);
        }

        private static int sizeBits(int size) {
            return switch (size) {
                case 8 -> 0x18;
                case 4 -> 0x00;
                case 2 -> 0x08;
                case 1 -> 0x10;
                default -> throw new IllegalArgumentException("a load of " + size + " bytes");
            };
        }

        byte[] bytes() {
            ByteBuffer b = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < insns.size(); i++) {
                long[] in = insns.get(i);
                String target = jumps.get(i);
                Integer at = target == null ? null : labels.get(target);
                if (target != null && at == null) {
                    throw new IllegalStateException("a jump to label " + target + ", which the program does not have");
                }
                long off = at == null ? in[3] : at - i - 1;
                b.put((byte) in[0]).put((byte) (in[1] | in[2] << 4)).putShort((short) off).putInt((int) in[4]);
            }
            return b.array();
        }
    }

    /** An iterator over a task's files or over the task, loaded (and checked by the kernel's verifier) once, when first run. */
    public static final class TaskIterator {
        private final String name;
        /** The kernel's iterator target: "task_file" or "task". */
        private final String target;
        private final java.util.function.Supplier<Program> program;
        private Fd loaded;
        /** Why it could not be loaded (no BTF, no bpf() for cryo, a kernel whose structures differ): not tried again. */
        private RuntimeException failed;

        private TaskIterator(String name, String target, java.util.function.Supplier<Program> program) {
            this.name = name;
            this.target = target;
            this.program = program;
        }

        /** {@code program} run for each file of a task (its context: struct bpf_iter__task_file). */
        public static TaskIterator overFiles(String name, java.util.function.Supplier<Program> program) {
            return new TaskIterator(name, "task_file", program);
        }

        /** {@code program} run once for the task (its context: struct bpf_iter__task). */
        public static TaskIterator overTask(String name, java.util.function.Supplier<Program> program) {
            return new TaskIterator(name, "task", program);
        }

        /** What the program wrote for thread {@code tid} (for its files, or for it). */
        public byte[] run(int tid) {
            return runOnTask(loaded(), target, tid);
        }

        /**
         * By fd, what a program over files wrote for each of thread {@code tid}'s: records of {@code size} bytes,
         * little-endian, each the fd (an int) and then what {@code rest} reads (the rest of the record is skipped).
         */
        public <T> Map<Integer, T> byFd(int tid, int size, java.util.function.Function<ByteBuffer, T> rest) {
            ByteBuffer b = ByteBuffer.wrap(run(tid)).order(ByteOrder.LITTLE_ENDIAN);
            Map<Integer, T> out = new HashMap<>();
            while (b.remaining() >= size) {
                int start = b.position();
                out.put(b.getInt(), rest.apply(b));
                b.position(start + size);
            }
            return out;
        }

        private synchronized Fd loaded() {
            if (failed != null) { // once: a dump asks for every socket of every task
                throw new IllegalStateException(failed.getMessage(), failed);
            }
            if (loaded == null) {
                try {
                    loaded = load(program.get(), name, target);
                } catch (RuntimeException e) {
                    failed = e;
                    throw e;
                }
            }
            return loaded;
        }

        /**
         * Loads it on another thread now (the kernel's BTF read, the verifier: a cold JVM at load 30
         * takes up to a second), so that a run in a frozen window finds it ready; a failure is the run's to report.
         */
        public void warmUp() {
            Thread t = new Thread(() -> {
                try {
                    loaded();
                } catch (RuntimeException later) {
                    // the run that needs it loads it again and says why it cannot
                }
            }, name + " warm-up");
            t.setDaemon(true);
            t.start();
        }
    }

    /** Loads {@code p} as an iterator over tasks' files ({@code target} "task_file") or tasks ("task"). */
    private static Fd load(Program p, String name, String target) {
        byte[] code = p.bytes();
        Memory insns = new Memory(code.length);
        insns.write(0, code, 0, code.length);
        Memory license = new Memory(4);
        license.setString(0, "GPL"); // bpf_seq_write and bpf_probe_read_kernel are for GPL programs
        Memory attr = new Memory(128);
        attr.clear();
        attr.setInt(0, PROG_TYPE_TRACING);
        attr.setInt(4, code.length / 8);
        attr.setLong(8, Sys.address(insns));
        attr.setLong(16, Sys.address(license));
        attr.setInt(68, TRACE_ITER); // expected_attach_type
        attr.setInt(108, Btf.kernel().function("bpf_iter_" + target)); // attach_btf_id
        byte[] n = name.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        attr.write(48, n, 0, Math.min(n.length, 15)); // prog_name
        try {
            return new Fd((int) Sys.call(() -> "bpf(BPF_PROG_LOAD, " + name + ", iter/" + target + ")", SyscallNr.BPF,
                    PROG_LOAD, Sys.address(attr), 128, 0));
        } catch (KernelException e) {
            throw new KernelException(e.getMessage() + verifierSays(attr), e);
        }
    }

    /** The end of the verifier's log for the load {@code attr} describes (loaded again with a log), for the error. */
    private static String verifierSays(Memory attr) {
        Memory log = new Memory(1 << 16);
        log.clear();
        attr.setInt(24, 1); // log_level
        attr.setInt(28, (int) log.size());
        attr.setLong(32, Sys.address(log));
        long fd = LibC.syscall(SyscallNr.BPF, PROG_LOAD, Sys.address(attr), 128, 0, 0, 0);
        if (fd >= 0) {
            new Fd((int) fd).close();
            return "";
        }
        String text = log.getString(0).strip();
        return text.isEmpty() ? "" : "; the verifier: ..." + text.substring(Math.max(0, text.length() - 600));
    }

    /** Runs {@code iterator} over thread {@code tid} (as this process's pid namespace numbers it), or its fd table. */
    private static byte[] runOnTask(Fd iterator, String target, int tid) {
        Memory info = new Memory(16); // bpf_iter_link_info.task: tid, pid, pid_fd
        info.clear();
        info.setInt(0, tid);
        Memory attr = new Memory(64);
        attr.clear();
        attr.setInt(0, iterator.value());
        attr.setInt(8, TRACE_ITER);
        attr.setLong(16, Sys.address(info));
        attr.setInt(24, 16);
        try (Fd link = new Fd((int) Sys.call(() -> "bpf(BPF_LINK_CREATE, iter/" + target + ", tid " + tid + ")",
                SyscallNr.BPF, LINK_CREATE, Sys.address(attr), 64, 0))) {
            Memory create = new Memory(16);
            create.clear();
            create.setInt(0, link.value());
            try (Fd seq = new Fd((int) Sys.call(() -> "bpf(BPF_ITER_CREATE, tid " + tid + ")", SyscallNr.BPF,
                    ITER_CREATE, Sys.address(create), 16, 0))) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                Memory buf = new Memory(65536);
                while (true) {
                    int got = (int) Sys.call(() -> "read(BPF iterator of tid " + tid + ")", SyscallNr.READ,
                            seq.value(), Sys.address(buf), buf.size(), 0);
                    if (got == 0) {
                        return out.toByteArray();
                    }
                    out.write(buf.getByteArray(0, got), 0, got);
                }
            }
        }
    }
}
