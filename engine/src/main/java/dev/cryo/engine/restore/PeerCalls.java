package dev.cryo.engine.restore;

import dev.cryo.engine.namespaces.UserNsImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * socketpair(), listen() and connect() made by another process for cryo's sockets. The kernel
 * stamps its caller's pid, euid, egid and supplementary groups into the sockets (SO_PEERCRED,
 * SO_PEERPIDFD, SO_PEERGROUPS) and nothing changes them later, so the call is made by the process
 * the peer credentials name — the restored task itself, or a stand-in at the pid of one that had
 * exited — with the recorded ids and groups for the call (fsuid/fsgid 0: the socket file's
 * permissions were the original caller's business), then root again: real and saved ids stay 0.
 */
final class PeerCalls {
    private PeerCalls() {}

    /** Scratch offsets (FdDelivery uses the first 448 bytes); each area fits in a stand-in's page. */
    private static final long PAIR = 512, ADDR = 576, SAVED = 1024, GROUPS = 2048, PAIRS = 3072;
    private static final int MAX_GROUPS = 256;
    /** The most pairs {@link #socketpairs} makes at once (their fds at {@link #PAIRS}). */
    static final int MAX_PAIRS = 64;

    /** A new pair in {@code r}, taken into cryo (through {@code pidfd}, the process's), both ends naming {@code p}. */
    static Fd[] socketpair(SocketHub.Remote r, Fd pidfd, int type, SocketHub.Peer p) {
        return socketpairs(r, pidfd, type, p, 1).get(0);
    }

    /**
     * {@code n} new pairs (at most {@link #MAX_PAIRS}) as {@link #socketpair}, their calls in one batch
     * where {@code r} queues calls: a task of the tree's own pairs cost one round trip, not one each.
     */
    static java.util.List<Fd[]> socketpairs(SocketHub.Remote r, Fd pidfd, int type, SocketHub.Peer p, int n) {
        if (n < 1 || n > MAX_PAIRS) {
            throw new IllegalArgumentException(n + " pairs at once");
        }
        long at = r.put(n == 1 ? PAIR : PAIRS, new byte[8 * n]);
        as(r, p, "socketpair", n, i -> new long[] {SockAddr.AF_UNIX, type, 0, at + 8L * i}, SyscallNr.SOCKETPAIR);
        ByteBuffer fds = ByteBuffer.wrap(r.read(at, 8 * n)).order(ByteOrder.nativeOrder());
        int[] made = new int[2 * n];
        for (int i = 0; i < made.length; i++) {
            made[i] = fds.getInt();
        }
        java.util.List<Fd[]> out = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Fd first = Sys.pidfdGetfd(pidfd, Pid.of(r.pid()), made[2 * i]);
                try {
                    out.add(new Fd[] {first, Sys.pidfdGetfd(pidfd, Pid.of(r.pid()), made[2 * i + 1])});
                } catch (RuntimeException e) {
                    first.close();
                    throw e;
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.forEach(pair -> {
                pair[0].close();
                pair[1].close();
            });
            throw e;
        } finally {
            // queued in a task of the tree: they run with its next call
            int low = java.util.Arrays.stream(made).min().orElseThrow(), high = java.util.Arrays.stream(made).max().orElseThrow();
            if (high - low + 1 == made.length) { // the usual lowest free numbers, in a row: one call
                r.later("close_range", SyscallNr.CLOSE_RANGE, low, high, 0);
            } else {
                for (int fd : made) {
                    r.later("close", SyscallNr.CLOSE, fd);
                }
            }
        }
    }

    /** listen() of the process's fd {@code fd} (cryo's socket): clients that connect next name {@code p}. */
    static void listen(SocketHub.Remote r, long fd, int backlog, SocketHub.Peer p) {
        as(r, p, "listen", 1, i -> new long[] {fd, backlog}, SyscallNr.LISTEN);
    }

    /** connect() of the process's fd {@code fd} to {@code to}: the server's end names {@code p}. */
    static void connect(SocketHub.Remote r, long fd, SockAddr to, SocketHub.Peer p) {
        byte[] addr = to.encode();
        long at = r.put(ADDR, addr);
        as(r, p, "connect(" + to + ")", 1, i -> new long[] {fd, at, addr.length}, SyscallNr.CONNECT);
    }

    /**
     * Runs the call {@code n} times (the i-th with {@code args.apply(i)}; all but the last queued) as
     * {@code p}: its groups, egid and euid as the process's user namespace maps them (a task of a
     * container's), then back to what the process had.
     */
    private static void as(SocketHub.Remote r, SocketHub.Peer p, String name, int n,
                           java.util.function.IntFunction<long[]> args, int nr) {
        Ids ids = Ids.of(r.pid(), p);
        boolean switched = ids.uid() != 0 || ids.gid() != 0;
        long saved = -1, savedAt = 0;
        if (ids.groups() != null && !hasGroups(r.pid(), p.groups())) { // a pair of root's: 3 round trips fewer
            savedAt = r.put(SAVED, new byte[MAX_GROUPS * 4]);
            saved = r.call("getgroups", SyscallNr.GETGROUPS, MAX_GROUPS, savedAt);
            ByteBuffer g = ByteBuffer.allocate(ids.groups().size() * 4).order(ByteOrder.nativeOrder());
            ids.groups().forEach(g::putInt);
            r.call("setgroups(" + ids.groups() + ")", SyscallNr.SETGROUPS, ids.groups().size(),
                    r.put(GROUPS, g.array()));
        }
        try {
            if (switched) {
                r.call("setresgid", SyscallNr.SETRESGID, -1, ids.gid() & 0xffffffffL, -1);
                r.call("setresuid", SyscallNr.SETRESUID, -1, ids.uid() & 0xffffffffL, -1);
                r.call("setfsuid", SyscallNr.SETFSUID, 0);
                r.call("setfsgid", SyscallNr.SETFSGID, 0);
            }
            try {
                String as = name + " as pid " + r.pid() + " (uid " + p.creds().uid() + ", gid " + p.creds().gid() + ")";
                for (int i = 0; i < n - 1; i++) {
                    r.later(as, nr, args.apply(i));
                }
                r.call(as, nr, args.apply(n - 1));
            } finally {
                if (switched) {
                    r.call("setresuid", SyscallNr.SETRESUID, -1, 0, -1);
                    r.call("setresgid", SyscallNr.SETRESGID, -1, 0, -1);
                }
            }
        } finally {
            if (saved >= 0) {
                r.call("setgroups (back)", SyscallNr.SETGROUPS, saved, savedAt);
            }
        }
    }

    /** Whether process {@code pid} has the supplementary groups {@code groups} already (as cryo sees them; the kernel keeps them sorted). */
    private static boolean hasGroups(int pid, List<Integer> groups) {
        if (pid <= 0) {
            return false;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("Groups:")) {
                    String[] have = line.substring(7).trim().split("\\s+");
                    List<Long> mine = have.length == 1 && have[0].isEmpty() ? List.of()
                            : java.util.Arrays.stream(have).map(Long::parseLong).sorted().toList();
                    return mine.equals(groups.stream().map(g -> g & 0xffffffffL).sorted().toList());
                }
            }
        } catch (IOException | RuntimeException e) {
            return false; // set them, as before
        }
        return false;
    }

    /**
     * The peer's ids and groups as process {@code pid} names them (its user namespace's maps). The
     * groups are left as the process has them (null) where it may not set them: in a user namespace
     * whose setgroups is "deny" (an unprivileged one: its tasks keep the groups they came in with) or
     * whose gid map leaves one of them out.
     */
    private record Ids(long uid, long gid, List<Integer> groups) {
        static Ids of(int pid, SocketHub.Peer p) {
            List<UserNsImage.IdRange> uids = map(pid, "uid_map"), gids = map(pid, "gid_map");
            List<Integer> groups = p.groups() == null || !setgroupsAllowed(pid)
                    || p.groups().stream().anyMatch(g -> UserNsImage.inside(gids, g & 0xffffffffL) < 0) ? null
                    : p.groups().stream().map(g -> (int) UserNsImage.inside(gids, g & 0xffffffffL)).toList();
            if (groups != null && groups.size() > MAX_GROUPS) {
                throw new RestoreException("a unix socket's peer has " + groups.size() + " groups; at most " + MAX_GROUPS);
            }
            return new Ids(inside(uids, p.creds().uid(), pid, "uid"), inside(gids, p.creds().gid(), pid, "gid"), groups);
        }

        private static boolean setgroupsAllowed(int pid) {
            try {
                return !Files.readString(Path.of("/proc/" + pid + "/setgroups")).strip().equals("deny");
            } catch (IOException e) {
                return true;
            }
        }

        private static long inside(List<UserNsImage.IdRange> map, int id, int pid, String what) {
            long in = UserNsImage.inside(map, id & 0xffffffffL);
            if (in < 0) {
                throw new RestoreException("a unix socket's peer credentials name " + what + " " + id + ", which the user"
                        + " namespace of pid " + pid + " does not map");
            }
            return in;
        }

        private static List<UserNsImage.IdRange> map(int pid, String file) {
            String path = "/proc/" + pid + "/" + file;
            try {
                return UserNsImage.parse(path, Files.readString(Path.of(path)));
            } catch (IOException e) {
                throw new RestoreException("cannot read " + path + ": " + e.getMessage(), e);
            }
        }
    }
}
