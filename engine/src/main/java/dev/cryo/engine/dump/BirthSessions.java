package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The session each live task must be in when its parent forks it, where that is not simply its
 * parent's: a task that does not lead a session is born in the one it is in; a session leader with
 * children it forked before making its own (still in the session it had then) must be born in that
 * one, and so forked by its parent before the parent makes its own session, and so on up the tree
 * (zdtm's session01: 10 forks 11, 11 forks 12, 11 calls setsid, then 10: 12 is in 10's first
 * session). The dump checks a restore can give every task its session this way
 * (TreeWalker.checkSessions); the restore forks those children first (RestoreSupervisor.earlyOf).
 */
public final class BirthSessions {
    /** One live task: its pid, its parent's and its session. */
    public record Task(int pid, int ppid, int sid) {}

    private final Map<Integer, Integer> need = new HashMap<>();
    private final Map<Integer, Integer> deadBirth = new HashMap<>();

    private BirthSessions() {}

    /**
     * Computes the session every task of {@code live} must be born in (children before parents). A
     * leader whose early children need two different sessions is refused: it could be in one only.
     */
    public static BirthSessions of(Collection<Task> live, Map<Integer, String> names) {
        return of(live, names, sid -> false);
    }

    /**
     * As above; {@code ledByNone}: whether no task of the tree (zombies too) has that session's id. A
     * leader whose parent has children in such a session too, and whose own children are in it, was
     * born in it, from that session's helper ({@link #deadBirth}): a daemon's worker that forked and
     * then made a session of its own, both under a subreaper (zdtm's session02 has that piece).
     */
    public static BirthSessions of(Collection<Task> live, Map<Integer, String> names,
                                   java.util.function.IntPredicate ledByNone) {
        Map<Integer, List<Task>> children = new HashMap<>();
        Map<Integer, Task> byPid = new HashMap<>();
        for (Task t : live) {
            byPid.put(t.pid(), t);
            if (t.ppid() != t.pid()) {
                children.computeIfAbsent(t.ppid(), k -> new ArrayList<>()).add(t);
            }
        }
        BirthSessions b = new BirthSessions();
        // post-order without recursion: a deep chain of processes must not overflow the stack
        Deque<Task> todo = new ArrayDeque<>();
        Deque<Task> order = new ArrayDeque<>();
        for (Task t : live) {
            if (!byPid.containsKey(t.ppid()) || t.ppid() == t.pid()) {
                todo.push(t);
            }
        }
        while (!todo.isEmpty()) {
            Task t = todo.pop();
            order.push(t);
            children.getOrDefault(t.pid(), List.of()).forEach(todo::push);
        }
        while (!order.isEmpty()) {
            Task t = order.pop();
            if (t.sid() != t.pid()) {
                // only a session some ancestor was in can be given at birth this way; one whose leader has
                // exited and is no ancestor's is made by a helper (TreeWalker.inDeadSession), or refused
                if (inAncestors(t, byPid)) {
                    b.need.put(t.pid(), t.sid());
                } else if (ledByNone.test(t.sid()) && bornByHelper(t, byPid, children)) {
                    b.need.put(t.pid(), t.sid());
                    Integer other = b.deadBirth.putIfAbsent(t.ppid(), t.sid());
                    if (other != null && other != t.sid()) {
                        throw twoSessions(t.ppid(), names, other, t.sid());
                    }
                }
                continue;
            }
            Integer first = null;
            for (Task c : children.getOrDefault(t.pid(), List.of())) {
                Integer n = b.need.get(c.pid());
                Integer dead = b.deadBirth.get(t.pid());
                if (n == null || n == t.pid() || n.equals(dead)) {
                    continue;
                }
                if ((first != null && !first.equals(n)) || dead != null) {
                    throw twoSessions(t.pid(), names, first != null ? first : dead, n);
                }
                first = n;
            }
            if (first != null) {
                b.need.put(t.pid(), first);
            }
        }
        return b;
    }

    private static DumpException twoSessions(int pid, Map<Integer, String> names, int one, int two) {
        return new DumpException("pid " + pid + " (" + names.getOrDefault(pid, "?") + ") leads its session, and"
                + " children of its are in two sessions it was in before (" + one + " and " + two + "); a restore"
                + " could put it in one only: not supported");
    }

    /**
     * Whether {@code t}'s parent, leading a session of its own, was born in {@code t}'s: the parent's
     * parent (in the tree) has another child in it that does not lead it.
     */
    private static boolean bornByHelper(Task t, Map<Integer, Task> byPid, Map<Integer, List<Task>> children) {
        Task parent = byPid.get(t.ppid());
        if (parent == null || parent.sid() != parent.pid() || !byPid.containsKey(parent.ppid())
                || parent.ppid() == parent.pid()) {
            return false;
        }
        return children.getOrDefault(parent.ppid(), List.of()).stream()
                .anyMatch(c -> c.pid() != parent.pid() && c.sid() == t.sid() && c.pid() != c.sid());
    }

    /** Whether a proper ancestor of {@code t} in the tree is in {@code t}'s session or leads it. */
    private static boolean inAncestors(Task t, Map<Integer, Task> byPid) {
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (Task a = byPid.get(t.ppid()); a != null && a.pid() != t.pid() && seen.add(a.pid()); a = byPid.get(a.ppid())) {
            if (a.sid() == t.sid() || a.pid() == t.sid()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The session whose leader had exited that session leader {@code pid} must be born in, by that
     * session's helper under its parent (RestoreSupervisor.deadSessionsOf), or null.
     */
    public Integer deadBirth(int pid) {
        return deadBirth.get(pid);
    }

    /** The session {@code pid} must be born in, or null when its parent's (at the time) is right. */
    public Integer of(int pid) {
        return need.get(pid);
    }

    /**
     * Whether session leader {@code parent} forks live child {@code child} before making its own
     * session: the child must be born in a session other than the one the parent makes.
     */
    public boolean early(int parent, int parentSid, int child) {
        Integer n = need.get(child);
        return parentSid == parent && n != null && n != parent;
    }
}
