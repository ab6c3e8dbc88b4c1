package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kernel keyrings a task holds as its own come back: its session keyring (`keyctl session`, a systemd
 * service's private `_ses` with its `invocation_id` key), shared by the tasks that shared it, its process
 * keyring and its thread keyring, each with its user keys, their payloads, owners and permissions. The
 * workloads check their keys themselves after the restore; the state comparator (TaskProbe) compares
 * every task's keyrings and which tasks share one. Keys the kernel never gives back are refused by name
 * (NotCarriedTest).
 */
class KeyringTest {
    @TempDir
    Path tmp;

    /** Python with keyctl(2) and add_key(2) through ctypes, and a SIGUSR2 that asks for the check. */
    private static final String PRELUDE = """
            import ctypes, os, signal, sys
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            def sc(*a):
                return libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
            def keyctl(*a):
                return sc(250, *a)
            def add(type, desc, payload, ring):
                k = sc(248, type, desc, payload, len(payload), ring)
                assert k > 0, 'add_key %s: errno %d' % (desc, ctypes.get_errno())
                return k
            def describe(k):
                b = ctypes.create_string_buffer(4096)
                n = keyctl(6, k, b, 4096)
                return b.raw[:n - 1].decode() if n > 0 else 'errno %d' % ctypes.get_errno()
            def payload(k):
                b = ctypes.create_string_buffer(4096)
                n = keyctl(11, k, b, 4096)
                return b.raw[:n] if n >= 0 else None
            def find(ring, desc):
                return keyctl(10, ring, b'user', desc, 0)
            checked = []
            signal.signal(signal.SIGUSR2, lambda *a: checked.append(1))
            def wait():
                while not checked:
                    signal.pause()
            fails = []
            def expect(what, got, want):
                if got != want:
                    fails.append('%s: %r, not %r' % (what, got, want))
            def verdict():
                print('PASS' if not fails else 'FAIL: ' + '; '.join(fails), flush=True)
            """;

    /** A parent and its child in session keyring NAME (None: anonymous); the child finds a key added after the restore. */
    private static final String SHARED = """
                assert keyctl(1, NAME) > 0
                name = describe(keyctl(0, -3, 0)).split(';')[4]
                add(b'user', b'cryo-secret', b'hunter2', -3)
                child = os.fork()
                if child == 0:
                    wait()
                    ok = payload(find(-3, b'later')) == b'after' and payload(find(-3, b'cryo-secret')) == b'hunter2'
                    os._exit(0 if ok else 1)
                print('ready', flush=True)
                wait()
                add(b'user', b'later', b'after', -3)
                os.kill(child, signal.SIGUSR2)
                _, status = os.waitpid(child, 0)
                expect('the child found the key added after the restore', os.WEXITSTATUS(status), 0)
                expect('its name', describe(keyctl(0, -3, 0)).split(';')[4], name)
                verdict()
                """;

    private String verdict(String name, String code) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"), "/usr/bin/python3",
                "-c", PRELUDE + code))) {
            return RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
        }
    }

    /**
     * `keyctl session NAME` and a user key in it, a key of its process keyring: before, a task whose keyring
     * held keys came back in the restorer's session keyring without them (real37), then was refused.
     */
    @Test
    void aNamedSessionKeyringAndAProcessKeyringComeBackWithTheirKeys() throws Exception {
        String out = verdict("session", """
                name = b'cryo-it-%d' % os.getpid()
                assert keyctl(1, name) > 0
                k = add(b'user', b'cryo-secret', b'hunter2', -3)
                assert keyctl(5, k, 0x3f0b0000) == 0
                add(b'user', b'proc-secret', b'\\x00p4ss', -2)
                print('ready', flush=True)
                wait()
                expect('session keyring', describe(keyctl(0, -3, 0)).split(';')[4], name.decode())
                k = find(-3, b'cryo-secret')
                expect('session key', payload(k), b'hunter2')
                expect('its permissions', describe(k).split(';')[3], '3f0b0000')
                expect('process keyring', describe(keyctl(0, -2, 0)).split(';')[4], '_pid')
                expect('process key', payload(find(-2, b'proc-secret')), b'\\x00p4ss')
                verdict()
                """);
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * What systemd gives every system service (here simulated: PID 1 is not systemd): a private anonymous
     * session keyring `_ses` holding the `invocation_id` user key, readable by the owner. Such a daemon was
     * refused (15ca35a3); it lost the key silently before.
     */
    @Test
    void aServicesPrivateSessionKeyringWithItsInvocationIdComesBack() throws Exception {
        String out = verdict("service", """
                assert keyctl(1, 0) > 0
                iid = bytes.fromhex('5d1f8a2bc0e34f6e9a7b1c2d3e4f5a6b')
                k = add(b'user', b'invocation_id', iid, -3)
                assert keyctl(5, k, 0x0b0b0000) == 0
                print('ready', flush=True)
                wait()
                expect('session keyring', describe(keyctl(0, -3, 0)).split(';')[4], '_ses')
                k = find(-3, b'invocation_id')
                expect('invocation_id', payload(k), iid)
                expect('its permissions', describe(k).split(';')[3], '0b0b0000')
                verdict()
                """);
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A parent and its child in one session keyring stay in one: a key the parent adds after the restore, the
     * child finds. Named, and anonymous (`_ses`, as systemd's services and nspawn's containers hold it: its
     * second holder made a keyring of its own by an anonymous join, and the restore refused it).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"b'cryo-it-shared-%d' % os.getpid()", "None"})
    void aSessionKeyringSharedByAParentAndItsChildStaysShared(String name) throws Exception {
        String out = verdict("shared", SHARED.replace("NAME", name));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * The same, with another keyring of that name made between the dump and the restore that root (the
     * restore's stub, as the tree) may search by name: its owner's search bit, as a root service's or another
     * session's would have it. The kernel joins the oldest of a name the joiner may search. Failed before:
     * the named one with 'pid N: its session keyring 'cryo-it-decoyed' cannot be made again: a keyring of
     * that name already exists (key K, owner 0, permissions 3f1b0000) that the task may search', the
     * anonymous one with 'pid N: its session keyring '_ses' (shared with pid M) could not be joined: joining
     * '_ses' by name gave key K, another keyring of that name, not key L'. The restore now joins as an owner
     * no key has but the keyring it made.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void aSharedSessionKeyringIsJoinedAgainWhereAnotherOfItsNameMayBeSearched(boolean named) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("decoyed.out"), "/usr/bin/python3",
                "-c", PRELUDE + SHARED.replace("NAME", named ? "b'cryo-it-decoyed'" : "None")))) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            String decoy = """
                    import time
                    assert keyctl(1, NAME) > 0
                    assert keyctl(5, keyctl(0, -3, 0), 0x3f1b0000) == 0
                    print('ready', flush=True)
                    time.sleep(600)
                    """.replace("NAME", named ? "b'cryo-it-decoyed'" : "None");
            try (DetachedProcess other = Workloads.ready(DetachedProcess.start(tmp.resolve("decoy.out"),
                    "/usr/bin/python3", "-c", PRELUDE + decoy))) {
                String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
                assertTrue(out.contains("PASS"), out);
            }
        }
    }

    /**
     * A key linked into the session and the process keyring (`keyctl link`) is one key after the restore, not
     * two copies (a change through one keyring shows through the other).
     */
    @Test
    void aKeyLinkedIntoTwoKeyringsComesBackAsOneKey() throws Exception {
        String out = verdict("linked", """
                assert keyctl(1, b'cryo-it-linked-%d' % os.getpid()) > 0
                k = add(b'user', b'both', b'one', -3)
                assert keyctl(8, k, -2) == 0
                print('ready', flush=True)
                wait()
                expect('the key found in both keyrings is one key', find(-3, b'both') == find(-2, b'both'), True)
                expect('its payload', payload(find(-2, b'both')), b'one')
                verdict()
                """);
        assertTrue(out.contains("PASS"), out);
    }

    /** A thread keyring (a key added to @t makes one) comes back to its thread. */
    @Test
    void aThreadKeyringComesBackWithItsKey() throws Exception {
        String out = verdict("thread", """
                add(b'user', b'thread-secret', b's3cret', -1)
                print('ready', flush=True)
                wait()
                expect('thread keyring', describe(keyctl(0, -1, 0)).split(';')[4], '_tid')
                expect('thread key', payload(find(-1, b'thread-secret')), b's3cret')
                verdict()
                """);
        assertTrue(out.contains("PASS"), out);
    }
}
