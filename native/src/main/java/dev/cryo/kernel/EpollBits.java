package dev.cryo.kernel;

/** x86_64 epoll(7) operations and event bits (sys/epoll.h, eventpoll.c), in one place. */
public final class EpollBits {
    private EpollBits() {}

    public static final int EPOLL_CTL_ADD = 1, EPOLL_CTL_MOD = 3;
    /** The events a watch can ask for (EPOLLERR and EPOLLHUP are added by every ADD and MOD). */
    public static final int EPOLLIN = 0x1, EPOLLPRI = 0x2, EPOLLOUT = 0x4, EPOLLRDNORM = 0x40, EPOLLRDBAND = 0x80,
            EPOLLWRNORM = 0x100, EPOLLWRBAND = 0x200, EPOLLMSG = 0x400, EPOLLRDHUP = 0x2000;
    public static final int ANY_EVENT = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM
            | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;
    /**
     * The kernel's EP_PRIVATE_BITS (EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET): what a
     * oneshot watch keeps of its mask once it has fired, until the program arms it again.
     */
    public static final int PRIVATE_BITS = 1 << 28 | 1 << 29 | 1 << 30 | 1 << 31;
    /** struct epoll_event is packed on x86_64: u32 events, u64 data. */
    public static final int EVENT_SIZE = 12;
}
