package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;

/**
 * /proc/PID/limits: a header line, then one row per resource: name (with spaces), soft, hard and
 * optional units. "unlimited" reads as {@link #INFINITY} (RLIM_INFINITY, all bits set).
 */
public record Limits(List<Limit> rows) {
    public static final long INFINITY = -1;

    public static final int RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4,
            RLIMIT_RSS = 5, RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9,
            RLIMIT_LOCKS = 10, RLIMIT_SIGPENDING = 11, RLIMIT_MSGQUEUE = 12, RLIMIT_NICE = 13, RLIMIT_RTPRIO = 14,
            RLIMIT_RTTIME = 15, RLIM_NLIMITS = 16;

    /** Row names as fs/proc/base.c prints them, indexed by RLIMIT_* number. */
    private static final List<String> NAMES = List.of("Max cpu time", "Max file size", "Max data size",
            "Max stack size", "Max core file size", "Max resident set", "Max processes", "Max open files",
            "Max locked memory", "Max address space", "Max file locks", "Max pending signals",
            "Max msgqueue size", "Max nice priority", "Max realtime priority", "Max realtime timeout");

    public record Limit(int resource, String name, long soft, long hard, String units) {
        public boolean softUnlimited() {
            return soft == INFINITY;
        }

        public boolean hardUnlimited() {
            return hard == INFINITY;
        }
    }

    public Limits {
        rows = List.copyOf(rows);
    }

    public static Limits parse(String text) {
        return parse("limits", text);
    }

    public static Limits parse(String path, String text) {
        List<String> lines = Text.lines(text);
        if (lines.isEmpty() || !lines.get(0).startsWith("Limit")) {
            throw ProcFormatException.at(path, 1, "expected the 'Limit  Soft Limit  Hard Limit  Units' header");
        }
        Limit[] byResource = new Limit[RLIM_NLIMITS];
        List<Limit> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            Limit l = row(path, i + 1, lines.get(i));
            if (byResource[l.resource] != null) {
                throw ProcFormatException.at(path, i + 1, "second row for '" + l.name + "'");
            }
            byResource[l.resource] = l;
            rows.add(l);
        }
        for (int r = 0; r < RLIM_NLIMITS; r++) {
            if (byResource[r] == null) {
                throw ProcFormatException.of(path, "no row for '" + NAMES.get(r) + "' (resource " + r + ")");
            }
        }
        return new Limits(rows);
    }

    private static Limit row(String path, int lineNo, String line) {
        int resource = -1;
        for (int r = 0; r < NAMES.size(); r++) {
            String n = NAMES.get(r);
            // Whole-name match: "Max realtime priority" must not match "Max realtime timeout".
            if (line.startsWith(n) && line.length() > n.length() && line.charAt(n.length()) == ' ') {
                resource = r;
            }
        }
        if (resource < 0) {
            throw ProcFormatException.at(path, lineNo, "unknown limit '" + line.trim() + "'");
        }
        String name = NAMES.get(resource);
        List<String> t = Text.tokens(line.substring(name.length()));
        if (t.size() < 2 || t.size() > 3) {
            throw ProcFormatException.at(path, lineNo, name + ": expected soft, hard and optional units, found "
                    + t.size() + " fields");
        }
        return new Limit(resource, name, value(path, lineNo, name, t.get(0)), value(path, lineNo, name, t.get(1)),
                t.size() == 3 ? t.get(2) : "");
    }

    private static long value(String path, int lineNo, String name, String token) {
        return token.equals("unlimited") ? INFINITY : Text.decUnsigned(path, lineNo, name, token);
    }

    /** The row of an RLIMIT_* resource. */
    public Limit get(int resource) {
        for (Limit l : rows) {
            if (l.resource == resource) {
                return l;
            }
        }
        throw new IllegalArgumentException("no limit for resource " + resource);
    }
}
