package dev.cryo.engine.keyrings;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.RestoreException;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The session keyrings of a restore: which tasks held each dumped one (by its dumped serial), which of
 * them makes it again (the lowest pid), and the new keyring it made, for the others to join.
 */
public final class KeyringHub {
    /** Dumped serial to its holders' pids, lowest first. */
    private final Map<Integer, java.util.SortedSet<Integer>> holders = new TreeMap<>();
    private final Map<Integer, Long> made = new ConcurrentHashMap<>();
    private final long joiner = unusedUid();
    /** Dumped key serial to the key made again for it: a key in two keyrings is linked into the second. */
    private final Map<Integer, Long> keys = new ConcurrentHashMap<>();

    private KeyringHub() {}

    /**
     * The uid (also used as gid) holders join the restore's shared session keyrings as (their fsuid and
     * fsgid for the join): one no key belongs to, so only the keyring the maker gave that owner search is
     * found by its name, not an older one of that name the task's own ids may search ({@link Keyrings}).
     */
    long joiner() {
        return joiner;
    }

    /** The first uid from 3000000000 up that owns no key (/proc/key-users lists those that do). */
    private static long unusedUid() {
        java.util.Set<Long> owners = new java.util.HashSet<>();
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/key-users"))) {
                String uid = line.strip().split(":", 2)[0];
                if (!uid.isEmpty()) {
                    owners.add(Long.parseLong(uid));
                }
            }
        } catch (java.io.IOException | RuntimeException unreadable) {
            // no keys: any uid is unused
        }
        long uid = 3_000_000_000L;
        while (owners.contains(uid)) {
            uid++;
        }
        return uid;
    }

    public static KeyringHub of(Collection<TaskImage> tasks) {
        KeyringHub hub = new KeyringHub();
        for (TaskImage t : tasks) {
            t.security().keyring(KeyringImage.SESSION).ifPresent(k ->
                    hub.holders.computeIfAbsent(k.serial(), s -> new java.util.TreeSet<>()).add(t.pid()));
        }
        return hub;
    }

    int maker(int serial) {
        return holders.get(serial).first();
    }

    boolean shared(int serial) {
        return holders.get(serial).size() > 1;
    }

    /** The key made again for dumped key {@code serial}, or null. */
    Long key(int serial) {
        return keys.get(serial);
    }

    void key(int serial, long id) {
        keys.putIfAbsent(serial, id);
    }

    void made(int serial, long id) {
        made.put(serial, id);
    }

    long made(int serial) {
        Long id = made.get(serial);
        if (id == null) {
            throw new RestoreException("session keyring " + serial + " was not made again by pid " + maker(serial));
        }
        return id;
    }
}
