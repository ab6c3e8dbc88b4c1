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
    private final Map<Integer, Pid> made = new LinkedHashMap<>();

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

    /**
     * Why a stand-in made by cryo could not be named by {@code holder} (to follow "the holder"): it is
     * in a pid namespace of its own, where cryo's pids mean nothing; null when it sees pids as cryo does.
     */
    static String outsideCryosPidNamespace(Pid holder) {
        try {
            if (!Files.readSymbolicLink(Path.of("/proc/" + holder.value() + "/ns/pid"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")))) {
                return "is in a pid namespace of its own";
            }
        } catch (IOException e) {
            return "has a pid namespace cryo could not read (" + e.getMessage() + ")";
        }
        return null;
    }

    /** A live process at {@code pid} until {@link #close}. */
    void at(int pid) {
        at(pid, "an unread message carries the credentials of pid " + pid);
    }

    /** As above; {@code what} says what needs that pid, to start an error. */
    void at(int pid, String what) {
        if (made.containsKey(pid)) {
            return;
        }
        try {
            made.put(pid, ExactPidSpawner.spawn(pid, pid, "/bin/sleep", List.of("sleep", "1000000"), false, true));
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
