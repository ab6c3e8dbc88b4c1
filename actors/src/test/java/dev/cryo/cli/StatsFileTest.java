package dev.cryo.cli;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** stats.json is written without Jackson, in the very text Jackson's indented output gives. */
class StatsFileTest {
    @Test
    void rendersWhatJacksonRenders() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pids", List.of(4242, 4243));
        m.put("tasks", 2);
        m.put("frozenMillis", 41L);
        m.put("leftRunning", true);
        m.put("roundPages", List.of());
        m.put("note", "a \"quoted\"\tline\\\n\u0001");
        m.put("none", null);
        assertEquals(Json.pretty(m), StatsFile.render(m));
    }

    @Test
    void theSubcommandIsTheFirstWordThatIsNoGlobalOptionNorItsValue() {
        assertEquals("dump", CryoCli.subcommand(new String[] {"-D", "cryo.x=1", "-vv", "--config", "f", "dump", "-t", "1"}));
        assertEquals("restore", CryoCli.subcommand(new String[] {"-Dcryo.x=1", "-o", "log", "restore", "-D", "d"}));
        assertEquals(null, CryoCli.subcommand(new String[] {"--version"}));
        assertEquals("help", CryoCli.subcommand(new String[] {"help", "dump"}));
    }
}
