package dev.cryo.engine.cgroups;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The settings of a cgroup that are carried: what an operator or a service manager sets on a
 * service's cgroup (limits, weights, cpusets, device rules), in the order they must be written
 * (a v2 cgroup's type and cpusets before anyone joins, a period before its quota, the memory limit
 * before memory+swap).
 * Anything else in a cgroup directory is a counter or the kernel's; a forged image naming any
 * other file is refused.
 */
final class CgroupSettings {
    private CgroupSettings() {}

    /** v1 devices cgroups: the rules read from devices.list, written back through deny/allow. */
    static final String DEVICES_LIST = "devices.list";
    static final String ALL_DEVICES = "a *:* rwm";

    private static final Map<String, List<String>> V1 = Map.of(
            "memory", List.of("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                    "memory.swappiness", "memory.move_charge_at_immigrate", CgroupSettings.OOM_CONTROL),
            "cpu", List.of("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.idle",
                    "cpu.rt_period_us", "cpu.rt_runtime_us"),
            "cpuset", List.of("cpuset.cpus", "cpuset.mems", "cpuset.mem_hardwall", "cpuset.memory_migrate",
                    "cpuset.memory_spread_page", "cpuset.memory_spread_slab", "cpuset.sched_load_balance",
                    "cpuset.sched_relax_domain_level"),
            "pids", List.of("pids.max"),
            "blkio", List.of("blkio.weight", "blkio.bfq.weight", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"),
            "net_cls", List.of("net_cls.classid"),
            "devices", List.of(DEVICES_LIST));

    /** v1 memory: its oom_kill_disable flag is carried, the rest of the file are counters. */
    static final String OOM_CONTROL = "memory.oom_control";

    /** What is carried of {@code file}'s {@code text}: memory.oom_control's oom_kill_disable alone ("1"). */
    static String carried(String file, String text) {
        if (file.equals(OOM_CONTROL)) {
            for (String line : text.split("\n")) {
                if (line.startsWith("oom_kill_disable ")) {
                    return line.substring("oom_kill_disable ".length()).strip();
                }
            }
        }
        return text.strip();
    }

    /** v1 files that read one line per device ("MAJ:MIN value") and take one such line per write. */
    static boolean perDevice(String file) {
        return file.startsWith("blkio.throttle.") && file.endsWith("_device");
    }

    /** v1, in every hierarchy: a release agent's trigger (systemd's on v1 hosts) and cpuset's copy to children. */
    private static final List<String> V1_EVERY = List.of("notify_on_release", "cgroup.clone_children");

    /** v2: carried only as "threaded" (the other types follow from the tree: "domain threaded" is a threaded child's parent). */
    static final String TYPE = "cgroup.type";
    static final String THREADED = "threaded";

    /** v2: the controllers a cgroup hands to its children ("cpu pids"), written as "+cpu +pids". */
    static final String SUBTREE_CONTROL = "cgroup.subtree_control";

    private static final List<String> UNIFIED = List.of(TYPE, SUBTREE_CONTROL, "cgroup.max.descendants",
            "cgroup.max.depth", "cpuset.cpus", "cpuset.mems", "cpu.weight", "cpu.max",
            "memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.max", "memory.oom.group",
            "pids.max", "io.weight");

    /** The files carried for a cgroup of {@code hierarchy} ("" for the unified one), in writing order. */
    static List<String> files(String hierarchy) {
        if (hierarchy.isEmpty()) {
            return UNIFIED;
        }
        List<String> out = new ArrayList<>(V1_EVERY);
        for (String controller : Arrays.asList(hierarchy.split(","))) {
            out.addAll(V1.getOrDefault(controller, List.of()));
        }
        return out;
    }
}
