package dev.cryo.engine.keyrings;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Keyctl;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel keyrings a task holds as its own: a session keyring it joined (`keyctl session`,
 * pam_keyinit, a systemd service's private `_ses` with its `invocation_id` key, a container runtime's),
 * its process keyring and its main thread's thread keyring. Only the task can name them (keyrings are
 * found through its credentials), so both halves run keyctl inside it.
 *
 * <p>Dump: each keyring's description, owner and permissions, and its keys: {@code user} keys with their
 * payloads (KEYCTL_READ). Keys whose payload the kernel never gives back (logon, asymmetric, encrypted,
 * trusted...), nested keyrings, keys or keyrings with an expiry (the kernel shows it only rounded, in
 * /proc/keys) are refused by name. A session keyring that is cryo's own is not carried: the restored task
 * is forked holding it, the same keyring, shared with whoever else holds it.
 *
 * <p>Restore, in three passes with the tree's barriers in between (the FILES passes): MAKE, in the task of
 * lowest pid among those that held a session keyring, a new one of the same description (an anonymous
 * join for `_ses`, a join by name that must have made a new keyring otherwise), with its keys, and the
 * process keyring; JOIN, in the other holders, the same keyring by name (searchable by its owner until
 * SEAL); SEAL, the dumped owner and permissions. The thread keyring is made once the threads exist
 * ({@link #restoreThread}): a thread made by one holding a thread keyring gets a new empty one.
 * Serials are new: a program that kept one by number sees another.
 */
public final class Keyrings {
    private Keyrings() {}

    /** Bytes of a keyring's key list or a key's payload read at once: the scratch page of a dump. */
    public static final int ROOM = 4096;

    /** A task cryo runs keyctl in: its calls, and {@link #ROOM} bytes of its memory at {@link #area}. */
    public interface Inside {
        int pid();

        /** The call's result, or -errno. */
        long raw(int nr, long... args);

        long area();

        byte[] read(int len);

        /** Writes {@code data} at {@code offset} of the area. */
        void write(int offset, byte[] data);

        /** The call's result; a failure throws, naming it. */
        default long call(String what, int nr, long... args) {
            long r = raw(nr, args);
            if (Injector.isError(r)) {
                throw new RestoreException(what + ": " + Injector.errorText(r));
            }
            return r;
        }
    }

    /** The passes of a restore (see the class comment). */
    public enum Pass { MAKE, JOIN, SEAL }

    /**
     * The ids of the task's thread keyring (its main thread's), process keyring, user session keyring and
     * session keyring, or the errors (ENOKEY: none) asking them gave; read from inside the task (no other
     * process can name its keyrings), in the main thread's batch of reads. Asking for its session keyring
     * without one gives it the user session keyring, as the kernel does the first time the program asks
     * itself; the two behave alike but after a change of uid.
     */
    public static final List<SyscallBatch.Call> ID_CALLS = List.of(idCall(Keyctl.KEY_SPEC_THREAD_KEYRING),
            idCall(Keyctl.KEY_SPEC_PROCESS_KEYRING), idCall(Keyctl.KEY_SPEC_USER_SESSION_KEYRING),
            idCall(Keyctl.KEY_SPEC_SESSION_KEYRING));

    private static SyscallBatch.Call idCall(int spec) {
        return new SyscallBatch.Call(SyscallNr.KEYCTL, Keyctl.KEYCTL_GET_KEYRING_ID, spec, 0);
    }

    /** {@link #ID_CALLS} one by one, where the thread cannot take a batch. */
    public static long[] ids(Injector inj) {
        return ID_CALLS.stream().mapToLong(c -> inj.raw(c.nr(), c.args())).toArray();
    }

    /** cryo's own session keyring, asked once. */
    private static final class Own {
        static final int SESSION = Keyctl.ownSessionKeyring();
    }

    /**
     * DUMP: the task's own keyrings ({@code ids} as {@link #ID_CALLS} gave them) with their keys; refuses the
     * task, naming every key it cannot carry, when one holds such a key.
     */
    public static List<KeyringImage> dump(long[] ids, Inside in, String who) {
        Map<String, Long> own = own(ids);
        if (own.isEmpty()) {
            return List.of();
        }
        Map<Integer, String> timeouts = ProcKeys.timeouts(in);
        List<String> refused = new ArrayList<>();
        List<KeyringImage> held = new ArrayList<>();
        own.forEach((kind, id) -> {
            KeyringImage ring = read(in, kind, id.intValue(), timeouts, refused);
            if (ring != null) {
                held.add(ring);
            }
        });
        if (!refused.isEmpty()) {
            throw new DumpException(who + ": " + String.join("; ", refused) + ": not carried (the restored task"
                    + " would be without them)");
        }
        return held;
    }

    /** Whether the task holds a keyring cryo carries ({@code ids} as {@link #ID_CALLS} gave them). */
    public static boolean holdsAny(long[] ids) {
        return !own(ids).isEmpty();
    }

    /** Its keyrings by kind: cryo's own session keyring is no keyring of the task's own. */
    private static Map<String, Long> own(long[] ids) {
        Map<String, Long> own = new LinkedHashMap<>();
        if (!Injector.isError(ids[0])) {
            own.put(KeyringImage.THREAD, ids[0]);
        }
        if (!Injector.isError(ids[1])) {
            own.put(KeyringImage.PROCESS, ids[1]);
        }
        if (!Injector.isError(ids[3]) && ids[3] != ids[2] && ids[3] != Own.SESSION) {
            own.put(KeyringImage.SESSION, ids[3]);
        }
        return own;
    }

    private static KeyringImage read(Inside in, String kind, int id, Map<Integer, String> timeouts, List<String> refused) {
        Described ring = describe(in, id);
        String name = kind + " keyring " + (ring == null ? "#" + id : "'" + ring.description() + "'") + " (key " + id + ")";
        if (ring == null) {
            refused.add(name + " cannot be described from inside the task");
            return null;
        }
        if (timeouts.containsKey(id)) {
            refused.add(name + " expires in " + timeouts.get(id) + " (the kernel shows an expiry only rounded)");
        }
        long size = in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_READ, id, in.area(), ROOM);
        if (Injector.isError(size)) {
            refused.add(name + " cannot be read from inside the task (" + Injector.errorText(size) + "): it may hold keys");
            return null;
        }
        if (size > ROOM) {
            refused.add(name + " holds " + size / 4 + " keys, more than the " + ROOM / 4 + " cryo reads");
            return null;
        }
        ByteBuffer list = ByteBuffer.wrap(in.read((int) size)).order(ByteOrder.LITTLE_ENDIAN);
        List<KeyringImage.Key> keys = new ArrayList<>();
        while (list.remaining() >= 4) {
            int key = list.getInt();
            KeyringImage.Key k = readKey(in, name, key, timeouts, refused);
            if (k != null) {
                keys.add(k);
            }
        }
        return new KeyringImage(kind, id, ring.uid(), ring.gid(), ring.perm(), ring.description(), keys);
    }

    private static KeyringImage.Key readKey(Inside in, String ring, int id, Map<Integer, String> timeouts,
                                            List<String> refused) {
        Described d = describe(in, id);
        if (d == null) {
            refused.add(ring + " holds key " + id + ", which cannot be described from inside the task");
            return null;
        }
        String key = d.type() + " key '" + d.description() + "' (key " + id + ")";
        if (!d.type().equals("user")) {
            refused.add(ring + " holds " + (d.type().equals("keyring") ? "a nested keyring '" + d.description()
                    + "' (key " + id + ")" : key + ", whose payload the kernel never gives back"));
            return null;
        }
        if (timeouts.containsKey(id)) {
            refused.add(ring + " holds " + key + ", which expires in " + timeouts.get(id)
                    + " (the kernel shows an expiry only rounded)");
            return null;
        }
        long size = in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_READ, id, in.area(), ROOM);
        if (Injector.isError(size) || size > ROOM) {
            refused.add(ring + " holds " + key + ", whose payload " + (Injector.isError(size)
                    ? "cannot be read from inside the task (" + Injector.errorText(size) + ")"
                    : "of " + size + " bytes is more than the " + ROOM + " cryo reads"));
            return null;
        }
        return new KeyringImage.Key(id, d.type(), d.uid(), d.gid(), d.perm(), d.description(), in.read((int) size));
    }

    /** KEYCTL_DESCRIBE's "type;uid;gid;perm;description". */
    record Described(String type, int uid, int gid, int perm, String description) {}

    /** Key {@code id} as the task sees it, or null when it cannot describe it. */
    static Described describe(Inside in, long id) {
        long n = in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_DESCRIBE, id, in.area(), ROOM);
        if (Injector.isError(n) || n <= 1 || n > ROOM) {
            return null;
        }
        String[] f = new String(in.read((int) n - 1), StandardCharsets.UTF_8).split(";", 5);
        if (f.length != 5) {
            return null;
        }
        return new Described(f[0], (int) Long.parseLong(f[1]), (int) Long.parseLong(f[2]),
                (int) Long.parseUnsignedLong(f[3], 16), f[4]);
    }

    /** RESTORE: the task's session and process keyrings, one pass of three. */
    public static void restore(Inside in, int pid, List<KeyringImage> keyrings, KeyringHub hub, Pass pass) {
        for (KeyringImage ring : keyrings) {
            String what = "pid " + pid + ": its " + ring.kind() + " keyring '" + ring.description() + "'";
            if (ring.kind().equals(KeyringImage.PROCESS) && pass == Pass.MAKE) {
                long id = in.call(what + ": keyctl(KEYCTL_GET_KEYRING_ID, process keyring, create)", SyscallNr.KEYCTL,
                        Keyctl.KEYCTL_GET_KEYRING_ID, Keyctl.KEY_SPEC_PROCESS_KEYRING, 1);
                fill(in, what, id, ring, hub);
                own(in, what, id, ring);
            } else if (ring.kind().equals(KeyringImage.SESSION)) {
                session(in, pid, what, ring, hub, pass);
            }
        }
    }

    private static void session(Inside in, int pid, String what, KeyringImage ring, KeyringHub hub, Pass pass) {
        boolean maker = hub.maker(ring.serial()) == pid;
        boolean shared = hub.shared(ring.serial());
        if (pass == Pass.MAKE && maker) {
            long id = ring.description().equals("_ses") ? in.call(what + ": keyctl(KEYCTL_JOIN_SESSION_KEYRING,"
                    + " NULL)", SyscallNr.KEYCTL, Keyctl.KEYCTL_JOIN_SESSION_KEYRING, 0)
                    : joinByName(in, what, ring.description(), hub.joiner());
            Described made = describe(in, id);
            if (!ring.description().equals("_ses") && (made == null || made.perm() != Keyctl.JOINED_PERM
                    || in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_READ, id, in.area(), ROOM) != 0)) {
                // a join by name made nothing new: it found a keyring of that name the task may search
                throw new RestoreException(what + " cannot be made again: a keyring of that name already exists"
                        + " (key " + id + (made == null ? "" : ", owner " + made.uid() + ", permissions "
                        + Integer.toHexString(made.perm())) + ") that the task may search, and joining by name"
                        + " joins it; end its holders or revoke it first");
            }
            fill(in, what, id, ring, hub);
            if (shared) { // its other holders join it by name until SEAL, as its owner for a while
                in.call(what + ": keyctl(KEYCTL_SETPERM, searchable by its owner)", SyscallNr.KEYCTL,
                        Keyctl.KEYCTL_SETPERM, id, Keyctl.JOINED_PERM | Keyctl.KEY_USR_SEARCH);
                // EINVAL where the task's user namespace does not map that uid: owned as made, as before
                in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_CHOWN, id, hub.joiner(), hub.joiner());
            } else {
                own(in, what, id, ring);
            }
            hub.made(ring.serial(), id);
        } else if (pass == Pass.JOIN && !maker) { // by name, `_ses` too: an anonymous join would make another
            long id = joinByName(in, what, ring.description(), hub.joiner());
            long made = hub.made(ring.serial());
            if (id != made) {
                throw new RestoreException(what + " (shared with pid " + hub.maker(ring.serial()) + ") could not be"
                        + " joined: joining '" + ring.description() + "' by name gave key " + id + ", another keyring of"
                        + " that name, not key " + made);
            }
        } else if (pass == Pass.SEAL && maker && shared) {
            own(in, what, hub.made(ring.serial()), ring);
        }
    }

    /**
     * The session keyring named {@code name} the task may search, made when there is none. `_ses` is made
     * anonymous instead (the maker's other branch): a join by that name could find another's.
     *
     * <p>The kernel joins the oldest keyring of that name the caller may search as a non-possessor, judged by
     * its fsuid, fsgid and groups: the task joins with fsuid and fsgid {@code as}, a uid no key belongs to
     * but the one the maker made (it gives that owner search), so another keyring of that name its own ids
     * may search (another session of the same user, a root service's `_ses`) is not joined instead. Only
     * one any task may search (other search), or whose group is a supplementary group of the stub, still
     * is; the joiner then refuses, naming both. The ids and dumpable (a change of fsuid resets it) are put
     * back at once, the parent-death signal (reset too) by CredentialResetFlags; where the task's user namespace does not map {@code as} its fsuid
     * does not change, and the join is by its own ids.
     */
    private static long joinByName(Inside in, String what, String name, long as) {
        in.write(0, cString(name));
        long dumpable = in.call(what + ": prctl(PR_GET_DUMPABLE)", SyscallNr.PRCTL, Prctl.PR_GET_DUMPABLE);
        long uid = in.raw(SyscallNr.SETFSUID, as), gid = in.raw(SyscallNr.SETFSGID, as);
        try {
            return in.call(what + ": keyctl(KEYCTL_JOIN_SESSION_KEYRING, \"" + name + "\")", SyscallNr.KEYCTL,
                    Keyctl.KEYCTL_JOIN_SESSION_KEYRING, in.area());
        } finally {
            in.raw(SyscallNr.SETFSUID, uid);
            in.raw(SyscallNr.SETFSGID, gid);
            in.call(what + ": prctl(PR_SET_DUMPABLE)", SyscallNr.PRCTL, Prctl.PR_SET_DUMPABLE, dumpable);
        }
    }

    /** RESTORE, once the threads exist: the main thread's thread keyring, through {@code in} (that thread). */
    public static void restoreThread(Inside in, int pid, List<KeyringImage> keyrings) {
        for (KeyringImage ring : keyrings) {
            if (ring.kind().equals(KeyringImage.THREAD)) {
                String what = "pid " + pid + ": its thread keyring";
                long id = in.call(what + ": keyctl(KEYCTL_GET_KEYRING_ID, thread keyring, create)", SyscallNr.KEYCTL,
                        Keyctl.KEYCTL_GET_KEYRING_ID, Keyctl.KEY_SPEC_THREAD_KEYRING, 1);
                fill(in, what, id, ring, null); // a key also in another keyring comes back as a copy here
                own(in, what, id, ring);
            }
        }
    }

    /**
     * The keyring's keys, each with its owner and permissions (owner first: the permissions may forbid a change).
     * A key made again already for another keyring ({@code hub}, null: none) is linked instead, one key in
     * both as dumped, where its permissions let the task link it (as its possessor, through its own keyring
     * it is in: another task's key usually may not be, and comes back as a copy).
     */
    private static void fill(Inside in, String what, long ring, KeyringImage image, KeyringHub hub) {
        for (KeyringImage.Key k : image.keys()) {
            String key = what + ": its " + k.type() + " key '" + k.description() + "'";
            Long made = hub == null ? null : hub.key(k.serial());
            if (made != null && !Injector.isError(in.raw(SyscallNr.KEYCTL, Keyctl.KEYCTL_LINK, made, ring))) {
                continue;
            }
            byte[] type = cString(k.type());
            byte[] description = cString(k.description());
            in.write(0, type);
            in.write(type.length, description);
            in.write(type.length + description.length, k.payload());
            long id = in.call(key + ": add_key", SyscallNr.ADD_KEY, in.area(), in.area() + type.length,
                    in.area() + type.length + description.length, k.payload().length, ring);
            own(in, key, id, k.uid(), k.gid(), k.perm());
            if (hub != null) {
                hub.key(k.serial(), id);
            }
        }
    }

    private static void own(Inside in, String what, long id, KeyringImage ring) {
        own(in, what, id, ring.uid(), ring.gid(), ring.perm());
    }

    private static void own(Inside in, String what, long id, int uid, int gid, int perm) {
        in.call(what + ": keyctl(KEYCTL_CHOWN, " + uid + ", " + gid + ")", SyscallNr.KEYCTL, Keyctl.KEYCTL_CHOWN, id, uid, gid);
        in.call(what + ": keyctl(KEYCTL_SETPERM, " + Integer.toHexString(perm) + ")", SyscallNr.KEYCTL,
                Keyctl.KEYCTL_SETPERM, id, Integer.toUnsignedLong(perm));
    }

    static byte[] cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    /** SHOW: a keyring as `cryo show` renders it (payloads by their length only: they may be secrets). */
    public static Map<String, Object> json(KeyringImage ring) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", ring.kind());
        m.put("serial", ring.serial());
        m.put("description", ring.description());
        m.put("uid", ring.uid());
        m.put("gid", ring.gid());
        m.put("perm", String.format("%08x", ring.perm()));
        List<Map<String, Object>> keys = new ArrayList<>();
        for (KeyringImage.Key k : ring.keys()) {
            Map<String, Object> km = new LinkedHashMap<>();
            km.put("serial", k.serial());
            km.put("type", k.type());
            km.put("description", k.description());
            km.put("uid", k.uid());
            km.put("gid", k.gid());
            km.put("perm", String.format("%08x", k.perm()));
            km.put("payloadBytes", k.payload().length);
            keys.add(km);
        }
        m.put("keys", keys);
        return m;
    }
}
