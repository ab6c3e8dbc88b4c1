package dev.cryo.kernel;

/** x86_64 syscall numbers cryo calls, locally or injected into a tracee. */
public final class SyscallNr {
    private SyscallNr() {}

    /** The extended attribute calls (sockfs names a socket's protocol in one: system.sockprotoname). */
    public static final int LSETXATTR = 189, GETXATTR = 191, LGETXATTR = 192, LLISTXATTR = 195;

    public static final int READ = 0, WRITE = 1, OPEN = 2, CLOSE = 3, FSTAT = 5, LSEEK = 8, MMAP = 9,
            MPROTECT = 10, MUNMAP = 11, BRK = 12, RT_SIGACTION = 13, RT_SIGPROCMASK = 14, IOCTL = 16,
            PREAD64 = 17, PWRITE64 = 18, MREMAP = 25, MINCORE = 27, MADVISE = 28, SHMAT = 30, DUP = 32, DUP2 = 33,
            GETPID = 39, SOCKET = 41, CONNECT = 42, ACCEPT = 43, SENDTO = 44, RECVFROM = 45, SENDMSG = 46,
            RECVMSG = 47, SHUTDOWN = 48, BIND = 49, LISTEN = 50, GETSOCKNAME = 51, GETPEERNAME = 52,
            SOCKETPAIR = 53, SETSOCKOPT = 54, GETSOCKOPT = 55, CLONE = 56, EXIT = 60, WAIT4 = 61, WAITID = 247,
            KILL = 62, FCNTL = 72, FLOCK = 73, CHDIR = 80, FCHDIR = 81, UMASK = 95, GETPPID = 110, SETSID = 112,
            SETPGID = 109, GETPGID = 121, GETSID = 124, CAPGET = 125, CAPSET = 126, SIGALTSTACK = 131,
            PTRACE = 101, PERSONALITY = 135, PRCTL = 157, ARCH_PRCTL = 158, CHROOT = 161, GETTID = 186, FUTEX = 202,
            SET_TID_ADDRESS = 218, GETGROUPS = 115, SETGROUPS = 116, SETRESUID = 117, SETRESGID = 119, SETFSUID = 122,
            SETFSGID = 123, SECCOMP = 317, EXIT_GROUP = 231, TGKILL = 234, OPENAT = 257, SET_ROBUST_LIST = 273,
            GET_ROBUST_LIST = 274, DUP3 = 292, RT_TGSIGQUEUEINFO = 297, PRLIMIT64 = 302,
            PROCESS_VM_READV = 310, PROCESS_VM_WRITEV = 311, KCMP = 312, MEMFD_CREATE = 319,
            USERFAULTFD = 323, MEMBARRIER = 324, RSEQ = 334, PIDFD_SEND_SIGNAL = 424, PIDFD_OPEN = 434, CLONE3 = 435,
            CLOSE_RANGE = 436, PIDFD_GETFD = 438, ACCEPT4 = 288, UNLINK = 87, CHMOD = 90, LCHOWN = 94,
            UNSHARE = 272, SETNS = 308, SETHOSTNAME = 170, SETDOMAINNAME = 171, MOUNT = 165, UMOUNT2 = 166,
            PIVOT_ROOT = 155;
    /**
     * The new mount API: peer groups set on mounts named by fds (MOVE_MOUNT_SET_GROUP, propagation by mount_setattr),
     * a tmpfs read alone (open_tree's clone: none of the mounts on its files).
     */
    public static final int OPEN_TREE = 428, MOVE_MOUNT = 429, MOUNT_SETATTR = 442;
    /** memfd_secret(2): memory the kernel hides from every other process ({@link SecretMemory}). */
    public static final int MEMFD_SECRET = 447;
    /** add_key(2) and keyctl(2): a task's own keyrings, read and made again from inside it ({@code keyrings.Keyrings}). */
    public static final int ADD_KEY = 248, KEYCTL = 250;
    /** bpf(2): cryo's own BPF iterator reads socket state no other call shows ({@code net.ReuseportGroups}). */
    public static final int BPF = 321;
    public static final int RT_SIGTIMEDWAIT = 128, RT_SIGQUEUEINFO = 129, EXECVE = 59, PAUSE = 34;

