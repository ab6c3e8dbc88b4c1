"""uxlistener.py DIR [renamed]: a unix stream listener bound to DIR/sock (renamed: bound to DIR/sock.new and renamed
to DIR/sock, as daemons do to replace their socket at once) answering "hello" to each client, and an flock on DIR/lock
(MigrationTest: a process outside waiting for that lock makes a migration fail once b bound the path)."""
import fcntl
import os
import socket
import sys

d = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
renamed = sys.argv[2:] == ["renamed"]
s.bind(os.path.join(d, "sock.new" if renamed else "sock"))
s.listen(8)
if renamed:
    os.rename(os.path.join(d, "sock.new"), os.path.join(d, "sock"))
lock = open(os.path.join(d, "lock"), "w")
fcntl.flock(lock, fcntl.LOCK_EX)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"hello\n")
    c.close()
