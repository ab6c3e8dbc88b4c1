"""A client that keeps ONE TCP connection to a service and asks it something every 50 ms, never reconnecting.

serviceclient.py redis HOST PORT   INCR n on a Redis: each answer must be the one before + 1 ("ok N")
serviceclient.py http HOST PORT    GET / with keep-alive on nginx or any HTTP/1.1 server ("ok N" per 200)

Any error, close or wrong answer prints "FAIL why" and exits 1: a test sees that the client went on across
a migration without a gap, a repeat or a new connection ("connected" is printed once).
"""
import socket
import sys
import time


def fail(why):
    print("FAIL", why, flush=True)
    sys.exit(1)


def read_until(s, buf, end):
    while end not in buf:
        d = s.recv(65536)
        if not d:
            fail("the server closed the connection")
        buf += d
    return buf


def redis(s):
    last = None
    buf = b""
    while True:
        s.sendall(b"INCR n\r\n")
        buf = read_until(s, buf, b"\r\n")
        line, buf = buf.split(b"\r\n", 1)
        if not line.startswith(b":"):
            fail("answer " + repr(line))
        n = int(line[1:])
        if last is not None and n != last + 1:
            fail("INCR gave %d after %d" % (n, last))
        last = n
        print("ok", n, flush=True)
        time.sleep(0.05)


def http(s, host):
    n = 0
    buf = b""
    while True:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
        buf = read_until(s, buf, b"\r\n\r\n")
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            fail("answer " + repr(head[:60]))
        length = 0
        for h in head.split(b"\r\n")[1:]:
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
            if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
                fail("the server ends the connection: " + repr(head[:200]))
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                fail("the server closed the connection mid-body")
            buf += d
        buf = buf[length:]
        n += 1
        print("ok", n, flush=True)
        time.sleep(0.05)


def main():
    kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    deadline = time.time() + 30
    while True:
        try:
            s = socket.create_connection((host, port), timeout=5)
            break
        except OSError as e:
            if time.time() > deadline:
                fail("connect: %s" % e)
            time.sleep(0.2)
    s.settimeout(60)  # a migration's downtime is far below; a stalled connection fails the client
    print("connected", s.getsockname(), flush=True)
    try:
        redis(s) if kind == "redis" else http(s, host)
    except OSError as e:
        fail(repr(e))


main()
