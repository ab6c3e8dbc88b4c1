package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The entries of a binfmt_misc mount made inside a mount namespace of the tree's (zdtm's binfmt_misc): the
 * kernel drops them with the instance's last mount (the killing dump's, where the host mounts none), so the
 * dump keeps each entry's file as the kernel shows it ({@link MountImage.Entry}: its name, and that text as
 * data), and the restore registers it again from that text — written by the task, so that an 'F' entry's
 * interpreter is opened in its root — and checks that the kernel shows the same text.
 */
final class BinfmtEntries {
    private static final String DELIMITERS = ":;,|#%!@=+~^";

    private BinfmtEntries() {}

    /** Dump: the entries of the binfmt_misc mount at {@code dir} (cryo's path to it), each checked to be registrable. */
    static List<MountImage.Entry> read(Path dir, String what) {
        List<MountImage.Entry> out = new ArrayList<>();
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.equals("status") || name.equals("register")) {
                    continue;
                }
                byte[] text = Files.readAllBytes(f);
                registration(name, new String(text, StandardCharsets.ISO_8859_1), what);
                out.add(new MountImage.Entry(name, 'f', 0, 0, 0, 0, 0, text));
            }
        } catch (IOException e) {
            throw new DumpException(what + ": its binfmt_misc entries cannot be read: " + e.getMessage());
        }
        return out;
    }

    /**
     * Restore: task {@code t} registers the entries of its binfmt_misc mount at {@code point} that the
     * instance lacks (the host's may have kept them: then they must read as dumped), disabled ones disabled.
     */
    static void register(TaskContext t, String point, List<MountImage.Entry> entries, String what) {
        Path dir = Path.of("/proc/" + t.pid() + "/root" + (point.equals("/") ? "" : point));
        for (MountImage.Entry e : entries) {
            String text = new String(e.data(), StandardCharsets.ISO_8859_1);
            Path file = dir.resolve(e.path());
            if (!Files.exists(file)) {
                write(t, point + "/register", registration(e.path(), text, what).getBytes(StandardCharsets.ISO_8859_1),
                        what + ": binfmt_misc entry " + e.path());
                if (text.startsWith("disabled\n")) {
                    write(t, point + "/" + e.path(), "0".getBytes(StandardCharsets.US_ASCII), what + ": disabling " + e.path());
                }
            }
            String now;
            try {
                now = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
            } catch (IOException x) {
                throw new RestoreException(what + ": binfmt_misc entry " + e.path() + " is not there after its registration: "
                        + x.getMessage());
            }
            if (!now.equals(text)) {
                throw new RestoreException(what + ": binfmt_misc entry " + e.path() + " reads '" + now.strip().replace('\n', ';')
                        + "', not as dumped ('" + text.strip().replace('\n', ';') + "')");
            }
        }
    }

    /**
     * The line that registers entry {@code name} again from its file's {@code text}
     * ({@code :name:type:offset:magic:mask:interpreter:flags}, the first character the delimiter).
     */
    static String registration(String name, String text, String what) {
        String interpreter = null, flags = "", offset = "", magic = null, mask = "", extension = null;
        for (String line : text.split("\n")) {
            if (line.startsWith("interpreter ")) {
                interpreter = line.substring("interpreter ".length());
            } else if (line.startsWith("flags:")) {
                flags = line.substring("flags:".length()).strip();
            } else if (line.startsWith("offset ")) {
                offset = line.substring("offset ".length());
            } else if (line.startsWith("magic ")) {
                magic = escaped(line.substring("magic ".length()));
            } else if (line.startsWith("mask ")) {
                mask = escaped(line.substring("mask ".length()));
            } else if (line.startsWith("extension .")) {
                extension = line.substring("extension .".length());
            }
        }
        if (interpreter == null || (magic == null) == (extension == null)) {
            throw new DumpException(what + ": binfmt_misc entry " + name + " reads '" + text.strip().replace('\n', ';')
                    + "', which cryo cannot register again; not supported");
        }
        String[] fields = {name, extension != null ? "E" : "M", offset, extension != null ? extension : magic, mask,
                interpreter, flags};
        for (char d : DELIMITERS.toCharArray()) {
            if (java.util.Arrays.stream(fields).noneMatch(f -> f.indexOf(d) >= 0)) {
                return d + String.join(String.valueOf(d), fields);
            }
        }
        throw new DumpException(what + ": binfmt_misc entry " + name + " uses every delimiter cryo could register it"
                + " with (" + DELIMITERS + "); not supported");
    }

    /** Hex digits as the kernel shows a magic or mask, as \xHH escapes its register unescapes. */
    private static String escaped(String hex) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i + 1 < hex.length(); i += 2) {
            b.append("\\x").append(hex, i, i + 2);
        }
        return b.toString();
    }

    private static void write(TaskContext t, String path, byte[] data, String what) {
        long fd = t.call("open(" + path + ") for " + what, SyscallNr.OPENAT, Fcntl.AT_FDCWD, MountRestore.path(t, 0, path),
                Fcntl.O_WRONLY | Fcntl.O_CLOEXEC);
        try {
            t.call("write " + what, SyscallNr.WRITE, fd, t.put(4096, data), data.length);
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }
}
