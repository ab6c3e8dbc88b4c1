package dev.cryo.engine.cgroups;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.FileErrors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The restore half: moves each restored process into the cgroups it was in, before its memory is
 * written (so the pages are charged there). A cgroup that still exists is joined as it is (its
 * settings are the host's, as CRIU's default "soft" mode leaves them); a missing one is made,
 * with the settings it had, and a failed restore removes what it made.
 */
public final class CgroupPlacement {
    /**
     * CRIU's --manage-cgroups modes. SOFT: join an existing cgroup as it is, make a missing one
     * with its settings; FULL: the same, and give an existing one its settings; PROPS: every cgroup
     * must exist and gets its settings; NONE: every cgroup must exist, as it is; STRICT: none may
     * exist, all are made with their settings; IGNORE: every task stays in cryo's cgroups.
     */
    public enum Mode {
        IGNORE, NONE, PROPS, SOFT, FULL, STRICT;

        /** The mode of a setting's name ("soft"...). */
        public static Mode of(String name) {
            return valueOf(name.toUpperCase(java.util.Locale.ROOT));
        }

        String option() {
            return "--manage-cgroups=" + name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final CgroupMounts mounts = CgroupMounts.read();
    private final Deque<Path> made = new ArrayDeque<>(); // newest first
    private final Consumer<String> warn;
    private final Mode mode;

    public CgroupPlacement(Consumer<String> warn) {
        this(warn, Mode.SOFT);
    }

    public CgroupPlacement(Consumer<String> warn, Mode mode) {
        this.warn = warn;
        this.mode = mode;
    }

    /**
     * Moves {@code pid} into {@code membership}'s cgroups (it was just forked into its parent's), and
     * makes the cgroups that were below them as the mode wants (a place another task joins is made once).
     */
    public synchronized void place(int pid, CgroupMembership membership) {
        if (membership.places().isEmpty() || mode == Mode.IGNORE) {
            return;
        }
        // the tree's top cgroups and their other branches first: a top's settings (v2: the controllers it
        // hands down) come before a process joins below it
        List<CgroupMembership.Place> under = new ArrayList<>();
        for (CgroupMembership.Place p : membership.below()) {
            if (membership.places().stream().anyMatch(own -> own.hierarchy().equals(p.hierarchy())
                    && p.path().startsWith(own.path() + "/"))) {
                under.add(p);
            } else {
                makeBelow(pid, p, "cgroup " + p.label() + " (of pid " + pid + "'s tree)");
            }
        }
        Map<String, String> now = CgroupReader.parse(current(pid));
        for (CgroupMembership.Place p : membership.places()) {
            check(pid, p);
            boolean there = p.path().equals(now.get(p.hierarchy()));
            if (there && mode != Mode.FULL && mode != Mode.PROPS && mode != Mode.STRICT) {
                continue;
            }
            Optional<Path> dir = mounts.dir(p.hierarchy(), p.path());
            if (dir.isEmpty()) {
                warn.accept("pid " + pid + " was in cgroup " + p.label() + ", but this host mounts no such hierarchy"
                        + " (or shows no part of it holding that path): it stays in cryo's");
                continue;
            }
            byMode(pid, p, dir.get(), "pid " + pid + " was in cgroup " + p.label());
            if (there) {
                continue;
            }
            try {
                Files.writeString(dir.get().resolve("cgroup.procs"), Integer.toString(pid));
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + ": cannot move it into cgroup " + p.label() + " ("
                        + dir.get() + "): " + FileErrors.reason(e));
            }
        }
        for (CgroupMembership.Place p : under) {
            makeBelow(pid, p, "cgroup " + p.label() + " (below pid " + pid + "'s)");
        }
    }

    /** A cgroup no process joins: made as the mode wants it. */
    private void makeBelow(int pid, CgroupMembership.Place p, String what) {
        check(pid, p);
        if (p.path().equals("/")) {
            throw new RestoreException("the image gives pid " + pid + " a hierarchy's root as a cgroup to make: " + p.label());
        }
        Optional<Path> dir = mounts.dir(p.hierarchy(), p.path());
        if (dir.isPresent()) { // else: the process's own place is warned about
            byMode(pid, p, dir.get(), what);
        }
    }

