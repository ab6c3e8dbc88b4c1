"""uxlistener.py DIR: a unix stream listener bound to DIR/sock answering "hello" to each client, and an flock on
DIR/lock (MigrationTest: a process outside waiting for that lock makes a migration fail once b bound the path)."""
import fcntl
import os
import socket
import sys

d = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(d, "sock"))
s.listen(8)
lock = open(os.path.join(d, "lock"), "w")
fcntl.flock(lock, fcntl.LOCK_EX)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"hello\n")
    c.close()
