package dev.cryo.engine.dump;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** What a refusal over the ghost limit tells the user to do. */
class GhostFilesTest {
    @Test
    void aFileOverTheLimitNamesTheGhostLimitThatCarriesIt() {
        // PostgreSQL's checkpointer holding a deleted 16 MiB WAL segment
        assertEquals("dump with --ghost-limit 16M (or set cryo.dump.ghost-limit) to carry it",
                GhostFiles.whatToDo(16L << 20));
        assertTrue(GhostFiles.whatToDo((3L << 20) + 1).startsWith("dump with --ghost-limit 4M"));
    }

    @Test
    void aFileOverTheCeilingSaysNoSettingCarriesIt() {
        String s = GhostFiles.whatToDo((1L << 30) + 1);
        assertTrue(s.contains("at most 1024 MiB") && s.contains("must close or truncate it"), s);
        assertTrue(GhostFiles.whatToDo(1L << 30).startsWith("dump with --ghost-limit 1024M")); // zdtm's --ghost-limit 1G
        // a memfd's contents outside mappings travel in its fd's record
        s = GhostFiles.whatToDo((16L << 20) + 1, GhostFiles.IN_RECORD);
        assertTrue(s.contains("at most 16 MiB") && s.contains("fd's record"), s);
    }
}
