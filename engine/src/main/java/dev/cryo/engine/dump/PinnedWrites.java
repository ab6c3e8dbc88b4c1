package dev.cryo.engine.dump;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.IoUringInfo;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.util.List;
import java.util.Map;

/**
 * Where the kernel may write a running task's memory through pages it pinned, which no write-protect
 * fault reports (verified on this kernel: a page write-protected by PAGEMAP_SCAN while pinned is
 * written unseen): registered io_uring buffers (READ_FIXED, any time they stay registered), and the
 * DMA of a direct read in flight across a scan (an O_DIRECT file read by read(2), io_uring or AIO,
 * whose pin happens before the scan and its data after). A pin that began after a scan is seen: the
 * pin itself is a write fault. Looked at after each running round's scan, so a buffer or file that
 * comes and goes within one round, a scan between, is not seen. A ring whose fdinfo never showed its
 * lines ({@link IoUringInfo#read}: its lock held at every read) counts as a pin anywhere.
 *
 * @param anywhere why any page of the task may be written unseen, or null
 * @param buffers the registered io_uring buffers, page-aligned
 */
public record PinnedWrites(String anywhere, PageRanges buffers) {
    private static final long PAGE = RemoteTask.PAGE;
    public static final PinnedWrites NONE = new PinnedWrites(null, PageRanges.EMPTY);

    /** {@code maps}: the task's mappings as the round read them. */
    public static PinnedWrites look(Pid pid, List<MapsEntry> maps) {
        String anywhere = null;
        for (MapsEntry m : maps) {
            if (m.path().equals("/[aio]")) {
                anywhere = "it has an AIO context (io_setup at 0x" + Long.toHexString(m.start()) + ")";
            }
        }
        PageRanges.Builder buffers = new PageRanges.Builder();
        for (Map.Entry<Integer, String> e : ProcFs.fdTargets(pid).entrySet()) {
            int fd = e.getKey();
            String target = e.getValue();
            try {
                if (target.equals("anon_inode:[io_uring]")) {
                    for (IoUringInfo.RegisteredBuffer b : IoUringInfo.read(pid, fd).buffers()) {
                        buffers.add(b.address() & -PAGE, (b.address() + b.length() + PAGE - 1) & -PAGE);
                    }
                } else if (anywhere == null && target.startsWith("/")
                        && (ProcFs.fdInfo(pid, fd).flags() & Fcntl.O_DIRECT) != 0) {
                    anywhere = "fd " + fd + " (" + target + ") is open with O_DIRECT";
                }
            } catch (dev.cryo.kernel.proc.ProcFormatException busy) {
                // a ring's registered buffers unknown (its lock held at every read): any page may be one
                anywhere = anywhere != null ? anywhere : "fd " + fd + " (" + target + "): " + busy.getMessage();
            } catch (KernelException closed) {
                // closed meanwhile
            }
        }
        return new PinnedWrites(anywhere, buffers.build());
    }

    /** Both looks: what either found. */
    public PinnedWrites and(PinnedWrites later) {
        return new PinnedWrites(anywhere != null ? anywhere : later.anywhere, buffers.union(later.buffers));
    }

    public boolean any() {
        return anywhere != null || !buffers.isEmpty();
    }
}
