package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStatus;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the user namespaces the tree made ({@link NamespaceScan} found which task made one) and
 * refuses what a restore cannot make again. The restore forks the task that made one with
 * CLONE_NEWUSER and its other CLONE_NEW* flags at once, so the kernel makes the user namespace first
 * and the others owned by it: every namespace a task made must be owned by the task's own user
 * namespace, as it was ({@code unshare -Urm}: yes; {@code unshare -m} and later {@code unshare -U}
 * in the same task: the mount namespace is the host's user namespace's, refused). Refused too: a
 * user namespace nested in another otherwise than {@link #checkNested} allows, one whose maps are
 * not written yet, a task whose ids the maps do not hold, and a task inside one whose pid
 * namespace, made by the tree outside it, is not owned by it (its forks could not name their pids
 * there).
 */
public final class UserNamespaceScan {
    private UserNamespaceScan() {}

    /** {@code made}: what {@link NamespaceScan#scan} returned for the same frozen tree. */
    public static List<UserNsImage> scan(List<Pid> tree, List<NamespaceImage> made) {
        List<UserNsImage> out = new ArrayList<>();
        String cryos = Namespaces.link("self", "user");
        Map<String, UserNsImage> byLink = new LinkedHashMap<>();
        Map<UserNsImage, String> nestedIn = new LinkedHashMap<>();
        for (NamespaceImage n : made) {
            String pid = Integer.toString(n.pid());
            String own = Namespaces.link(pid, "user");
            String what = "pid " + pid + ": its user namespace (" + own + ")";
            String parent = n.has(Clone.NEWUSER) ? Namespaces.owner(pid, "user") : null;
            boolean nested = parent != null && !parent.equals(cryos);
            if (nested) { // before its other namespaces, which the outer one owns then
                checkParentInside(n.pid(), parent);
            }
            for (String kind : NamespaceScan.KINDS) {
                int flag = Clone.namespaceFlag(kind);
                if (flag == Clone.NEWUSER || !n.has(flag)) {
                    continue;
                }
                String owner = Namespaces.owner(pid, kind);
                if (!owner.equals(own)) {
                    throw new DumpException("pid " + pid + ": its " + kind + " namespace (" + Namespaces.link(pid, kind)
                            + ") is owned by user namespace " + owner + ", not by its own (" + own + "): it made them"
                            + " apart (" + (n.has(Clone.NEWUSER) ? "the " + kind + " namespace first" : "the user"
                            + " namespace is not the tree's") + "); a restore makes them together; not supported yet");
                }
            }
            if (n.has(Clone.NEWUSER)) {
                UserNsImage u = image(n.pid(), own, tree, what);
                out.add(u);
                byLink.put(own, u);
                if (nested) {
                    nestedIn.put(u, parent);
                }
            }
        }
        nestedIn.forEach((u, parent) -> checkNested(u, parent, byLink, tree));
        for (UserNsImage u : out) {
            checkMembers(u, made);
        }
        return out;
    }

    /**
     * A user namespace made inside another of the tree's ({@code unshare -Ur} run inside a rootless
     * container) is made again by its creator's fork from a task of the outer one, which is root in
     * there while it is restored: the new namespace is owned by that root, and the creator, born in
     * it, writes its maps itself. The kernel lets a task of a namespace write only a map of its own
     * one uid and gid (setgroups denied), as {@code unshare -r} and bubblewrap write them; no task
     * with privilege over the outer namespace can open the map files from in there for other maps.
     */
    private static void checkNested(UserNsImage u, String parent, Map<String, UserNsImage> byLink, List<Pid> tree) {
        String pid = Integer.toString(u.pid());
        String what = nestedWhat(pid, parent);
        UserNsImage outer = byLink.get(parent);
        if (outer == null || !tree.contains(Pid.of(ProcFs.stat(Pid.of(u.pid())).ppid()))) {
            throw new DumpException(what + " which the tree did not make" + NESTED_HOW);
        }
        long rootUid = UserNamespaceRestore.outside(outer.uidMap(), 0), rootGid = UserNamespaceRestore.outside(outer.gidMap(), 0);
        if (rootUid < 0 || rootGid < 0) {
            throw new DumpException(what + " whose " + (rootUid < 0 ? "uid" : "gid") + " map has no root inside: a restore"
                    + " forks its creator from a task that is root there; not supported");
        }
        long owner = u.owner();
        boolean ownIds = u.uidMap().equals(List.of(new UserNsImage.IdRange(u.uidMap().get(0).inside(), rootUid, 1)))
                && u.gidMap().equals(List.of(new UserNsImage.IdRange(u.gidMap().get(0).inside(), rootGid, 1)))
                && !u.setgroupsAllowed();
        if (owner != rootUid || !ownIds) {
            throw new DumpException(what + " is owned by uid " + owner + " and maps uids " + u.uidMap() + ", gids "
                    + u.gidMap() + ", setgroups " + (u.setgroupsAllowed() ? "allowed" : "denied") + "; a restore carries"
                    + " one made by root of the outer namespace (uid " + rootUid + ") mapping only its own uid and gid ("
                    + rootUid + ", " + rootGid + "), setgroups denied, as unshare -r writes them; not supported");
        }
    }

    private static UserNsImage image(int creator, String link, List<Pid> tree, String what) {
        String base = dev.cryo.kernel.ExitedLeaders.proc(creator) + "/";
        List<UserNsImage.IdRange> uids = map(base + "uid_map"), gids = map(base + "gid_map");
        if (uids.isEmpty() || gids.isEmpty()) {
            throw new DumpException(what + " has no " + (uids.isEmpty() ? "uid" : "gid") + " map written yet; a user"
                    + " namespace without its maps is not supported");
        }
        boolean allowed = read(base + "setgroups").trim().equals("allow");
        List<Integer> members = new ArrayList<>();
        for (Pid p : tree) {
            if (!link.equals(Namespaces.link(p.toString(), "user"))) {
                continue;
            }
            members.add(p.value());
            for (Pid th : threads(p)) {
                ProcStatus st;
                try {
                    st = ProcFs.status(p, th);
                } catch (KernelException e) {
                    continue; // exited meanwhile: the seize finds out
                }
                List<Long> ids = new ArrayList<>();
                st.uids().asList().forEach(i -> ids.add(Integer.toUnsignedLong(i)));
                for (long id : ids) {
                    if (UserNsImage.inside(uids, id) < 0) {
                        throw new DumpException("pid " + p + " tid " + th + ": its uid " + id + " is not in the uid map of"
                                + " its user namespace (" + link + ": " + uids + "); not supported");
                    }
                }
                List<Long> g = new ArrayList<>();
                st.gids().asList().forEach(i -> g.add(Integer.toUnsignedLong(i)));
                st.groups().forEach(i -> g.add(Integer.toUnsignedLong(i)));
                for (long id : g) {
                    if (UserNsImage.inside(gids, id) < 0 && !(st.groups().contains((int) id) && !allowed)) {
                        throw new DumpException("pid " + p + " tid " + th + ": its gid " + id + " is not in the gid map of"
                                + " its user namespace (" + link + ": " + gids + "); not supported");
                    }
                }
            }
        }
        return new UserNsImage(creator, uids, gids, allowed, members, Namespaces.ownerUid(Integer.toString(creator)));
    }

    private static final String NESTED_HOW = "; a restore makes a nested user namespace by forking its creator from a"
            + " task of the outer one; not supported";

    private static String nestedWhat(String pid, String parent) {
        return "pid " + pid + ": its user namespace (" + Namespaces.link(pid, "user") + "), made inside another user"
                + " namespace (" + parent + "),";
    }

    /** The parent task of a nested namespace's maker must be in the outer one, as it forks the maker at a restore. */
    private static void checkParentInside(int maker, String parent) {
        int ppid = ProcFs.stat(Pid.of(maker)).ppid();
        if (!parent.equals(Namespaces.link(Integer.toString(ppid), "user"))) {
            throw new DumpException(nestedWhat(Integer.toString(maker), parent) + " which its parent (pid " + ppid
                    + ") is not in: the task made both, one inside the other (as bwrap --dev /dev run by a user does),"
                    + " and no task is in the outer one" + NESTED_HOW);
        }
    }

    /**
     * A member of a user namespace forks its children and threads itself, and clone3 can only name
     * their pids in the pid namespaces its user namespace owns (cryo's own level comes from
     * ns_last_pid): a pid namespace the tree made outside the user namespace is refused.
     */
    private static void checkMembers(UserNsImage u, List<NamespaceImage> made) {
        for (int m : u.members()) {
            String pidNs = Namespaces.link(Integer.toString(m), "pid");
            for (NamespaceImage n : made) {
                if (n.has(Clone.NEWPID) && pidNs != null && pidNs.equals(Namespaces.link(Integer.toString(n.pid()), "pid"))
                        && !Namespaces.owner(Integer.toString(n.pid()), "pid").equals(
                        Namespaces.link(Integer.toString(u.pid()), "user"))) {
                    throw new DumpException("pid " + m + ": it is inside the user namespace pid " + u.pid() + " made,"
                            + " but its pid namespace (" + pidNs + ", made by pid " + n.pid() + ") is not owned by it;"
                            + " not supported yet");
                }
            }
        }
    }

    private static List<Pid> threads(Pid p) {
        try {
            List<Pid> t = ProcFs.tasks(p);
            return t.isEmpty() ? List.of(p) : t;
        } catch (KernelException e) {
            return List.of(p);
        }
    }

    private static List<UserNsImage.IdRange> map(String path) {
        try {
            return UserNsImage.parse(path, read(path));
        } catch (IllegalArgumentException e) {
            throw new DumpException(e.getMessage());
        }
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            throw new DumpException("cannot read " + path + ": " + e.getMessage());
        }
    }
}
