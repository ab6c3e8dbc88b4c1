package dev.cryo.kernel.proc;

import dev.cryo.kernel.Pid;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;

class PidListTest {
    @Test
    void parsesChildrenLine() {
        assertEquals(List.of(Pid.of(4439), Pid.of(12)), PidList.parse("children", "4439 12 "));
        assertEquals(List.of(), PidList.parse("children", ""));
    }

    @Test
    void malformedChildren() {
        assertBad("/proc/2/task/2/children line 1: pid: expected a decimal int, found 'x'",
                () -> PidList.parse("/proc/2/task/2/children", "1 x "));
        assertBad("/proc/2/task/2/children line 1: pid: expected a positive", () -> PidList.parse("/proc/2/task/2/children", "0 "));
    }
}
