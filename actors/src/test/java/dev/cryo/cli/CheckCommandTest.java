package dev.cryo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.*;

class CheckCommandTest {
    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CryoCli.run(args, new PrintWriter(out), new PrintWriter(err));
        return new String[]{Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void checkPrintsATableAndSucceedsOnThisMachine() {
        String[] r = run("check");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("FEATURE"), r[1]);
        assertTrue(r[1].lines().anyMatch(l -> l.startsWith("clone3-set-tid") && l.contains("supported")), r[1]);
        assertTrue(r[1].lines().anyMatch(l -> l.startsWith("soft-dirty")), r[1]);
        // this machine's kernel has nf_tables (NetworkLockTest)
        assertTrue(r[1].lines().anyMatch(l -> l.startsWith("network-lock") && l.contains("supported")), r[1]);
        assertTrue(r[1].contains("Looks good"), r[1]);
    }

    @Test
    void checkJsonIsMachineReadable() throws Exception {
        String[] r = run("check", "--json");
        assertEquals("0", r[0], r[2]);
        JsonNode doc = new ObjectMapper().readTree(r[1]);
        assertTrue(doc.get("usable").asBoolean());
        assertEquals(19, doc.get("features").size());
        assertEquals("capabilities", doc.get("features").get(0).get("name").asText());
    }

    @Test
    void aBadSettingIsRefusedWithItsKey() {
        String[] r = run("-Dcryo.buffers.in-flight=0", "check");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("cryo.buffers.in-flight must be at least 2, got 0"), r[2]);
    }

    @Test
    void aMissingConfigFileIsNamed() {
        String[] r = run("--config", "/nonexistent/cryo.conf", "check");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("/nonexistent/cryo.conf"), r[2]);
    }

    @Test
    void anUnknownCommandIsAUsageError() {
        String[] r = run("frobnicate");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("Unmatched argument"), r[2]);
    }
}
