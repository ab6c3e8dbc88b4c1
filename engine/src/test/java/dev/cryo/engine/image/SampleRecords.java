package dev.cryo.engine.image;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** Small records standing in for the real process model, with their codecs. */
final class SampleRecords {
    private SampleRecords() {}

    record SampleVma(long start, long end, int prot, String path) {}

    /** regs is an array, so equality is spelled out. */
    record SampleProcess(int pid, String comm, long[] regs, List<SampleVma> vmas, String cwd) {
        @Override
        public boolean equals(Object o) {
            return o instanceof SampleProcess p && p.pid == pid && p.comm.equals(comm) && Arrays.equals(p.regs, regs)
                    && p.vmas.equals(vmas) && Objects.equals(p.cwd, cwd);
        }

        @Override
        public int hashCode() {
            return pid;
        }
    }

    record SampleBlob(String name, byte[] data) {
        @Override
        public boolean equals(Object o) {
            return o instanceof SampleBlob b && b.name.equals(name) && Arrays.equals(b.data, data);
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }
    }

    static final class VmaCodec implements RecordCodec<SampleVma> {
        public Class<SampleVma> type() { return SampleVma.class; }
        public int id() { return 101; }
        public int version() { return 1; }

        public void write(Output out, SampleVma v) {
            out.writeLong(v.start());
            out.writeLong(v.end());
            out.writeVarInt(v.prot(), true);
            RecordFields.writeString(out, v.path());
        }

        public SampleVma read(Input in, int version) {
            return new SampleVma(in.readLong(), in.readLong(), in.readVarInt(true), RecordFields.readString(in, 4096));
        }
    }

    static final VmaCodec VMA = new VmaCodec();

    /** Version 2 added cwd; version 1 images still read, with cwd null. */
    static class ProcessCodec implements RecordCodec<SampleProcess> {
        public Class<SampleProcess> type() { return SampleProcess.class; }
        public int id() { return 100; }
        public int version() { return 2; }

        public void write(Output out, SampleProcess p) {
            out.writeVarInt(p.pid(), true);
            RecordFields.writeString(out, p.comm());
            RecordFields.writeLongs(out, p.regs());
            RecordFields.writeList(out, VMA, p.vmas());
            RecordFields.writeString(out, p.cwd());
        }

        public SampleProcess read(Input in, int version) {
            int pid = in.readVarInt(true);
            String comm = RecordFields.readString(in, 64);
            long[] regs = RecordFields.readLongs(in, 64);
            List<SampleVma> vmas = RecordFields.readList(in, VMA, 1 << 16);
            String cwd = version >= 2 ? RecordFields.readString(in, 4096) : null;
            return new SampleProcess(pid, comm, regs, vmas, cwd);
        }
    }

    static final class BlobCodec implements RecordCodec<SampleBlob> {
        public Class<SampleBlob> type() { return SampleBlob.class; }
        public int id() { return 102; }
        public int version() { return 1; }

        public void write(Output out, SampleBlob b) {
            RecordFields.writeString(out, b.name());
            RecordFields.writeBytes(out, b.data());
        }

        public SampleBlob read(Input in, int version) {
            return new SampleBlob(RecordFields.readString(in, 256), RecordFields.readBytes(in, 1 << 20));
        }
    }

    static final RecordCodecs CODECS = RecordCodecs.builder()
            .retire(103) // exercised: a removed type's id stays burnt
            .add(new ProcessCodec())
            .add(VMA)
            .add(new BlobCodec())
            .build();

    static SampleProcess process(int pid) {
        return new SampleProcess(pid, "proc-" + pid, new long[] {pid, -1L, 0x7fff_0000_1234L, Long.MIN_VALUE},
                List.of(new SampleVma(0x400000, 0x401000, 5, "/bin/x"),
                        new SampleVma(0x7f12a000L, 0x7f12e000L, 3, null)),
                pid % 2 == 0 ? "/home/u" : null);
    }

    /** Deterministic pages: every byte depends on pid, address and position only. */
    static ByteBuffer pages(int pid, long vaddr, int count, int pageSize) {
        ByteBuffer b = ByteBuffer.allocateDirect(count * pageSize);
        for (int i = 0; i < b.capacity(); i++) {
            // runs of equal bytes so zstd has something to do, but not all equal
            b.put(i, (byte) (((i / 64) * 31 + pid + (vaddr >>> 12)) & 0xff));
        }
        return b;
    }

    /** The content of the golden image; writing it twice must give identical bytes. */
    static void writeSampleImage(ImageWriter w) throws IOException {
        w.writeRecord(process(4242));
        w.writeRecord(new SampleBlob("fds", new byte[] {1, 2, 3, 0, -1}));
        w.writePages(4242, 0x7f12a000L, 2, pages(4242, 0x7f12a000L, 2, 4096));
        w.writePages(4242, 0x400000L, 1, pages(4242, 0x400000L, 1, 4096));
        w.writeRecord(process(4243));
        w.writePages(4243, 0x7f12a000L, 3, pages(4243, 0x7f12a000L, 3, 4096));
        w.writeRecord(new SampleBlob("empty", new byte[0]));
    }

    static List<Object> sampleImageRecords() {
        return List.of(process(4242), new SampleBlob("fds", new byte[] {1, 2, 3, 0, -1}), process(4243),
                new SampleBlob("empty", new byte[0]));
    }
}
