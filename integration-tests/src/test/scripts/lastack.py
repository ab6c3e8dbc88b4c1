# A connection of the tree's own net namespace closed both ways whose last ACK a firewall drops (zdtm's
# socket-tcp-closed-last-ack in its ns flavor): c shuts down for writing, nft drops what comes to the server's
# port, then s shuts down too, so s waits in LAST_ACK for c's ACK while c's end is in TIME_WAIT, which no file
# holds (c's socket is closed). On SIGUSR2 the rule goes and both ends read EOF and fail to write (EPIPE), c
# still naming its peer and itself as before. Prints "ready", then PASS or FAIL: reason.
import errno, os, signal, socket, subprocess, time


def fail(why):
    print('FAIL: ' + why, flush=True)
    os._exit(1)


def state(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


RULE = 'tcp dport 8880 drop'
subprocess.run(['nft', 'add table inet cryolastack'], check=True)
subprocess.run(['nft', 'add chain inet cryolastack in { type filter hook input priority 0; }'], check=True)
l = socket.socket()
l.bind(('127.0.0.1', 8880))
l.listen(1)
c = socket.create_connection(('127.0.0.1', 8880))
s, _ = l.accept()
l.close()
c.shutdown(socket.SHUT_WR)
subprocess.run(['nft', 'add rule inet cryolastack in ' + RULE], check=True)
s.shutdown(socket.SHUT_WR)
for i in range(100):
    if state(s) == 9 and state(c) == 7:  # LAST_ACK, and c's end gone to TIME_WAIT
        break
    time.sleep(0.1)
else:
    fail('s is in state %d, c in %d, not LAST_ACK and CLOSE' % (state(s), state(c)))
SO_PEERNAME = 28  # what a closed socket still names its peer by (getpeername says ENOTCONN)
peer, me = c.getsockopt(socket.SOL_SOCKET, SO_PEERNAME, 16), c.getsockname()


def writes(sock, name):
    try:
        sock.send(b'x')
    except OSError as e:
        if e.errno != errno.EPIPE:
            fail('%s: a write failed with %s, not EPIPE' % (name, e))
        return
    fail('%s: a write went through' % name)


def check(*_):
    subprocess.run(['nft', 'delete table inet cryolastack'], check=True)
    for sock, name in ((s, 's'), (c, 'c')):
        sock.settimeout(60)
        if sock.recv(1) != b'':
            fail('%s: did not read EOF' % name)
        writes(sock, name)
    if c.getsockopt(socket.SOL_SOCKET, SO_PEERNAME, 16) != peer or c.getsockname() != me:
        fail('c names %s -> %s, not %s -> %s' % (c.getsockname(), c.getsockopt(socket.SOL_SOCKET, SO_PEERNAME, 16), me, peer))
    print('PASS', flush=True)
    os._exit(0)


signal.signal(signal.SIGUSR2, check)
print('ready', flush=True)
while True:
    signal.pause()
