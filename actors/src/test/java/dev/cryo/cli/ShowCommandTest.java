package dev.cryo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.CharDeviceHandler;
import dev.cryo.engine.files.PipeHandler;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.MemoryKinds;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ShowCommandTest {
    @TempDir Path dir;
    private Path image;
    private IndexEntry stackPages;

    private record Result(int code, String out, String err) {}

    private Result show(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new ShowCommand(new PrintWriter(out)));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    private static byte[] siginfo(int signo) {
        return ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN).putInt(0, signo).array();
    }

    private static ByteBuffer pages(int count, int fill) {
        ByteBuffer b = ByteBuffer.allocateDirect(count * 4096);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) (fill + i / 100));
        return b;
    }

    @BeforeEach
    void writeImage() throws IOException {
        FileRef exe = new FileRef("/usr/bin/app", 2049, 77, 4096, 1_000_000, 0100755);
        long[] regs = new long[27];
        regs[16] = 0x401000; // rip
        ThreadImage thread = new ThreadImage(501, regs, new byte[832], 0x4000, 0, 0, 0, 0, 0, 0, 0, 2, 0,
                List.of(siginfo(10), siginfo(12)), "app", 0,
                new ThreadSecurity(0, -1, -1, -1, 0, 0, false, 0, -1),
                new dev.cryo.engine.model.SchedImage(3, 0, 7, 0, 0, 0, 0, 0, 1024, new long[] {3}, 0, 50_000), null);
        TaskImage task = new TaskImage(new TaskIds(501, 1, 501, 501), "app", exe, "/srv", "/", 022, 0,
                new Creds(List.of(0, 0, 0, 0), List.of(0, 0, 0, 0), List.of(), 0, -1, -1, -1, 0),
                List.of(new Rlimit(7, 1024, 4096)),
                List.of(new SigAction(10, 0x401200, 0x04000000, 0x401300, 0), new SigAction(15, 0, 0, 0, 0)),
                new MmImage(0x400000, 0x402000, 0x600000, 0x601000, 0x602000, 0x623000, 0x7ffd0000f000L, 0, 0, 0, 0,
                        new long[] {6, 4096, 0, 0}),
                List.of(thread),
                List.of(new VmaImage(0x400000, 0x402000, 5, VmaImage.MAP_PRIVATE, 0, MemoryKinds.FILE_PRIVATE, exe, 0, 0),
                        new VmaImage(0x7ffd00000000L, 0x7ffd00010000L, 3, VmaImage.MAP_PRIVATE, 0, MemoryKinds.STACK,
                                null, 2, 14)),
                List.of(new FdImage(0, 02, 0, new CharDeviceHandler.CharDevice("/dev/null", 0x103, false)),
                        new FdImage(3, 0, 0, new PipeHandler.Pipe(999, true, "", new byte[] {1, 2, 3}, 65536)),
                        new FdImage(4, 02000001, 17, new RegularFileHandler.RegularFile(exe))),
                List.of(), new SecurityImage(1, false, List.of()),
                new dev.cryo.engine.model.TimersImage(List.of(), List.of(new dev.cryo.engine.model.PosixTimerImage(
                        0, 1, 0, 10, 0, 501, 0, 20_000_000, 0, 50_000_000, 0))), 0);
        try (ImageWriter w = ImageWriter.create(dir, dev.cryo.engine.model.codec.ModelCodecs.ALL,
                ImageOptions.defaults().withFsync(false))) {
            w.writeRecord(new DumpInfo("0.1.0", 1_700_000_000_000L, "box", "6.18.0", 501, List.of(501), 832, false));
            w.writeRecord(task);
            w.writePages(501, 0x7ffd0000e000L, 1, pages(1, 3));
            stackPages = w.writePages(501, 0x7ffd0000f000L, 1, pages(1, 9));
            w.commit();
        }
        image = dir.resolve(ImageFormat.IMAGE_FILE);
    }

    /** The image directory as -D DIR too (CRIU's habit, as dump and restore take it): it failed 'Unknown option: '-D''. */
    @Test
    void theImageDirectoryMayComeAsDashD() {
        Result plain = show(dir.toString(), "ps"), dashD = show("-D", dir.toString(), "ps");
        assertEquals(0, dashD.code(), dashD.err());
        assertEquals(plain.out(), dashD.out());
        assertEquals(show(dir.toString()).out(), show("--images-dir", dir.toString()).out());
        Result both = show("-D", dir.toString(), dir.toString(), "ps");
        assertEquals(2, both.code());
        Result none = show();
        assertEquals(2, none.code());
        assertTrue(none.err().startsWith("cryo: show needs the image directory") && none.err().lines().count() == 1, none.err());
    }

    @Test
    void showPrintsTheImageAsJson() throws IOException {
        Result r = show(dir.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertEquals(1, doc.at("/format/version").asInt());
        assertEquals(4, doc.at("/format/chunks").asInt());
        assertEquals(Files.size(image), doc.at("/format/bytes").asLong());
        assertEquals("box", doc.at("/dump/hostname").asText());
        JsonNode task = doc.at("/tasks/0");
        assertEquals(501, task.get("pid").asInt());
        assertEquals("app", task.get("comm").asText());
        assertEquals(1, task.get("sigactions").size(), "the default SIGTERM action is left out");
        assertEquals("0x401200", task.at("/sigactions/0/handler").asText());
        assertEquals("0x602000", task.at("/mm/startBrk").asText());
        assertEquals("0x401000", task.at("/threads/0/regs/rip").asText());
        assertEquals(832, task.at("/threads/0/xstateBytes").asInt());
        assertEquals(2, task.at("/threads/0/pendingSignals/count").asInt());
        assertEquals(12, task.at("/threads/0/pendingSignals/signals/1").asInt());
        assertEquals("r-xp", task.at("/vmas/0/prot").asText());
        assertEquals("0x7ffd00010000", task.at("/vmas/1/end").asText());
        assertTrue(task.at("/vmas/1/file").isNull());
        assertEquals("pipe", task.at("/fds/1/kind").asText());
        assertEquals(3, task.at("/fds/1/dataBytes").asInt());
        assertEquals("02000001", task.at("/fds/2/flags").asText());
        assertEquals("SCHED_BATCH", task.at("/threads/0/sched/policy").asText());
        assertEquals(7, task.at("/threads/0/sched/nice").asInt());
        assertEquals("0-1", task.at("/threads/0/sched/affinity").asText());
        assertEquals("0.050000000", task.at("/timers/posix/0/interval").asText());
        assertEquals("/usr/bin/app", task.at("/fds/2/path").asText());
        assertEquals(2, task.at("/pages/pages").asInt());
        assertFalse(task.has("pageChunks"));
    }

    @Test
    void pagesListsEveryChunk() throws IOException {
        Result r = show(dir.toString(), "--pages");
        assertEquals(0, r.code(), r.err());
        JsonNode chunks = new ObjectMapper().readTree(r.out()).at("/tasks/0/pageChunks");
        assertEquals(2, chunks.size());
        assertEquals("0x7ffd0000f000", chunks.get(1).get("vaddr").asText());
        assertEquals(4096, chunks.get(1).get("storedBytes").asInt());
        assertFalse(chunks.get(1).get("compressed").asBoolean());
    }

    @Test
    void aFlippedByteInAPageChunkIsRefusedWithTheChunkNamed() throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            long at = stackPages.offset() + 40 + 1234; // past the 40-byte chunk header
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 1);
        }
        Result r = show(dir.toString());
        assertEquals(1, r.code());
        assertEquals("", r.out(), "nothing is printed from a damaged image");
        assertTrue(r.err().startsWith("cryo: image.cryo chunk 3 (pages of pid 501 at 0x7ffd0000f000"), r.err());
        assertTrue(r.err().contains("CRC32C mismatch"), r.err());
    }

    @Test
    void aTruncatedImageIsRefused() throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.truncate(20);
        }
        Result r = show(dir.toString());
        assertEquals(1, r.code());
        assertEquals("", r.out());
        assertTrue(r.err().contains("image.cryo is truncated"), r.err());
    }

    @Test
    void aCutFileHasNoTrailerAndIsRefused() throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.truncate(stackPages.offset() + 100);
        }
        Result r = show(dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("has no trailer: the dump did not complete"), r.err());
    }

    @Test
    void onlyAPartialFileIsRefused() throws IOException {
        Files.move(image, dir.resolve(ImageFormat.PARTIAL_FILE));
        Result r = show(dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("holds only image.cryo.partial: the dump did not complete"), r.err());
    }

    @Test
    void aDirectoryWithoutAnImageIsRefused(@TempDir Path empty) {
        Result r = show(empty.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("cryo: ") && r.err().contains("no image in " + empty), r.err());
    }
}