    /**
     * Moves each thread of {@code pid} that was in a cgroup other than its process's back there (v1's
     * "tasks", v2's "cgroup.threads"); its threads were made in the process's. Before they run.
     */
    public synchronized void placeThreads(int pid, CgroupMembership membership) {
        if (membership.threads().isEmpty() || mode == Mode.IGNORE) {
            return;
        }
        for (CgroupMembership.ThreadPlace t : membership.threads()) {
            CgroupMembership.Place p = t.place();
            check(pid, p);
            String what = "thread " + t.tid() + " of pid " + pid + " was in cgroup " + p.label();
            Optional<Path> dir = mounts.dir(p.hierarchy(), p.path());
            if (dir.isEmpty()) {
                warn.accept(what + ", but this host mounts no such hierarchy (or shows no part of it holding that path):"
                        + " it stays in its process's");
                continue;
            }
            if (!p.path().equals("/")) {
                byMode(pid, p, dir.get(), what);
            }
            Path file = dir.get().resolve(p.hierarchy().isEmpty() ? "cgroup.threads" : "tasks");
            try {
                Files.writeString(file, Integer.toString(t.tid()));
            } catch (IOException e) {
                throw new RestoreException(what + ": cannot move it there (" + file + "): " + FileErrors.reason(e));
            }
        }
    }

    /** A forged image must not reach outside the hierarchy or write files that are not settings. */
    private static void check(int pid, CgroupMembership.Place p) {
        String path = p.path();
        boolean ok = path.startsWith("/") && !path.contains("\0") && !path.contains("//")
                && (path.length() == 1 || !path.endsWith("/"));
        for (String part : path.split("/")) {
            ok &= !part.equals(".") && !part.equals("..");
        }
        ok &= p.hierarchy().matches("[a-z0-9_=,.-]*");
        if (!ok) {
            throw new RestoreException("the image puts pid " + pid + " in cgroup " + p.label() + ", which is not a cgroup path");
        }
        for (CgroupMembership.Access a : p.access()) {
            if (!a.entry().isEmpty() && !a.entry().matches("[a-z0-9_][a-z0-9_.]*")) {
                throw new RestoreException("the image gives pid " + pid + "'s cgroup " + p.label() + " an owner for '"
                        + a.entry() + "', which is not a cgroup file");
            }
        }
        for (String file : p.settings().keySet()) {
            if (!CgroupSettings.files(p.hierarchy()).contains(file)) {
                throw new RestoreException("the image gives pid " + pid + "'s cgroup " + p.label() + " a setting '" + file
                        + "', which is not one cryo carries");
            }
        }
    }

    /** The cgroup as the mode wants it: made, checked, given its settings; {@code what} names it in errors. */
    private void byMode(int pid, CgroupMembership.Place p, Path dir, String what) {
        boolean exists = Files.isDirectory(dir);
        boolean ours = made.contains(dir); // made by this restore for an earlier task
        switch (mode) {
            case NONE, PROPS -> {
                if (!exists) {
                    throw new RestoreException(what + ", which does not exist ("
                            + dir + "): " + mode.option() + " makes none");
                }
                if (mode == Mode.PROPS) {
                    apply(pid, p, dir);
                }
            }
            case STRICT -> {
                if (exists && !ours) {
                    throw new RestoreException(what + ", which exists already ("
                            + dir + "): " + mode.option() + " makes every cgroup new");
                }
                ensure(pid, p, dir);
            }
            case FULL -> {
                if (exists && !ours) {
                    apply(pid, p, dir);
                } else {
                    ensure(pid, p, dir);
                }
            }
            default -> ensure(pid, p, dir);
        }
    }

    /** Makes the cgroup and the missing ones above it; the one the process was in gets its settings. */
    private void ensure(int pid, CgroupMembership.Place p, Path dir) {
        List<Path> missing = new ArrayList<>();
        for (Path d = dir; d != null && !Files.isDirectory(d); d = d.getParent()) {
            missing.add(0, d);
        }
        for (Path d : missing) {
            try {
                Files.createDirectory(d);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                continue; // made meanwhile by someone else: not ours to remove or set
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + ": cannot make cgroup " + p.label() + " (" + d + "): " + FileErrors.reason(e));
            }
            made.push(d);
            if (List.of(p.hierarchy().split(",")).contains("cpuset")) {
                inheritCpuset(pid, p, d); // a v1 cpuset takes no process until it has cpus and mems
            }
            if (d.equals(dir)) {
                apply(pid, p, d);
            }
        }
        if (!missing.isEmpty()) {
            warn.accept("pid " + pid + ": cgroup " + p.label() + " was missing and is made again with the settings and owners it had");
        }
    }

