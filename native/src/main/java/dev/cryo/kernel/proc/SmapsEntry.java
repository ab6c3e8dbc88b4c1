package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One area of /proc/PID/smaps: its maps line, the "Key: N kB" sizes in {@code kb}, other
 * unit-less lines (THPeligible, ProtectionKey) as text in {@code other}, and the two-letter
 * VmFlags ("gd" grows down, "sd" soft-dirty, "dd" do not dump, ...).
 */
public record SmapsEntry(MapsEntry map, Map<String, Long> kb, Map<String, String> other, Set<String> vmFlags) {

    public SmapsEntry {
        kb = Collections.unmodifiableMap(new LinkedHashMap<>(kb));
        other = Collections.unmodifiableMap(new LinkedHashMap<>(other));
        vmFlags = Collections.unmodifiableSet(new LinkedHashSet<>(vmFlags));
    }

    public static List<SmapsEntry> parse(String text) {
        return parse("smaps", text);
    }

    public static List<SmapsEntry> parse(String path, String text) {
        List<String> lines = Text.lines(text);
        List<SmapsEntry> out = new ArrayList<>();
        Builder cur = null;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            int sp = l.indexOf(' ');
            String first = sp < 0 ? l : l.substring(0, sp);
            if (!first.endsWith(":")) { // a maps line opens the next area
                if (cur != null) {
                    out.add(cur.build(path));
                }
                cur = new Builder(MapsEntry.parseLine(path, i + 1, l), i + 1);
                continue;
            }
            if (cur == null) {
                throw ProcFormatException.at(path, i + 1, "'" + first + "' before the first area line");
            }
            cur.field(path, i + 1, first.substring(0, first.length() - 1), sp < 0 ? "" : l.substring(sp + 1).trim());
        }
        if (cur != null) {
            out.add(cur.build(path));
        }
        return List.copyOf(out);
    }

    /** A size in kB; fails when the kernel did not print it for this area. */
    public long kb(String key) {
        Long v = kb.get(key);
        if (v == null) {
            throw new IllegalArgumentException("smaps area " + map + " has no '" + key + ": N kB' line");
        }
        return v;
    }

    public long rssKb() {
        return kb("Rss");
    }

    public long swapKb() {
        return kb("Swap");
    }

    public boolean hasFlag(String flag) {
        return vmFlags.contains(flag);
    }

    public boolean isGrowsDown() {
        return hasFlag("gd");
    }

    public boolean isSoftDirty() {
        return hasFlag("sd");
    }

    public boolean isDontDump() {
        return hasFlag("dd");
    }

    private static final class Builder {
        final MapsEntry map;
        final int line;
        final Map<String, Long> kb = new LinkedHashMap<>();
        final Map<String, String> other = new LinkedHashMap<>();
        Set<String> flags;

        Builder(MapsEntry map, int line) {
            this.map = map;
            this.line = line;
        }

        void field(String path, int lineNo, String key, String value) {
            if (kb.containsKey(key) || other.containsKey(key) || (key.equals("VmFlags") && flags != null)) {
                throw ProcFormatException.at(path, lineNo, "key '" + key + "' appears twice in one area");
            }
            if (key.equals("VmFlags")) {
                flags = new LinkedHashSet<>();
                for (String f : Text.tokens(value)) {
                    if (f.length() != 2) {
                        throw ProcFormatException.at(path, lineNo, "VmFlags: expected two-letter flags, found '" + f + "'");
                    }
                    flags.add(f);
                }
            } else if (value.endsWith(" kB")) {
                kb.put(key, Text.decLong(path, lineNo, key, value.substring(0, value.length() - 3).trim()));
            } else if (value.isEmpty()) {
                throw ProcFormatException.at(path, lineNo, key + ": no value");
            } else {
                other.put(key, value);
            }
        }

        SmapsEntry build(String path) {
            if (flags == null) { // every kernel since 3.8 ends an area with VmFlags
                throw ProcFormatException.at(path, line, "area " + map + " has no VmFlags line");
            }
            if (!kb.containsKey("Size") || !kb.containsKey("Rss")) {
                throw ProcFormatException.at(path, line, "area " + map + " lacks its 'Size:' or 'Rss:' line");
            }
            return new SmapsEntry(map, kb, other, flags);
        }
    }
}
