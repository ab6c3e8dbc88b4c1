package dev.cryo.kernel.proc;

import dev.cryo.kernel.Fcntl;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.cryo.kernel.Fcntl.O_ACCMODE;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_LARGEFILE;

/**
 * /proc/PID/fdinfo/N. {@code flags} are the open flags in the kernel's octal, including
 * O_CLOEXEC (02000000) and O_LARGEFILE (0100000). Every other line is kept under the text before
 * its first ':' in file order; keys can repeat (one "tfd" per epoll target, one "inotify wd" per
 * watch), so each key holds a list of values.
 */
public record FdInfo(long pos, int flags, int mntId, long ino, Map<String, List<String>> other) {

    public FdInfo {
        Map<String, List<String>> copy = new LinkedHashMap<>();
        other.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        other = Collections.unmodifiableMap(copy);
    }

    public static FdInfo parse(String text) {
        return parse("fdinfo", text);
    }

    public static FdInfo parse(String path, String text) {
        Map<String, List<String>> all = new LinkedHashMap<>();
        Map<String, Integer> lineOf = new LinkedHashMap<>();
        List<String> lines = Text.lines(text);
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            int colon = l.indexOf(':');
            if (colon < 0 && !l.isEmpty() && Character.isWhitespace(l.charAt(0))) {
                continue; // an entry of a list under the key above (an io_uring's polls and overflowed completions)
            }
            if (colon <= 0) {
                throw ProcFormatException.at(path, i + 1, "expected 'key: value', found '" + l + "'");
            }
            String key = l.substring(0, colon).trim();
            all.computeIfAbsent(key, k -> new ArrayList<>()).add(l.substring(colon + 1).trim());
            lineOf.putIfAbsent(key, i + 1);
        }
        // Look each value up first: it fails with a clear message when the key is missing.
        String posText = single(path, all, lineOf, "pos");
        String flagsText = single(path, all, lineOf, "flags");
        String mntText = single(path, all, lineOf, "mnt_id");
        String inoText = single(path, all, lineOf, "ino");
        long pos = Text.decLong(path, lineOf.get("pos"), "pos", posText);
        long flags = Text.octal(path, lineOf.get("flags"), "flags", flagsText);
        int mntId = Text.decInt(path, lineOf.get("mnt_id"), "mnt_id", mntText);
        long ino = Text.decUnsigned(path, lineOf.get("ino"), "ino", inoText);
        for (String k : List.of("pos", "flags", "mnt_id", "ino")) {
            all.remove(k);
        }
        return new FdInfo(pos, (int) flags, mntId, ino, all);
    }

    private static String single(String path, Map<String, List<String>> all, Map<String, Integer> lineOf, String key) {
        List<String> v = all.get(key);
        if (v == null) {
            throw ProcFormatException.of(path, "missing '" + key + ":' line");
        }
        if (v.size() != 1) {
            throw ProcFormatException.at(path, lineOf.get(key), "key '" + key + "' appears " + v.size() + " times");
        }
        return v.get(0);
    }

    /** The first value of a key, e.g. "eventfd-count" → "5". */
    public Optional<String> value(String key) {
        List<String> v = other.get(key);
        return v == null ? Optional.empty() : Optional.of(v.get(0));
    }

    public List<String> values(String key) {
        return other.getOrDefault(key, List.of());
    }

    public boolean cloexec() {
        return (flags & O_CLOEXEC) != 0;
    }

    public int accessMode() {
        return flags & O_ACCMODE;
    }
}
