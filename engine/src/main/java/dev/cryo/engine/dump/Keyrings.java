package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Keyctl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The kernel keyrings a task holds as its own: a session keyring it joined (`keyctl session`,
 * pam_keyinit, a systemd service's private one, a container runtime's), its process keyring and its
 * thread keyring. cryo does not carry keyrings: a restored task is in the restorer's session
 * keyring and has no process or thread keyring, so one holding keys is refused, naming them (they
 * were lost, silently). An empty one is let through: nothing in it is lost (the restored task's
 * new keys go to the restorer's session keyring instead).
 */
final class Keyrings {
    private Keyrings() {}

    /** Most key ids read from one keyring to name its keys in the refusal. */
    private static final int NAMED = 8;

    /**
     * The ids of the task's thread keyring (its main thread's), process keyring, user session keyring and
     * session keyring, or the errors (ENOKEY: none) asking them gave; read from inside the task (no other
     * process can name its keyrings), in the main thread's batch of reads. Asking for its session keyring
     * without one gives it the user session keyring, as the kernel does the first time the program asks
     * itself; the two behave alike but after a change of uid.
     */
    static final List<SyscallBatch.Call> ID_CALLS = List.of(idCall(Keyctl.KEY_SPEC_THREAD_KEYRING),
            idCall(Keyctl.KEY_SPEC_PROCESS_KEYRING), idCall(Keyctl.KEY_SPEC_USER_SESSION_KEYRING),
            idCall(Keyctl.KEY_SPEC_SESSION_KEYRING));

    private static SyscallBatch.Call idCall(int spec) {
        return new SyscallBatch.Call(SyscallNr.KEYCTL, Keyctl.KEYCTL_GET_KEYRING_ID, spec, 0);
    }

    /** {@link #ID_CALLS} one by one, where the thread cannot take a batch. */
    static long[] ids(Injector inj) {
        return ID_CALLS.stream().mapToLong(c -> inj.raw(c.nr(), c.args())).toArray();
    }

    /** Refuses the task when one of its own keyrings ({@code ids}: as {@link #ID_CALLS} gave them) holds keys. */
    static void refuseHeld(long[] ids, Injector inj, long scratch, int room, IntFunction<byte[]> read, String who) {
        List<String> held = new ArrayList<>();
        if (!Injector.isError(ids[0])) {
            describeIfHolding(inj, ids[0], scratch, room, read, "thread", held);
        }
        if (!Injector.isError(ids[1])) {
            describeIfHolding(inj, ids[1], scratch, room, read, "process", held);
        }
        if (!Injector.isError(ids[3]) && ids[3] != ids[2]) {
            describeIfHolding(inj, ids[3], scratch, room, read, "session", held);
        }
        if (!held.isEmpty()) {
            throw new DumpException(who + ": " + String.join("; ", held) + ": kernel keyrings are not carried yet (the"
                    + " restored task would be in the restorer's session keyring, without them)");
        }
    }

    private static void describeIfHolding(Injector inj, long id, long scratch, int room,
                                          IntFunction<byte[]> read, String kind, List<String> held) {
        long size = inj.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_READ, id, scratch, room);
        if (size == 0) {
            return;
        }
        // the ids first: the descriptions are read into the same scratch bytes
        ByteBuffer ids = ByteBuffer.wrap(Injector.isError(size) ? new byte[0] : read.apply((int) Math.min(size, room)))
                .order(ByteOrder.LITTLE_ENDIAN);
        String ring = kind + " keyring '" + description(inj, id, scratch, room, read).replaceFirst("^keyring:", "") + "' (key " + id + ")";
        if (Injector.isError(size)) {
            held.add(ring + " cannot be read from inside the task (" + Injector.errorText(size) + "): it may hold keys");
            return;
        }
        int count = (int) (size / 4);
        List<Integer> keys = new ArrayList<>();
        while (ids.remaining() >= 4 && keys.size() < NAMED) {
            keys.add(ids.getInt());
        }
        List<String> names = new ArrayList<>();
        for (int key : keys) {
            names.add(description(inj, key, scratch, room, read));
        }
        held.add(ring + " holds " + count + (count == 1 ? " key (" : " keys (") + String.join(", ", names)
                + (count > names.size() ? ", ..." : "") + ")");
    }

    /** "type:description" of key {@code id} as KEYCTL_DESCRIBE gives it ("type;uid;gid;perm;description"), or its id. */
    private static String description(Injector inj, long id, long scratch, int room, IntFunction<byte[]> read) {
        long n = inj.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_DESCRIBE, id, scratch, room);
        if (Injector.isError(n) || n <= 1) {
            return "#" + id;
        }
        String d = new String(read.apply((int) Math.min(n - 1, room)), StandardCharsets.UTF_8);
        String[] f = d.split(";", 5);
        return f.length == 5 ? f[0] + ":" + f[4] : d;
    }
}
