package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A user namespace a task of the tree made ({@code unshare -U -r}, a rootless container's, a
 * sandbox's), one level below cryo's: {@code pid} made it (its NamespaceImage has CLONE_NEWUSER,
 * so the restore forks it into a new one, with the namespaces it made along owned by it);
 * {@code uidMap}/{@code gidMap} its id maps with the outside ids as cryo's namespace sees them
 * (what cryo writes back to /proc/PID/uid_map); {@code setgroupsAllowed} what /proc/PID/setgroups
 * said ("deny" is written before the gid map); {@code members} the tasks of the tree inside it;
 * {@code owner} the uid (as cryo sees it) of the task that made it, which the kernel keeps as its
 * owner (that uid has every capability in it from outside; -1: an image of before it was recorded).
 */
public record UserNsImage(int pid, List<IdRange> uidMap, List<IdRange> gidMap, boolean setgroupsAllowed,
                          List<Integer> members, long owner) {
    public static final int RECORD_ID = 760;

    public UserNsImage {
        uidMap = List.copyOf(uidMap);
        gidMap = List.copyOf(gidMap);
        members = List.copyOf(members);
    }

    public UserNsImage(int pid, List<IdRange> uidMap, List<IdRange> gidMap, boolean setgroupsAllowed, List<Integer> members) {
        this(pid, uidMap, gidMap, setgroupsAllowed, members, -1);
    }

    /** One line of a map: {@code count} ids from {@code inside} are {@code outside}'s. */
    public record IdRange(long inside, long outside, long count) {
        @Override
        public String toString() {
            return inside + " " + outside + " " + count;
        }
    }

    /** The id inside for {@code outside} (an id as cryo sees it), or -1 when the map has none. */
    public static long inside(List<IdRange> map, long outside) {
        for (IdRange r : map) {
            if (outside >= r.outside() && outside - r.outside() < r.count()) {
                return r.inside() + (outside - r.outside());
            }
        }
        return -1;
    }

    /** The map as /proc/PID/uid_map takes it: one range per line. */
    public static String text(List<IdRange> map) {
        StringBuilder s = new StringBuilder();
        map.forEach(r -> s.append(r).append('\n'));
        return s.toString();
    }

    /** Parses /proc/PID/uid_map ("inside outside count" per line, blank-padded). */
    public static List<IdRange> parse(String path, String text) {
        List<IdRange> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            if (f.length != 3) {
                throw new IllegalArgumentException(path + ": unexpected line '" + line + "'");
            }
            out.add(new IdRange(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])));
        }
        return out;
    }

    /** For {@code cryo show}. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", pid);
        m.put("namespace", "user");
        m.put("uidMap", uidMap.stream().map(IdRange::toString).toList());
        m.put("gidMap", gidMap.stream().map(IdRange::toString).toList());
        m.put("setgroups", setgroupsAllowed ? "allow" : "deny");
        m.put("members", members);
        if (owner >= 0) {
            m.put("owner", owner);
        }
        return m;
    }

    /** A map holds at most 340 lines (the kernel's limit since 4.15). */
    private static final int MAX_RANGES = 340, MAX_MEMBERS = 1 << 20;

    /** v2: the owner (v1 images read as -1). */
    public static final RecordCodec<UserNsImage> CODEC = RecordCodec.of(UserNsImage.class, RECORD_ID, 2,
            (out, u) -> {
                out.writeVarInt(u.pid(), true);
                writeMap(out, u.uidMap());
                writeMap(out, u.gidMap());
                out.writeBoolean(u.setgroupsAllowed());
                ModelFields.writeInts(out, u.members(), MAX_MEMBERS, "UserNsImage.members");
                out.writeVarLong(u.owner() + 1, true);
            }, (in, version) -> {
                int pid = in.readVarInt(true);
                List<IdRange> uids = readMap(in), gids = readMap(in);
                boolean allowed = in.readBoolean();
                List<Integer> members = ModelFields.readInts(in, MAX_MEMBERS, "UserNsImage.members");
                long owner = version >= 2 ? in.readVarLong(true) - 1 : -1;
                if (owner < -1 || owner > 0xffffffffL) {
                    throw new KryoException("UserNsImage: owner " + owner + " out of bounds");
                }
                return new UserNsImage(pid, uids, gids, allowed, members, owner);
            });

    private static void writeMap(Output out, List<IdRange> map) {
        out.writeVarInt(map.size(), true);
        for (IdRange r : map) {
            out.writeVarLong(r.inside(), true);
            out.writeVarLong(r.outside(), true);
            out.writeVarLong(r.count(), true);
        }
    }

    private static List<IdRange> readMap(Input in) {
        int n = in.readVarInt(true);
        if (n < 0 || n > MAX_RANGES) {
            throw new KryoException("UserNsImage: " + n + " map ranges (at most " + MAX_RANGES + ")");
        }
        List<IdRange> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long inside = in.readVarLong(true), outside = in.readVarLong(true), count = in.readVarLong(true);
            if (inside > 0xffffffffL || outside > 0xffffffffL || count < 1 || count > 0x100000000L) {
                throw new KryoException("UserNsImage: map range " + inside + " " + outside + " " + count + " out of bounds");
            }
            out.add(new IdRange(inside, outside, count));
        }
        return out;
    }
}
