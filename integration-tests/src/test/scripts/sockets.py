#!/usr/bin/python3
"""sockets.py -- socket workloads for checkpoint/restore (zdtm style).

Usage: sockets.py MODE [ARGS]

Each mode sets up its sockets, prints "ready", keeps its traffic going in a
bounded loop, and on SIGUSR2 checks itself and prints "PASS ..." or
"FAIL: reason" (children report to the parent, which gives the verdict).

  pair              parent and child joined by a stream and a datagram
                    socketpair, unread bytes / datagrams queued both ways at
                    "ready" (nobody reads them before the check), one end
                    non-blocking, the child's stream end shut down for reading
                    of nothing (SHUT_RD is not used: data must stay readable).
  unixserver PATH   a stream server on PATH, two child clients pinging it every
                    20 ms, and one connection of its own still waiting to be
                    accepted.
  dgramlog PATH     a datagram socket connected to PATH (a /dev/log-like
                    receiver outside the tree) sending "log N" every 20 ms.
  dgrampath DIR     a datagram server bound to DIR/srv and two datagram
                    sockets connected to it, one bound to DIR/cli (which the
                    server answers by name), one unbound; one datagram from
                    DIR/cli stays unread at the server until the check.
  udp PORT          a UDP echo server on 127.0.0.1:PORT.
  tcpclient PORT [SECONDS]  a TCP client of an echo server outside the tree on
                    127.0.0.1:PORT: one line every 20 ms, each echo checked
                    (awaited SECONDS, default 10).
  tcppair           both ends of a loopback TCP connection and its listener in
                    one process; the server end keeps everything unread.
  netns NAME        holds a socket created in network namespace NAME.
  packet            holds a packet socket (AF_PACKET) with a TPACKET_V1 receive ring, mapped and written to.
  streamserver ADDR PORT  accepts one TCP connection on ADDR:PORT, then streams (below).
  streamclient ADDR PORT [SRC]  connects to ADDR:PORT (from address SRC if given;
                    retrying for 60 s), then streams:
                    both ends send a counted byte pattern faster than the other
                    reads it (queues full both ways), check every byte received
                    and print "<who> got N" at each 64 KiB; "FAIL: ..." on a
                    wrong byte, a reset or an end of file. Bounded to 10 minutes.
"""
import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

check = False


def on_usr2(signum, frame):
    global check
    check = True


def wait_check(step=None):
    """Runs step() every 20 ms until SIGUSR2 (bounded to 10 minutes)."""
    deadline = time.monotonic() + 600
    while not check and time.monotonic() < deadline:
        if step is not None:
            step()
        time.sleep(0.02)


def verdict(why, detail=""):
    if why:
        print("FAIL: %s" % why, flush=True)
        return 1
    print("PASS %s" % detail, flush=True)
    return 0


