package dev.cryo.engine.model.codec;

import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.files.IoUringHandler;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.cryo.engine.model.codec.ModelEquality.assertModelEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** An io_uring record survives the image round trip field for field, counters past 2^31 and its settings included. */
class IoUringCodecTest {
    @TempDir
    Path tmp;

    @Test
    void aRingWithItsAreasRoundTrips() throws Exception {
        IoUringHandler.IoUringRing ring = new IoUringHandler.IoUringRing(8, 16, dev.cryo.kernel.IoUring.SETUP_CQE32,
                0x8000_0003, 0x8000_0003, List.of(
                new IoUringHandler.Area(0x7f00_0000_1000L, 0x7f00_0000_2000L, 0, 3, new byte[] {1, 2, 3, 0, -1}, true),
                new IoUringHandler.Area(0x7f00_0000_0000L, 0x7f00_0000_1000L, 0x1000_0000L, 3, new byte[4096], false)),
                List.of(new IoUringHandler.Registration(700, 1), new IoUringHandler.Registration(701, 15)), 4,
                List.of(new IoUringHandler.Buffer(1, 0x7f63_0ef2_2000L, 8192), new IoUringHandler.Buffer(3, 0x55fc_16e3_c0a0L, 1000)),
                64, 7, true, new dev.cryo.kernel.IoUring.Tunings(3, 5, 4, 8, dev.cryo.kernel.IoUring.CLOCK_BOOTTIME, 100_000,
                true, dev.cryo.kernel.IoUring.NAPI_TRACKING_DYNAMIC, false));
        TaskImage withFds = ModelSamples.task(700).withFds(List.of(new FdImage(3, 02000002, 0, ring)));
        try (ImageWriter w = ImageWriter.create(tmp, ModelCodecs.ALL, ImageOptions.defaults().withFsync(false))) {
            w.writeRecord(withFds);
            w.commit();
        }
        try (ImageReader r = ImageReader.open(tmp, ModelCodecs.ALL)) {
            assertModelEquals(withFds, r.records().get(0));
        }
        Map<String, Object> shown = FdHandlers.show(ring);
        assertEquals("2147483651", shown.get("sqHead"));
        assertEquals("fd 7 (async)", shown.get("registeredEventFd"));
        assertEquals(List.of("CQE32"), shown.get("setupFlags"));
        assertEquals(List.of("0x7f0000001000-0x7f0000002000 rings", "0x7f0000000000-0x7f0000001000 SQEs"), shown.get("areas"));
        assertEquals(List.of("tid 700 slot 1", "tid 701 slot 15"), shown.get("registeredRingFds"));
        assertEquals(List.of("1: 0x7f630ef22000/8192", "3: 0x55fc16e3c0a0/1000"), shown.get("registeredBuffers"));
        assertEquals("64 (empty)", shown.get("registeredFileSlots"));
        assertEquals("bounded 3, unbounded 5", shown.get("iowqMaxWorkers"));
        assertEquals("4-8", shown.get("fileAllocRange"));
        assertEquals("BOOTTIME", shown.get("clock"));
        assertEquals("dynamic tracking, busy poll 100 us, prefer busy poll", shown.get("napi"));
    }
}
