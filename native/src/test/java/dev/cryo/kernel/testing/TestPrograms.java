package dev.cryo.kernel.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Compiles the C workloads kept as test resources with gcc, once per JVM and build directory. */
public final class TestPrograms {
    private TestPrograms() {}

    private static final java.util.regex.Pattern INCLUDE = java.util.regex.Pattern.compile("#include \"([\\w.-]+\\.h)\"");

    public static synchronized Path compile(String resource, String... extraFlags) throws IOException, InterruptedException {
        Path dir = Path.of("target", "test-programs").toAbsolutePath();
        Files.createDirectories(dir);
        String name = resource.substring(resource.lastIndexOf('/') + 1).replace(".c", "");
        Path src = dir.resolve(name + ".c");
        Path bin = dir.resolve(name);
        if (!copy(resource, src)) {
            throw new IOException("no test program " + resource + " on the class path");
        }
        // the headers it includes by quotes ("workload.h", the frame they share), beside it
        String base = resource.substring(0, resource.lastIndexOf('/') + 1);
        boolean fresh = newer(bin, src);
        java.util.Deque<Path> scan = new java.util.ArrayDeque<>(List.of(src));
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (!scan.isEmpty()) {
            java.util.regex.Matcher m = INCLUDE.matcher(Files.readString(scan.pop()));
            while (m.find()) {
                if (seen.add(m.group(1))) {
                    Path header = dir.resolve(m.group(1));
                    if (!copy(base + m.group(1), header)) {
                        throw new IOException("no header " + base + m.group(1) + " on the class path, included by " + resource);
                    }
                    fresh &= newer(bin, header);
                    scan.push(header);
                }
            }
        }
        if (fresh) {
            return bin;
        }
        List<String> cmd = new ArrayList<>(List.of("gcc", "-O1", "-g", "-Wall", "-o", bin.toString(), src.toString()));
        cmd.addAll(List.of(extraFlags));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("gcc failed for " + resource + ":\n" + out);
        }
        return bin;
    }

    /** Writes the resource to {@code to} unless it holds those bytes already; false when there is no such resource. */
    private static boolean copy(String resource, Path to) throws IOException {
        try (InputStream in = TestPrograms.class.getResourceAsStream(resource)) {
            if (in == null) {
                return false;
            }
            byte[] code = in.readAllBytes();
            if (!Files.exists(to) || !java.util.Arrays.equals(Files.readAllBytes(to), code)) {
                Files.write(to, code);
            }
            return true;
        }
    }

    private static boolean newer(Path a, Path than) throws IOException {
        return Files.exists(a) && Files.getLastModifiedTime(a).compareTo(Files.getLastModifiedTime(than)) > 0;
    }
}