def recv_exact(s, n, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        got = s.recv(n - len(buf))
        if not got:
            raise EOFError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += got
    return buf


def mode_pair():
    stream_p, stream_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dgram_p, dgram_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    stream_p.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    to_child = b"parent->child:" + bytes(range(256)) * 40
    to_parent = b"child->parent:" + b"xyz" * 3000
    pid = os.fork()
    if pid == 0:
        stream_p.close()
        dgram_p.close()
        stream_c.sendall(to_parent)
        for i in range(3):
            dgram_c.send(b"c-dgram-%d" % i)
        wait_check()
        why = None
        try:
            got = recv_exact(stream_c, len(to_child))
            if got != to_child:
                why = "child: stream bytes differ"
            for i in range(3):
                d = dgram_c.recv(100)
                if d != b"p-dgram-%d" % i:
                    why = why or "child: datagram %d is %r" % (i, d)
            stream_c.sendall(b"after:child")
            if recv_exact(stream_c, 12) != b"after:parent":
                why = why or "child: no reply after the restore"
        except Exception as e:
            why = "child: %r" % e
        stream_c.sendall(b"VERDICT:" + (why or "ok").encode().ljust(200)[:200])
        os._exit(0)
    stream_c.close()
    dgram_c.close()
    stream_p.sendall(to_child)
    for i in range(3):
        dgram_p.send(b"p-dgram-%d" % i)
    dgram_p.setblocking(False)
    time.sleep(0.1)
    print("ready", flush=True)
    wait_check()
    os.kill(pid, signal.SIGUSR2)
    why = None
    try:
        if recv_exact(stream_p, len(to_parent)) != to_parent:
            why = "parent: stream bytes differ"
        for i in range(3):
            select.select([dgram_p], [], [], 10)
            d = dgram_p.recv(100)
            if d != b"c-dgram-%d" % i:
                why = why or "parent: datagram %d is %r" % (i, d)
        if dgram_p.getblocking():
            why = why or "parent: datagram end lost O_NONBLOCK"
        if stream_p.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) != 131072:
            why = why or "parent: SO_SNDBUF is %d" % stream_p.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        if recv_exact(stream_p, 11) != b"after:child":
            why = why or "parent: no message after the restore"
        stream_p.sendall(b"after:parent")
        v = recv_exact(stream_p, 208)[8:].decode().strip()
        if v != "ok":
            why = why or v
    except Exception as e:
        why = "parent: %r" % e
    os.waitpid(pid, 0)
    return verdict(why, "pair")


def mode_unixserver(path):
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o660)
    srv.listen(8)
    kids = []
    for k in range(2):
        pid = os.fork()
        if pid == 0:
            srv.close()
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            n = 0
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                c.sendall(b"%d %08d\n" % (k, n))
                try:
                    r = recv_exact(c, 14)
                except Exception as e:
                    print("FAIL: client %d: %r" % (k, e), flush=True)
                    os._exit(1)
                if r != b"ok %d %08d\n" % (k, n):
                    print("FAIL: client %d: reply %r" % (k, r), flush=True)
                    os._exit(1)
                n += 1
                time.sleep(0.02)
            os._exit(0)
        kids.append(pid)
    conns = []
    while len(conns) < 2:
        conns.append(srv.accept()[0])
    waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    waiting.connect(path)  # never accepted before the check
    seen = {}
    bufs = {c.fileno(): b"" for c in conns}

    def serve():
        r, _, _ = select.select(conns, [], [], 0)
        for c in r:
            data = c.recv(4096)
            if not data:
                raise EOFError("a client closed")
            bufs[c.fileno()] += data
            while b"\n" in bufs[c.fileno()]:
                line, bufs[c.fileno()] = bufs[c.fileno()].split(b"\n", 1)
                k, n = line.split()
                k, n = int(k), int(n)
                if seen.get(k, -1) + 1 != n:
                    raise ValueError("client %d jumped from %d to %d" % (k, seen.get(k, -1), n))
                seen[k] = n
                c.sendall(b"ok " + line + b"\n")

    print("ready", flush=True)
    why = None
    try:
        wait_check(serve)
        before = dict(seen)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            serve()
            time.sleep(0.01)
        if len(seen) != 2 or any(seen[k] <= before.get(k, -1) for k in seen):
            why = "clients did not go on: %r then %r" % (before, seen)
        late, _ = srv.accept()
        waiting.sendall(b"late")
        if recv_exact(late, 4) != b"late":
            why = why or "the waiting connection does not work"
        if oct(os.stat(path).st_mode & 0o777) != oct(0o660):
            why = why or "socket file mode is %o" % (os.stat(path).st_mode & 0o777)
    except Exception as e:
        why = repr(e)
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return verdict(why, "clients=%r" % seen)


