package dev.cryo.engine.files;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stand-ins for the senders of unread unix messages that had exited by the dump. A message keeps
 * its sender's pid for good (SO_PASSCRED shows it, SO_PASSPIDFD gives a pidfd of it, dead), but the
 * kernel takes credentials naming only a live pid; so, like CRIU's helper tasks, a process is made
 * at that very pid for the send and killed and reaped right after: the message then names a dead
 * process, as it did. A pid taken meanwhile fails the restore naming it, as a tree pid would.
 */
final class SenderStandIns implements AutoCloseable {
    /** By pid, or by pid namespace and pid inside it. */
    private final Map<String, Pid> made = new LinkedHashMap<>();

    /**
     * Why a restore could not name again the sender {@code pid} of a message held by {@code holder}
     * (the reason, to follow "the credentials of pid N, "), or null when a stand-in can: it has exited,
     * and the holder sees pids as cryo does (a stand-in is made in cryo's pid namespace).
     */
    static String whyNot(int pid, Pid holder) {
        if (Files.exists(Path.of("/proc/" + pid))) {
            return "which is not in the tree and still runs (a restore could not name that very process again)";
        }
        String ns = outsideCryosPidNamespace(holder);
        return ns == null ? null : "which has exited, and the socket's holder " + ns;
    }

    /** What {@link #outsideCryosPidNamespace} says of a holder in a pid namespace of its own. */
    static final String OWN_PID_NAMESPACE = "is in a pid namespace of its own";

    /**
     * Why a stand-in made by cryo could not be named by {@code holder} (to follow "the holder"): it is
     * in a pid namespace of its own, where cryo's pids mean nothing; null when it sees pids as cryo does.
     */
    static String outsideCryosPidNamespace(Pid holder) {
        try {
            if (!Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(holder.value()) + "/ns/pid"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")))) {
                return OWN_PID_NAMESPACE;
            }
        } catch (IOException e) {
            return "has a pid namespace cryo could not read (" + e.getMessage() + ")";
        }
        return null;
    }

    /**
     * Whether the procfs at /proc in task {@code holder}'s root shows its own pid namespace (a
     * container's, mounted by its init): a stand-in made in there shows in it at the pid it is given.
     */
    static boolean procOfItsOwn(Pid holder) {
        try {
            return Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(holder.value()) + "/root/proc/1/ns/pid"))
                    .equals(Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(holder.value()) + "/ns/pid")));
        } catch (IOException e) {
            return false;
        }
    }

    /** A live process at {@code pid} until {@link #close}. */
    void at(int pid) {
        at(pid, "an unread message carries the credentials of pid " + pid);
    }

    /** As above; {@code what} says what needs that pid, to start an error. */
    void at(int pid, String what) {
        at(null, pid, what);
    }

    /**
     * As above, at {@code pid} as task {@code holder} sees it (null: cryo): in its pid namespace when
     * it has one of its own (the dump took only a /proc of that namespace's, {@link #procOfItsOwn}).
     */
    void at(Pid holder, int pid, String what) {
        at(holder, pid, what, null);
    }

    /** As above, running as {@code as}'s uid and gid (null: root), in the holder's pid namespace too. */
    void at(Pid holder, int pid, String what, OutsideProcess as) {
        boolean inside = holder != null && outsideCryosPidNamespace(holder) != null;
        String key = inside ? dev.cryo.kernel.Namespaces.link(holder.toString(), "pid") + " " + pid : Integer.toString(pid);
        if (made.containsKey(key)) {
            return;
        }
        boolean other = as != null && (as.uid() != 0 || as.gid() != 0); // another user's: root's otherwise
        try {
            made.put(key, inside ? other ? ExactPidSpawner.spawnInPidNamespaceOf(holder, pid, as.uid(), as.gid())
                    : ExactPidSpawner.spawnInPidNamespaceOf(holder, pid)
                    : other ? ExactPidSpawner.spawnAs(pid, as.uid(), as.gid(), "/bin/sleep", List.of("sleep", "1000000"))
                    : ExactPidSpawner.spawn(pid, pid, "/bin/sleep", List.of("sleep", "1000000"), false, true));
        } catch (ExactPidSpawner.PidTakenException e) {
            throw new RestoreException(what + ", which had exited by the dump; a stand-in could not take that pid"
                    + " again: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        for (Pid p : made.values()) {
            Sys.kill(p, Signals.SIGKILL);
            Sys.wait4(p.value(), 0);
        }
        made.clear();
    }
}
