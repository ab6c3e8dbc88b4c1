package dev.cryo.engine.files;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.codec.ModelLimits;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * File locks held through an fd, read from the fd's fdinfo "lock:" lines: flock and OFD locks
 * belong to the open file (dumped with its owner fd), POSIX locks to the process that took them
 * (dumped with that process's fd, shared or not; processes sharing one fd table share its POSIX
 * locks, dumped with the task that carries the table). A lease belongs to the open file too, like
 * flock. Restore takes them again once every fd is in place.
 */
public final class FileLocks {
    public static final int FLOCK = 0, POSIX = 1, OFD = 2, LEASE = 3;
    /**
     * A lease being broken (an open by another process waits for it): {@code write} is the lease
     * taken again, {@code start} the type the break takes it to (F_RDLCK or F_UNLCK), which is all
     * the kernel shows of it.
     */
    public static final int LEASE_BREAKING = 4;
    private static final int F_RDLCK = dev.cryo.kernel.Fcntl.F_RDLCK, F_UNLCK = dev.cryo.kernel.Fcntl.F_UNLCK;
    /** {@code end} of a lock that runs to the end of the file, however long it grows. */
    public static final long EOF = -1;

    /** One lock: its kind, read or write, and its byte range (inclusive; flock locks the whole file). */
    public record Lock(int kind, boolean write, long start, long end) {
        public String describe() {
            String k = switch (kind) {
                case FLOCK -> "flock";
                case POSIX -> "POSIX lock";
                case LEASE -> "lease";
                case LEASE_BREAKING -> "lease being broken to " + (start == F_RDLCK ? "READ" : "UNLCK") + ", a";
                default -> "OFD lock";
            };
            boolean whole = kind == FLOCK || kind == LEASE || kind == LEASE_BREAKING;
            return k + " " + (write ? "WRITE" : "READ") + (whole ? "" : " " + start + "-" + (end == EOF ? "EOF" : end));
        }
    }

    private static final Pattern LINE = Pattern.compile(
            "\\d+:\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(-?\\d+)\\s+\\S+\\s+(\\d+)\\s+(\\d+|EOF)");

    private FileLocks() {}

    /**
     * The locks held through {@code fd}: all of them when it owns its open file, else only the
     * POSIX locks of its own process. A lock a process outside the tree holds through this open
     * file is refused.
     */
    static List<Lock> dump(FdProbe fd, FdHandler.DumpContext ctx, boolean owner) {
        List<Lock> out = new ArrayList<>();
        for (String line : fd.info().values("lock")) {
            if (line.contains("->")) {
                continue; // a request waiting for the lock, not a lock
            }
            Matcher m = LINE.matcher(line.trim());
            if (!m.find()) {
                throw new DumpException(fd.where() + ": cannot read lock '" + line.trim() + "' in fdinfo");
            }
            int kind = switch (m.group(1)) {
                case "FLOCK" -> FLOCK;
                case "POSIX" -> POSIX;
                case "OFDLCK" -> OFD;
                case "LEASE" -> LEASE;
                default -> throw new DumpException(fd.where() + " (" + fd.target() + "): a " + m.group(1).toLowerCase()
                        + " is not supported yet");
            };
            if (kind == LEASE && m.group(2).equals("BREAKING")) {
                // the kernel shows only where the break goes: a break to READ was of a write lease; one to
                // UNLCK of either, and an fd open for writing can hold only a write lease
                boolean toRead = m.group(3).equals("READ");
                boolean write = toRead || (fd.info().flags() & dev.cryo.kernel.Fcntl.O_ACCMODE) != dev.cryo.kernel.Fcntl.O_RDONLY;
                if (owner) {
                    out.add(new Lock(LEASE_BREAKING, write, toRead ? F_RDLCK : F_UNLCK, 0));
                }
                continue;
            }
            if (kind == LEASE && !m.group(2).equals("ACTIVE")) {
                throw new DumpException(fd.where() + " (" + fd.target() + "): a lease in state " + m.group(2)
                        + " is not supported");
            }
            if (kind != LEASE && !m.group(2).equals("ADVISORY")) {
                throw new DumpException(fd.where() + " (" + fd.target() + "): a " + m.group(2).toLowerCase()
                        + " lock is not supported yet");
            }
            int holder = Integer.parseInt(m.group(4));
            if (kind != POSIX && !owner) {
                continue; // the open file's own locks travel with its owner fd
            }
            if (kind == POSIX && holder != fd.pid().value() && !ctx.tables().sameFdTable(holder, fd.pid().value())) {
                continue; // another process's lock on the same open file: dumped with that process
            }
            if (holder > 0 && !ctx.inTree(holder)) {
                throw new DumpException(fd.where() + " (" + fd.target() + "): its " + m.group(1).toLowerCase()
                        + " lock is held by pid " + holder + ", outside the dumped tree");
            }
            long end = m.group(6).equals("EOF") ? EOF : Long.parseLong(m.group(6));
            out.add(new Lock(kind, m.group(3).equals("WRITE"), Long.parseLong(m.group(5)), end));
        }
        return List.copyOf(out);
    }

    static void write(Output out, List<Lock> locks) {
        if (locks.size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("locks has " + locks.size() + " entries, more than " + ModelLimits.FDS);
        }
        out.writeVarInt(locks.size(), true);
        for (Lock l : locks) {
            out.writeVarInt(l.kind(), true);
            out.writeBoolean(l.write());
            out.writeLong(l.start());
            out.writeLong(l.end());
        }
    }

    static List<Lock> read(Input in) {
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("locks: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<Lock> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new Lock(in.readVarInt(true), in.readBoolean(), in.readLong(), in.readLong()));
        }
        return List.copyOf(out);
    }

    /** The locks a dumped fd record carries (regular files, deleted files and shared fds). */
    public static List<Lock> of(dev.cryo.engine.model.FileDesc d) {
        if (d instanceof RegularFileHandler.RegularFile r) {
            return r.locks();
        }
        if (d instanceof SharedFdHandler.SharedFd s) {
            return s.locks();
        }
        if (d instanceof GhostFileHandler.GhostFd g) {
            return g.locks();
        }
        return List.of();
    }

    static void show(List<Lock> locks, Map<String, Object> m) {
        if (!locks.isEmpty()) {
            m.put("locks", locks.stream().map(Lock::describe).toList());
        }
    }
}