def mode_dgramlog(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(path)
    n = [0]
    errors = []

    def send():
        try:
            s.send(b"log %d" % n[0])
            n[0] += 1
        except OSError as e:
            errors.append(repr(e))

    send()
    print("ready", flush=True)
    wait_check(send)
    return verdict(errors[0] if errors else None, "sent=%d" % n[0])


def mode_dgrampath(d):
    spath, cpath = os.path.join(d, "srv"), os.path.join(d, "cli")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(spath)
    named = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    named.bind(cpath)
    named.connect(spath)
    anon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anon.connect(spath)
    # and two named ones connected to each other
    apath, bpath = os.path.join(d, "a"), os.path.join(d, "b")
    a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.bind(apath)
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.bind(bpath)
    a.connect(bpath)
    b.connect(apath)
    # and one connected to itself
    mpath = os.path.join(d, "me")
    me = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    me.bind(mpath)
    me.connect(mpath)
    for s in (srv, named, anon, a, b, me):
        s.settimeout(10)

    def exchange(tag):
        named.send(b"named " + tag)
        data, frm = srv.recvfrom(256)
        if data != b"named " + tag or frm != cpath:
            raise ValueError("server got %r from %r" % (data, frm))
        srv.sendto(b"reply " + tag, cpath)
        if named.recv(256) != b"reply " + tag:
            raise ValueError("the named client got no reply")
        anon.send(b"anon " + tag)
        data = srv.recv(256)
        if data != b"anon " + tag:
            raise ValueError("server got %r from the unbound client" % data)

    exchange(b"before")
    named.send(b"unread")
    print("ready", flush=True)
    wait_check()
    why = None
    try:
        data, frm = srv.recvfrom(256)
        if data != b"unread" or frm != cpath:
            why = "the unread datagram came back as %r from %r" % (data, frm)
        for s in (named, anon):
            if s.getpeername() != spath:
                why = why or "a client is connected to %r" % s.getpeername()
        exchange(b"after")
        if a.getsockname() != apath or b.getsockname() != bpath:
            why = why or "the pair's names are %r and %r" % (a.getsockname(), b.getsockname())
        a.send(b"to b")
        data, frm = b.recvfrom(256)
        if data != b"to b" or frm != apath:
            why = why or "b got %r from %r" % (data, frm)
        me.send(b"to me")
        data, frm = me.recvfrom(256)
        if data != b"to me" or frm != mpath:
            why = why or "the self-connected socket got %r from %r" % (data, frm)
    except Exception as e:
        why = why or repr(e)
    return verdict(why, "dgrampath")


def mode_udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)
    served = [0]

    def serve():
        while True:
            try:
                data, peer = s.recvfrom(2048)
            except BlockingIOError:
                return
            s.sendto(b"echo:" + data, peer)
            served[0] += 1

    print("ready", flush=True)
    wait_check(serve)
    return verdict(None if served[0] > 0 else "served nothing", "served=%d" % served[0])


