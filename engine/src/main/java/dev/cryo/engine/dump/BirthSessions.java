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

    private BirthSessions() {}

    /**
     * Computes the session every task of {@code live} must be born in (children before parents). A
     * leader whose early children need two different sessions is refused: it could be in one only.
     */
    public static BirthSessions of(Collection<Task> live, Map<Integer, String> names) {
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
                }
                continue;
            }
            Integer first = null;
            for (Task c : children.getOrDefault(t.pid(), List.of())) {
                Integer n = b.need.get(c.pid());
                if (n == null || n == t.pid()) {
                    continue;
                }
                if (first != null && !first.equals(n)) {
                    throw new DumpException("pid " + t.pid() + " (" + names.getOrDefault(t.pid(), "?") + ") leads its"
                            + " session, and children of its are in two sessions it was in before (" + first + " and "
                            + n + "); a restore could put it in one only: not supported");
                }
                first = n;
            }
            if (first != null) {
                b.need.put(t.pid(), first);
            }
        }
        return b;
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
