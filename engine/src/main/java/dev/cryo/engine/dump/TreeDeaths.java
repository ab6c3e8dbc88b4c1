package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The live tasks of a tree as a dump begins, to tell afterwards whether the dump failed because one of
 * them died while it ran (a supervisor SIGKILLing a worker during a checkpoint): such a dump can be
 * tried again on the tree as it is after the death — its children reparented, its files gone.
 */
public final class TreeDeaths {
    private final Pid root;
    private final Set<Integer> alive;

    private TreeDeaths(Pid root, Set<Integer> alive) {
        this.root = root;
        this.alive = alive;
    }

    /** The processes of the tree of {@code root} that run now (zombies are dumped as they are). */
    public static TreeDeaths of(Pid root) {
        Set<Integer> alive = new LinkedHashSet<>();
        Deque<Pid> todo = new ArrayDeque<>(List.of(root));
        while (!todo.isEmpty()) {
            Pid p = todo.pop();
            try {
                if (ProcFs.stat(p).state() != 'Z') {
                    alive.add(p.value());
                }
                todo.addAll(ProcFs.children(p));
            } catch (KernelException e) {
                // gone meanwhile: not a task of the tree the dump will find
            }
        }
        return new TreeDeaths(root, alive);
    }

    /**
     * The tasks that ran at {@link #of} and have died since (gone, or zombies) which {@code failure} names
     * ("pid N ..."); none when the root itself has died: then there is no tree to dump again.
     */
    public List<Integer> diedAndNamedIn(String failure) {
        List<Integer> died = new ArrayList<>();
        if (dead(root.value())) {
            return died;
        }
        for (int pid : alive) {
            if (dead(pid) && Pattern.compile("\\bpid " + pid + "\\b").matcher(failure).find()) {
                died.add(pid);
            }
        }
        return died;
    }

    /** Whether {@code pid} has died (gone, or a zombie). */
    public static boolean dead(int pid) {
        try {
            char s = ProcFs.stat(Pid.of(pid)).state();
            return s == 'Z' || s == 'X';
        } catch (KernelException e) {
            return true;
        }
    }
}
