package dev.cryo.api;

import dev.cryo.engine.dump.DumpProgress;

import java.nio.file.Path;

/**
 * Restore the tree in {@code imageDir}; the restored root becomes a child of this process.
 * {@code tcpClose}: established TCP connections come back closed (CRIU's --tcp-close);
 * {@code progress} counts the pages written, for a progress bar.
 * {@code verified}: every chunk's checksum was checked as the image arrived (a migration), so the
 * restore does not read the whole image once more before it starts.
 * {@code leaveStopped}: like CRIU's --leave-stopped, the restored tree is left stopped (SIGSTOP)
 * instead of running, for the user to SIGCONT.
 * {@code detached}: the restorer does not stay the root's parent (a detached CLI restore, an agent's);
 * the root's parent-death signal is then not set again, or it would come as the restorer goes.
 * {@code inherited}: fds of a live process handed to the tree in place of dumped objects (CRIU's --inherit-fd).
 * {@code hooks}: what the caller runs at the restore's fixed points (CRIU's action scripts).
 * {@code tcpLockElsewhere}: the network lock that holds the image's TCP connections may be on another
 * host (or gone): the caller moved their addresses here and lifts that lock there (a migration does);
 * without it such a restore is refused ({@link dev.cryo.engine.restore.HeldConnections}).
 * {@code joinNs}: the namespace files, by kind ("net", "uts", "ipc", "time"), the tree's root joins instead of making or keeping
 * its own (CRIU's {@code --join-ns KIND:PATH}; empty: as dumped), {@link dev.cryo.engine.restore.JoinedNamespaces}.
 * {@code externals}: CRIU's {@code --external mnt[NAME]:PATH} and {@code macvlan[NAME]:DEVICE},
 * {@link dev.cryo.engine.namespaces.RestoreExternals}.
 * {@code lazy}: the page server of a lazy restore (CRIU's {@code --lazy-pages}), which the caller keeps until
 * every page is in ({@link dev.cryo.engine.restore.LazyPages}); null: every page is written before the tree runs.
 */
public record RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                             dev.cryo.engine.restore.PreparedRoot prepared,
                             dev.cryo.engine.restore.ImageContents contents, boolean leaveStopped,
                             boolean detached, dev.cryo.engine.restore.InheritedFds inherited, StageHooks hooks,
                             boolean tcpLockElsewhere, java.util.Map<String, String> joinNs,
                             dev.cryo.engine.namespaces.RestoreExternals externals,
                             dev.cryo.engine.restore.LazyPages lazy) {
    public RestoreRequest {
        inherited = inherited == null ? dev.cryo.engine.restore.InheritedFds.NONE : inherited;
        hooks = hooks == null ? StageHooks.NONE : hooks;
        joinNs = joinNs == null ? java.util.Map.of() : java.util.Map.copyOf(joinNs);
        externals = externals == null ? dev.cryo.engine.namespaces.RestoreExternals.NONE : externals;
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents,
                          boolean leaveStopped, boolean detached, dev.cryo.engine.restore.InheritedFds inherited,
                          StageHooks hooks, boolean tcpLockElsewhere, java.util.Map<String, String> joinNs) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited, hooks,
                tcpLockElsewhere, joinNs, null, null);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents,
                          boolean leaveStopped, boolean detached, dev.cryo.engine.restore.InheritedFds inherited,
                          StageHooks hooks) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited, hooks, false,
                java.util.Map.of());
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents,
                          boolean leaveStopped, boolean detached, dev.cryo.engine.restore.InheritedFds inherited) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited, null);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents,
                          boolean leaveStopped, boolean detached) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, null);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents,
                          boolean leaveStopped) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, false);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified,
                          dev.cryo.engine.restore.PreparedRoot prepared, dev.cryo.engine.restore.ImageContents contents) {
        this(imageDir, tcpClose, progress, verified, prepared, contents, false);
    }

    /**
     * {@code prepared}: the root's stub a migration made while its pre-copy arrived, or null;
     * {@code contents}: the image's records and chunks as they arrived (verified), or null to read them.
     */
    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress, boolean verified) {
        this(imageDir, tcpClose, progress, verified, null, null);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose, DumpProgress progress) {
        this(imageDir, tcpClose, progress, false);
    }

    public RestoreRequest(Path imageDir, boolean tcpClose) {
        this(imageDir, tcpClose, new DumpProgress());
    }

    public RestoreRequest(Path imageDir) {
        this(imageDir, false);
    }

    public RestoreRequest leavingStopped(boolean stopped) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, stopped, detached, inherited, hooks, tcpLockElsewhere, joinNs, externals, lazy);
    }

    public RestoreRequest detaching(boolean detach) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detach, inherited, hooks, tcpLockElsewhere, joinNs, externals, lazy);
    }

    public RestoreRequest inheriting(dev.cryo.engine.restore.InheritedFds fds) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, fds, hooks, tcpLockElsewhere, joinNs, externals, lazy);
    }

    public RestoreRequest withHooks(StageHooks h) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited, h, tcpLockElsewhere, joinNs, externals, lazy);
    }

    public RestoreRequest lockElsewhere(boolean elsewhere) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited,
                hooks, elsewhere, joinNs, externals, lazy);
    }

    public RestoreRequest withExternals(dev.cryo.engine.namespaces.RestoreExternals e) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited,
                hooks, tcpLockElsewhere, joinNs, e, lazy);
    }

    public RestoreRequest joining(java.util.Map<String, String> paths) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited,
                hooks, tcpLockElsewhere, paths, externals, lazy);
    }

    public RestoreRequest withLazyPages(dev.cryo.engine.restore.LazyPages pages) {
        return new RestoreRequest(imageDir, tcpClose, progress, verified, prepared, contents, leaveStopped, detached, inherited,
                hooks, tcpLockElsewhere, joinNs, externals, pages);
    }
}
