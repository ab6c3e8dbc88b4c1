package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.MountApi;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Peer groups of the mounts a namespace made (mountinfo's shared:N and master:N): a container whose
 * root is shared (systemd-nspawn's), binds of shared mounts, slaves of them. A restore cannot get
 * them by making the mounts shared as it goes: each mount made under a shared one would propagate
 * copies to its peers, copies the table already lists. So the mounts are made private (an O_PATH fd
 * of each kept before a later mount covers it), and once all are in place — after pivot_root, which
 * refuses shared mounts — each group's first member (the widest root) is made shared and the others
 * join it with move_mount(MOVE_MOUNT_SET_GROUP); a slave joins a member of its master's group and is
 * then made a slave of it. No mount is attached while any is shared, so nothing propagates. A group that
 * spans namespaces of the tree (a child's copy of its container's namespace, zdtm's mntns_shared_bind) is
 * joined to the members an earlier namespace made again, through /proc/PID/root of their task.
 */
final class PeerGroups {
    private final TaskContext t;
    private final Set<Integer> listed;
    /** Members whose group is as dumped: copies of host mounts, and made ones once joined. */
    private final Map<Integer, List<Member>> joined = new HashMap<>();
    private final List<Member> pending = new ArrayList<>();
    private final List<Long> fds = new ArrayList<>();
    /** Made mounts to attach as clones of another namespace's member (same file system): the clone's fd in the task. */
    private final Map<MountImage, Long> clones = new HashMap<>();

    /**
     * {@code hostSlave}: left a slave of a host group (its bind's), which a peer group's join must undo first;
     * {@code foreign}: a mount of another namespace of the tree's.
     */
    private record Member(MountImage d, long fd, boolean hostSlave, boolean foreign) {
        Member(MountImage d, long fd, boolean hostSlave) {
            this(d, fd, hostSlave, false);
        }
    }

    PeerGroups(TaskContext t, List<MountImage> dumped) {
        this.t = t;
        this.listed = sharedIn(dumped);
    }

    /** Groups a mount of the namespace is a peer of. */
    private static Set<Integer> sharedIn(List<MountImage> dumped) {
        Set<Integer> s = new HashSet<>();
        dumped.forEach(d -> s.add(group(d.tags(), "shared:")));
        s.remove(0);
        return s;
    }

    /**
     * Whether a made mount's propagation is set here: it is in a peer group, or a slave of a group a
     * mount of the namespace is in (a slave of a host group only is one because its bind's source is).
     */
    boolean handles(MountImage d) {
        return d.made() && (group(d.tags(), "shared:") != 0 || listed.contains(group(d.tags(), "master:")));
    }

    /** A copy of a host mount, in the peer group the restore's copy already has: others may join it. */
    void copy(MountImage d, String path) {
        int g = group(d.tags(), "shared:");
        if (g != 0 && listed.contains(g)) {
            joined.computeIfAbsent(g, k -> new ArrayList<>()).add(new Member(d, open(path), false));
        }
    }

    /** A made mount, just mounted at {@code path} ({@code now} its tags): private until {@link #apply}. */
    void made(MountImage d, String path, List<String> now) {
        boolean keepMaster = !listed.contains(group(d.tags(), "master:")) && group(d.tags(), "master:") != 0
                && group(now, "master:") != 0 && group(now, "shared:") == 0; // a host group's slave, from its bind
        if (!now.isEmpty() && !keepMaster) {
            MountRestore.set(t, path, MountApi.MS_PRIVATE, "MS_PRIVATE");
        }
        pending.add(new Member(d, open(path), keepMaster));
    }

    /**
     * The fd of a peer made earlier with {@code d}'s root, or null: {@code d} is bound from that mount itself, which
     * no path may reach any more (zdtm's mntns_remap: covered since by a mount moved over its parent).
     */
    Long peerOf(MountImage d) {
        int g = group(d.tags(), "shared:");
        return g == 0 ? null : pending.stream().filter(m -> group(m.d().tags(), "shared:") == g
                && m.d().root().equals(d.root())).map(Member::fd).findFirst().orElse(null);
    }

    private long open(String path) {
        long fd = t.call("open(" + path + ", O_PATH)", SyscallNr.OPENAT, Fcntl.AT_FDCWD, MountRestore.path(t, 0, path),
                Fcntl.O_PATH | Fcntl.O_CLOEXEC | Fcntl.O_NOFOLLOW, 0);
        fds.add(fd);
        return fd;
    }

    /** Every group as dumped, leaders first; the fds closed. */
    void apply() {
        try {
            pending.sort(Comparator.comparingInt(m -> m.d().root().length())); // a group's widest root leads it
            pending.forEach(this::peersElsewhere);
            while (!pending.isEmpty()) {
                Member ready = pending.stream().filter(this::ready).findFirst().orElseThrow(() -> new RestoreException(
                        "pid " + t.pid() + ": the peer groups of " + describe(pending) + " cannot be made again: no"
                                + " member of their group or master's group holds their root"));
                join(ready);
                pending.remove(ready);
            }
            joined.values().forEach(ms -> ms.stream().filter(m -> !m.foreign())
                    .forEach(m -> t.namespaces().madePeer(group(m.d().tags(), "shared:"),
                            new TreeNamespaces.Peer(t.pid().value(), m.d().point(), m.d().root()))));
        } finally {
            fds.forEach(fd -> t.later("close(" + fd + ")", SyscallNr.CLOSE, fd));
        }
    }

    /**
     * The group of {@code m}, a group's widest member here, as another namespace of the tree's made it again
     * already: its members there whose root holds {@code m}'s join the group first, so {@code m} joins them.
     */
    private void peersElsewhere(Member m) {
        int s = group(m.d().tags(), "shared:");
        if (s == 0 || joined.containsKey(s)) {
            return;
        }
        for (TreeNamespaces.Peer p : t.namespaces().madePeers(s)) {
            if (p.pid() != t.pid().value() && MountScan.under(m.d().root(), p.root())) {
                MountImage d = new MountImage(p.point(), m.d().fsType(), m.d().source(), p.root(), "", "", List.of("shared:" + s),
                        true, null, List.of());
                try (dev.cryo.kernel.Fd there = dev.cryo.kernel.Sys.open("/proc/" + p.pid() + "/root" + p.point(),
                        Fcntl.O_PATH | Fcntl.O_CLOEXEC | Fcntl.O_NOFOLLOW)) {
                    long fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), there.value());
                    fds.add(fd);
                    joined.computeIfAbsent(s, k -> new ArrayList<>()).add(new Member(d, fd, false, true));
                }
            }
        }
    }

    /**
     * Before a task leaves its copy of the namespace it was forked in (a container's, made again first): a
     * clone (open_tree) of each mount there of the peer group a mount it made was dumped in, whose root holds
     * that mount's root. The two were one file system (a tmpfs that propagated into the child's namespace),
     * so the made mount is that clone, attached in place of a new file system ({@link #cloneOf}).
     */
    void cloneShared(List<MountImage> dumped) {
        for (MountImage d : dumped) {
            int s = group(d.tags(), "shared:");
            if (!d.made() || d.bindFrom() != null || s == 0) {
                continue;
            }
            t.namespaces().madePeers(s).stream()
                    .filter(p -> p.pid() != t.pid().value() && MountScan.under(d.root(), p.root())).findFirst()
                    .ifPresent(p -> {
                        String path = MountScan.join(p.point(), d.root().substring(p.root().equals("/") ? 0 : p.root().length()));
                        long fd = t.call("open_tree(" + path + ", OPEN_TREE_CLONE)", SyscallNr.OPEN_TREE, Fcntl.AT_FDCWD,
                                MountRestore.path(t, 0, path), MountApi.OPEN_TREE_CLONE | Fcntl.O_CLOEXEC);
                        fds.add(fd);
                        clones.put(d, fd);
                    });
        }
    }

    /** {@code fd}: a clone of the file system made mount {@code d} is a mount of ({@link SameFileSystem}), attached in its place. */
    void cloned(MountImage d, long fd) {
        fds.add(fd);
        clones.putIfAbsent(d, fd);
    }

    /** The fd of {@link #cloneShared}'s clone for made mount {@code d}, or null: a new file system is mounted. */
    Long cloneOf(MountImage d) {
        return clones.get(d);
    }

    /** Its group's members so far (or its master's group's) include one whose root holds its own. */
    private boolean ready(Member m) {
        int s = group(m.d().tags(), "shared:"), k = group(m.d().tags(), "master:");
        if (joined.containsKey(s)) {
            return holder(joined.get(s), m) != null;
        }
        if (listed.contains(k)) {
            return joined.containsKey(k) && holder(joined.get(k), m) != null;
        }
        return true;
    }

    private void join(Member m) {
        int s = group(m.d().tags(), "shared:"), k = group(m.d().tags(), "master:");
        if (joined.containsKey(s)) { // a peer's group carries its master too
            if (m.hostSlave()) { // the kernel sets the group of a private mount only (EINVAL): nspawn's second
                propagation(m, MountApi.MS_PRIVATE, "MS_PRIVATE"); // os-release bind, on a host whose root is shared
            }
            setGroup(holder(joined.get(s), m), m);
        } else {
            if (listed.contains(k)) {
                setGroup(holder(joined.get(k), m), m);
                propagation(m, MountApi.MS_SLAVE, "MS_SLAVE");
            }
            if (s != 0) {
                propagation(m, MountApi.MS_SHARED, "MS_SHARED");
            }
        }
        if (s != 0) {
            joined.computeIfAbsent(s, x -> new ArrayList<>()).add(m);
        }
    }

    private static Member holder(List<Member> members, Member m) {
        return members.stream().filter(x -> MountScan.under(m.d().root(), x.d().root())).findFirst().orElse(null);
    }

    private void setGroup(Member from, Member to) {
        long empty = t.put(8192, new byte[1]);
        t.call("move_mount(" + from.d().point() + ", " + to.d().point() + ", MOVE_MOUNT_SET_GROUP)", SyscallNr.MOVE_MOUNT,
                from.fd(), empty, to.fd(), empty, MountApi.MOVE_MOUNT_F_EMPTY_PATH | MountApi.MOVE_MOUNT_T_EMPTY_PATH
                        | MountApi.MOVE_MOUNT_SET_GROUP);
    }

    private void propagation(Member m, long type, String name) {
        ByteBuffer attr = ByteBuffer.allocate(MountApi.MOUNT_ATTR_SIZE_VER0).order(ByteOrder.LITTLE_ENDIAN);
        attr.putLong(0).putLong(0).putLong(type).putLong(0);
        long at = t.put(8192, attr.array());
        long empty = t.put(8192 + 64, new byte[1]);
        t.call("mount_setattr(" + m.d().point() + ", " + name + ")", SyscallNr.MOUNT_SETATTR, m.fd(), empty,
                dev.cryo.kernel.Fcntl.AT_EMPTY_PATH, at, MountApi.MOUNT_ATTR_SIZE_VER0);
    }

    private static String describe(List<Member> ms) {
        List<String> s = new ArrayList<>();
        ms.forEach(m -> s.add(m.d().describe() + " (" + String.join(" ", m.d().tags()) + ")"));
        return String.join(", ", s);
    }

    static int group(List<String> tags, String kind) {
        for (String x : tags) {
            if (x.startsWith(kind)) {
                return Integer.parseInt(x.substring(kind.length()));
            }
        }
        return 0;
    }

    /**
     * Dump, for a mount the namespace made: what a restore cannot make, refused naming the mount. One
     * made under a mount shared with the host's namespace (the restore would make it on the host too);
     * a slave of a group no mount of the namespace or the host's is in (nothing to make it a slave
     * of); a member of a group whose widest member's root does not hold its own, or a slave no member
     * of whose master's group does (move_mount joins a group only from a member whose root holds the
     * joiner's). {@code hostGroups}: the peer groups of cryo's table.
     */
    static void check(Mount m, List<Mount> mine, Set<Integer> hostGroups, String what) {
        String mount = what + ": its mount " + m.fsType() + " " + m.source() + " on " + m.point();
        Mount parent = mine.stream().filter(x -> x.id() == m.parent()).findFirst().orElse(null);
        if (parent != null && hostGroups.contains(parent.sharedGroup())) {
            throw new DumpException(mount + " was made under a mount shared with the host's namespace ("
                    + parent.point() + ", " + String.join(" ", parent.tags()) + "): a restore would make it on the host"
                    + " too; not supported");
        }
        int master = m.masterGroup();
        List<Mount> masters = mine.stream().filter(x -> master != 0 && x.sharedGroup() == master).toList();
        if (master != 0 && !hostGroups.contains(master) && masters.isEmpty()) {
            throw new DumpException(mount + " is a slave of peer group " + master + ", which no mount of its namespace"
                    + " or of the host's is in; not supported");
        }
        Mount widest = mine.stream().filter(x -> m.sharedGroup() != 0 && x.sharedGroup() == m.sharedGroup())
                .min(Comparator.comparingInt(x -> x.root().length())).orElse(m);
        boolean held = MountScan.under(m.root(), widest.root())
                && (masters.isEmpty() || masters.stream().anyMatch(x -> MountScan.under(m.root(), x.root())));
        if (!held) {
            throw new DumpException(mount + " shows " + m.root() + " of its file system, and no mount of its peer"
                    + " group (or its master's) shows a directory holding it: the group cannot be made again; not"
                    + " supported");
        }
    }

    /**
     * The table's propagation in terms a restore can compare: a group named by its first member
     * (point and root), not by the kernel's number; a master no mount of the table is in is "outside".
     */
    static List<String> relations(List<String[]> pointRootTags) {
        Map<Integer, String> name = new HashMap<>();
        for (String[] m : pointRootTags) {
            int g = group(List.of(m[2].split(" ")), "shared:");
            String me = m[0] + "@" + m[1];
            if (g != 0 && (name.get(g) == null || me.compareTo(name.get(g)) < 0)) {
                name.put(g, me);
            }
        }
        List<String> out = new ArrayList<>();
        for (String[] m : pointRootTags) {
            List<String> k = new ArrayList<>();
            for (String x : m[2].isEmpty() ? new String[0] : m[2].split(" ")) {
                if (x.startsWith("shared:")) {
                    k.add("shared(" + name.get(group(List.of(x), "shared:")) + ")");
                } else if (x.startsWith("master:")) {
                    k.add("master(" + name.getOrDefault(group(List.of(x), "master:"), "outside") + ")");
                } else {
                    k.add(x);
                }
            }
            out.add(k.isEmpty() ? "private" : String.join("+", k));
        }
        return out;
    }
}
