package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageStreamReader;
import dev.cryo.engine.image.StreamImageSink;
import dev.cryo.engine.model.PreCopyLayout;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A migration's destination places the pre-copied pages in a stub whose own mappings are laid out
 * at random: one whose libraries fell in the root's area could not map it, and the restore wrote
 * that area's pages in the downtime (a GiB's: 2.8 s in one migration of 13).
 */
class ArrivingMemoryStubTest {
    @TempDir
    Path tmp;

    /** Where a program exec'd without randomization (setarch -R) has its libraries and vDSO, below its stack. */
    private static final long FIXED_LIBRARIES = 0x7ffff7000000L, FIXED_LIBRARIES_END = 0x7ffff8000000L;

    @Test
    void aStubWithMappingsOfItsOwnInTheRootsAreaIsSpawnedAgainAndTheAreaPlaced() throws Exception {
        int pid = freePid();
        List<Pid> spawned = new ArrayList<>();
        ArrivingMemory.StubSpawner spawner = (p, leader, execed) -> {
            // the first laid out as a fixed program's, its libraries in the area; the next at random, as any stub
            Pid stub = spawned.isEmpty() ? StubParent.spawn(() -> ExactPidSpawner.spawn(p, p, "/usr/bin/setarch",
                    List.of("setarch", "-R", "/bin/sleep", "1000000"), leader, true), p) : StubParent.spawnStub(p, leader, execed);
            spawned.add(stub);
            return stub;
        };
        try (ArrivingMemory memory = new ArrivingMemory("test", stub -> { }, pages -> { }, 0, spawner)) {
            feed(memory, pid);
            // a random stub's stack or vDSO falls in the area too, now and then (16 MiB of the 16 GiB they move in)
            assertTrue(spawned.size() >= 2, memory.summary());
            assertTrue(memory.summary().startsWith("1 pages of 1/1 chunks placed in 1 areas from 1 layouts, the stub spawned again "
                    + (spawned.size() - 1) + " time"), memory.summary());
            assertTrue(ProcFs.maps(Pid.of(pid)).stream().anyMatch(m -> m.start() == FIXED_LIBRARIES && m.end() == FIXED_LIBRARIES_END),
                    "the area mapped in the stub");
        }
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(30), "the stub killed");
    }

    /** The root's area over a fixed program's libraries, and one page in it. */
    private static void feed(ArrivingMemory memory, int pid) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (StreamImageSink sink = new StreamImageSink(Channels.newChannel(bytes), "stream", ModelCodecs.ALL,
                ImageOptions.defaults().withFsync(false))) {
            sink.writeRecord(new PreCopyLayout(pid, false, List.of(FIXED_LIBRARIES, FIXED_LIBRARIES_END), true));
            ByteBuffer page = ByteBuffer.allocateDirect(4096);
            page.put(0, (byte) 7);
            sink.writePages(pid, FIXED_LIBRARIES + 4096, 1, page);
            sink.commit();
        }
        try (ImageStreamReader r = new ImageStreamReader(Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray())),
                "stream", ModelCodecs.ALL, ImageFormat.DEFAULT_MAX_CHUNK)) {
            ImageStreamReader.Chunk c;
            while ((c = r.next()) != null) {
                memory.accept(c);
            }
        }
    }

    /** A pid no process has: a sleep's, once it is gone. */
    private int freePid() throws Exception {
        int pid;
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            pid = sleep.pid().value();
        }
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(30), "the sleep gone");
        return pid;
    }
}
