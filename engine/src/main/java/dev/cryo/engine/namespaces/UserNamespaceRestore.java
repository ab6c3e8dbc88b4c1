package dev.cryo.engine.namespaces;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.Credentials;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A task forked into a new user namespace (clone3 with CLONE_NEWUSER and its other CLONE_NEW*
 * flags, so the kernel makes the user namespace first and the others owned by it) gets it made
 * as it was the moment it is born, before it runs anything: cryo writes setgroups ("deny" must
 * come before the gid map), the uid map and the gid map, from outside (cryo's namespace is the
 * new one's parent, so its ids are the outside ones the image holds). Then the task becomes root
 * of its namespace (uid and gid 0 inside): a fresh user namespace gives its first task every
 * capability, but an exec by a task that is not root there would drop them all, and the stub
 * execs before it is restored. In a namespace that maps no uid to root (bubblewrap's and
 * browsers' uid-to-itself maps) it raises them all as ambient capabilities instead, which an exec
 * keeps, for it and for the members forked from it. Its own ids and capabilities come back later
 * ({@link #insideIds}, the credentials stage, which clears the ambient set first).
 */
public final class UserNamespaceRestore {
    private UserNamespaceRestore() {}

    public static void born(int pid, UserNsImage u, Injector child) {
        String base = "/proc/" + pid + "/";
        String own = dev.cryo.kernel.Namespaces.link(Integer.toString(pid), "user");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "user"))) { // never cryo's maps
            throw new RestoreException("pid " + pid + " was not forked into a user namespace of its own (" + own + ")");
        }
        if (!u.setgroupsAllowed()) {
            write(base + "setgroups", "deny", pid);
        }
        write(base + "uid_map", UserNsImage.text(u.uidMap()), pid);
        write(base + "gid_map", UserNsImage.text(u.gidMap()), pid);
        takeIds(pid, u, child);
    }

    /**
     * A user namespace nested in another of the tree's: its creator was forked from a task of the
     * outer one, which is root there until the credentials stage (the kernel made that root its
     * owner, as the dump checked it was). cryo's namespace is neither the new one nor its parent, so
     * the kernel refuses it the map files; the child opens its own and writes the one-id maps a task
     * may write for itself (UserNamespaceScan.checkNested).
     */
    public static void bornNested(int pid, UserNsImage u, UserNsImage outer, Injector child) {
        String own = dev.cryo.kernel.Namespaces.link(Integer.toString(pid), "user");
        String parent = dev.cryo.kernel.Namespaces.owner(Integer.toString(pid), "user");
        if (own == null || parent == null || parent.equals(dev.cryo.kernel.Namespaces.link("self", "user"))) {
            throw new RestoreException("pid " + pid + " was not forked into a user namespace nested in the tree's (" + own + ")");
        }
        long page = child.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, VmaImage.PROT_READ | VmaImage.PROT_WRITE,
                VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS, -1, 0);
        try {
            if (!u.setgroupsAllowed()) {
                writeOwn(pid, child, page, "setgroups", "deny");
            }
            writeOwn(pid, child, page, "uid_map", UserNsImage.text(insideOf(outer.uidMap(), u.uidMap(), pid)));
            writeOwn(pid, child, page, "gid_map", UserNsImage.text(insideOf(outer.gidMap(), u.gidMap(), pid)));
        } finally {
            child.call("munmap(scratch)", SyscallNr.MUNMAP, page, PAGE);
        }
        takeIds(pid, u, child);
    }

    /**
     * {@code map}'s outside ids (cryo's) as the outer namespace ({@code outer}'s map) names them:
     * what the map file of a namespace nested in it takes.
     */
    private static List<UserNsImage.IdRange> insideOf(List<UserNsImage.IdRange> outer, List<UserNsImage.IdRange> map, int pid) {
        List<UserNsImage.IdRange> out = new java.util.ArrayList<>();
        for (UserNsImage.IdRange r : map) {
            long first = UserNsImage.inside(outer, r.outside()), last = UserNsImage.inside(outer, r.outside() + r.count() - 1);
            if (first < 0 || last != first + r.count() - 1) {
                throw new RestoreException("pid " + pid + ": ids " + r + " of its user namespace are not mapped in the one"
                        + " it was born in " + outer);
            }
            out.add(new UserNsImage.IdRange(r.inside(), first, r.count()));
        }
        return out;
    }

    /** The child writes {@code text} to its own /proc/self/{@code file} (one write: a map is written whole, once). */
    private static void writeOwn(int pid, Injector child, long page, String file, String text) {
        byte[] path = ("/proc/self/" + file + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] data = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Sys.write(Pid.of(pid), page, path);
        Sys.write(Pid.of(pid), page + 256, data);
        String what = "pid " + pid + ": " + file + " (" + text.strip().replace('\n', ';') + ")";
        long fd = child.call("open(/proc/self/" + file + ") for " + what, SyscallNr.OPENAT, dev.cryo.kernel.Fcntl.AT_FDCWD,
                page, dev.cryo.kernel.Fcntl.O_WRONLY | dev.cryo.kernel.Fcntl.O_CLOEXEC);
        try {
            child.call("write " + what, SyscallNr.WRITE, fd, page + 256, data.length);
        } finally {
            child.call("close", SyscallNr.CLOSE, fd);
        }
    }

    /** The new namespace's root (or, where it maps none, every capability kept across an exec), until the credentials stage. */
    private static void takeIds(int pid, UserNsImage u, Injector child) {
        if (insideMaps(u.gidMap(), 0)) {
            child.call("setresgid(0, 0, 0) in its user namespace", SyscallNr.SETRESGID, 0, 0, 0);
        }
        if (insideMaps(u.uidMap(), 0)) {
            child.call("setresuid(0, 0, 0) in its user namespace", SyscallNr.SETRESUID, 0, 0, 0);
        } else {
            keepCapabilities(pid, child);
        }
    }

    /**
     * Runs {@code clone}, a fork with CLONE_NEWUSER by {@code forker} (a task of cryo's user
     * namespace, pid {@code forkerPid}), as the dumped owner of the new namespace ({@link #becomeOwner}),
     * and puts the forker's effective uid and securebits back after.
     */
    public static long asOwner(UserNsImage u, int forkerPid, Injector forker, java.util.function.LongSupplier clone) {
        long euid = euid(forkerPid);
        long bits = takeOwnersUid(u, euid, forker);
        if (bits < 0) {
            return clone.getAsLong();
        }
        try {
            return clone.getAsLong();
        } finally {
            forker.call("setresuid(-1, " + euid + ", -1)", SyscallNr.SETRESUID, -1, euid, -1);
            forker.call("prctl(PR_SET_SECUREBITS, " + bits + ")", SyscallNr.PRCTL, Prctl.PR_SET_SECUREBITS, bits);
        }
    }

    /**
     * {@code forker} (pid {@code forkerPid}, in cryo's user namespace) takes {@code groups} (outside ids)
     * for the fork of a task into a user namespace that denies setgroups: the task keeps the groups it is
     * born with for good. Returns the groups the forker had, to put back.
     */
    public static List<Integer> forkWithGroups(List<Integer> groups, int forkerPid, Injector forker) {
        List<Integer> had = dev.cryo.kernel.proc.ProcFs.status(Pid.of(forkerPid), Pid.of(forkerPid)).groups();
        setGroups(groups, forkerPid, forker);
        return had;
    }

    /** setgroups({@code groups}) injected in {@code task}, through a scratch page of its own. */
    public static void setGroups(List<Integer> groups, int pid, Injector task) {
        long page = task.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, VmaImage.PROT_READ | VmaImage.PROT_WRITE,
                VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS, -1, 0);
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(Math.max(4, groups.size() * 4))
                    .order(java.nio.ByteOrder.nativeOrder());
            groups.forEach(b::putInt);
            Sys.write(Pid.of(pid), page, b.array());
            task.call("setgroups(" + groups + ") of pid " + pid, SyscallNr.SETGROUPS, groups.size(), page);
        } finally {
            task.call("munmap(scratch)", SyscallNr.MUNMAP, page, PAGE);
        }
    }

    /**
     * The kernel makes the effective uid of the task that forks with CLONE_NEWUSER the new
     * namespace's owner (who has every capability in it from outside: a rootless container's
     * user): {@code forker} takes the dumped owner's as its effective uid, keeping its capabilities
     * (SECBIT_NO_SETUID_FIXUP: clone3's set_tid needs them). Its child inherits both until the
     * credentials stage sets its own.
     */
    public static void becomeOwner(UserNsImage u, int forkerPid, Injector forker) {
        takeOwnersUid(u, euid(forkerPid), forker);
    }

    /** {@link #becomeOwner} of a forker whose effective uid is {@code euid}; returns its securebits before, or -1 when it is the owner already. */
    private static long takeOwnersUid(UserNsImage u, long euid, Injector forker) {
        if (u.owner() < 0 || u.owner() == euid) {
            return -1;
        }
        long bits = forker.call("prctl(PR_GET_SECUREBITS)", SyscallNr.PRCTL, Prctl.PR_GET_SECUREBITS);
        forker.call("prctl(PR_SET_SECUREBITS, NO_SETUID_FIXUP) before forking as the owner", SyscallNr.PRCTL,
                Prctl.PR_SET_SECUREBITS, bits | Prctl.SECBIT_NO_SETUID_FIXUP);
        forker.call("setresuid(-1, " + u.owner() + ", -1) to fork as the owner of a user namespace", SyscallNr.SETRESUID,
                -1, u.owner(), -1);
        return bits;
    }

    private static long euid(int pid) {
        return Integer.toUnsignedLong(dev.cryo.kernel.proc.ProcFs.status(Pid.of(pid), Pid.of(pid)).uids().effective());
    }

    /** Every capability (it has them all in its new namespace) inheritable and ambient: kept across an exec. */
    private static void keepCapabilities(int pid, Injector child) {
        long page = child.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, VmaImage.PROT_READ | VmaImage.PROT_WRITE,
                VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS, -1, 0);
        try {
            int last = Prctl.capLastCap();
            long all = (1L << (last + 1)) - 1;
            Credentials.capset((offset, data) -> {
                Sys.write(Pid.of(pid), page + offset, data);
                return page + offset;
            }, child, all, all, all, " at its birth");
            for (int cap = 0; cap <= last; cap++) {
                child.call("prctl(PR_CAP_AMBIENT_RAISE, " + cap + ") at its birth", SyscallNr.PRCTL, Prctl.PR_CAP_AMBIENT,
                        Prctl.PR_CAP_AMBIENT_RAISE, cap, 0, 0);
            }
        } finally {
            child.call("munmap(scratch)", SyscallNr.MUNMAP, page, PAGE);
        }
    }

    private static final int PAGE = 4096;

    /**
     * Runs {@code work} (cryo writing a tmpfs of the namespace's through /proc/PID/root) with this
     * thread's fs ids those of root inside {@code u} when u maps no id to cryo's root: a file system
     * mounted in there refuses to make files for an owner it cannot name (EOVERFLOW).
     */
    public static void writingAs(UserNsImage u, Runnable work) {
        if (UserNsImage.inside(u.uidMap(), 0) >= 0) {
            work.run();
            return;
        }
        long gid = owner(u.gidMap());
        try {
            withFsIds(owner(u.uidMap()), gid < 0 ? 0 : gid, work::run);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e); // a Runnable throws none
        }
    }

    /** Work on files that may throw. */
    public interface FileWork {
        void run() throws java.io.IOException;
    }

    /**
     * Runs {@code work} with this thread's fs ids {@code uid} and {@code gid} (cryo's view), set back to root
     * whatever happens: where a file system of a user namespace names no host root (EOVERFLOW at a create or a
     * link, zdtm's uns flavor), files are made as ids it names.
     */
    public static void withFsIds(long uid, long gid, FileWork work) throws java.io.IOException {
        // per thread, and this one is the task's restorer: set back below whatever happens
        dev.cryo.kernel.LibC.syscall(SyscallNr.SETFSGID, gid, 0, 0, 0, 0, 0);
        dev.cryo.kernel.LibC.syscall(SyscallNr.SETFSUID, uid, 0, 0, 0, 0, 0);
        try {
            if (uid != 0) { // the file system capabilities it dropped: a directory of mode 0600 (zdtm's mntns_link_ghost)
                dev.cryo.kernel.Sys.raiseEffectiveCapabilities();
            }
            work.run();
        } finally {
            dev.cryo.kernel.LibC.syscall(SyscallNr.SETFSUID, 0, 0, 0, 0, 0, 0);
            dev.cryo.kernel.LibC.syscall(SyscallNr.SETFSGID, 0, 0, 0, 0, 0, 0);
        }
    }

    /** Whom cryo writes a tmpfs of the namespace as: its root, or the first id it maps when it has no root (bwrap's). */
    private static long owner(List<UserNsImage.IdRange> map) {
        long root = outside(map, 0);
        return root >= 0 || map.isEmpty() ? Math.max(root, 0) : map.get(0).outside();
    }

    /** The outside id (as cryo sees it) of id {@code inside}, or -1 when {@code map} has none. */
    static long outside(List<UserNsImage.IdRange> map, long inside) {
        for (UserNsImage.IdRange r : map) {
            if (inside >= r.inside() && inside - r.inside() < r.count()) {
                return r.outside() + (inside - r.inside());
            }
        }
        return -1;
    }

    /** A file system's uid=N and gid=N options (as cryo's namespace names them) as a task inside {@code u} names them. */
    static String insideOptions(UserNsImage u, String data, String what) {
        List<String> out = new java.util.ArrayList<>();
        for (String o : data.split(",")) {
            if (o.matches("(uid|gid)=\\d+")) {
                boolean uid = o.startsWith("uid");
                long id = Long.parseLong(o.substring(4));
                long in = UserNsImage.inside(uid ? u.uidMap() : u.gidMap(), id);
                if (in < 0) {
                    throw new RestoreException(what + ": its option " + o + " names an id its user namespace does not map");
                }
                out.add(o.substring(0, 4) + in);
            } else {
                out.add(o);
            }
        }
        return String.join(",", out);
    }

    /** Whether {@code map} gives id {@code inside} an outside id. */
    static boolean insideMaps(List<UserNsImage.IdRange> map, long inside) {
        return map.stream().anyMatch(r -> inside >= r.inside() && inside - r.inside() < r.count());
    }

    /** {@code ids} (as cryo sees them) as a task inside {@code u} names them in its syscalls. */
    public static long[] insideIds(List<UserNsImage.IdRange> map, List<Integer> ids, String what) {
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) {
            long id = Integer.toUnsignedLong(ids.get(i));
            out[i] = UserNsImage.inside(map, id);
            if (out[i] < 0) {
                throw new RestoreException(what + ": id " + id + " is not in the map of its user namespace " + map);
            }
        }
        return out;
    }

    private static void write(String path, String text, int pid) {
        try {
            Files.writeString(Path.of(path), text); // one write(2): a map is written whole, once
        } catch (IOException e) {
            throw new RestoreException("pid " + pid + ": cannot write " + path + " (" + text.strip().replace('\n', ';')
                    + "): " + e.getMessage());
        }
    }
}
