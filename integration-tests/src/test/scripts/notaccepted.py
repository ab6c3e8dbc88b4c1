"""notaccepted.py: run as the init of its own net namespace (lo up). A listener and a client of it
whose connection is never accepted (CRIU's in-flight connection). Prints "ready" and waits for
SIGUSR2, then checks: the listener's queue is empty (the connection was left out by
--tcp-skip-in-flight), the client's next byte is answered by a reset, and the listener takes a new
connection. Prints PASS or FAIL: why."""
import signal
import socket

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(4)
c = socket.create_connection(l.getsockname())
print("ready", flush=True)
signal.sigwait({signal.SIGUSR2})


def verdict():
    l.setblocking(False)
    try:
        l.accept()
        return "FAIL: the connection left out was accepted"
    except BlockingIOError:
        pass
    c.settimeout(30)
    try:
        c.send(b"x")
        got = c.recv(1)
        return "FAIL: the left-out connection's client got %r, not a reset" % got
    except ConnectionResetError:
        pass
    l.setblocking(True)
    l.settimeout(30)
    n = socket.create_connection(l.getsockname(), timeout=30)
    a, _ = l.accept()
    n.send(b"y")
    return "PASS" if a.recv(1) == b"y" else "FAIL: a new connection's byte"


print(verdict(), flush=True)