def mode_tcpclient(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    n = [0]
    errors = []

    def ping():
        if errors:
            return
        try:
            line = b"%08d\n" % n[0]
            s.sendall(line)
            if recv_exact(s, 9, timeout) != line:
                errors.append("wrong echo at %d" % n[0])
            n[0] += 1
        except Exception as e:
            errors.append("at %d: %r" % (n[0], e))

    ping()
    print("ready", flush=True)
    wait_check(ping)
    if not errors and s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0:
        errors.append("TCP_NODELAY lost")
    return verdict(errors[0] if errors else None, "echoes=%d" % n[0])


def mode_tcppair():
    """Both ends of a loopback connection in this process (a forked child growing its heap
    would bring in an unrelated memory difference), plus the listener, which stays open."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    client.sendall(b"unread at the server\n")  # sits in the server end's queue over the dump
    n = [0]
    errors = []

    def ping():
        if errors:
            return
        try:
            client.sendall(b"%08d\n" % n[0])
            conn.sendall(b"%08d\n" % (n[0] + 1))
            if recv_exact(client, 9) != b"%08d\n" % (n[0] + 1):
                errors.append("client got a wrong reply at %d" % n[0])
            n[0] += 2
        except Exception as e:
            errors.append(repr(e))

    ping()
    print("ready", flush=True)
    wait_check(ping)
    why = errors[0] if errors else None
    try:
        queued = recv_exact(conn, 21 + 9 * (n[0] // 2))
        expect = b"unread at the server\n" + b"".join(b"%08d\n" % i for i in range(0, n[0], 2))
        if not why and queued != expect:
            why = "the server end's queue is wrong: %r" % queued[:60]
        c2 = socket.create_connection(("127.0.0.1", port))
        a2, _ = srv.accept()
        c2.sendall(b"x")
        if recv_exact(a2, 1) != b"x":
            why = why or "the listener does not work"
    except Exception as e:
        why = why or repr(e)
    return verdict(why, "pings=%d" % n[0])


def mode_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    mine = os.open("/proc/self/ns/net", os.O_RDONLY)
    other = os.open("/var/run/netns/" + name, os.O_RDONLY)
    if libc.setns(other, 0x40000000) != 0:
        print("FAIL: setns", flush=True)
        return 1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    libc.setns(mine, 0x40000000)
    os.close(mine)
    os.close(other)
    print("ready", s.fileno(), flush=True)
    wait_check()
    return verdict(None, "netns")


def mode_packet():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)  # protocol 0: it receives nothing
    s.setsockopt(263, 5, struct.pack("4I", 4096, 4, 2048, 8))  # PACKET_RX_RING, TPACKET_V1 (the default)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    ring = libc.mmap(None, 16384, 3, 1, s.fileno(), 0)  # shared, read and write
    ctypes.memset(ring + 100, 1, 1)  # written: a ring never written is carried by its size alone
    print("ready", s.fileno(), flush=True)
    wait_check()
    return verdict(None, "packet")


PATTERN = bytes(i % 251 for i in range(251 * 40))


def stream(s, who):
    s.setblocking(False)
    sent = got = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        r, w, _ = select.select([s], [s], [], 1.0)
        try:
            if w:
                sent += s.send(PATTERN[sent % 251:sent % 251 + 8192])
            if r:
                b = s.recv(2048)
                if not b:
                    return verdict("%s: end of file after %d bytes" % (who, got))
                if b != PATTERN[got % 251:got % 251 + len(b)]:
                    return verdict("%s: wrong bytes at %d" % (who, got))
                if (got + len(b)) // 65536 > got // 65536:
                    print("%s got %d" % (who, (got + len(b)) // 65536), flush=True)
                got += len(b)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            return verdict("%s: %s after %d bytes" % (who, e, got))
        time.sleep(0.01)
    return verdict(None, who)


def mode_streamserver(addr, port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    l.settimeout(60)
    s, _ = l.accept()
    l.close()
    return stream(s, "server")


def mode_streamclient(addr, port, src=None):
    deadline = time.monotonic() + 60
    while True:
        try:
            s = socket.create_connection((addr, port), timeout=2, source_address=(src, 0) if src else None)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return stream(s, "client")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGUSR2, on_usr2)
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "pair":
        return mode_pair()
    if mode == "unixserver":
        return mode_unixserver(args[0])
    if mode == "dgramlog":
        return mode_dgramlog(args[0])
    if mode == "dgrampath":
        return mode_dgrampath(args[0])
    if mode == "udp":
        return mode_udp(int(args[0]))
    if mode == "tcpclient":
        return mode_tcpclient(int(args[0]), *[int(a) for a in args[1:2]])
    if mode == "tcppair":
        return mode_tcppair()
    if mode == "netns":
        return mode_netns(args[0])
    if mode == "packet":
        return mode_packet()
    if mode == "streamserver":
        return mode_streamserver(args[0], int(args[1]))
    if mode == "streamclient":
        return mode_streamclient(args[0], int(args[1]), *args[2:3])
    print("unknown mode " + mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
