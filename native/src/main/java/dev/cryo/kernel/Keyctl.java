package dev.cryo.kernel;

/** keyctl(2) operations, the special keyring ids a task names its own keyrings by, and key permission bits. */
public final class Keyctl {
    private Keyctl() {}

    public static final int KEYCTL_GET_KEYRING_ID = 0, KEYCTL_JOIN_SESSION_KEYRING = 1, KEYCTL_CHOWN = 4,
            KEYCTL_SETPERM = 5, KEYCTL_DESCRIBE = 6, KEYCTL_LINK = 8, KEYCTL_READ = 11;

    public static final int KEY_SPEC_THREAD_KEYRING = -1, KEY_SPEC_PROCESS_KEYRING = -2,
            KEY_SPEC_SESSION_KEYRING = -3, KEY_SPEC_USER_SESSION_KEYRING = -5;

    /** What KEYCTL_JOIN_SESSION_KEYRING gives a keyring it makes: the possessor all, the owner view, read and link. */
    public static final int JOINED_PERM = 0x3f130000;
    /** The owner's search bit: what lets another task of the owner's uid join a keyring by name. */
    public static final int KEY_USR_SEARCH = 0x00080000;

    /**
     * cryo's own session keyring: a restored task is forked holding it, so a dumped task that held it too
     * gets it back by inheritance, as one shared with the world outside the tree should. 0 when none.
     */
    public static int ownSessionKeyring() {
        long r = LibC.syscall(SyscallNr.KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0, 0);
        return r < 0 ? 0 : (int) r;
    }
}
