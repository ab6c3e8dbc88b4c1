package dev.cryo.cli;

import dev.cryo.kernel.features.Feature;
import dev.cryo.kernel.features.KernelFeatures;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code cryo check}: probes the kernel once and prints what cryo can and cannot do here. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Check that this kernel and these privileges support checkpoint/restore.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print the result as JSON for machines.")
    boolean json;

    private final PrintWriter out;

    CheckCommand(PrintWriter out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        KernelFeatures features = KernelFeatures.probe();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("kernel", System.getProperty("os.version"));
            doc.put("arch", System.getProperty("os.arch"));
            doc.put("usable", features.usable());
            doc.put("features", features.features().stream().map(CheckCommand::asJson).toList());
            out.println(Json.pretty(doc));
        } else {
            printTable(features.features());
            List<Feature> blocking = features.blocking();
            if (blocking.isEmpty()) {
                out.println("Looks good: every feature cryo needs is here.");
            } else {
                out.println("cryo cannot work here: " + blocking.size() + " required feature"
                        + (blocking.size() == 1 ? " is" : "s are") + " missing:");
                blocking.forEach(f -> out.println("  " + f.name() + ": " + f.detail()));
            }
        }
        out.flush();
        return features.usable() ? 0 : 1;
    }

    private static Map<String, Object> asJson(Feature f) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", f.name());
        m.put("status", f.status().name().toLowerCase());
        m.put("required", f.required());
        m.put("detail", f.detail());
        return m;
    }

    private void printTable(List<Feature> features) {
        out.println("Linux " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        int w = features.stream().mapToInt(f -> f.name().length()).max().orElse(10) + 2;
        out.printf("%-" + w + "s%-11s%-10s%s%n", "FEATURE", "STATUS", "NEEDED", "DETAIL");
        for (Feature f : features) {
            out.printf("%-" + w + "s%-11s%-10s%s%n", f.name(), f.status().name().toLowerCase(),
                    f.required() ? "required" : "optional", f.detail());
        }
    }
}
