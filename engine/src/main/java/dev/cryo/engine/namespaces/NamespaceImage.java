package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.Clone;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Namespaces a task of the tree made for itself and its descendants (an {@code unshare --pid
 * --fork --uts --ipc} child, a vsftpd session): {@code pid} is that task, {@code flags} the
 * CLONE_NEW* flags a restore forks it with. With a pid namespace, {@code tids} gives every task,
 * thread and zombie inside it its pid there (pid as cryo sees it → pid inside; the task itself is
 * 1 there); with a uts namespace, its host and domain names; with a network namespace, the
 * addresses of its loopback device and whether it was up (it must have no other device); with a
 * mount namespace, its mount table ({@link MountImage}); with an ipc namespace, its SysV objects
 * ({@link IpcImage}, version 2; empty in images of version 1, which refused them). Version 3 adds
 * the tmpfs files' xattrs, 4 which bind mounts bind a host path ({@link MountImage#hostSource()}), 5 the
 * time namespaces the task made ({@code time}, null when none; CLONE_NEWTIME is never in {@code flags}: a
 * time namespace is made by the task itself once forked, see {@link NamespaceRestore}), 6
 * {@code pidForChildren}: the child that is the init of a pid namespace this task unshared for its
 * children without entering it ({@code unshare --pid --fork}; 0 when none; {@link #DEAD} when that
 * init has exited and was reaped: the namespace is dead, no fork in it succeeds). Pid namespaces nest: a
 * task inside several of the tree's has an entry in the {@code tids} of each. Version 9 adds {@code netBoundAt}:
 * where the net namespace (CLONE_NEWNET in {@code flags}) was bound on the host ({@code ip netns add}'s
 * /run/netns/NAME), which the restore joins again instead of making one ("" for one the tree made alone).
 * {@code joinedAt} is never in an image: {@code restore --join-ns uts:PATH} / {@code ipc:PATH} / {@code time:PATH} sets
 * it on the root's (CLONE_NEWUTS/NEWIPC/NEWTIME → the namespace file joined instead of made, {@link
 * dev.cryo.engine.restore.JoinedNamespaces}; CLONE_NEWTIME stays out of {@code flags}). Version 10 adds {@code entered}:
 * the namespaces the task entered with setns that another task of the tree, one of its ancestors, is in (CLONE_NEWNET,
 * NEWNS, NEWUTS or NEWIPC → that task's pid): the restore has the task join the ancestor's once forked ({@link
 * NamespaceRestore}), where a fork alone would leave it in its parent's. Version 11 adds the names CRIU's {@code dump
 * --external mnt[POINT]:NAME} gave mounts ({@link MountImage#external()}).
 */
public record NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                             boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc,
                             TimeNsImage time, int pidForChildren, String netBoundAt, Map<Integer, String> joinedAt,
                             Map<Integer, Integer> entered) {
    public static final int RECORD_ID = 560;

    /** The kinds a task may have entered with setns ({@link #entered}): a restore joins them as they are, once made. */
    public static final int ENTERABLE = Clone.NEWNET | Clone.NEWNS | Clone.NEWUTS | Clone.NEWIPC;

    /** {@code pidForChildren} of a task whose pid namespace for children lost its init, reaped: no task is left in it. */
    public static final int DEAD = -1;

    /** What a restore can make (the rest is refused at dump). */
    public static final int CARRIED = Clone.NEWPID | Clone.NEWUTS | Clone.NEWIPC | Clone.NEWNET | Clone.NEWNS
            | Clone.NEWUSER // user: its maps in a UserNsImage
            | Clone.NEWCGROUP; // cgroup: rooted at the creator's own cgroups, where it is unshared again

    public NamespaceImage {
        tids = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tids));
        loAddresses = List.copyOf(loAddresses);
        mounts = List.copyOf(mounts);
        ipc = ipc == null ? IpcImage.EMPTY : ipc;
        netBoundAt = netBoundAt == null ? "" : netBoundAt;
        joinedAt = joinedAt == null ? Map.of() : Map.copyOf(joinedAt);
        entered = entered == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(entered));
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc, TimeNsImage time,
                          int pidForChildren, String netBoundAt, Map<Integer, String> joinedAt) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, ipc, time, pidForChildren, netBoundAt,
                joinedAt, Map.of());
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc, TimeNsImage time,
                          int pidForChildren, String netBoundAt) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, ipc, time, pidForChildren, netBoundAt,
                Map.of());
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc, TimeNsImage time,
                          int pidForChildren) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, ipc, time, pidForChildren, "");
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc, TimeNsImage time) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, ipc, time, 0);
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts, IpcImage ipc) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, ipc, null);
    }

    public NamespaceImage(int pid, int flags, String hostname, String domainname, Map<Integer, Integer> tids,
                          boolean loUp, List<String> loAddresses, List<MountImage> mounts) {
        this(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts, IpcImage.EMPTY);
    }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** This, its net namespace joined at {@code path} instead of made ({@code restore --join-ns net:PATH}). */
    public NamespaceImage joiningNet(String path) {
        return new NamespaceImage(pid, flags, hostname, domainname, tids, false, List.of(), mounts, ipc, time,
                pidForChildren, path, joinedAt, entered);
    }

    /**
     * This, its namespace of kind {@code flag} (CLONE_NEWUTS, CLONE_NEWIPC or CLONE_NEWTIME) joined at {@code path} instead of made
     * or inherited ({@code restore --join-ns uts:PATH}): its host names, or its ipc sysctls, are that namespace's.
     */
    public NamespaceImage joining(int flag, String path) {
        Map<Integer, String> joined = new LinkedHashMap<>(joinedAt);
        joined.put(flag, path);
        return new NamespaceImage(pid, flag == Clone.NEWTIME ? flags : flags | flag, hostname, domainname, tids, loUp, loAddresses, mounts,
                flag == Clone.NEWIPC ? IpcImage.EMPTY : ipc, time, pidForChildren, netBoundAt, joined, entered);
    }

    /** This, with its mount table {@code m} (the names of {@code dump --external}, the binds of {@code restore --external}). */
    public NamespaceImage withMounts(List<MountImage> m) {
        return new NamespaceImage(pid, flags, hostname, domainname, tids, loUp, loAddresses, m, ipc, time,
                pidForChildren, netBoundAt, joinedAt, entered);
    }

    /** This, with the namespaces it entered with setns ({@link #entered}; null: none). */
    public NamespaceImage entering(Map<Integer, Integer> owners) {
        return owners == null ? this : new NamespaceImage(pid, flags, hostname, domainname, tids, loUp, loAddresses, mounts,
                ipc, time, pidForChildren, netBoundAt, joinedAt, owners);
    }

    /** Whether its namespace of kind {@code flag} is joined at a path {@code restore --join-ns} named ({@link #joinedAt}). */
    public boolean joins(int flag) {
        return joinedAt.containsKey(flag);
    }

    /** Whether its net namespace is one bound on the host, which the restore joins ({@link #netBoundAt}). */
    public boolean joinsNet() {
        return has(Clone.NEWNET) && !netBoundAt.isEmpty();
    }

    /** For {@code cryo show}. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", pid);
        m.put("namespaces", Clone.describeNamespaces(flags | (time != null ? Clone.NEWTIME : 0)));
        if (has(Clone.NEWUTS)) {
            m.put("hostname", hostname);
            m.put("domainname", domainname);
        }
        if (has(Clone.NEWPID)) {
            Map<String, Integer> t = new LinkedHashMap<>();
            tids.forEach((k, v) -> t.put(Integer.toString(k), v));
            m.put("pidsInside", t);
        }
        if (joinsNet()) {
            m.put("netBoundAt", netBoundAt);
        } else if (has(Clone.NEWNET)) {
            m.put("loUp", loUp);
            m.put("loAddresses", loAddresses);
        }
        if (has(Clone.NEWNS)) {
            m.put("mounts", mounts.stream().map(MountImage::json).toList());
        }
        if (has(Clone.NEWIPC)) {
            m.put("ipc", ipc.json());
        }
        if (time != null) {
            m.put("time", time.json());
        }
        if (!entered.isEmpty()) {
            Map<String, String> e = new LinkedHashMap<>();
            entered.forEach((flag, owner) -> e.put(Clone.describeNamespaces(flag), "pid " + owner + "'s"));
            m.put("entered", e);
        }
        if (pidForChildren != 0) {
            m.put("pidNamespaceForChildren", pidForChildren == DEAD ? "dead (its init exited and was reaped)"
                    : "pid " + pidForChildren + "'s");
        }
        return m;
    }

    private static final int MAX_TIDS = 1 << 20, MAX_ADDRESSES = 256, NAME = 65, ADDRESS = 64, PATH = 4096;

    public static final RecordCodec<NamespaceImage> CODEC = RecordCodec.of(NamespaceImage.class, RECORD_ID, 11,
            (out, n) -> {
                out.writeVarInt(n.pid(), true);
                out.writeInt(n.flags());
                ModelFields.writeText(out, n.hostname(), NAME, "NamespaceImage.hostname");
                ModelFields.writeText(out, n.domainname(), NAME, "NamespaceImage.domainname");
                out.writeVarInt(n.tids().size(), true);
                n.tids().forEach((k, v) -> {
                    out.writeVarInt(k, true);
                    out.writeVarInt(v, true);
                });
                out.writeBoolean(n.loUp());
                out.writeVarInt(n.loAddresses().size(), true);
                for (String a : n.loAddresses()) {
                    ModelFields.writeText(out, a, ADDRESS, "NamespaceImage.loAddress");
                }
                MountImage.write(out, n.mounts());
                IpcImage.write(out, n.ipc());
                MountImage.writeXattrs(out, n.mounts());
                MountImage.writeHostSources(out, n.mounts());
                TimeNsImage.write(out, n.time());
                out.writeVarInt(n.pidForChildren(), true);
                ModelFields.writeText(out, n.netBoundAt(), PATH, "NamespaceImage.netBoundAt");
                out.writeVarInt(n.entered().size(), true);
                n.entered().forEach((flag, owner) -> {
                    out.writeInt(flag);
                    out.writeVarInt(owner, true);
                });
                MountImage.writeExternals(out, n.mounts());
            }, (in, version) -> {
                int pid = in.readVarInt(true);
                int flags = in.readInt();
                if ((flags & ~CARRIED) != 0) {
                    throw new KryoException("NamespaceImage: unexpected namespace flags 0x" + Integer.toHexString(flags));
                }
                String host = text(in, NAME, "hostname");
                String domain = text(in, NAME, "domainname");
                int n = ModelFields.readCount(in, "NamespaceImage", MAX_TIDS, "tids");
                Map<Integer, Integer> tids = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    tids.put(in.readVarInt(true), in.readVarInt(true));
                }
                boolean up = in.readBoolean();
                int k = ModelFields.readCount(in, "NamespaceImage", MAX_ADDRESSES, "loAddresses");
                List<String> addrs = new ArrayList<>();
                for (int i = 0; i < k; i++) {
                    addrs.add(text(in, ADDRESS, "loAddress"));
                }
                List<MountImage> mounts = MountImage.read(in);
                IpcImage ipc = version >= 2 ? IpcImage.read(in, version) : IpcImage.EMPTY;
                mounts = version >= 3 ? MountImage.readXattrs(in, mounts) : mounts;
                mounts = version >= 4 ? MountImage.readHostSources(in, mounts) : mounts;
                TimeNsImage time = version >= 5 ? TimeNsImage.read(in) : null;
                int pidForChildren = version >= 6 ? in.readVarInt(true) : 0;
                String netBoundAt = version >= 9 ? text(in, PATH, "netBoundAt") : "";
                Map<Integer, Integer> entered = version >= 10 ? entered(in) : Map.of();
                return new NamespaceImage(pid, flags, host, domain, tids, up, addrs,
                        version >= 11 ? MountImage.readExternals(in, mounts) : mounts, ipc, time, pidForChildren,
                        netBoundAt, Map.of(), entered);
            });

    private static Map<Integer, Integer> entered(Input in) {
        int n = ModelFields.readCount(in, "NamespaceImage", 8, "entered");
        Map<Integer, Integer> out = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            int flag = in.readInt();
            if (Integer.bitCount(flag) != 1 || (flag & ENTERABLE) == 0) {
                throw new KryoException("NamespaceImage: unexpected entered namespace flag 0x" + Integer.toHexString(flag));
            }
            out.put(flag, in.readVarInt(true));
        }
        return out;
    }

    private static String text(Input in, int max, String what) {
        String s = ModelFields.readText(in, max, "NamespaceImage." + what);
        if (s == null) {
            throw new KryoException("NamespaceImage: no " + what);
        }
        return s;
    }
}
