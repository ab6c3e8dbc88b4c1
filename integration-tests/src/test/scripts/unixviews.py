# Unix sockets of one net namespace bound at the same path in two mount namespaces (zdtm's
# sk-unix-mntns; a pod's containers sharing a net namespace): the parent mounts a tmpfs on argv[1] (so
# cryo's view does not reach its files) and makes DIR = argv[1]/s in it, then forks a child that unshares
# its mount namespace and mounts another tmpfs on DIR (a mount hidden under another would be refused in a
# user namespace: cryo could not unmount the upper one in its copy of the namespace). Each binds a datagram socket
# at DIR/dgram (a client connected to it) and a listener at DIR/stream (a client connected and accepted),
# and writes its name in DIR/who. On SIGUSR2 each checks its own: the connected clients carry a message,
# new clients connect by the paths and reach the sockets of their own view. Prints PASS or FAIL: reason.
import ctypes, os, signal, socket, subprocess, sys, time

d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)


def fail(why):
    print('FAIL: ' + why, flush=True)
    os._exit(1)


def sh(cmd):
    if subprocess.run(cmd, shell=True).returncode != 0:
        fail(cmd)


sh('mount -t tmpfs parent ' + d)
d += '/s'
os.mkdir(d)
r, w = os.pipe()
child = os.fork()
if child == 0:
    if libc.unshare(0x20000) != 0:  # CLONE_NEWNS
        fail('unshare: errno %d' % ctypes.get_errno())
    sh('mount --make-rprivate / && mount -t tmpfs child ' + d)
me = 'child' if child == 0 else 'parent'
open(d + '/who', 'w').write(me)
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(d + '/dgram')
dc = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dc.connect(d + '/dgram')
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(d + '/stream')
ls.listen(4)
sc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sc.connect(d + '/stream')
acc, _ = ls.accept()


def check():
    if open(d + '/who').read() != me:
        fail(me + ' sees the files of another view')
    dc.send(me.encode() + b' connected')
    if dg.recv(64) != me.encode() + b' connected':
        fail(me + ': the connected datagram client reached another socket')
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.connect(d + '/dgram')
    n.send(me.encode() + b' new')
    if dg.recv(64) != me.encode() + b' new':
        fail(me + ': a new datagram client reached another socket')
    sc.sendall(me.encode())
    if acc.recv(64) != me.encode():
        fail(me + ': the accepted connection lost its client')
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(d + '/stream')
    a, _ = ls.accept()
    c.sendall(me.encode() + b' again')
    if a.recv(64) != me.encode() + b' again':
        fail(me + ': a new stream client reached another listener')


if child == 0:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    os.write(w, b'x')
    signal.sigwait([signal.SIGUSR2])
    check()
    os._exit(0)


def verdict(*_):
    os.kill(child, signal.SIGUSR2)
    check()
    _, status = os.waitpid(child, 0)
    if status != 0:
        fail('the child failed: status %d' % status)
    print('PASS', flush=True)
    os._exit(0)


if os.read(r, 1) != b'x':
    fail('the child did not get ready')
signal.signal(signal.SIGUSR2, verdict)
print('ready', flush=True)
end = time.time() + 600
while time.time() < end:
    time.sleep(1)
