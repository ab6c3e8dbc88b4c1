package dev.cryo.engine.dump;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BirthSessionsTest {
    private static BirthSessions.Task task(int pid, int ppid, int sid) {
        return new BirthSessions.Task(pid, ppid, sid);
    }

    /** R(10) → A(11) → B(12) → D(13) in R's session; A and B made their own after forking: both are forked early. */
    @Test
    void aChainOfLeadersIsBornInTheSessionItsDeepestMemberKept() {
        BirthSessions b = BirthSessions.of(List.of(task(10, 1, 10), task(11, 10, 11), task(12, 11, 12), task(13, 12, 10),
                task(14, 12, 12), task(15, 11, 11)), Map.of());
        assertEquals(10, b.of(13));
        assertEquals(10, b.of(12));
        assertEquals(10, b.of(11));
        assertTrue(b.early(12, 12, 13), "D is forked before B's setsid");
        assertTrue(b.early(11, 11, 12), "B is forked before A's setsid");
        assertFalse(b.early(10, 10, 11), "A is born in R's own session");
        assertFalse(b.early(12, 12, 14), "B's second child is in B's session");
        assertFalse(b.early(11, 11, 15));
    }

    /** A subreaper's child in the session of a leader that has exited: a helper makes it, not an early fork. */
    @Test
    void aSessionNoAncestorWasInIsLeftToTheDeadSessionHelper() {
        BirthSessions b = BirthSessions.of(List.of(task(10, 1, 10), task(12, 10, 11)), Map.of());
        assertNull(b.of(12));
        assertFalse(b.early(10, 10, 12));
    }

    /**
     * R(10, subreaper) with W(12) left in dead leader 11's session and X(13), leading its own, whose child
     * Y(14) is in 11's: X was born there, from 11's helper under R, and forks Y before its setsid.
     */
    @Test
    void aLeaderWhoseSiblingAndChildAreInADeadSessionIsBornInIt() {
        var tasks = List.of(task(10, 1, 10), task(12, 10, 11), task(13, 10, 13), task(14, 13, 11));
        BirthSessions b = BirthSessions.of(tasks, Map.of(), sid -> sid == 11);
        assertEquals(11, b.deadBirth(13));
        assertTrue(b.early(13, 13, 14), "Y is forked before X's setsid");
        assertNull(b.of(13), "X's parent forks it through the helper, not early");
        assertNull(BirthSessions.of(tasks, Map.of()).deadBirth(13), "without a dead session it is left to the dump's check");
        assertNull(BirthSessions.of(List.of(task(10, 1, 10), task(13, 10, 13), task(14, 13, 11)), Map.of(), sid -> sid == 11)
                .deadBirth(13), "no sibling in that session: the helper under X forks Y, as before");
    }
}
