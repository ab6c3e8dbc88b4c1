package dev.cryo.engine.model.codec;

import static dev.cryo.engine.model.codec.ModelEquality.assertModelEquals;
import static org.junit.jupiter.api.Assertions.*;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.ImageCorruptException;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordCodecs;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.files.CharDeviceHandler;
import dev.cryo.engine.files.PipeHandler;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCodecsTest {
    static final ImageOptions OPTIONS = ImageOptions.defaults().withFsync(false);
    @TempDir Path tmp;

    @Test
    void aFullTaskImageRoundTrips() throws IOException {
        TaskImage task = ModelSamples.task(ModelSamples.PID);
        DumpInfo info = ModelSamples.dumpInfo();
        try (ImageWriter w = ImageWriter.create(tmp, ModelCodecs.ALL, OPTIONS)) {
            w.writeRecord(info);
            w.writeRecord(task);
            w.commit();
        }
        try (ImageReader r = ImageReader.open(tmp, ModelCodecs.ALL)) {
            List<Object> records = r.records();
            assertEquals(info, records.get(0));
            assertModelEquals(task, records.get(1));
            TaskImage back = (TaskImage) records.get(1);
            assertNull(back.vmas().get(1).file());
            assertInstanceOf(CharDeviceHandler.CharDevice.class, back.fds().get(0).desc());
            assertInstanceOf(RegularFileHandler.RegularFile.class, back.fds().get(1).desc());
            assertInstanceOf(PipeHandler.Pipe.class, back.fds().get(2).desc());
            assertEquals(2, back.threads().get(1).pendingSignals().size());
        }
    }

    @Test
    void theComparisonSeesArrayContents() {
        TaskImage a = ModelSamples.task(1);
        ThreadImage t = a.threads().get(0);
        long[] regs = t.regs().clone(); // the accessor hands out the record's own array
        regs[3]++;
        TaskImage b = a.withThreads(List.of(new ThreadImage(t.tid(), regs, t.xstate(),
                t.sigmask(), t.rseqAddress(), t.rseqLength(), t.rseqSignature(), t.robustListHead(),
                t.robustListLength(), t.clearChildTid(), t.altStackSp(), t.altStackFlags(), t.altStackSize(),
                t.pendingSignals(), t.name(), t.pdeathSignal(), t.security(), t.sched(), t.sleep()), a.threads().get(1)));
        AssertionError e = assertThrows(AssertionError.class, () -> assertModelEquals(a, b));
        assertTrue(e.getMessage().contains("threads[0].regs"), e.getMessage());
    }

    @Test
    void everyNestedRecordCarriesItsOwnVersion() {
        Output out = new Output(4096, -1);
        RecordFields.writeRecord(out, FdImageCodec.INSTANCE, ModelSamples.task(1).fds().get(2));
        byte[] bytes = out.toBytes();
        assertEquals(2, bytes[0], "FdImage version");
        // fd 4, flags 0, 8-byte position, tag 2 (pipe), then the pipe's own version
        assertEquals(PipeHandler.TAG, bytes[11]);
        assertEquals(3, bytes[12], "Pipe version");
    }

    @Test
    void aHugeListLengthIsRefusedWithTheFieldNamed() throws IOException {
        RecordCodecs lying = RecordCodecs.builder().add(new HugeVmaListCodec()).build();
        try (ImageWriter w = ImageWriter.create(tmp, lying, OPTIONS)) {
            w.writeRecord(new HugeVmaList());
            w.commit();
        }
        try (ImageReader r = ImageReader.open(tmp, ModelCodecs.ALL)) {
            r.verify(); // the bytes are intact; only their meaning is wrong
            ImageCorruptException e = assertThrows(ImageCorruptException.class, r::records);
            assertTrue(e.getMessage().contains("chunk 0 (record"), e.getMessage());
            assertTrue(e.getMessage().contains("TaskImage.vmas: list length 2000000000 exceeds the limit of "
                    + ModelLimits.VMAS), e.getMessage());
        }
    }

    @Test
    void aWrongSiginfoSizeIsRefusedOnWrite() throws IOException {
        ThreadImage t = ModelSamples.thread(7);
        ThreadImage bad = new ThreadImage(t.tid(), t.regs(), t.xstate(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                List.of(new byte[100]), "", 0, t.security(), t.sched(), null);
        try (ImageWriter w = ImageWriter.create(tmp, ModelCodecs.ALL, OPTIONS)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.writeRecord(bad));
            assertTrue(e.getMessage().contains("ThreadImage.pendingSignals: a siginfo has 100 bytes, not 128"),
                    e.getMessage());
        }
    }

    @Test
    void anOversizedFieldIsRefusedOnWriteSoNoUnreadableImageIsMade() throws IOException {
        ThreadImage t = ModelSamples.thread(7);
        ThreadImage bad = new ThreadImage(t.tid(), t.regs(), new byte[ModelLimits.XSTATE + 1], 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, List.of(), "", 0, t.security(), t.sched(), null);
        try (ImageWriter w = ImageWriter.create(tmp, ModelCodecs.ALL, OPTIONS)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.writeRecord(bad));
            assertTrue(e.getMessage().contains("ThreadImage.xstate"), e.getMessage());
        }
        Input in = new Input(new byte[] {(byte) 0x80, 0x40}); // varint 8192 = length 8191 > 4096
        var e = assertThrows(RuntimeException.class, () -> ModelFields.readText(in, ModelLimits.PATH, "FileRef.path"));
        assertTrue(e.getMessage().startsWith("FileRef.path: string length 8191 exceeds the limit of 4096"), e.getMessage());
    }

    /** Stands in for a TaskImage whose vmas count was damaged into a huge number. */
    record HugeVmaList() {}

    static final class HugeVmaListCodec implements RecordCodec<HugeVmaList> {
        public Class<HugeVmaList> type() { return HugeVmaList.class; }
        public int id() { return ModelCodecs.TASK_IMAGE_ID; }
        public int version() { return 1; }

        public void write(Output out, HugeVmaList ignored) {
            TaskImage t = ModelSamples.task(9);
            RecordFields.writeRecord(out, TaskIdsCodec.INSTANCE, t.ids());
            RecordFields.writeString(out, t.comm());
            out.writeBoolean(false); // no exe
            RecordFields.writeString(out, t.cwd());
            RecordFields.writeString(out, t.root());
            out.writeVarInt(t.umask(), true);
            out.writeVarInt(t.personality(), true);
            RecordFields.writeRecord(out, CredsCodec.INSTANCE, t.creds());
            out.writeVarInt(0, true); // rlimits
            out.writeVarInt(0, true); // sigactions
            RecordFields.writeRecord(out, MmImageCodec.INSTANCE, t.mm());
            out.writeVarInt(0, true); // threads
            out.writeVarInt(2_000_000_000, true); // vmas: the damaged count
        }

        public HugeVmaList read(Input in, int version) {
            throw new UnsupportedOperationException();
        }
    }
}
