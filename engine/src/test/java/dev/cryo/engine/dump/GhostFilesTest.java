package dev.cryo.engine.dump;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** What a refusal over the ghost limit tells the user to do. */
class GhostFilesTest {
    @Test
    void aFileOverTheLimitNamesTheGhostLimitThatCarriesIt() {
        // PostgreSQL's checkpointer holding a deleted 16 MiB WAL segment
        assertEquals("dump with --ghost-limit 16M (or set cryo.dump.ghost-limit) to carry it",
                GhostFiles.whatToDo(16L << 20));
        assertTrue(GhostFiles.whatToDo((3L << 20) + 1).startsWith("dump with --ghost-limit 4M"));
    }

    @Test
    void aFileOverTheCeilingSaysNoSettingCarriesIt() {
        String s = GhostFiles.whatToDo((1L << 30) + 1);
        assertTrue(s.contains("at most 1024 MiB") && s.contains("must close or truncate it"), s);
        assertTrue(GhostFiles.whatToDo(1L << 30).startsWith("dump with --ghost-limit 1024M")); // zdtm's --ghost-limit 1G
        // a memfd's contents outside mappings travel in its fd's record
        s = GhostFiles.whatToDo((16L << 20) + 1, GhostFiles.IN_RECORD);
        assertTrue(s.contains("at most 16 MiB") && s.contains("fd's record"), s);
    }

    /**
     * Contents carried inside fd records (memfds outside mappings, files of detached tmpfs mounts) are bounded per task
     * as well as per fd: 256 memfds of 1 MiB each (stress-ng's memfd stressor) made a task record too big for a chunk,
     * and the dump failed writing the image, naming no task. A claim made again for the same fd replaces the first.
     */
    @Test
    void whatATasksFdRecordsCarryIsBoundedForTheTask() {
        GhostFiles ghosts = new GhostFiles(16 << 20);
        dev.cryo.kernel.Pid pid = dev.cryo.kernel.Pid.of(4242), other = dev.cryo.kernel.Pid.of(4243);
        for (int fd = 3; fd < 6; fd++) {
            ghosts.claimInRecord(pid, "pid 4242 fd " + fd, "memfd m" + fd + ", outside any mapping,", 15L << 20);
        }
        ghosts.claimInRecord(pid, "pid 4242 fd 5", "memfd m5, outside any mapping,", 15L << 20); // read again
        ghosts.claimInRecord(other, "pid 4243 fd 3", "memfd m3, outside any mapping,", 15L << 20); // another task's
        dev.cryo.engine.DumpException e = assertThrows(dev.cryo.engine.DumpException.class, () -> ghosts.claimInRecord(
                pid, "pid 4242 fd 6", "memfd m6, outside any mapping,", 12L << 20));
        assertTrue(e.getMessage().startsWith("pid 4242 fd 6: memfd m6, outside any mapping, holds 12582912 bytes, and the"
                + " task's other fds carry 47185920 bytes") && e.getMessage().contains("56 MiB"), e.getMessage());
        e = assertThrows(dev.cryo.engine.DumpException.class, () -> ghosts.claimInRecord(pid, "pid 4242 fd 7", "x",
                (16L << 20) + 1));
        assertTrue(e.getMessage().contains("more than the ghost limit of 16777216 bytes") && e.getMessage().contains(
                "at most 16 MiB"), e.getMessage());
    }

    /** A file of 9 MiB of data travels apart in pieces of 4 MiB, each where it belongs; the dump's total is bounded. */
    @Test
    void aBigFileTravelsInPiecesAndTheDumpsTotalIsBounded(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        java.nio.file.Path big = tmp.resolve("big"), more = tmp.resolve("more");
        byte[] bytes = nineMiBIn(big);
        java.nio.file.Files.write(more, new byte[1 << 20]);
        GhostFiles ghosts = new GhostFiles(16 << 20, new MountTables(java.util.List.of()), 19 << 19);
        dev.cryo.kernel.Pid pid = dev.cryo.kernel.Pid.of((int) ProcessHandle.current().pid());
        ghosts.carry(pid, "pid 1 fd 3", big.toString(), big);
        dev.cryo.engine.model.GhostFile g = ghosts.take(pid).get(0);
        assertTrue(g.apart() && g.contents().length == 0 && g.dataBytes() == bytes.length, g.toString());
        java.util.List<dev.cryo.engine.model.GhostData> pieces = ghosts.takePieces(g);
        assertEquals(java.util.List.of(0L, 4L << 20, 8L << 20), pieces.stream().map(d -> d.at()).toList());
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (dev.cryo.engine.model.GhostData d : pieces) {
            all.write(d.bytes());
        }
        assertArrayEquals(bytes, all.toByteArray());
        assertEquals(java.util.List.of(), ghosts.takePieces(g)); // taken once
        dev.cryo.engine.DumpException over = assertThrows(dev.cryo.engine.DumpException.class,
                () -> ghosts.carry(pid, "pid 1 fd 4", more.toString(), more));
        assertTrue(over.getMessage().startsWith("pid 1 fd 4: " + more + " is a deleted file holding 1048576 bytes")
                && over.getMessage().contains("10485760 bytes, more than cryo holds in memory"), over.getMessage());
    }

    /**
     * Streamed (a dump's GhostFiles with its image writer as the sink), a big file's pieces go out as they are read,
     * in order, and none is held: the dump's bound on held data does not count them.
     */
    @Test
    void streamedABigFilesPiecesGoOutAsReadAndAreNotHeld(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        java.nio.file.Path big = tmp.resolve("big"), again = tmp.resolve("again");
        byte[] bytes = nineMiBIn(big, again);
        GhostFiles ghosts = new GhostFiles(16 << 20, new MountTables(java.util.List.of()), 19 << 19); // 9.5 MiB held at most
        java.util.List<dev.cryo.engine.model.GhostData> sent = new java.util.ArrayList<>();
        ghosts.streamTo(sent::add);
        dev.cryo.kernel.Pid pid = dev.cryo.kernel.Pid.of((int) ProcessHandle.current().pid());
        ghosts.carry(pid, "pid 1 fd 3", big.toString(), big);
        ghosts.carry(pid, "pid 1 fd 4", again.toString(), again); // 18 MiB in all: held, it was refused
        java.util.List<dev.cryo.engine.model.GhostFile> carried = ghosts.take(pid);
        assertEquals(2, carried.size());
        for (dev.cryo.engine.model.GhostFile g : carried) {
            assertTrue(g.apart() && g.contents().length == 0, g.toString());
            assertEquals(java.util.List.of(), ghosts.takePieces(g), "nothing held");
        }
        assertEquals(java.util.List.of(0L, 4L << 20, 8L << 20, 0L, 4L << 20, 8L << 20), sent.stream().map(d -> d.at()).toList());
        java.io.ByteArrayOutputStream first = new java.io.ByteArrayOutputStream();
        for (dev.cryo.engine.model.GhostData d : sent.subList(0, 3)) {
            first.write(d.bytes());
        }
        assertArrayEquals(bytes, first.toByteArray());
    }

    /** 9 MiB of a pattern, written into each of {@code files}. */
    private static byte[] nineMiBIn(java.nio.file.Path... files) throws java.io.IOException {
        byte[] bytes = new byte[9 << 20];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31 + (i >> 20));
        }
        for (java.nio.file.Path f : files) {
            java.nio.file.Files.write(f, bytes);
        }
        return bytes;
    }
}
