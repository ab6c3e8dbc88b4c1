package dev.cryo.actors.dump;

import dev.cryo.engine.dump.BufferPool;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.dump.PageCopier;
import dev.cryo.engine.dump.PageRun;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A region dumper's use of the buffer pool, counted on pages of this JVM (process_vm_readv of itself). */
class RegionDumperTest {
    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /**
     * Small pieces share one buffer: five one-page pieces (a task of many small mappings, like any
     * sleep) take one buffer of the pool and reach the writer as one lease, their pages in order.
     * Before, each piece took a buffer of its own: five 4 MiB buffers allocated (and zeroed) while
     * the tree was frozen, five leases.
     */
    @Test
    void smallPiecesShareOneBuffer() {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        MapsEntry area = ProcFs.maps(self).stream().filter(m -> m.read() && !m.write() && m.pages() >= 10 && !m.isVvar() && !m.isVsyscall())
                .findFirst().orElseThrow();
        List<PageRun> pieces = new ArrayList<>();
        for (int i = 0; i < 5; i++) { // every other page: five runs, as five small mappings give
            pieces.add(new PageRun(0, area.start() + 2L * i * 4096, 1, false, false));
        }
        BufferPool pool = new BufferPool(16, 4 << 20);
        TestProbe<ImageWriterActor.Command> writer = kit.createTestProbe();
        TestProbe<RegionDumper.Reply> replies = kit.createTestProbe();
        kit.spawn(RegionDumper.create(new RegionDumper.Job(0, self, 1, pieces, pool, writer.ref(), null,
                new DumpProgress(), 10_000, false), replies.ref()));

        RegionDumper.Read read = replies.expectMessageClass(RegionDumper.Read.class, Duration.ofSeconds(30));
        assertEquals(5, read.written()[0]);
        ImageWriterActor.WritePages lease = writer.expectMessageClass(ImageWriterActor.WritePages.class);
        writer.expectNoMessage(Duration.ofMillis(200));
        assertEquals(15, pool.available(), "one buffer of the pool taken");
        List<Long> addresses = lease.segments().stream().map(PageCopier.Segment::address).toList();
        assertEquals(pieces.stream().map(PageRun::address).toList(), addresses);
        assertEquals(List.of(0, 4096, 8192, 12288, 16384), lease.segments().stream().map(PageCopier.Segment::offset).toList());
        for (PageCopier.Segment s : lease.segments()) { // each page where its segment says
            byte[] expected = dev.cryo.kernel.Sys.read(self, s.address(), 4096);
            byte[] got = new byte[4096];
            lease.buffer().slice(s.offset(), 4096).get(got);
            assertArrayEquals(expected, got, "page at 0x" + Long.toHexString(s.address()));
        }
        pool.release(lease.buffer());
    }
}
