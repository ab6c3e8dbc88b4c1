package dev.cryo.engine.show;

import static org.junit.jupiter.api.Assertions.*;

import dev.cryo.engine.image.ImageCorruptException;
import dev.cryo.engine.image.ImageFormat;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs on the model golden image (see ModelGoldenImageTest for its content). */
class ImageJsonTest {
    @TempDir Path dir;

    @BeforeEach
    void copyGolden() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/golden/model-v1/image.cryo")) {
            Files.copy(in, dir.resolve(ImageFormat.IMAGE_FILE));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void theGoldenImageBecomesATree() throws IOException {
        Map<String, Object> doc = ImageJson.read(dir, true);
        Map<String, Object> format = (Map<String, Object>) doc.get("format");
        assertEquals(1, format.get("version"));
        assertEquals(4096, format.get("pageSize"));
        assertEquals(8, format.get("chunks")); // the golden holds every record kind, PreCopyLayout, NamespaceImage and NetNamespaceImage included
        assertEquals(Files.size(dir.resolve(ImageFormat.IMAGE_FILE)), format.get("bytes"));
        assertEquals("host-a", ((Map<String, Object>) doc.get("dump")).get("hostname"));
        Map<String, Object> zombie = ((List<Map<String, Object>>) doc.get("zombies")).get(0);
        assertEquals(4249, zombie.get("pid"));
        assertEquals("killed by SIGTERM", zombie.get("wait"));
        Map<String, Object> ns = ((List<Map<String, Object>>) doc.get("namespaces")).get(0);
        assertEquals("pid, uts, ipc, net, mnt, time", ns.get("namespaces"));
        assertEquals("cryo-box", ns.get("hostname"));
        assertEquals("86400.000000000", ((Map<String, Object>) ((Map<String, Object>) ns.get("time")).get("own")).get("monotonic"));
        assertEquals(3, ((Map<String, Object>) ns.get("pidsInside")).get("4249"));

        Map<String, Object> task = ((List<Map<String, Object>>) doc.get("tasks")).get(0);
        assertEquals(4242, task.get("pid"));
        assertEquals("/usr/bin/sleeper", task.get("exe"));
        assertEquals("022", task.get("umask"));
        assertEquals(2, ((List<?>) task.get("sigactions")).size(), "SIGTERM has the default action");

        Map<String, Object> thread = ((List<Map<String, Object>>) task.get("threads")).get(0);
        assertEquals("0x555555554123", ((Map<String, Object>) thread.get("regs")).get("rip"));
        assertEquals(Map.of("count", 2, "signals", List.of(10, 34)), thread.get("pendingSignals"));

        List<Map<String, Object>> vmas = (List<Map<String, Object>>) task.get("vmas");
        assertEquals("r-xp", vmas.get(0).get("prot"));
        assertEquals("rw-s", vmas.get(2).get("prot"));
        assertNull(vmas.get(1).get("file"));

        List<Map<String, Object>> fds = (List<Map<String, Object>>) task.get("fds");
        assertEquals(List.of("chardev", "file", "pipe", "pipe", "pipe", "pidfd", "namespace file", "shared", "eventfd", "timerfd", "signalfd", "epoll",
                "unix socket", "unix socket", "TCP socket", "TCP socket", "UDP socket", "netlink socket",
                "raw socket", "ICMP datagram socket", "vsock socket", "packet socket", "inotify", "fanotify", "pty-master", "pty-slave", "current-tty", "pipe", "pty-slave",
                "pty-slave", "namespace file", "file", "file", "mqueue"), fds.stream().map(f -> f.get("kind")).toList());
        assertEquals(4242, fds.get(fds.size() - 2).get("deadPid"));
        assertEquals("DN_CREATE|DN_MULTISHOT", fds.get(fds.size() - 3).get("dirNotify"));
        assertEquals("signal 37 with value 0x7f1234abcd58", fds.get(fds.size() - 1).get("notification"));
        assertEquals(4, fds.get(12).get("queuedMessages"));
        assertEquals(List.of("pipe", "shared", "shared"), ((List<Map<String, Object>>) fds.get(12).get("passedFiles"))
                .stream().map(f -> f.get("kind")).toList());
        assertEquals(2L, fds.get(12).get("messagesWithCredentials"));
        assertEquals(List.of(4242 + 900), fds.get(12).get("sendersGone")); // ModelSamples.PID + 900
        assertEquals("/srv/in box/f", ((List<Map<String, Object>>) fds.get(22).get("watches")).get(1).get("path"));
        assertEquals("mount", ((List<Map<String, Object>>) fds.get(23).get("marks")).get(1).get("type"));
        assertEquals("127.0.0.1:8080", fds.get(14).get("remote"));
        assertEquals(Map.of("ICMP_FILTER", 0xfffffff6), fds.get(18).get("options"));
        assertEquals("0:0:0:0:0:0:0:0", fds.get(19).get("remote"));
        assertEquals("5555", fds.get(20).get("port")); // the vsock listener, on any cid
        assertEquals(64, fds.get(20).get("listening"));
        assertEquals(List.of("promiscuous on eth0", "multicast on eth0 01:00:5e:01:02:03 x2"), fds.get(21).get("memberships"));
        assertEquals("eth0", fds.get(21).get("interface"));
        assertEquals("cryo_42_abc", fds.get(14).get("networkLock"));
        assertEquals("02000000", fds.get(1).get("flags"));
        assertEquals(4, fds.get(2).get("dataBytes"));

        assertEquals(Map.of("chunks", 2, "pages", 3L, "bytes", 3L * 4096), task.get("pages"));
        assertEquals(2, ((List<?>) task.get("pageChunks")).size());
        assertFalse(ImageJson.read(dir, false).toString().contains("pageChunks"));
    }

    @Test
    void aDamagedPageChunkIsReportedBeforeAnything() throws IOException {
        dev.cryo.engine.image.IndexEntry last;
        try (var r = dev.cryo.engine.image.ImageReader.open(dir, dev.cryo.engine.model.codec.ModelCodecs.ALL)) {
            last = r.pageChunks().get(r.pageChunks().size() - 1);
        }
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(ImageFormat.IMAGE_FILE).toFile(), "rw")) {
            long at = last.offset() + last.storedLength() - 100; // inside a page chunk: records, index and trailer follow
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
        ImageCorruptException e = assertThrows(ImageCorruptException.class, () -> ImageJson.read(dir, false));
        assertTrue(e.getMessage().matches("(?s).*chunk \\d \\(pages of pid 4242 at 0x.*"), e.getMessage());
        assertTrue(e.getMessage().contains("CRC32C mismatch"), e.getMessage());
    }
}
