package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * epoll: fdinfo lists every watched fd with its event mask and user data; restore creates a new
 * instance and adds them again, after every other fd of the task is in place.
 */
public final class EpollHandler implements FdHandler {
    private static final int EPOLL_CREATE1 = 291, EPOLL_CTL = 233, EPOLL_CTL_ADD = 1;
    private static final Pattern WATCH = Pattern.compile("(\\d+)\\s+events:\\s*([0-9a-fA-F]+)\\s+data:\\s*([0-9a-fA-F]+)");

    @Override
    public String kind() {
        return "epoll";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.Epoll.class;
    }

    @Override
    public boolean restoresLast() {
        return true;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[eventpoll]");
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        List<FileDesc.Epoll.Watch> watches = new ArrayList<>();
        for (String line : fd.info().values("tfd")) {
            Matcher m = WATCH.matcher(line);
            if (!m.find()) {
                throw new IllegalStateException(fd.where() + ": cannot read epoll watch '" + line + "' in fdinfo");
            }
            watches.add(new FileDesc.Epoll.Watch(Integer.parseInt(m.group(1)), (int) Long.parseLong(m.group(2), 16),
                    Long.parseUnsignedLong(m.group(3), 16)));
        }
        return new FileDesc.Epoll(watches);
    }

    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        FileDesc.Epoll e = (FileDesc.Epoll) fd.desc();
        long epfd = ctx.call("epoll_create1", EPOLL_CREATE1, fd.flags() & FdHandlers.O_CLOEXEC);
        for (FileDesc.Epoll.Watch w : e.watches()) {
            // struct epoll_event is packed on x86_64: u32 events, u64 data
            long ev = ctx.put(ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(w.events())
                    .putLong(w.data()).array());
            ctx.call("epoll_ctl(ADD " + w.fd() + ")", EPOLL_CTL, epfd, EPOLL_CTL_ADD, w.fd(), ev);
        }
        return epfd;
    }
}
