# A container's FTP session across a dump (NetNamespaceTest), its rules set up before it starts: nft DNATs
# 10.88.0.1:21 to :2121, attaches the ftp helper to the control connection, and its input filter drops what
# conntrack does not know (policy drop, established and related accepted, a new connection only to :2121). A
# thread serves one session: a control connection that answers PASV with the passive data port, which the ftp
# helper reads into an expectation (a related connection to come). The client reads the reply and the process
# is dumped; after it (SIGUSR2) the client opens the data connection: the filter lets it in only as the expected,
# related one (a new connection to :30000 is dropped), and the server sends the data. With "open", the data
# connection is open at the dump (the conntrack entry the helper expected, tied to the control connection's) and
# the server sends the data through it after the dump. PASS/FAIL.
import signal
import socket
import sys
import threading
import time

A = "10.88.0.1"
CONTROL, DATA = 2121, 30000
OPEN = len(sys.argv) > 1 and sys.argv[1] == "open"
checked = []
signal.signal(signal.SIGUSR2, lambda *a: checked.append(1))


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((A, port))
    s.listen(1)
    return s


control, data = listener(CONTROL), listener(DATA)
held = []


def serve():
    c, _ = control.accept()
    held.append(c)
    c.sendall(b"220 ready\r\n")
    line = b""
    while not line.endswith(b"\r\n"):
        line += c.recv(100)
    c.sendall(b"227 Entering Passive Mode (10,88,0,1,%d,%d).\r\n" % (DATA >> 8, DATA & 255))
    d, _ = data.accept()
    held.append(d)
    if not OPEN:
        d.sendall(b"the file\n")
        d.close()


threading.Thread(target=serve, daemon=True).start()
client = socket.create_connection((A, 21), timeout=30)
replies = client.makefile("rb")
replies.readline()
client.sendall(b"PASV\r\n")
reply = replies.readline().decode()
numbers = reply[reply.index("(") + 1:reply.index(")")].split(",")
port = int(numbers[4]) * 256 + int(numbers[5])
if OPEN:
    d = socket.create_connection((A, port), timeout=5)
    while len(held) < 2:
        time.sleep(0.01)
print("ready", reply.strip(), flush=True)
while not checked:
    signal.pause()
try:
    if OPEN:
        d.settimeout(5)
        held[1].sendall(b"the file\n")
        held[1].close()
    else:
        d = socket.create_connection((A, port), timeout=5)
    got = b""
    while not got.endswith(b"\n"):
        more = d.recv(100)
        if not more:
            break
        got += more
    print("PASS" if got == b"the file\n" else "FAIL: the data connection gave %r" % got, flush=True)
except OSError as e:
    print("FAIL: the data connection to port %d: %s" % (port, e), flush=True)
