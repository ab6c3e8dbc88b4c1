package dev.cryo.engine.namespaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cryo.engine.DumpException;
import org.junit.jupiter.api.Test;

import java.util.List;

/** {@link NetRules} on {@code ip -o rule show} output as captured: the defaults left out, the others as {@code ip rule add} takes them. */
class NetRulesTest {
    private static final String V4 = """
            0:\tfrom all lookup local
            99:\tfrom all to 10.2.0.0/16 prohibit
            100:\tfrom all fwmark 0x1/0xff iif cry0 [detached] lookup 200
            32765:\tfrom 10.1.0.0/24 lookup 100
            32766:\tfrom all lookup main
            32767:\tfrom all lookup default
            """;
    private static final String V6 = """
            0:\tfrom all lookup local
            32765:\tfrom 2001:db8::/64 lookup 300
            32766:\tfrom all lookup main
            """;

    @Test
    void rulesOtherThanANewNamespacesAreKeptWithTheirPreference() {
        List<String> rules = NetRules.scan(V4, V6, "pid 1");
        assertEquals(List.of("rule -4 pref 99 from all to 10.2.0.0/16 prohibit",
                "rule -4 pref 100 from all fwmark 0x1/0xff iif cry0 lookup 200",
                "rule -4 pref 32765 from 10.1.0.0/24 lookup 100",
                "rule -6 pref 32765 from 2001:db8::/64 lookup 300"), rules);
        assertEquals(List.of("ip", "-6", "rule", "add", "pref", "32765", "from", "2001:db8::/64", "lookup", "300"),
                NetRules.addCommand(rules.get(3)));
    }

    @Test
    void aRemovedDefaultRuleIsRefusedByName() {
        DumpException e = assertThrows(DumpException.class, () -> NetRules.scan(V4.replace("0:\tfrom all lookup local\n",
                "1000:\tfrom all lookup local\n"), V6, "pid 7: its net namespace"));
        assertTrue(e.getMessage().contains("\"0: from all lookup local\" (ip -4 rule) removed"), e.getMessage());
    }

    @Test
    void aFamilyThatIsOffHasNone() {
        assertEquals(List.of(), NetRules.scan(V4.replace("99:\tfrom all to 10.2.0.0/16 prohibit\n", "")
                .replaceAll("(?m)^(100|32765):.*\n", ""), "", "pid 1"));
    }
}
