package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.FdDelivery;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallNr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static dev.cryo.kernel.Fcntl.FD_CLOEXEC;
import static dev.cryo.kernel.Fcntl.F_SETFD;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;

/**
 * A run of fds, following each other in a task's files pass, whose open files cryo holds already
 * (sockets it rebuilt, anonymous pipes' ends it made: {@link dev.cryo.engine.files.FdHandler#handedIn}):
 * sent in one SCM_RIGHTS message that one injected recvmsg takes, then moved to their numbers by dup3s
 * queued with the task's next calls. One ptrace round trip for up to 253 of them, where each took one.
 */
final class HandedIn {
    private HandedIn() {}

    /** Puts {@code run}'s fds in the task at their numbers, {@code own} being cryo's open file of each. */
    static void place(TaskContext t, List<FdImage> run, List<Fd> own, KeptFds kept, SocketHub sockets) {
        FdDelivery.Receiver in = run.size() > 1 ? kept.receiverNow() : null;
        if (in == null) { // one, or no receiver to be had (the task's RLIMIT_NOFILE): each taken on its own
            for (int i = 0; i < run.size(); i++) {
                long tmp = FileRestore.take(t, (int) ProcessHandle.current().pid(), own.get(i).value(), kept);
                moveOne(t, run.get(i), (int) tmp, true);
            }
            return;
        }
        Set<Integer> table = t.fdTableNow();
        List<Integer> order = sendOrder(run, table);
        List<FdImage> sent = order.stream().map(run::get).toList();
        int[] landing = table != null ? lowestFree(table, run.size()) : null;
        // close-on-exec as most of those that land at their numbers want it (a dup3 gives the others theirs)
        int cloexecs = 0, inPlace = 0;
        for (int k = 0; k < sent.size(); k++) {
            if (landing == null || landing[k] == sent.get(k).fd()) {
                inPlace++;
                cloexecs += (sent.get(k).flags() & O_CLOEXEC) != 0 ? 1 : 0;
            }
        }
        boolean cloexec = inPlace > 0 && 2 * cloexecs >= inPlace;
        String what = "pid " + t.pid() + " fds " + run.get(0).fd() + ".." + run.get(run.size() - 1).fd();
        int[] got = sockets.handIn(order.stream().map(own::get).toList(), t.remote(), in, cloexec, what);
        move(t, sent, got, cloexec);
        if (table != null) { // every fd received is at its number now or closed again
            run.forEach(f -> table.add(f.fd()));
            t.fdTableWillBe(table);
        }
    }

    /**
     * The order to send {@code run}'s files in (indexes into it). The kernel gives them the lowest free
     * numbers in turn. With the task's fd table known ({@code table}), each fd whose number is one of those
     * is sent so that it lands there, and only the others are moved (from a number that is no fd's of the
     * run, so no move waits for another); else in the order of their numbers: the i-th lowest free number
     * then never lies above the i-th number of the run (all free), so each move waits at most for the move
     * out of the number it lands on, and none in a cycle.
     */
    static List<Integer> sendOrder(List<FdImage> run, Set<Integer> table) {
        List<Integer> byNumber = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            byNumber.add(i);
        }
        byNumber.sort(Comparator.comparingInt(i -> run.get(i).fd()));
        if (table == null) {
            return byNumber;
        }
        Map<Integer, Integer> at = new HashMap<>();
        byNumber.forEach(i -> at.put(run.get(i).fd(), i));
        int[] landing = lowestFree(table, run.size());
        Integer[] order = new Integer[run.size()];
        for (int k = 0; k < landing.length; k++) {
            order[k] = at.remove(landing[k]);
        }
        java.util.Iterator<Integer> rest = byNumber.stream().filter(i -> at.containsKey(run.get(i).fd())).iterator();
        for (int k = 0; k < order.length; k++) {
            if (order[k] == null) {
                order[k] = rest.next();
            }
        }
        return List.of(order);
    }

    /** The {@code n} lowest numbers not in {@code table}, ascending. */
    private static int[] lowestFree(Set<Integer> table, int n) {
        int[] free = new int[n];
        for (int fd = 0, k = 0; k < n; fd++) {
            if (!table.contains(fd)) {
                free[k++] = fd;
            }
        }
        return free;
    }

    /**
     * Queues the moves of the fds received at {@code got} to their numbers, then the closes of those
     * received at no fd's number (a close_range for each stretch of them). A move goes once no fd
     * received waits at the number it lands on; moves that wait on each other throw (see {@link #sendOrder}).
     */
    static void move(TaskContext t, List<FdImage> run, int[] got, boolean cloexec) {
        Set<Integer> sources = new HashSet<>();
        Set<Integer> targets = new HashSet<>();
        List<Integer> pending = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            targets.add(run.get(i).fd());
            if (got[i] != run.get(i).fd()) {
                sources.add(got[i]);
                pending.add(i);
            } else {
                moveOne(t, run.get(i), got[i], cloexec);
            }
        }
        while (!pending.isEmpty()) {
            int next = -1;
            for (int k = pending.size() - 1; k >= 0 && next < 0; k--) { // the highest first: it lands above all others
                if (!sources.contains(run.get(pending.get(k)).fd())) {
                    next = k;
                }
            }
            if (next < 0) {
                throw new RestoreException("pid " + t.pid() + ": the fds received for " + pending.size()
                        + " fds land on each other's numbers; none can be moved first");
            }
            int i = pending.remove(next);
            FdImage fd = run.get(i);
            t.later("dup3(fd " + got[i] + ", " + fd.fd() + ")", SyscallNr.DUP3, got[i], fd.fd(), fd.flags() & O_CLOEXEC);
            sources.remove(got[i]);
        }
        TreeSet<Integer> strays = new TreeSet<>();
        for (int i = 0; i < run.size(); i++) {
            if (got[i] != run.get(i).fd() && !targets.contains(got[i])) {
                strays.add(got[i]);
            }
        }
        while (!strays.isEmpty()) {
            int from = strays.pollFirst(), to = from;
            while (strays.remove(to + 1)) {
                to++;
            }
            if (from == to) {
                t.later("close", SyscallNr.CLOSE, from);
            } else {
                t.later("close_range", SyscallNr.CLOSE_RANGE, from, to, 0);
            }
        }
    }

    /** Moves fd {@code tmp}, close-on-exec if {@code cloexec}, to {@code fd}'s number (queued). */
    private static void moveOne(TaskContext t, FdImage fd, int tmp, boolean cloexec) {
        if (tmp != fd.fd()) {
            t.later("dup3", SyscallNr.DUP3, tmp, fd.fd(), fd.flags() & O_CLOEXEC);
            t.later("close", SyscallNr.CLOSE, tmp);
        } else if (cloexec != ((fd.flags() & O_CLOEXEC) != 0)) {
            t.later("fcntl(F_SETFD)", SyscallNr.FCNTL, tmp, F_SETFD, (fd.flags() & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0);
        }
    }
}
