package dev.cryo.engine.restore;

import dev.cryo.engine.files.UnixSocketHandler.UnixSocket;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.net.Sockets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The unix sockets of a net namespace of the tree's split by the view of the files they are made again
 * from: a socket bound in its holder's own view (a mount namespace and root of its own) in that view,
 * with every socket linked to it (its peer, the listener it waits on, the connections waiting on it), so
 * the two ends of a connection are made in one build; sockets linked to none bound by a path in cryo's
 * view (0: a pod's socket of the namespace's first task beside a container's bound in its own mount
 * namespace, zdtm's sk-unix-mntns in its ns flavor), the others with the first view. Views are told apart
 * on the restored tasks, each one's mount namespace and root.
 */
final class SocketViews {
    private SocketViews() {}

    /**
     * {@code unix} in their order, by a task of each view; {@code holders}: socket bound in its holder's own
     * view → that holder's pid.
     */
    static Map<Integer, List<FileDesc>> split(List<FileDesc> unix, Map<Long, Integer> holders) {
        Map<Long, Long> parent = new HashMap<>();
        for (FileDesc f : unix) {
            UnixSocket u = (UnixSocket) f;
            join(parent, u.ino(), u.peerIno());
            join(parent, u.ino(), u.listenerIno());
            for (long c : u.pending()) {
                join(parent, u.ino(), c);
            }
        }
        Map<String, Integer> holderOfView = new LinkedHashMap<>();
        Map<Long, String> viewOfGroup = new HashMap<>();
        for (FileDesc f : unix) {
            long ino = ((UnixSocket) f).ino();
            Integer holder = holders.get(ino);
            if (holder == null) {
                continue;
            }
            String view = viewOf(holder);
            holderOfView.putIfAbsent(view, holder);
            String had = viewOfGroup.putIfAbsent(root(parent, ino), view);
            if (had != null && !had.equals(view)) { // the dump refuses these
                throw new RestoreException("unix socket " + ino + " is connected to a socket bound in another view of"
                        + " the files (" + had + ", " + view + ")");
            }
        }
        for (FileDesc f : unix) { // an accepted end goes with its listener, when only one has its name
            UnixSocket u = (UnixSocket) f;
            if (named(u) && u.state() == dev.cryo.kernel.net.SockDiag.UNIX_ESTABLISHED && u.type() != Sockets.SOCK_DGRAM) {
                List<UnixSocket> ls = unix.stream().map(UnixSocket.class::cast).filter(l -> l.type() == u.type()
                        && l.state() == dev.cryo.kernel.net.SockDiag.UNIX_LISTEN && java.util.Arrays.equals(l.name(), u.name()))
                        .toList();
                if (ls.size() == 1) {
                    join(parent, u.ino(), ls.get(0).ino());
                }
            }
        }
        java.util.Set<Long> cryos = new java.util.HashSet<>(); // groups with a socket bound by a path in cryo's view
        for (FileDesc f : unix) {
            UnixSocket u = (UnixSocket) f;
            if (!holders.containsKey(u.ino()) && named(u) && (u.type() == Sockets.SOCK_DGRAM
                    || u.state() != dev.cryo.kernel.net.SockDiag.UNIX_ESTABLISHED)) { // not an accepted end's name
                cryos.add(root(parent, u.ino()));
            }
        }
        String first = holderOfView.keySet().iterator().next();
        Map<Integer, List<FileDesc>> out = new LinkedHashMap<>();
        for (FileDesc f : unix) {
            long group = root(parent, ((UnixSocket) f).ino());
            String view = viewOfGroup.get(group);
            int by = view == null && cryos.contains(group) ? CRYOS : holderOfView.get(view != null ? view : first);
            out.computeIfAbsent(by, x -> new ArrayList<>()).add(f);
        }
        return out;
    }

    /** Whether {@code u} has a name of the file system (not abstract). */
    private static boolean named(UnixSocket u) {
        return u.name().length > 0 && u.name()[0] != 0;
    }

    /** The key {@link #split} gives the sockets made in cryo's own view of the files. */
    static final int CRYOS = 0;

    private static void join(Map<Long, Long> parent, long a, long b) {
        if (b != 0) {
            parent.put(root(parent, a), root(parent, b));
        }
    }

    private static long root(Map<Long, Long> parent, long ino) {
        long r = ino;
        while (parent.containsKey(r) && parent.get(r) != r) {
            r = parent.get(r);
        }
        return r;
    }

    /** The fs uid and gid of {@code c} (0 when the image has none). */
    static int[] fsIds(dev.cryo.engine.model.Creds c) {
        return new int[] {c.uids().size() > 3 ? c.uids().get(3) : 0, c.gids().size() > 3 ? c.gids().get(3) : 0};
    }

    /**
     * Runs {@code work} on this thread (a fresh one of cryo's, seeing the files as a holder does) with the
     * holder's fs ids {@code ids} and cryo's capabilities kept (SECBIT_NO_SETUID_FIXUP): a file system
     * mounted in a user namespace makes no file for an owner it cannot name, and cryo's root is none there
     * (a socket file bound in a tmpfs of zdtm's sk-unix-mntns in its uns flavor: EOVERFLOW).
     */
    static void asHolder(int[] ids, Runnable work) {
        if (ids == null || ids[0] == 0 && ids[1] == 0) {
            work.run();
            return;
        }
        long bits = dev.cryo.kernel.Sys.call(() -> "prctl(PR_GET_SECUREBITS)", dev.cryo.kernel.SyscallNr.PRCTL,
                dev.cryo.kernel.Prctl.PR_GET_SECUREBITS, 0, 0, 0);
        dev.cryo.kernel.Sys.call(() -> "prctl(PR_SET_SECUREBITS, NO_SETUID_FIXUP)", dev.cryo.kernel.SyscallNr.PRCTL,
                dev.cryo.kernel.Prctl.PR_SET_SECUREBITS, bits | dev.cryo.kernel.Prctl.SECBIT_NO_SETUID_FIXUP, 0, 0);
        dev.cryo.kernel.LibC.syscall(dev.cryo.kernel.SyscallNr.SETFSGID, ids[1], 0, 0, 0, 0, 0);
        dev.cryo.kernel.LibC.syscall(dev.cryo.kernel.SyscallNr.SETFSUID, ids[0], 0, 0, 0, 0, 0);
        try {
            work.run();
        } finally {
            dev.cryo.kernel.LibC.syscall(dev.cryo.kernel.SyscallNr.SETFSUID, 0, 0, 0, 0, 0, 0);
            dev.cryo.kernel.LibC.syscall(dev.cryo.kernel.SyscallNr.SETFSGID, 0, 0, 0, 0, 0, 0);
            dev.cryo.kernel.Sys.call(() -> "prctl(PR_SET_SECUREBITS)", dev.cryo.kernel.SyscallNr.PRCTL,
                    dev.cryo.kernel.Prctl.PR_SET_SECUREBITS, bits, 0, 0);
        }
    }

    /** The restored task's view of the files: its mount namespace and its root. */
    private static String viewOf(int pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/mnt")) + " "
                    + Files.readSymbolicLink(Path.of("/proc/" + pid + "/root"));
        } catch (IOException e) {
            throw new RestoreException("cannot read the view of the files of pid " + pid + ": " + e.getMessage(), e);
        }
    }
}
