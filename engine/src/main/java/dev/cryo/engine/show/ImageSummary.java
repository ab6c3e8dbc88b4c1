package dev.cryo.engine.show;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Short views of an image, like CRIU's {@code crit x}: the process tree, the fds, the mappings,
 * the statistics. Each is a list of rows (column name to value) built from the {@link ImageJson}
 * document, so every kind renders here the way its handler renders it in {@code cryo show}.
 */
public final class ImageSummary {
    private ImageSummary() {}

    /** What {@code cryo show DIR VIEW} accepts. */
    public enum View {
        PS, FDS, MEMS, STATS;

        public static View of(String name) {
            for (View v : values()) {
                if (v.name().equalsIgnoreCase(name)) {
                    return v;
                }
            }
            throw new IllegalArgumentException("unknown view '" + name + "': expected ps, fds, mems or stats");
        }
    }

    public static List<Map<String, Object>> rows(View view, Map<String, Object> doc, Map<String, Object> dumpStats) {
        return switch (view) {
            case PS -> ps(doc);
            case FDS -> fds(doc);
            case MEMS -> mems(doc);
            case STATS -> stats(doc, dumpStats);
        };
    }

    private static List<Map<String, Object>> ps(Map<String, Object> doc) {
        List<Map<String, Object>> out = new ArrayList<>();
        List<?> order = doc.get("dump") == null ? List.of() : list(map(doc.get("dump")).get("pids"));
        List<Map<String, Object>> tasks = new ArrayList<>(tasks(doc));
        tasks.sort(java.util.Comparator.comparingInt(t -> {
            int i = order.indexOf(t.get("pid"));
            return i < 0 ? Integer.MAX_VALUE : i;
        }));
        for (Map<String, Object> t : tasks) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("pid", t.get("pid"));
            row.put("ppid", t.get("ppid"));
            row.put("pgid", t.get("pgid"));
            row.put("sid", t.get("sid"));
            row.put("threads", list(t.get("threads")).size());
            row.put("comm", t.get("comm"));
            row.put("exe", t.get("exe"));
            out.add(row);
        }
        return out;
    }

    private static List<Map<String, Object>> fds(Map<String, Object> doc) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> t : tasks(doc)) {
            for (Object o : list(t.get("fds"))) {
                Map<String, Object> fd = map(o);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("pid", t.get("pid"));
                row.put("fd", fd.get("fd"));
                row.put("kind", fd.get("kind"));
                row.put("target", target(fd));
                out.add(row);
            }
        }
        return out;
    }

    /** A path where the kind has one, otherwise its distinguishing fields in one line. */
    private static String target(Map<String, Object> fd) {
        for (String key : List.of("path", "fifoPath", "name")) {
            Object v = fd.get(key);
            if (v instanceof String s && !s.isEmpty()) {
                return s;
            }
        }
        List<String> parts = new ArrayList<>();
        fd.forEach((k, v) -> {
            if (v == null || "".equals(v)) {
                return;
            }
            if (!List.of("fd", "flags", "position", "kind").contains(k) && !(v instanceof List || v instanceof Map)) {
                parts.add(k + "=" + v);
            } else if (v instanceof List<?> l && !List.of("fd", "kind").contains(k)) {
                parts.add(k + "=" + l.size());
            }
        });
        return String.join(" ", parts);
    }

    private static List<Map<String, Object>> mems(Map<String, Object> doc) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> t : tasks(doc)) {
            for (Object o : list(t.get("vmas"))) {
                Map<String, Object> v = map(o);
                long start = address(v.get("start"));
                long end = address(v.get("end"));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("pid", t.get("pid"));
                row.put("start", v.get("start"));
                row.put("end", v.get("end"));
                row.put("size", human(end - start));
                row.put("prot", v.get("prot"));
                row.put("kind", v.get("kind"));
                row.put("carried", carried(v));
                row.put("file", v.get("file"));
                out.add(row);
            }
        }
        return out;
    }

    /** What the image holds of a mapping: its pages, or why not. */
    private static String carried(Map<String, Object> v) {
        long dumped = number(v.get("dumpedPages"));
        long zero = number(v.get("zeroPages"));
        if (dumped == 0 && zero == 0) {
            return "-";
        }
        long shared = v.get("sharedWithParentPages") == null ? 0 : number(v.get("sharedWithParentPages"));
        return dumped + " pages" + (zero > 0 ? " (+" + zero + " zero)" : "")
                + (shared > 0 ? ", " + shared + " shared with the parent" : "");
    }

    private static List<Map<String, Object>> stats(Map<String, Object> doc, Map<String, Object> dumpStats) {
        List<Map<String, Object>> out = new ArrayList<>();
        Map<String, Object> format = map(doc.get("format"));
        Map<String, Object> dump = doc.get("dump") == null ? Map.of() : map(doc.get("dump"));
        List<Map<String, Object>> tasks = tasks(doc);
        add(out, "created", dump.get("created"));
        add(out, "host", dump.get("hostname"));
        add(out, "kernel", dump.get("kernel"));
        add(out, "root pid", dump.get("rootPid"));
        add(out, "tasks", tasks.size());
        add(out, "threads", tasks.stream().mapToInt(t -> list(t.get("threads")).size()).sum());
        add(out, "mappings", tasks.stream().mapToInt(t -> list(t.get("vmas")).size()).sum());
        add(out, "fds", tasks.stream().mapToInt(t -> list(t.get("fds")).size()).sum());
        add(out, "image bytes", format.get("bytes"));
        add(out, "image chunks", format.get("chunks"));
        add(out, "pages in image", tasks.stream().mapToLong(t -> number(map(t.get("pages")).get("pages"))).sum());
        add(out, "left running", dump.get("leftRunning"));
        // the figures of the dump itself (stats.json beside the image), when it is there
        dumpStats.forEach((k, v) -> {
            if (!(v instanceof List || v instanceof Map)) {
                add(out, "dump " + k, v);
            }
        });
        return out;
    }

    private static void add(List<Map<String, Object>> out, String name, Object value) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", name);
        row.put("value", value);
        out.add(row);
    }

    /** Rows as an aligned text table, header first; a row's missing value prints as "-". */
    public static String table(List<Map<String, Object>> rows) {
        if (rows.isEmpty()) {
            return "(none)\n";
        }
        List<String> cols = new ArrayList<>(rows.get(0).keySet());
        int[] width = new int[cols.size()];
        for (int i = 0; i < cols.size(); i++) {
            width[i] = cols.get(i).length();
            for (Map<String, Object> r : rows) {
                width[i] = Math.max(width[i], cell(r.get(cols.get(i))).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, cols.stream().map(c -> c.toUpperCase(Locale.ROOT)).toList(), width);
        for (Map<String, Object> r : rows) {
            line(sb, cols.stream().map(c -> cell(r.get(c))).toList(), width);
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] width) {
        StringBuilder l = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            l.append(i == cells.size() - 1 ? cells.get(i) : String.format(Locale.ROOT, "%-" + width[i] + "s  ", cells.get(i)));
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }

    private static String cell(Object v) {
        return v == null ? "-" : v.toString();
    }

    static String human(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) return (bytes >> 30) + "G";
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + "M";
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + "K";
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.1fM", bytes / 1048576.0);
        return bytes >= 1024 ? String.format(Locale.ROOT, "%.1fK", bytes / 1024.0) : bytes + "B";
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> tasks(Map<String, Object> doc) {
        return (List<Map<String, Object>>) (List<?>) list(doc.get("tasks"));
    }

    private static List<?> list(Object o) {
        return o instanceof List<?> l ? l : List.of();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    /** "0x..." as ImageJson writes addresses; the vsyscall page is above Long.MAX_VALUE. */
    private static long address(Object o) {
        return Long.parseUnsignedLong(String.valueOf(o).substring(2), 16);
    }

    private static long number(Object o) {
        return o instanceof Number n ? n.longValue() : 0;
    }
}
