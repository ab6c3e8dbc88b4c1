package dev.cryo.engine.namespaces;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs iproute2's {@code ip} or {@code nft} inside the network namespace of a task, through
 * {@code nsenter --net} (only that namespace: the host's binaries and files), for what has no
 * simpler interface (addresses with their prefixes, routes, rulesets). Its output, or an error
 * naming the command and what it said.
 */
final class NetnsCommand {
    private NetnsCommand() {}

    static String run(Pid pid, String... command) {
        return feed(pid, "", command);
    }

    /** {@link #run} with {@code input} on the command's standard input (a ruleset for {@code nft -f -}). */
    static String feed(Pid pid, String input, String... command) {
        return feed(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/ns/net", "the net namespace of pid " + pid, input, command);
    }

    /** The same in the net namespace at {@code nsPath} (a thread's: /proc/PID/task/TID/ns/net), shown as {@code where}. */
    static String feed(String nsPath, String where, String input, String... command) {
        List<String> argv = new ArrayList<>(List.of("nsenter", "--net=" + nsPath, "--"));
        argv.addAll(List.of(command));
        return exec(argv, input, String.join(" ", command) + " in " + where);
    }

    /**
     * Runs {@code lines}, each an {@code ip} command without the "ip" ({@code addr add 10.1.0.2/24 dev veth0}), in
     * the net namespace of {@code pid} with one {@code ip -batch} process ({@code family} "-4", "-6" or null before
     * it): a restore's addresses, devices up and routes, one process instead of one each (130-230 ms a process at
     * load 20-30). It stops at the first that fails, named in the error.
     */
    static void batch(Pid pid, String family, List<String> lines) {
        if (lines.isEmpty()) {
            return;
        }
        List<String> argv = new ArrayList<>(List.of("nsenter", "--net=" + dev.cryo.kernel.ExitedLeaders.proc(pid) + "/ns/net",
                "--", "ip"));
        if (family != null) {
            argv.add(family);
        }
        argv.addAll(List.of("-batch", "-"));
        batch(argv, family, lines, "the net namespace of pid " + pid);
    }

    /** {@link #batch} in cryo's own net namespace. */
    static void batchHere(List<String> lines) {
        if (!lines.isEmpty()) {
            batch(List.of("ip", "-batch", "-"), null, lines, "cryo's net namespace");
        }
    }

    private static void batch(List<String> argv, String family, List<String> lines, String where) {
        try {
            exec(argv, String.join("\n", lines) + "\n", "ip -batch in " + where);
        } catch (KernelException e) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Command failed -:(\\d+)").matcher(e.getMessage());
            int at = m.find() ? Integer.parseInt(m.group(1)) : 0;
            String said = e.getMessage().replaceAll("(?s)^.*? failed \\(exit \\d+\\): ", "")
                    .replaceAll("\\s*Command failed -:\\d+", "").replace('\n', ' ').strip();
            throw at < 1 || at > lines.size() ? e : new KernelException("ip " + (family == null ? "" : family + " ")
                    + lines.get(at - 1) + " in " + where + " failed: " + said, e);
        }
    }

    /** The same in cryo's own net namespace. */
    static String runHere(String... command) {
        return exec(List.of(command), "", String.join(" ", command));
    }

    private static String exec(List<String> argv, String input, String shown) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            try (java.io.OutputStream in = p.getOutputStream()) {
                in.write(input.getBytes(StandardCharsets.UTF_8)); // small (a ruleset): the command reads it all before writing
            }
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new KernelException(shown + " did not end within 30 s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new KernelException(shown + " failed (exit " + p.exitValue() + "): " + text.strip());
            }
            return text;
        } catch (IOException e) {
            throw new KernelException("cannot run " + shown + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while running " + shown);
        }
    }
}
