package dev.cryo.kernel;

/** keyctl(2) operations and the special keyring ids a task names its own keyrings by. */
public final class Keyctl {
    private Keyctl() {}

    public static final int KEYCTL_GET_KEYRING_ID = 0, KEYCTL_DESCRIBE = 6, KEYCTL_READ = 11;

    public static final int KEY_SPEC_THREAD_KEYRING = -1, KEY_SPEC_PROCESS_KEYRING = -2,
            KEY_SPEC_SESSION_KEYRING = -3, KEY_SPEC_USER_SESSION_KEYRING = -5;
}
