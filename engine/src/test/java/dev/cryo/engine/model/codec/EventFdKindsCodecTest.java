package dev.cryo.engine.model.codec;

import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.EpollHandler;
import dev.cryo.engine.files.EventFdHandler;
import dev.cryo.engine.files.SignalFdHandler;
import dev.cryo.engine.files.TimerFdHandler;
import dev.cryo.engine.model.TaskImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.cryo.engine.model.codec.ModelEquality.assertModelEquals;

/** eventfd, timerfd and epoll records survive the image round trip field for field. */
class EventFdKindsCodecTest {
    @TempDir
    Path tmp;

    @Test
    void eventLoopFdsRoundTrip() throws Exception {
        TaskImage t = ModelSamples.task(700);
        List<FdImage> fds = List.of(
                new FdImage(3, 04002, 0, new EventFdHandler.EventFd(0x1_0000_0005L, true)),
                new FdImage(4, 02, 0, new TimerFdHandler.TimerFd(1, 3, 0, 5_808_637, 0, 10_000_000, 0, 0)),
                new FdImage(5, 02, 0, new TimerFdHandler.TimerFd(0, 0, 3599, 1, 0, 0, 3, 1_800_000_000_000_000_001L)),
                new FdImage(6, 02004002, 0, new SignalFdHandler.SignalFd(0x201)),
                new FdImage(7, 02000002, 0, new EpollHandler.Epoll(List.of(new EpollHandler.Epoll.Watch(4, 0x19, 0x1234),
                        new EpollHandler.Epoll.Watch(5, 0x80000001, -1L), new EpollHandler.Epoll.Watch(999, 1, 2, 4)))));
        TaskImage withFds = t.withFds(fds);
        try (ImageWriter w = ImageWriter.create(tmp, ModelCodecs.ALL, ImageOptions.defaults().withFsync(false))) {
            w.writeRecord(withFds);
            w.commit();
        }
        try (ImageReader r = ImageReader.open(tmp, ModelCodecs.ALL)) {
            assertModelEquals(withFds, r.records().get(0));
        }
    }
}
