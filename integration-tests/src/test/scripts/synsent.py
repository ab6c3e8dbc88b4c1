# A connection attempt in flight to a listener of the tree's own net namespace (zdtm's socket-tcp-syn-sent in
# its ns flavor; a server whose accept queue is full drops the SYNs of new clients): l listens with a backlog
# of 0 and has one connection waiting in its queue (a's), so b's non-blocking connect stays SYN_SENT. Dumped
# with --tcp-skip-in-flight, which leaves a's queued end out. On SIGUSR2 b's attempt completes (its SYN made
# again) and l accepts it, a byte goes each way; a is reset at its next byte. Prints "ready", then PASS or FAIL: reason.
import os, select, signal, socket, struct, time


def fail(why):
    print('FAIL: ' + why, flush=True)
    os._exit(1)


def state(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen(0)
a = socket.socket()
a.connect(l.getsockname())
b = socket.socket()
b.setblocking(False)
try:
    b.connect(l.getsockname())
except BlockingIOError:
    pass
time.sleep(0.5)  # b's SYN went out and was dropped; a further one changes nothing
if state(b) != 2:  # TCP_SYN_SENT
    fail('b is in state %d, not SYN_SENT' % state(b))


def talk(client, server, what):
    client.setblocking(True)
    client.sendall(what)
    if server.recv(16) != what:
        fail('the server did not get %r' % what)
    server.sendall(what.upper())
    if client.recv(16) != what.upper():
        fail('the client did not get %r' % what.upper())


def check(*_):
    if not select.select([], [b], [], 60)[1]:
        fail('b did not connect within 60 s (state %d)' % state(b))
    err = b.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err != 0:
        fail('b\'s attempt failed: %s' % os.strerror(err))
    l.settimeout(60)
    sb, _ = l.accept()
    if sb.getpeername() != b.getsockname():
        fail('l accepted %r, not b %r' % (sb.getpeername(), b.getsockname()))
    talk(b, sb, b'b')
    a.settimeout(60)
    try:
        a.sendall(b'a')
        got = a.recv(16)
        fail('a, whose queued end was left out, got %r, not a reset' % got)
    except ConnectionResetError:
        pass
    print('PASS', flush=True)
    os._exit(0)


signal.signal(signal.SIGUSR2, check)
print('ready', flush=True)
end = time.time() + 600
while time.time() < end:
    time.sleep(1)
