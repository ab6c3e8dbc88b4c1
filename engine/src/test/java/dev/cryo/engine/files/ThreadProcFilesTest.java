package dev.cryo.engine.files;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

class ThreadProcFilesTest {
    /** Task 100 with thread 101, seen inside its own pid namespace as 1 and 2. */
    private static final IntUnaryOperator INSIDE = id -> Map.of(100, 1, 101, 2).getOrDefault(id, 0);

    @Test
    void aFileOfALaterThreadStandsInAsTheMainThreadsSameFileByEitherIds() {
        assertEquals("/proc/100/task/100/stat", ThreadProcFiles.standIn("/proc/100/task/101/stat", 100, List.of(101), id -> id));
        assertEquals("/proc/100/task/100/stat", ThreadProcFiles.standIn("/proc/100/task/101/stat", 100, List.of(101), INSIDE));
        assertEquals("/proc/1/task/1/stat", ThreadProcFiles.standIn("/proc/1/task/2/stat", 100, List.of(101), INSIDE));
        assertEquals("/proc/1/task/1", ThreadProcFiles.standIn("/proc/1/task/2", 100, List.of(101), INSIDE));
    }

    @Test
    void anyOtherPathIsLeftAlone() {
        assertNull(ThreadProcFiles.standIn("/proc/1/task/2/stat", 100, List.of(101), id -> id), "ids of no namespace of its");
        assertNull(ThreadProcFiles.standIn("/proc/1/task/3/stat", 100, List.of(101), INSIDE), "not its thread there");
        assertNull(ThreadProcFiles.standIn("/proc/100/task/100/stat", 100, List.of(101), INSIDE), "its main thread's");
        assertNull(ThreadProcFiles.standIn("/proc/200/task/101/stat", 100, List.of(101), INSIDE), "another process's");
        assertNull(ThreadProcFiles.standIn("/proc/100/stat", 100, List.of(101), INSIDE));
    }
}
