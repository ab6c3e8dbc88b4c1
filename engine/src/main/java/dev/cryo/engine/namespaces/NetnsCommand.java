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
        List<String> argv = new ArrayList<>(List.of("nsenter", "--net=/proc/" + pid + "/ns/net", "--"));
        argv.addAll(List.of(command));
        return exec(argv, String.join(" ", command) + " in the net namespace of pid " + pid);
    }

    /** The same in cryo's own net namespace. */
    static String runHere(String... command) {
        return exec(List.of(command), String.join(" ", command));
    }

    private static String exec(List<String> argv, String shown) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            p.getOutputStream().close();
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
