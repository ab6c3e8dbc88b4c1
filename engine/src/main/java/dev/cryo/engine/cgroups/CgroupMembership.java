package dev.cryo.engine.cgroups;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cgroups a process is in, one place per hierarchy as /proc/PID/cgroup names it (v1
 * hierarchies by their controllers, the unified one by ""), each with the settings its cgroup had
 * (limits, weights, cpusets) and the owners its entries were handed to (a delegated cgroup): a
 * restore moves the process back into the same cgroup, and makes one that is missing with those
 * settings and owners. Only places below a hierarchy's root are carried. {@code below}: every cgroup
 * below those places as the dump found it (a runtime's sub-cgroups), and for the tree's root the tree's
 * top cgroups and every one below them (a service manager's slices), parents first, with their settings
 * and owners: a restore makes the missing ones again. {@code threads}: a
 * thread's cgroup where it is not its process's (a v1 per-thread move, a v2 threaded cgroup), moved back there.
 */
public record CgroupMembership(List<Place> places, List<Place> below, List<ThreadPlace> threads) {
    public static final int RECORD_ID = 530;
    public static final CgroupMembership NONE = new CgroupMembership(List.of());

    public CgroupMembership {
        places = List.copyOf(places);
        below = List.copyOf(below);
        threads = List.copyOf(threads);
    }

    public CgroupMembership(List<Place> places) {
        this(places, List.of(), List.of());
    }

    public CgroupMembership(List<Place> places, List<Place> below) {
        this(places, below, List.of());
    }

    /** Thread {@code tid}'s cgroup of one hierarchy, which is not its process's there. */
    public record ThreadPlace(int tid, Place place) {}

    /**
     * One hierarchy's cgroup: {@code hierarchy} is /proc/PID/cgroup's second field ("memory", "cpu,cpuacct", "");
     * {@code access} the entries not as a made cgroup has them (owned by someone other than root, a
     * directory mode other than 0755), as systemd's or a container engine's delegation leaves them.
     */
    public record Place(String hierarchy, String path, Map<String, String> settings, List<Access> access) {
        public Place {
            settings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(settings));
            access = List.copyOf(access);
        }

        public Place(String hierarchy, String path, Map<String, String> settings) {
            this(hierarchy, path, settings, List.of());
        }

        /** How a user reads it: "memory:/app", "unified:/app". */
        public String label() {
            return (hierarchy.isEmpty() ? "unified" : hierarchy) + ":" + path;
        }
    }

    /** Owner and permission bits of one entry of a cgroup directory: {@code entry} "" is the directory itself. */
    public record Access(String entry, int uid, int gid, int mode) {
        /** How a user reads it: "cgroup.procs 1000:1000 0644", ". 1000:1000 0755". */
        public String label() {
            return (entry.isEmpty() ? "." : entry) + " " + uid + ":" + gid + " " + String.format("%04o", mode);
        }
    }

    /** For {@code cryo show}: one entry per hierarchy, with the settings a missing cgroup is made with. */
    public List<Map<String, Object>> json() {
        List<Map<String, Object>> out = new ArrayList<>();
        List<Place> all = new ArrayList<>(places);
        all.addAll(below);
        for (Place p : all) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("hierarchy", p.hierarchy().isEmpty() ? "unified" : p.hierarchy());
            m.put("path", p.path());
            if (below.contains(p)) {
                m.put("below", true); // not the process's own: made again, not joined
            }
            if (!p.settings().isEmpty()) {
                m.put("settings", new LinkedHashMap<>(p.settings()));
            }
            if (!p.access().isEmpty()) {
                m.put("access", p.access().stream().map(Access::label).toList());
            }
            out.add(m);
        }
        for (ThreadPlace t : threads) {
            out.add(Map.<String, Object>of("thread", t.tid(), "hierarchy", t.place().hierarchy().isEmpty() ? "unified"
                    : t.place().hierarchy(), "path", t.place().path()));
        }
        return out;
    }

    /** At most this many cgroups below a process's own are carried (a dump finding more is refused). */
    public static final int MAX_BELOW = 1024;
    private static final int MAX_THREADS = 1 << 16, MAX_PLACES = 32, MAX_SETTINGS = 64, MAX_ACCESS = 256, TEXT = 4096, VALUE = 64 * 1024;

    public static final RecordCodec<CgroupMembership> CODEC = RecordCodec.of(CgroupMembership.class, RECORD_ID, 4,
            (out, m) -> {
                writePlaces(out, m.places());
                writePlaces(out, m.below()); // v3
                out.writeVarInt(m.threads().size(), true); // v4
                for (ThreadPlace t : m.threads()) {
                    out.writeVarInt(t.tid(), true);
                    writePlace(out, t.place());
                }
            }, (in, version) -> {
                List<Place> places = readPlaces(in, version, MAX_PLACES, "places");
                List<Place> below = version < 3 ? List.of() : readPlaces(in, version, MAX_BELOW, "below");
                List<ThreadPlace> threads = new ArrayList<>();
                int n = version < 4 ? 0 : ModelFields.readCount(in, "CgroupMembership", MAX_THREADS, "threads");
                for (int i = 0; i < n; i++) {
                    threads.add(new ThreadPlace(in.readVarInt(true), readPlace(in, version)));
                }
                return new CgroupMembership(places, below, threads);
            });

    private static void writePlaces(com.esotericsoftware.kryo.io.Output out, List<Place> list) {
        out.writeVarInt(list.size(), true);
        for (Place p : list) {
            writePlace(out, p);
        }
    }

    private static void writePlace(com.esotericsoftware.kryo.io.Output out, Place p) {
        ModelFields.writeText(out, p.hierarchy(), TEXT, "CgroupMembership.hierarchy");
        ModelFields.writeText(out, p.path(), TEXT, "CgroupMembership.path");
        out.writeVarInt(p.settings().size(), true);
        for (Map.Entry<String, String> s : p.settings().entrySet()) {
            ModelFields.writeText(out, s.getKey(), TEXT, "CgroupMembership.setting");
            ModelFields.writeText(out, s.getValue(), VALUE, "CgroupMembership.value");
        }
        out.writeVarInt(p.access().size(), true);
        for (Access a : p.access()) {
            ModelFields.writeText(out, a.entry(), TEXT, "CgroupMembership.entry");
            out.writeVarInt(a.uid(), true);
            out.writeVarInt(a.gid(), true);
            out.writeVarInt(a.mode(), true);
        }
    }

    private static List<Place> readPlaces(Input in, int version, int max, String what) {
        int n = ModelFields.readCount(in, "CgroupMembership", max, what);
        List<Place> places = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            places.add(readPlace(in, version));
        }
        return places;
    }

    private static Place readPlace(Input in, int version) {
        String hierarchy = text(in, TEXT, "hierarchy");
        String path = text(in, TEXT, "path");
        int k = ModelFields.readCount(in, "CgroupMembership", MAX_SETTINGS, "settings");
        Map<String, String> settings = new LinkedHashMap<>();
        for (int j = 0; j < k; j++) {
            String file = text(in, TEXT, "setting");
            settings.put(file, text(in, VALUE, "value"));
        }
        List<Access> access = new ArrayList<>();
        int a = version < 2 ? 0 : ModelFields.readCount(in, "CgroupMembership", MAX_ACCESS, "access");
        for (int j = 0; j < a; j++) {
            access.add(new Access(text(in, TEXT, "entry"), in.readVarInt(true), in.readVarInt(true),
                    in.readVarInt(true)));
        }
        return new Place(hierarchy, path, settings, access);
    }

    private static String text(Input in, int max, String what) {
        String s = ModelFields.readText(in, max, "CgroupMembership." + what);
        if (s == null) {
            throw new KryoException("CgroupMembership: no " + what);
        }
        return s;
    }
}