    /** Timers, sleeps and scheduling (issue 7: timers, sched attributes, interrupted sleeps). */
    public static final int POLL = 7, NANOSLEEP = 35, GETITIMER = 36, SETITIMER = 38, SCHED_SETAFFINITY = 203,
            SCHED_GETAFFINITY = 204, RESTART_SYSCALL = 219, TIMER_CREATE = 222, TIMER_SETTIME = 223,
            TIMER_GETTIME = 224, TIMER_GETOVERRUN = 225, TIMER_DELETE = 226, CLOCK_GETTIME = 228, CLOCK_NANOSLEEP = 230,
            IOPRIO_SET = 251, IOPRIO_GET = 252, SCHED_SETATTR = 314, SCHED_GETATTR = 315, SCHED_SETSCHEDULER = 144,
            SETPRIORITY = 141;

    /** SysV IPC: shared memory, semaphores, message queues (an ipc namespace's objects). */
    public static final int SHMGET = 29, SHMCTL = 31, SEMGET = 64, SEMOP = 65, SEMCTL = 66, SHMDT = 67, MSGGET = 68,
            MSGSND = 69, MSGRCV = 70, MSGCTL = 71, SEMTIMEDOP = 220;

    /** POSIX message queues (a queue of the mqueue file system of an ipc namespace). */
    public static final int MQ_OPEN = 240, MQ_UNLINK = 241, MQ_TIMEDSEND = 242, MQ_TIMEDRECEIVE = 243,
            MQ_NOTIFY = 244, MQ_GETSETATTR = 245;

    /** Memory: locks, seals, AIO rings, files; NUMA policies (a thread's, an area's). */
    public static final int MBIND = 237, SET_MEMPOLICY = 238, GET_MEMPOLICY = 239, MLOCK2 = 325, MLOCKALL = 151, MSEAL = 462, IO_SETUP = 206, IO_DESTROY = 207, IO_SUBMIT = 209, FTRUNCATE = 77,
            FCHMOD = 91, FCHOWN = 93, UNLINKAT = 263, RENAMEAT = 264, RENAMEAT2 = 316, LINKAT = 265, STATFS = 137, FSTATFS = 138, MKNODAT = 259,
            UTIMENSAT = 280, STATX = 332, READLINKAT = 267, SYMLINK = 88, GETDENTS64 = 217;

    /** inotify, fanotify and file handles (issue 8: watches carried by the handle fdinfo gives). */
    public static final int INOTIFY_ADD_WATCH = 254, INOTIFY_INIT1 = 294, FANOTIFY_INIT = 300, FANOTIFY_MARK = 301,
            NAME_TO_HANDLE_AT = 303, OPEN_BY_HANDLE_AT = 304;

    /** Pipes and the fds made by a syscall of their own (eventfd, epoll, timerfd, signalfd). */
    public static final int PIPE2 = 293, TEE = 276, EVENTFD2 = 290, EPOLL_CREATE1 = 291, EPOLL_CTL = 233,
            EPOLL_WAIT = 232, EPOLL_PWAIT = 281, EPOLL_PWAIT2 = 441, TIMERFD_CREATE = 283, TIMERFD_SETTIME = 286, SIGNALFD4 = 289;

    /** Calls that can change a mapping's flags in place (see dev.cryo.engine.dump.VmFlagsWatch), and perf's. */
    public static final int MLOCK = 149, MUNLOCK = 150, MUNLOCKALL = 152, REMAP_FILE_PAGES = 216, EXECVEAT = 322,
            PKEY_MPROTECT = 329, PROCESS_MADVISE = 440, PERF_EVENT_OPEN = 298;
    /** The new mount API's calls that make a detached mount (tracefs read without mounting it anywhere). */
    public static final int FSOPEN = 430, FSCONFIG = 431, FSMOUNT = 432;

    /** io_uring (see {@link IoUring}). */
    public static final int IO_URING_SETUP = 425, IO_URING_ENTER = 426, IO_URING_REGISTER = 427;
}