    private static void inheritCpuset(int pid, CgroupMembership.Place p, Path d) {
        for (String f : List.of("cpuset.cpus", "cpuset.mems")) {
            try {
                Files.writeString(d.resolve(f), Files.readString(d.getParent().resolve(f)).strip());
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + ": cannot give cgroup " + p.label() + " its parent's " + f
                        + ": " + FileErrors.reason(e));
            }
        }
    }

    private void apply(int pid, CgroupMembership.Place p, Path d) {
        settings(pid, p, d);
        for (CgroupMembership.Access a : p.access()) {
            Path f = a.entry().isEmpty() ? d : d.resolve(a.entry());
            try {
                if (!Files.exists(f)) {
                    warn.accept("pid " + pid + ": cgroup " + p.label() + " is made without its " + a.entry()
                            + ", owned by " + a.uid() + ":" + a.gid() + ": this host does not offer it there");
                    continue;
                }
                Files.setAttribute(f, "unix:uid", a.uid());
                Files.setAttribute(f, "unix:gid", a.gid());
                Files.setAttribute(f, "unix:mode", a.mode());
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + ": cannot give " + f + " of cgroup " + p.label() + " its owner and mode ("
                        + a.label() + "): " + FileErrors.reason(e));
            }
        }
    }

    private void settings(int pid, CgroupMembership.Place p, Path d) {
        for (Map.Entry<String, String> s : p.settings().entrySet()) {
            String file = s.getKey(), value = s.getValue();
            try {
                if (file.equals(CgroupSettings.DEVICES_LIST)) {
                    if (!value.equals(CgroupSettings.ALL_DEVICES)) {
                        Files.writeString(d.resolve("devices.deny"), "a");
                        for (String rule : value.split("\n")) {
                            if (!rule.isBlank()) {
                                Files.writeString(d.resolve("devices.allow"), rule.strip());
                            }
                        }
                    }
                    continue;
                }
                Path f = d.resolve(file);
                if (!Files.exists(f)) {
                    warn.accept("pid " + pid + ": cgroup " + p.label() + " is made without its " + file + " (" + value
                            + "): this host does not offer it there (for the unified hierarchy: is the controller"
                            + " enabled in the parent's cgroup.subtree_control?)");
                    continue;
                }
                String was = CgroupSettings.carried(file, Files.readString(f));
                if (CgroupSettings.perDevice(file)) { // a made cgroup has no device's line: one write per line
                    for (String line : value.split("\n")) {
                        if (!line.isBlank()) {
                            Files.writeString(f, line.strip());
                        }
                    }
                    continue;
                }
                if (!was.equals(value)) {
                    Files.writeString(f, file.equals(CgroupSettings.SUBTREE_CONTROL) ? controlChange(was, value) : value);
                }
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + ": cannot set " + file + " of cgroup " + p.label() + " to '"
                        + value + "': " + FileErrors.reason(e));
            }
        }
    }

    /** What turns cgroup.subtree_control's {@code was} ("cpu io") into {@code want} ("cpu pids"): "+pids -io". */
    static String controlChange(String was, String want) {
        List<String> from = List.of(was.split("\\s+")), to = List.of(want.split("\\s+"));
        List<String> out = new ArrayList<>();
        to.stream().filter(c -> !c.isEmpty() && !from.contains(c)).forEach(c -> out.add("+" + c));
        from.stream().filter(c -> !c.isEmpty() && !to.contains(c)).forEach(c -> out.add("-" + c));
        return String.join(" ", out);
    }

    /**
     * A failed restore leaves nothing behind: the cgroups it made go, newest first, once the
     * killed tasks have left them (bounded wait).
     */
    public synchronized void removeMade() {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (!made.isEmpty()) {
            Path d = made.peek();
            try {
                Files.deleteIfExists(d);
                made.pop();
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    warn.accept("cannot remove cgroup " + d + " made by this failed restore: " + FileErrors.reason(e));
                    made.pop();
                    continue;
                }
                try {
                    Thread.sleep(10); // a killed task is still leaving it
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static String current(int pid) {
        try {
            return Files.readString(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/cgroup"));
        } catch (IOException e) {
            throw new RestoreException("pid " + pid + ": cannot read its cgroups: " + FileErrors.reason(e));
        }
    }
}
