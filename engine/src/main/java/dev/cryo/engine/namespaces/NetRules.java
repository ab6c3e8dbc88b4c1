package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The policy routing rules of a net namespace ({@code ip rule}: source routing, a mark's own table, a VPN's
 * split tunnel), which were neither carried nor refused before. Kept among the namespace's routes in
 * {@link NetNamespaceImage} as "rule -4 pref 1000 from 10.1.0.0/24 lookup 100" and added again after the routes,
 * each with its preference. The rules every new namespace has (local, main, default) are left out; one of them
 * removed or moved (a VRF setup's local rule) is refused by name.
 */
final class NetRules {
    private NetRules() {}

    static final String PREFIX = "rule ";

    /** The rules a new namespace starts with, by family, as {@code ip -o rule show} prints them. */
    private static final Set<String> DEFAULT_4 = Set.of("0: from all lookup local", "32766: from all lookup main",
            "32767: from all lookup default");
    private static final Set<String> DEFAULT_6 = Set.of("0: from all lookup local", "32766: from all lookup main");

    /** The image lines of the rules {@code ip -4 -o rule show} and {@code ip -6 ...} printed ("" where none can be read). */
    static List<String> scan(String shown4, String shown6, String what) {
        List<String> out = new ArrayList<>();
        out.addAll(family("-4", shown4, DEFAULT_4, what));
        out.addAll(family("-6", shown6, DEFAULT_6, what));
        return out;
    }

    private static List<String> family(String family, String shown, Set<String> defaults, String what) {
        List<String> out = new ArrayList<>();
        if (shown.isBlank()) {
            return out; // the family is off (ipv6.disable): no rule of it
        }
        Set<String> seen = new java.util.HashSet<>();
        for (String line : shown.split("\n")) {
            String l = line.replace('\t', ' ').replaceAll("\\s+", " ").strip();
            int colon = l.indexOf(':');
            if (l.isEmpty() || colon < 1 || !l.substring(0, colon).chars().allMatch(Character::isDigit)) {
                continue;
            }
            if (defaults.contains(l)) {
                seen.add(l);
                continue;
            }
            List<String> words = new ArrayList<>(List.of(l.substring(colon + 1).strip().split(" ")));
            words.removeIf(w -> w.startsWith("[") || w.equals("unresolved")); // "[detached]": its device is not there
            out.add(PREFIX + family + " pref " + l.substring(0, colon) + " " + String.join(" ", words));
        }
        for (String d : defaults) {
            if (!seen.contains(d)) {
                throw new DumpException(what + " has its policy routing rule \"" + d + "\" (ip " + family + " rule)"
                        + " removed or changed, which a new namespace has; not supported");
            }
        }
        return out;
    }

    static boolean is(String entry) {
        return entry.startsWith(PREFIX);
    }

    /** The {@code ip} command adding the rule of image line {@code entry}. */
    static List<String> addCommand(String entry) {
        List<String> w = new ArrayList<>(List.of(entry.substring(PREFIX.length()).split(" ")));
        List<String> cmd = new ArrayList<>(List.of("ip", w.remove(0), "rule", "add"));
        cmd.addAll(w);
        return cmd;
    }
}
