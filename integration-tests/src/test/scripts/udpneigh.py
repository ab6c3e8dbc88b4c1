# UDP sockets whose datagram waits below them for neighbour discovery at the freeze (BIND's priming
# query to a root server over IPv6, on a route whose neighbour never answers): s holds only that, c
# holds that and then bytes corked after it (UDP_CORK) for r. argv[1] is an address on such a link.
# Before "ready" both send queues hold the waiting datagram (/proc/net/udp6 tx_queue). On SIGUSR2 c is
# uncorked and r gets the corked bytes from c's port, then s sends to r and r gets that from s's port.
# Prints "ready FD" (s's fd), then PASS or FAIL: reason.
import os, signal, socket, sys, time

target = sys.argv[1]
A = socket.AF_INET6
UDP_CORK = 1  # linux/udp.h; not in the socket module


def fail(why):
    print('FAIL: ' + why, flush=True)
    os._exit(1)


def tx_queue(port):
    for line in open('/proc/net/udp6').read().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(':')[1], 16) == port:
            return int(f[4].split(':')[0], 16)
    return -1


r = socket.socket(A, socket.SOCK_DGRAM)
r.bind(('::1', 0))
s = socket.socket(A, socket.SOCK_DGRAM)
s.bind(('::', 0))
c = socket.socket(A, socket.SOCK_DGRAM)
c.bind(('::', 0))
s.sendto(b'priming query', (target, 53))
c.sendto(b'another query', (target, 53))
c.setsockopt(socket.IPPROTO_UDP, UDP_CORK, 1)
c.sendto(b'corked', r.getsockname())
for sock in (s, c):
    if tx_queue(sock.getsockname()[1]) <= 0:
        fail('port %d holds no datagram waiting for its neighbour' % sock.getsockname()[1])
r.settimeout(0.2)
try:
    r.recv(64)
    fail('r got something before the uncork')
except socket.timeout:
    pass


def check(*_):
    r.settimeout(30)
    c.setsockopt(socket.IPPROTO_UDP, UDP_CORK, 0)
    data, frm = r.recvfrom(64)
    if data != b'corked' or frm[1] != c.getsockname()[1]:
        fail('after the uncork r got %r from %r' % (data, frm))
    s.sendto(b'after', r.getsockname())
    data, frm = r.recvfrom(64)
    if data != b'after' or frm[1] != s.getsockname()[1]:
        fail('r got %r from %r, not s\'s datagram' % (data, frm))
    print('PASS', flush=True)
    os._exit(0)


signal.signal(signal.SIGUSR2, check)
print('ready', s.fileno(), flush=True)
end = time.time() + 600
while time.time() < end:
    time.sleep(1)
