"""A client that keeps ONE TCP connection to a service and asks it something every 50 ms, never reconnecting.

serviceclient.py redis HOST PORT   INCR n on a Redis: each answer must be the one before + 1 ("ok N")
serviceclient.py http HOST PORT    GET / with keep-alive on nginx or any HTTP/1.1 server ("ok N" per 200)
serviceclient.py memcached HOST PORT   incr n 1 on a memcached: each answer the one before + 1
serviceclient.py postgres HOST PORT    nextval of a temporary sequence of its session (user postgres, trust)
serviceclient.py line HOST PORT    "incr" to a line server answering a counter (tarantool's app): the one before + 1

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
    def value(line):
        if not line.startswith(b":"):
            raise ValueError
        return int(line[1:])
    count(line_answers(s, b"INCR n\r\n", value))


def memcached(s):
    s.sendall(b"set n 0 0 1\r\n0\r\n")
    if not read_until(s, b"", b"\r\n").startswith(b"STORED"):
        fail("set n failed")
    count(line_answers(s, b"incr n 1\r\n", int))


def line_answers(s, ask, value):
    """A function that sends ask and returns value(the answer's line)."""
    buf = [b""]

    def next_value():
        s.sendall(ask)
        buf[0] = read_until(s, buf[0], b"\r\n")
        line, buf[0] = buf[0].split(b"\r\n", 1)
        try:
            return value(line)
        except ValueError:
            fail("answer " + repr(line))
    return next_value


def count(next_value):
    """Asks next_value() every 50 ms: each answer must be the one before + 1 ("ok N")."""
    last = None
    while True:
        n = next_value()
        if last is not None and n != last + 1:
            fail("%d after %d" % (n, last))
        last = n
        print("ok", n, flush=True)
        time.sleep(0.05)


def pg_message(s, buf):
    """One backend message: (type, body, rest of buf)."""
    while len(buf) < 5 or len(buf) < 1 + int.from_bytes(buf[1:5], "big"):
        d = s.recv(65536)
        if not d:
            fail("the server closed the connection")
        buf += d
    n = 1 + int.from_bytes(buf[1:5], "big")
    return buf[:1], buf[5:n], buf[n:]


def pg_query(s, sql):
    """The first column of the first row of a simple query's answer (None if it has none)."""
    q = sql.encode() + b"\0"
    s.sendall(b"Q" + (len(q) + 4).to_bytes(4, "big") + q)
    buf, value = b"", None
    while True:
        kind, body, buf = pg_message(s, buf)
        if kind == b"E":
            fail("error: " + repr(body))
        if kind == b"D" and value is None:
            n = int.from_bytes(body[2:6], "big")
            value = body[6:6 + n].decode()
        if kind == b"Z":
            return value


def postgres(s):
    start = b"user\0postgres\0database\0postgres\0\0"
    s.sendall((len(start) + 8).to_bytes(4, "big") + (196608).to_bytes(4, "big") + start)
    buf = b""
    while True:
        kind, body, buf = pg_message(s, buf)
        if kind == b"E" or (kind == b"R" and body[:4] != bytes(4)):
            fail("startup: " + repr(kind + body))
        if kind == b"Z":
            break
    pg_query(s, "create temporary sequence s")
    count(lambda: int(pg_query(s, "select nextval('s')")))


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
        {"redis": redis, "memcached": memcached, "postgres": postgres,
         "line": lambda s: count(line_answers(s, b"incr\r\n", int))}.get(kind, lambda s: http(s, host))(s)
    except OSError as e:
        fail(repr(e))


main()
