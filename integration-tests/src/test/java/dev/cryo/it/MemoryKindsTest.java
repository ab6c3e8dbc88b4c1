package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Memory kinds and per-mapping state beyond plain memory, each through a dump and a restore. */
class MemoryKindsTest {
    @TempDir
    Path tmp;

    /**
     * zdtm's maps12 found it refused (EFAULT copying them: the pagemap shows guard pages as swapped);
     * with --pre-copy they were then dropped silently (the tracker never sees a guard page written).
     * The guard pages of a shared anonymous mapping and of a shared file mapping were lost silently
     * (their pages are found in the object, not in the page table that alone shows a guard).
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "--pre-copy"})
    void guardPagesStayGuardPages(String option) throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("guards.out"), "guards", dir.toString())) {
            String[] opts = option.isEmpty() ? new String[0] : new String[] {option};
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"), opts));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * Data of shared anonymous memory behind a guard page of its only mapping: with --pre-copy the dump
     * succeeded and the whole object came back as zeros (each round's copy through the guard failed,
     * and the piece was owed to a frozen round that does not read shared objects still pre-copied).
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "--pre-copy"})
    void sharedDataBehindAGuardPageIsRefusedByName(String option) throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("guards.out"), "guards", dir.toString(), "data")) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("dump", "-t",
                    Integer.toString(p.pid().value()), "-D", tmp.resolve("img").toString(), "--no-progress"));
            if (!option.isEmpty()) {
                args.add(option);
            }
            Cli r = Cli.run(args.toArray(String[]::new));
            assertEquals(1, r.code(), r.toString());
            assertTrue(java.util.regex.Pattern.compile("pid " + p.pid().value() + ": the shared memory /dev/zero mapped at"
                    + " 0x[0-9a-f]+ holds data behind its guard page\\(s\\)").matcher(r.err()).find(), r.toString());
            assertTrue(java.nio.file.Files.exists(Path.of("/proc/" + p.pid().value())), "the tree runs on");
        }
    }

    /**
     * Issue 10: Ruby's YJIT fills its 256 MiB code area with one byte, and its images were 256 MiB. A page
     * that holds one byte repeated goes into the image as that byte (a fill chunk): 64 MiB of 0xcc, pages of
     * other bytes beside data, a read-only page, a zeroed copy-on-write page of a file, and pages rewritten
     * every millisecond as one byte or as data while a pre-copy's rounds run (the last copy of each wins).
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "--pre-copy"})
    void pagesThatEachHoldOneByteTakeOneByteOfTheImage(String option) throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("fillbytes.out"), "fillbytes", dir.toString())) {
            Path img = tmp.resolve("img");
            String[] opts = option.isEmpty() ? new String[0] : new String[] {option};
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, img, opts));
            assertTrue(out.contains("PASS"), out);
            long size = java.nio.file.Files.size(img.resolve("image.cryo"));
            assertTrue(size < (8 << 20), "the image of 64 MiB of 0xcc takes " + size + " bytes");
            String show = Cli.run("show", "--pages", img.toString()).out();
            assertTrue(show.contains("\"filledWith\" : \"0xcc\""), show);
        }
    }

    /**
     * Data pages between zero pages (a JVM's heap, a Go arena, calloc'd buffers): ~8,000 chunks of one
     * to a few pages, written into the restored task in batches of up to 1024 by one process_vm_writev each
     * (more than one 32 MiB window of the image), beside a PROT_READ area the batch cannot write (its pages
     * go through /proc/PID/mem) and zero pages over a private mapping of a file, which must be written. The
     * heap's zero pages must not be resident after the restore (none is written).
     */
    @Test
    void dataPagesBetweenZeroPagesComeBackAndTheZeroPagesAreNotWritten() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("zeroruns.out"), "zeroruns", dir.toString())) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void adviceAndLocksOfEachMappingComeBack() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("vmflags.out"), "vmflags")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(java.util.regex.Pattern.compile("\"advice\"\\s*:\\s*\"[^\"]*hugepage").matcher(show).find(), show);
        }
    }

    /**
     * zdtm's unlink_fstat00 and memfd00 found it: cryo made a deleted file and a memfd again with its
     * own owner (root) and, for the memfd, the default mode, instead of the ones the program had set.
     */
    @Test
    void aDeletedFileAndAMemfdKeepTheirOwnerAndMode() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("owners.out"), "owners", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            assertTrue(Cli.run("show", img.toString()).out().contains("\"owner\" : \"1234:2345\""));
        }
    }

    /**
     * zdtm's maps_file_prot found it: a shared mapping, read-only, of a file open for writing came
     * back over a file opened read-only, so mprotect(PROT_WRITE) failed with EACCES after the restore.
     */
    @Test
    void aReadOnlySharedMappingOfAFileOpenForWritingCanStillBeMadeWritable() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("fileprot.out"), "fileprot", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * zdtm's memfd02 found it: a private mapping of a memfd came back over a copy of the memfd, so
     * its untouched pages no longer showed what the program wrote to the memfd after the restore.
     */
    @Test
    void aPrivateMappingOfAMemfdStillShowsTheMemfdsPages() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "memfdprivate");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A memfd run with execveat after the restore, held by an fd and mapped shared (zdtm memfd05),
     * and by an fd alone (memfd04): neither may count as a writer of the memfd (ETXTBSY).
     */
    @Test
    void aMemfdCanStillBeExecutedMappedOrNot() throws Exception {
        String mapped = DumpRestore.workloadVerdict(java.nio.file.Files.createDirectories(tmp.resolve("mapped")), "memfdexec");
        assertTrue(mapped.contains("PASS"), mapped);
        String fdOnly = DumpRestore.workloadVerdict(java.nio.file.Files.createDirectories(tmp.resolve("fd")), "memfdexec", "fd-only");
        assertTrue(fdOnly.contains("PASS"), fdOnly);
    }

    /**
     * Shared anonymous memory opened through map_files (zdtm shmemfd-priv): a private mapping of that fd
     * and the fd itself are of the very object the shared area maps, not of copies.
     */
    @Test
    void aPrivateMappingAndAnFdOfSharedAnonymousMemoryStillShareIt() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "shmprivate");
        assertTrue(out.contains("PASS"), out);
    }

    /** Flags of the address space: transparent huge pages off (prctl), the coredump filter. */
    @Test
    void theAddressSpacesThpAndCoredumpFlagsComeBack() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("mmflags.out"), "mmflags")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"thpDisabled\" : true") && show.contains("\"coredumpFilter\" : \"0x7f\""), show);
        }
    }

    /**
     * membarrier(2) registrations of the mm (liburcu's, in knotd: an unregistered private expedited
     * barrier fails with EPERM and liburcu aborts, which knotd did at its first zone commit after a restore).
     */
    @Test
    void membarrierRegistrationsComeBack() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "membarrier");
        assertTrue(out.contains("PASS"), out);
    }

    /** Memory-deny-write-execute (PR_SET_MDWE): the restore dropped it silently, the program could map W+X again. */
    @Test
    void memoryDenyWriteExecuteComesBack() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "mdwe");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * mlockall(MCL_FUTURE), with and without MCL_ONFAULT: each mapping kept its lock, but the mm's
     * default was dropped silently, so mappings made after the restore came unlocked.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "onfault"})
    void mlockallOfFutureMappingsComesBack(String mode) throws Exception {
        String out = mode.isEmpty() ? DumpRestore.workloadVerdict(tmp, "mlockfuture")
                : DumpRestore.workloadVerdict(tmp, "mlockfuture", mode);
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A heap and an anonymous area each grown a step at a time larger than the host's memory and swap
     * (stress-ng's malloc stressor: a 57 GiB sparse heap on a 24 GiB host): the restore mapped each in one
     * request, which the kernel's heuristic overcommit refuses ("mmap(0x...) in pid N: ENOMEM", and for the
     * heap's part kept apart "mprotect(0x..., apart)"), so the restore failed. They come in pieces now,
     * which the kernel merges into one area again.
     */
    @Test
    void areasLargerThanTheHostsMemoryGrownStepByStepComeBackWhole() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "overcommit");
        assertTrue(out.contains("PASS"), out);
    }

    /** KSM for the whole address space (PR_SET_MEMORY_MERGE): the restore dropped it, so new mappings were not mergeable. */
    @Test
    void ksmForTheWholeAddressSpaceComesBack() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "ksmany");
        assertTrue(out.contains("PASS"), out);
    }

    /** Files made with O_TMPFILE (no name ever): made that way again, so they can still be named with linkat. */
    @Test
    void filesMadeWithOTmpfileComeBackUnnamedAndLinkable() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("tmpfile.out"), "tmpfile", dir.toString())) {
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            assertTrue(java.nio.file.Files.size(dir.resolve("published")) == 13, "the file it named after the restore");
            try (var left = java.nio.file.Files.list(dir)) {
                assertEquals(java.util.List.of(dir.resolve("published")), left.toList(), "nothing else left in " + dir);
            }
        }
    }

    /** An idle AIO context: a new ring moved to the dumped address, so the program's context id works on. */
    @Test
    void anIdleAioRingComesBackWithItsContextId() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("aio.out"),
                TestPrograms.compile("/c/aioring.c").toString(), tmp.resolve("aio.dat").toString()))) {
            String ctx = p.outputText().replaceAll("(?s).*ready ctx=(\\p{XDigit}+).*", "$1");
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            assertTrue(Cli.run("show", img.toString()).out().contains("\"aioContext\" : \"0x" + ctx + "\""));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS ctx=" + ctx), out);
        }
    }

    /**
     * Completed events a program has not reaped (fio, MariaDB's native AIO): the ring comes back
     * with the same head and tail, its events wrapping round its end, and the program reaps those
     * very events (real9 found them refused). The writes are O_DIRECT: some may still be in flight
     * when the dump freezes the task, which waits for them.
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "--pre-copy"})
    void anAioRingHoldingUnreapedEventsComesBackWithThem(String option) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("aio.out"),
                TestPrograms.compile("/c/aioring.c").toString(), tmp.resolve("aio.dat").toString(), "unreaped"))) {
            String ready = p.outputText();
            assertTrue(ready.matches("(?s).*head=\\d+ tail=\\d+ nr=\\d+.*") && !ready.contains("head=0 "), ready);
            String[] opts = option.isEmpty() ? new String[0] : new String[] {option};
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"), opts));
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void deletedFilesStillMappedComeBackSharedAndAreGoneAgain() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("ghost.out"), "ghost", dir.toString(), "20000")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            assertFalse(java.nio.file.Files.exists(dir.resolve("ghost-data")), "the restore left the deleted file behind");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            assertTrue(Cli.run("show", img.toString()).out().contains("GHOST_SHARED"));
        }
    }

    @Test
    void aDeletedFileAboveTheGhostLimitIsRefusedUntilTheLimitIsRaised() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("ghost.out"), "ghost", dir.toString(), Integer.toString(3 << 20))) {
            Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            // parent or child: both map it
            assertTrue(refused.err().contains("pid ") && refused.err().contains("ghost-data")
                    && refused.err().contains("ghost limit") && refused.err().contains("--ghost-limit 3M"), refused.err());
            Cli bad = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress", "--ghost-limit", "lots");
            assertEquals(2, bad.code(), bad.toString());
            assertTrue(bad.err().contains("--ghost-limit lots"), bad.err());
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"), "--ghost-limit", "4M");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void memfdsComeBackWithNameSizeSealsPositionAndContentsSharedByFdsMappingsAndTasks() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("memfd.out"), "memfd")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"memfd\"") && show.contains("cryo-fd-only"), show);
        }
    }

    /**
     * A memfd mapped shared whose fd was closed, sealed F_SEAL_GROW|F_SEAL_SHRINK (zdtmf42's memfd_seals3: it
     * came back unsealed, then was refused), or sealable with no seal set (it came back not sealable): the
     * mapping records the seals, and the restored memfd has them and its bytes, and cannot grow
     * (memfdseal.c). Sealed against writing (F_SEAL_WRITE with its fd open, mapped through a read-only reopen:
     * zdtmf42's memfd_seals2; F_SEAL_FUTURE_WRITE, mapped writable before the seal and read-only after, its fd
     * closed; F_SEAL_WRITE and more with its fd open, mapped read-only from that fd after the seal by it and a
     * child: systemd's, GLib's, pipewire's way), which was refused: the memfd is sealed so again, its read-only
     * areas cannot be made writable (smaps without "mw", with "sh" as it had), and future's writable one still writes.
     * noexec: future's made with MFD_NOEXEC_SEAL (Firefox's IPC memory), whose restore failed ('cannot seal the
     * restored memfd ... again: fcntl(..., F_ADD_SEALS, ...): EBUSY': on the new memfd's 0777, F_SEAL_EXEC brings
     * F_SEAL_WRITE along, refused while the writable area is there).
     */
    @ParameterizedTest
    @ValueSource(strings = {"closed", "allowed", "write", "future", "consumer", "noexec"})
    void aMappedMemfdNoFdHoldsKeepsItsSeals(String mode) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("memfdseal.out"), "memfdseal", mode)) {
            String out = RestoreTest.checkAndReap(RestoreTest.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * NUMA memory policies came back as the default, silently: a process's own (numactl --interleave's way, which its
     * thread inherits; interleave=static on nodes 0-1, which a host of node 0 alone keeps as given), a thread's own alone, an area's own (mbind: bound to node 0, and MPOL_PREFERRED with no node,
     * which is "local": OpenBLAS's buffers, numpy's), a SysV segment's over one of its pages (numapolicy.c; node 0,
     * which every host has). get_mempolicy gives each as it was, and so does the state comparator's probe.
     */
    @ParameterizedTest
    @ValueSource(strings = {"process", "thread", "mbind", "shm"})
    void numaPoliciesComeBack(String mode) throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "numapolicy", mode);
        assertTrue(out.contains("PASS"), out);
        if (mode.equals("mbind")) {
            String show = Cli.run("show", tmp.resolve("img").toString()).out();
            assertTrue(show.contains(" bind:0\"") && show.contains(" local\""), show);
        }
    }

    /**
     * memfd_secret(2) memory, whose pages the kernel hides from every other process (zdtm's memfd-secret00), was
     * refused: its pages are read through a mapping of cryo's own of the object, taken from the task's fd, and a
     * restore makes one memfd_secret object that the fd and every mapping take, its pages written through cryo's
     * mapping. By mode: the fd alone, its page written through a mapping since unmapped; the fd and a mapping,
     * a page of it never touched (still reads zero, not carried); both shared with a child, which writes after
     * the restore and the parent reads it (secretmem.c).
     */
    @ParameterizedTest
    @ValueSource(strings = {"fd", "both", "fork"})
    void memfdSecretMemoryComesBack(String mode) throws Exception {
        try {
            dev.cryo.kernel.SecretMemory.create(4096).close();
        } catch (RuntimeException e) {
            org.junit.jupiter.api.Assumptions.abort("memfd_secret is not available here: " + e.getMessage());
        }
        try (DetachedProcess p = Workloads.program(tmp.resolve("secretmem.out"), "secretmem", mode)) {
            Path img = tmp.resolve("img");
            String out = RestoreTest.checkAndReap(RestoreTest.dumpAndRestore(p, img));
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("memfd_secret"), show);
        }
    }

    /**
     * A deleted sparse file of 64 MiB holding 8 KiB of data: only its data counts against the ghost limit
     * (1 MiB) and travels (zdtm ghost_holes_large00, unlink_largefile were refused for the file's size).
     */
    @Test
    void aLargeSparseDeletedFileCarriesOnlyItsData() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        String out = DumpRestore.workloadVerdict(tmp, "ghostsparse", dir.toString());
        assertTrue(out.contains("PASS"), out);
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"dataBytes\" : 8192"), show);
    }

    /**
     * Deleted files whose data is more than a chunk: a dense one of 64 MiB, mapped shared and privately by two
     * tasks, and a sparse one of 64 MiB with 20 MiB of data after a 32 MiB hole (zdtm's unlink_multiple_largefiles
     * dumps with CRIU's --ghost-limit 1G, which cryo refused: its task's record carried the file, so at most
     * 16 MiB). Their contents travel in pieces of 4 MiB beside the record, and come back whole, holes as holes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"dense", "sparse"})
    void aDeletedFileOfMoreThanAChunkTravelsInPiecesAndComesBackWhole(String kind) throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        Path img = tmp.resolve("img");
        String out;
        if (kind.equals("dense")) {
            try (DetachedProcess p = Workloads.program(tmp.resolve("ghost.out"), "ghost", dir.toString(),
                    Integer.toString(64 << 20))) {
                out = RestoreTest.checkAndReap(RestoreTest.dumpAndRestore(p, img, "--ghost-limit", "1G"));
            }
        } else {
            java.util.List<String> command = java.util.List.of(TestPrograms.compile("/c/ghostsparse.c").toString(), dir.toString(),
                    Integer.toString(20 << 20));
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("sparse.out"),
                    command.toArray(String[]::new)))) {
                out = RestoreTest.checkAndReap(RestoreTest.dumpAndRestore(p, img, "--ghost-limit", "64M"));
            }
        }
        assertTrue(out.contains("PASS"), out);
        String show = Cli.run("show", img.toString()).out();
        assertTrue(show.contains("\"dataBytes\" : " + (kind.equals("dense") ? 64 << 20 : (20 << 20) + 4096))
                && show.contains("\"apart\" : true"), show);
    }

    /** zdtm's ghost_holes00-02 found them filled: a deleted sparse file came back without its holes. */
    @Test
    void deletedSparseFilesKeepTheirHoles() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        String out = DumpRestore.workloadVerdict(tmp, "ghostholes", dir.toString());
        assertTrue(out.contains("PASS"), out);
    }

    @Test
    void deletedFilesHeldOpenComeBack() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("ghostfd.out"), "ghostfd", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            assertFalse(java.nio.file.Files.exists(dir.resolve("ghost-open")), "the restore left the deleted file behind");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A deleted file whose path another file took since (a library replaced by an upgrade while the
     * server that maps it runs) comes back without touching that other file for its holders outside
     * the tree: their fds still name the path. The restore renamed the ghost over the path, which
     * unlinked the other file's name under them ("PATH (deleted)" for good, and a dump of them then
     * carried a file that was never deleted), and linked the file back under a new name.
     */
    @Test
    void aDeletedFileComesBackWithoutUnlinkingTheFileThatTookItsPathFromItsOtherHolders() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        Path replaced = dir.resolve("replaced");
        try (DetachedProcess p = Workloads.program(tmp.resolve("ghostfd.out"), "ghostfd", dir.toString());
             DetachedProcess other = DetachedProcess.start(tmp.resolve("other.out"), "sh", "-c",
                     "exec 3<" + replaced + "; echo ready; exec sleep 600")) {
            Path held = Path.of("/proc/" + other.pid() + "/fd/3");
            other.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            assertEquals(replaced.toString(), java.nio.file.Files.readSymbolicLink(held).toString());
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            assertEquals(replaced.toString(), java.nio.file.Files.readSymbolicLink(held).toString(),
                    "the fd of a process outside the tree on the file that took the deleted file's path");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * Hugetlb memory cryo does not carry (a private mapping of a memfd with MFD_HUGETLB that no fd or
     * shared mapping of the process holds) is refused by name. Where the host has no huge page to give (HugePages_Total 0), the workload holds an untouched
     * MAP_NORESERVE mapping, which is hugetlb memory all the same.
     */
    @Test
    void hugetlbMemoryIsRefusedAndTheTaskRunsOn() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("huge.out"), "hugetlb")) {
            Cli dump = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("img").toString(),
                    "--no-progress");
            assertEquals(1, dump.code(), dump.toString());
            assertTrue(dump.err().contains("pid " + p.pid()) && dump.err().contains("/memfd:cryo-huge")
                    && dump.err().contains("that no fd or shared mapping of the process, nor of any other process of the tree, holds")
                    && dump.err().contains("not supported yet"), dump.err());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    /**
     * Private anonymous hugetlb memory (a JVM's with -XX:+UseLargePages) comes back in huge pages
     * with its bytes, protections and untouched pages. The host's pool is grown by three pages for
     * the test when it has fewer free (the default pool is empty), and set back after.
     */
    @Test
    void privateHugetlbMemoryComesBackInHugePages() throws Exception {
        try (HugePages pool = HugePages.atLeastFree(3);
             DetachedProcess p = Workloads.program(tmp.resolve("hugep.out"), "hugetlb_private")) {
            assertFalse(p.outputText().contains("nohuge"), "the pool had three free huge pages: " + p.outputText());
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS") && !out.contains("nohuge"), out);
        }
    }

    /**
     * Shared hugetlb memory was refused: PostgreSQL's shared buffers with huge_pages=on
     * (MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB), a SysV segment of huge pages (SHM_HUGETLB) kept or, as a
     * JVM's heap with -XX:+UseLargePages -XX:+UseSHM, marked for removal once attached. Each comes back
     * hugetlb memory shared by parent and child (shm.c), with the bytes of a page only a child that has
     * exited since wrote, which no page table of the tree shows.
     */
    @ParameterizedTest
    @ValueSource(strings = {"huge", "sysv huge", "rmid huge"})
    void sharedHugetlbMemoryComesBackSharedInHugePages(String mode) throws Exception {
        try (HugePages pool = HugePages.atLeastFree(2);
             DetachedProcess p = Workloads.program(tmp.resolve("shm.out"), "shm", mode.split(" "))) {
            String shmid = p.outputText().lines().filter(l -> l.startsWith("shmid ")).findFirst().orElse("shmid ")
                    .substring(6);
            try {
                DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
                assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains(
                        mode.equals("huge") ? "HUGETLB_SHARED_2M" : "SYSV_SHM"));
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                if (mode.equals("sysv huge")) { // kept: it outlives the tree
                    new ProcessBuilder("ipcrm", "-m", shmid).start().waitFor();
                }
            }
        }
    }

    /**
     * A file of a hugetlbfs mount mapped shared and held open (DPDK's hugepage files) was refused as
     * hugetlb memory: its pages stay in the file, which the restore maps again, hugetlb memory with the
     * bytes of a page only a child that has exited since wrote. A private mapping of it (refused too)
     * comes back with its copied-on-write page, its other page still the file's. With "unlink" the file
     * was deleted once mapped, as qemu's -mem-path and DPDK's --huge-unlink do: refused ("hugetlb memory of
     * a deleted hugetlbfs file ... is not supported yet"); it comes back a deleted file of the mount, made
     * again there with its two pages (4 MiB, over the default ghost limit).
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "unlink"})
    void sharedAndPrivateMappingsOfAHugetlbfsFileAreMappedAgainFromTheFile(String mode) throws Exception {
        Path mnt = java.nio.file.Files.createDirectories(tmp.resolve("huge"));
        try (HugePages pool = HugePages.atLeastFree(4)) {
            assertEquals(0, new ProcessBuilder("mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", mnt.toString())
                    .inheritIO().start().waitFor());
            String[] args = mode.isEmpty() ? new String[] {mnt.toString()} : new String[] {mnt.toString(), mode};
            try (DetachedProcess p = Workloads.program(tmp.resolve("hugetlbfs.out"), "hugetlbfs", args)) {
                DetachedProcess r = mode.isEmpty() ? RestoreTest.dumpAndRestore(p, tmp.resolve("img"))
                        : RestoreTest.dumpAndRestore(p, tmp.resolve("img"), "--ghost-limit", "8M");
                if (!mode.isEmpty()) {
                    try (java.util.stream.Stream<Path> left = java.nio.file.Files.list(mnt)) {
                        assertEquals(java.util.List.of(), left.toList(), "the restore left a file on the mount");
                    }
                }
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS"), out);
            } finally {
                java.nio.file.Files.deleteIfExists(mnt.resolve("cryo-hugefile"));
                new ProcessBuilder("umount", mnt.toString()).inheritIO().start().waitFor();
            }
        }
    }

    /**
     * A memfd of huge pages (MFD_HUGETLB: qemu's memory-backend-memfd,hugetlb=on, DPDK's --in-memory)
     * was refused: it comes back a sealed memfd of 2 MiB pages of the same name, its mapped pages (one
     * only a child that has exited wrote) and the page only its fd holds with their bytes (in the
     * fd's record, within the ghost limit).
     */
    @Test
    void aMemfdOfHugePagesComesBackWithItsMappingAndContents() throws Exception {
        try (HugePages pool = HugePages.atLeastFree(3);
             DetachedProcess p = Workloads.program(tmp.resolve("hugememfd.out"), "hugememfd")) {
            // the page only the fd holds travels in the fd's record: 2 MiB, over the default ghost limit of 1 MiB
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"), "--ghost-limit", "4M");
            assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("\"hugePageKb\" : 2048"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * The same memfd also mapped privately (qemu's memory-backend-memfd,hugetlb=on,share=off), one
     * page read and one copied on write: it was refused ("hugetlb memory in a private mapping of a
     * memfd ... is not supported yet"). It maps the memfd again: the copy holds its bytes and the
     * untouched page follows the memfd. Five huge pages: three of the memfd, two the private mapping
     * reserves. [childprivate]: the same private mapping made by a child that then closed its fd and
     * unmapped the shared one, so only its parent's fd and mapping hold the memfd: it was refused ("a
     * memfd of huge pages (MFD_HUGETLB) that no fd or shared mapping of the process holds"); the child
     * maps the object its parent's fd makes again.
     */
    @ParameterizedTest
    @ValueSource(strings = {"private", "childprivate"})
    void aPrivateMappingOfAMemfdOfHugePagesMapsItAgainWithItsCopiedPage(String mode) throws Exception {
        try (HugePages pool = HugePages.atLeastFree(5);
             DetachedProcess p = Workloads.program(tmp.resolve("hugememfd.out"), "hugememfd", mode)) {
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"), "--ghost-limit", "4M");
            assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("HUGETLB_MEMFD_PRIVATE_2M"));
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /** zdtm's rmdir_open and cwd02 found them refused: fds of removed directories, one of them the cwd too. */
    @Test
    void removedDirectoriesHeldOpenComeBackRemoved() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("dirgone.out"), "dirgone", dir.toString())) {
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            assertFalse(java.nio.file.Files.exists(dir.resolve("a")) || java.nio.file.Files.exists(dir.resolve("b")),
                    "the restore left a removed directory behind");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /** A removed cwd (its parent removed too) is made again for the restore, entered and removed again. */
    @Test
    void aDeletedCurrentDirectoryComesBackDeleted() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("cwd.out"), "cwdgone", dir.toString())) {
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            assertFalse(java.nio.file.Files.exists(dir.resolve("gone")), "the restore left the removed directory behind");
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A child chrooted into a jail with its cwd inside, as vsftpd's sessions are (vsftpd found the
     * restore failing, after the dump had killed the tree: the exe was opened by its path inside the jail).
     */
    @Test
    void aChrootedChildComesBackInItsJail() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        String out = DumpRestore.workloadVerdict(tmp, "chrooted", dir.toString());
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A POSIX named semaphore (sem_open) shared by a parent, which maps it under glibc's temporary
     * name since unlinked, and a child, which maps it by its name (Python's multiprocessing with
     * forkserver came back with the parent's a copy: "semaphore released too many times").
     */
    @Test
    void aNamedSemaphoreMappedUnderItsUnlinkedTemporaryNameIsStillShared() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "semopen");
        assertTrue(out.contains("PASS"), out);
    }
}
