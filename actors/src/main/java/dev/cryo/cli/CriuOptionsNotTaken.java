package dev.cryo.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * CRIU's options and commands cryo does not take, each with what it does in CRIU and what cryo
 * does instead, so a CRIU user's script stops with that said rather than picocli's bare
 * "Unknown option" (and never runs on without it). The options cryo takes or rewrites are
 * {@link CriuHabits}' ({@code --external}: {@link CriuExternals}).
 */
final class CriuOptionsNotTaken {
    private CriuOptionsNotTaken() {}

    private static final String CGROUPS = "cryo records each task's cgroup in every hierarchy and puts it back "
            + "there as `restore --manage-cgroups=MODE` says, with a fixed set of properties (README, Cgroups); it "
            + "takes no other cgroup setting";
    private static final String REMOTE = "cryo moves a tree to another host with `cryo migrate` (memory copied while "
            + "it runs, over the cluster's TLS channel), not through a page server or lazy pages";

    private static final Map<String, String> OPTIONS = new LinkedHashMap<>();

    static {
        OPTIONS.put("--root", "restore into another root file system; cryo restores files at their dumped paths "
                + "(and makes a tree's own mount namespace again itself)");
        OPTIONS.put("-r", OPTIONS.get("--root"));
        OPTIONS.put("--restore-sibling", "make the restored root a sibling of criu; cryo's restored root is a child of "
                + "the restoring process (of the local agent with -d)");
        OPTIONS.put("-S", OPTIONS.get("--restore-sibling"));
        for (String o : new String[] {"--cgroup-props", "--cgroup-props-file", "--cgroup-dump-controller",
                "--cgroup-yard", "--cgroup-root"}) {
            OPTIONS.put(o, "set what CRIU does with cgroups; " + CGROUPS);
        }
        OPTIONS.put("--evasive-devices", "open a device by another path when its own is gone; cryo reopens a device "
                + "by its dumped path only");
        OPTIONS.put("--cpu-cap", "choose which CPU features an image records and a restore checks; cryo checks the "
                + "destination's CPU extensions, signal frame and vDSO before `cryo migrate` freezes anything");
        OPTIONS.put("--lazy-pages", "dump without pages, for a lazy-pages daemon to serve them; cryo's dump writes every page "
                + "(`cryo restore --lazy-pages` brings them in on demand from the image), and " + REMOTE);
        OPTIONS.put("--page-server", "send pages to a page server; " + REMOTE);
        OPTIONS.put("--address", "the page server's address; " + REMOTE);
        OPTIONS.put("--port", "the page server's port; " + REMOTE);
        OPTIONS.put("--ps-socket", "the page server's socket; " + REMOTE);
        OPTIONS.put("--tls", "secure the page server; " + REMOTE);
        for (String o : new String[] {"--tls-cacert", "--tls-cacrl", "--tls-cert", "--tls-key", "--tls-no-cn-verify"}) {
            OPTIONS.put(o, "the page server's TLS files; " + REMOTE + " (its keys: `cryo keys init`)");
        }
        OPTIONS.put("--pre-dump-mode", "choose how pre-dump reads memory; cryo's pre-dump is a whole dump that "
                + "leaves the tree running with its writes tracked (uffd write-protect) for the dump after it");
        OPTIONS.put("--skip-mnt", "leave a mount out of the image; cryo carries every mount of a tree's own mount "
                + "namespace or refuses the dump naming it");
        OPTIONS.put("--enable-fs", "allow mounts of more file system types; cryo carries the mounts it knows "
                + "(README) and refuses a dump holding another, naming it");
        OPTIONS.put("--empty-ns", "leave a net namespace empty for a script to fill; cryo makes a tree's own net "
                + "namespace again with its devices, addresses, routes and sockets");
        OPTIONS.put("--lsm-profile", "set an AppArmor or SELinux profile for the restored tasks; cryo does not set LSM "
                + "profiles");
        OPTIONS.put("--lsm-mount-context", OPTIONS.get("--lsm-profile"));
        OPTIONS.put("--weak-sysctls", "skip sysctls this kernel lacks; cryo writes every sysctl it carries and fails "
                + "the restore naming one it cannot");
        OPTIONS.put("--exec-cmd", "run a command as the restored root's parent; run it after `cryo restore -d` "
                + "returns (with --pidfile for the root's pid)");
        OPTIONS.put("--status-fd", "signal readiness on a file descriptor; `cryo restore -d` returns, and writes "
                + "--pidfile, once the tree runs");
        OPTIONS.put("--stream", "stream the image through criu-image-streamer; cryo writes one image file, or streams "
                + "it to another host with `cryo migrate`");
        OPTIONS.put("--file-validation", "choose how files are checked at restore; cryo checks device, inode, size "
                + "and mtime (README, cryo restore)");
        OPTIONS.put("--skip-file-rwx-check", OPTIONS.get("--file-validation"));
        OPTIONS.put("--close", "close a file descriptor before starting; close it in the calling shell (exec N>&-)");
        OPTIONS.put("--libdir", "load CRIU plugins; cryo has no plugins");
        OPTIONS.put("-L", OPTIONS.get("--libdir"));
        OPTIONS.put("--unprivileged", "checkpoint without root; cryo runs as root");
        OPTIONS.put("--allow-uprobes", "allow uprobes areas; cryo does not carry them");
        OPTIONS.put("--orphan-pts-master", "hand an orphan pty master to an RPC client; cryo has no RPC mode");
    }

    /** CRIU's commands cryo has no counterpart of. */
    private static final Map<String, String> COMMANDS = Map.of(
            "page-server", REMOTE,
            "lazy-pages", "`cryo restore --lazy-pages` serves the pages itself, from the image; " + REMOTE,
            "service", "cryo has no RPC service; a running `cryo agent` takes local dumps and restores (and migrations)",
            "swrk", "cryo has no RPC service; a running `cryo agent` takes local dumps and restores (and migrations)",
            "exec", "cryo runs no syscall in a task on request",
            "dedup", "a cryo image has no parent images to deduplicate against",
            "cpuinfo", "cryo compares the hosts' CPUs itself before `cryo migrate`",
            "image-streamer", "cryo writes one image file, or streams it with `cryo migrate`");

    /**
     * The message for the first of CRIU's options or commands in {@code args} that cryo does not
     * take; empty when there is none (everything after "--" is left alone).
     */
    static Optional<String> find(String[] args) {
        int verb = CryoCli.subcommandIndex(args);
        if (verb >= 0 && COMMANDS.containsKey(args[verb])) {
            return Optional.of("`" + args[verb] + "` is a CRIU command; " + COMMANDS.get(args[verb]));
        }
        for (String a : args) {
            if (a.equals("--")) {
                break;
            }
            String name = a.startsWith("--") && a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (name.equals("--lazy-pages") && verb >= 0 && args[verb].equals("restore")) {
                continue; // restore takes it
            }
            if (OPTIONS.containsKey(name)) {
                return Optional.of(name + " is CRIU's option to " + OPTIONS.get(name));
            }
        }
        return Optional.empty();
    }
}
