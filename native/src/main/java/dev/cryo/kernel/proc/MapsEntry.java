package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;

/**
 * One line of /proc/PID/maps. Addresses and offset are u64 bit patterns (vsyscall sits at
 * ffffffffff600000): compare them with Long.compareUnsigned. {@code path} is empty for plain
 * anonymous memory and has any " (deleted)" suffix moved into {@code deleted}; the kernel escapes
 * '\n' in it as "\012". A shared anonymous mapping shows as "/dev/zero (deleted)" with an inode.
 */
public record MapsEntry(long start, long end, boolean read, boolean write, boolean exec, boolean shared,
                        long offset, int devMajor, int devMinor, long inode, String path, boolean deleted) {

    public static final long PAGE_SIZE = 4096;
    private static final String DELETED = " (deleted)";

    public static List<MapsEntry> parse(String text) {
        return parse("maps", text);
    }

    public static List<MapsEntry> parse(String path, String text) {
        List<String> lines = Text.lines(text);
        List<MapsEntry> out = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            out.add(parseLine(path, i + 1, lines.get(i)));
        }
        return List.copyOf(out);
    }

    /** Parses "start-end perms offset major:minor inode [path]". */
    public static MapsEntry parseLine(String path, int lineNo, String line) {
        // Five space separated fields, then padding, then a path that may itself hold spaces.
        String[] f = new String[5];
        int pos = 0;
        for (int k = 0; k < 5; k++) {
            while (pos < line.length() && line.charAt(pos) == ' ') {
                pos++;
            }
            int sp = line.indexOf(' ', pos);
            int endTok = sp < 0 ? line.length() : sp;
            if (pos >= endTok) {
                throw ProcFormatException.at(path, lineNo, "expected 5 fields before the path, found " + k
                        + " in '" + line + "'");
            }
            f[k] = line.substring(pos, endTok);
            pos = endTok;
        }
        String file = pos < line.length() ? line.substring(pos).stripLeading() : "";

        int dash = f[0].indexOf('-');
        if (dash < 0) {
            throw ProcFormatException.at(path, lineNo, "address range: expected 'start-end', found '" + f[0] + "'");
        }
        long start = Text.hex(path, lineNo, "start address", f[0].substring(0, dash));
        long end = Text.hex(path, lineNo, "end address", f[0].substring(dash + 1));
        if (Long.compareUnsigned(end, start) <= 0) {
            throw ProcFormatException.at(path, lineNo, "address range: end " + f[0].substring(dash + 1)
                    + " is not above start " + f[0].substring(0, dash));
        }
        String perms = f[1];
        if (perms.length() != 4 || !perms.matches("[r-][w-][x-][ps]")) {
            throw ProcFormatException.at(path, lineNo, "permissions: expected e.g. 'r-xp', found '" + perms + "'");
        }
        long offset = Text.hex(path, lineNo, "offset", f[2]);
        int colon = f[3].indexOf(':');
        if (colon < 0) {
            throw ProcFormatException.at(path, lineNo, "device: expected 'major:minor', found '" + f[3] + "'");
        }
        int major = (int) Text.hex(path, lineNo, "device major", f[3].substring(0, colon));
        int minor = (int) Text.hex(path, lineNo, "device minor", f[3].substring(colon + 1));
        long inode = Text.decUnsigned(path, lineNo, "inode", f[4]);
        // Pseudo paths like [heap] are never deleted; a real file named "x (deleted)" is ambiguous
        // in maps, so callers that care confirm through /proc/PID/map_files.
        boolean deleted = file.endsWith(DELETED) && !file.startsWith("[");
        if (deleted) {
            file = file.substring(0, file.length() - DELETED.length());
        }
        return new MapsEntry(start, end, perms.charAt(0) == 'r', perms.charAt(1) == 'w', perms.charAt(2) == 'x',
                perms.charAt(3) == 's', offset, major, minor, inode, file, deleted);
    }

    public long size() {
        return end - start;
    }

    public long pages() {
        return Long.divideUnsigned(size(), PAGE_SIZE);
    }

    public boolean contains(long address) {
        return Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0;
    }

    public boolean isVdso() {
        return path.equals("[vdso]");
    }

    /** The vDSO data pages; newer kernels split off the clock pages as [vvar_vclock]. */
    public boolean isVvar() {
        return path.equals("[vvar]") || path.equals("[vvar_vclock]");
    }

    public boolean isVsyscall() {
        return path.equals("[vsyscall]");
    }

    /** Older kernels also printed thread stacks as [stack:TID]. */
    public boolean isStack() {
        return path.equals("[stack]") || path.startsWith("[stack:");
    }

    public boolean isHeap() {
        return path.equals("[heap]");
    }

    /** Kernel-provided special areas: [vdso], [vvar], [vsyscall], [uprobes]... */
    public boolean isSpecial() {
        return isVdso() || isVvar() || isVsyscall() || path.equals("[uprobes]");
    }

    /** No backing inode: plain anonymous memory, [heap], [stack] and the special areas. */
    public boolean isAnonymous() {
        return inode == 0;
    }

    /** Backed by an inode: regular files and also shmem (/dev/zero, SYSV, memfd) mappings. */
    public boolean isFileBacked() {
        return inode != 0;
    }

    /** The perms column as the kernel prints it, e.g. "r-xp". */
    public String perms() {
        return (read ? "r" : "-") + (write ? "w" : "-") + (exec ? "x" : "-") + (shared ? "s" : "p");
    }

    @Override
    public String toString() {
        return Long.toHexString(start) + "-" + Long.toHexString(end) + " " + perms() + " "
                + (path.isEmpty() ? "(anonymous)" : path) + (deleted ? DELETED : "");
    }
}
