#!/usr/bin/python3
"""counter.py -- Python twin of counter.c (zdtm-style checkpoint/restore workload).

Usage: counter.py <output-file>

Prints "ready", then every 10 ms appends the next integer to the file through
one fd kept open (O_WRONLY|O_APPEND) for the whole life of the process, and
keeps interpreter-heap state that can be checked (a dict of squares and a
list of recent numbers, plus a ring of bytes objects that are replaced every
tick so the allocator keeps working).  SIGUSR1 increments a counter.
On SIGUSR2 it checks itself and prints
    "PASS sigusr1=<n> last=<N>"   (exit 0)   or
    "FAIL: <reason>"              (exit 1).

A restored CPython is a good test of its own: the interpreter's heap, its
many anonymous mappings and the signal-handler plumbing (the C-level handler
only sets a flag and writes to a wakeup fd) must all come back intact.
"""
import fcntl
import os
import signal
import sys
import time

RING = 64

usr1_count = 0
check_requested = False


def on_usr1(signum, frame):
    global usr1_count
    usr1_count += 1


def on_usr2(signum, frame):
    global check_requested
    check_requested = True


def blob(tick):
    # Content is a function of the tick that made it, so it can be verified
    # without a copy; sizes vary and every 16th is large (its own mmap).
    size = 200 * 1024 if tick % 16 == 5 else 16 + (tick * 7919) % 8192
    unit = bytes(((tick * 131 + i * 7) & 0xFF) for i in range(256))
    return (unit * (size // 256 + 1))[:size]


def check_file(path, last):
    """The file must hold exactly 0..last, one per line."""
    with open(path, "rb") as f:
        data = f.read()
    expected = "".join("%d\n" % i for i in range(last + 1)).encode()
    if data == expected:
        return None
    lines = data.split(b"\n")
    for i, line in enumerate(lines[:-1]):
        if line != str(i).encode():
            return "line %d holds %r (gap or repeat)" % (i, line[:20])
    return "file has %d bytes, expected %d" % (len(data), len(expected))


def main():
    if len(sys.argv) != 2:
        print("usage: counter.py <output-file>", file=sys.stderr)
        return 2
    path = sys.argv[1]
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    st0 = os.fstat(fd)
    print("ready")

    squares = {}          # n -> n*n for every number written
    recent = []           # last 1000 numbers written, in order
    ring = [None] * RING  # (tick, bytes) pairs
    errors = []
    nxt = 0
    tick = 0
    while not check_requested:
        line = b"%d\n" % nxt
        n = os.write(fd, line)
        if n == len(line):
            squares[nxt] = nxt * nxt
            recent.append(nxt)
            del recent[:-1000]
            nxt += 1
        elif not errors:
            errors.append("short write %d of %d" % (n, len(line)))
        slot = ring[tick % RING]
        if slot is not None and slot[1] != blob(slot[0]) and not errors:
            errors.append("ring blob of tick %d corrupted" % slot[0])
        ring[tick % RING] = (tick, blob(tick))
        tick += 1
        # time.sleep resumes after a handled signal (PEP 475); a SIGUSR2
        # is then seen at the loop test at most 10 ms later.
        time.sleep(0.01)

    last = nxt - 1
    why = errors[0] if errors else None
    if why is None and nxt == 0:
        why = "nothing was written"
    if why is None:
        bad = [k for k, v in squares.items() if v != k * k]
        if len(squares) != nxt or sorted(squares) != list(range(nxt)) or bad:
            why = "squares dict damaged (%d entries, %d bad)" % (len(squares), len(bad))
    if why is None and recent != list(range(max(0, nxt - 1000), nxt)):
        why = "recent list damaged"
    if why is None:
        for slot in ring:
            if slot is not None and slot[1] != blob(slot[0]):
                why = "ring blob of tick %d corrupted" % slot[0]
                break
    if why is None:
        st1 = os.fstat(fd)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        if (st1.st_ino, st1.st_dev) != (st0.st_ino, st0.st_dev):
            why = "fd %d no longer refers to %s" % (fd, path)
        elif not flags & os.O_APPEND or flags & os.O_ACCMODE != os.O_WRONLY:
            why = "fd flags changed: %o" % flags
    if why is None:
        # Heap growth after restore: 64 MiB, every page touched.
        big = bytearray(64 << 20)
        big[::4096] = b"\x01" * len(range(0, len(big), 4096))
        if big[4096] != 1:
            why = "64 MiB allocation not writable"
        del big
    if why is None:
        why = check_file(path, last)
    os.close(fd)

    if why is not None:
        print("FAIL: %s" % why)
        return 1
    print("PASS sigusr1=%d last=%d" % (usr1_count, last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
