# A container's init with stateful rules of its own (NetNamespaceTest), set up before it starts: nft DNATs
# 10.88.0.1:81 to :8080, and its input filter drops what conntrack does not know (policy drop, established and
# related accepted, a new connection only by its SYN). One connection made through the DNAT stays open across the
# dump; after it (SIGUSR2) the server speaks first: its bytes reach the client only if the conntrack entry came back
# with its NAT (a new entry has none, and the packet from :8080 is not the :81 the client knows), and both ways only
# if the filter knows the connection. PASS/FAIL.
import signal
import socket
import sys

A = "10.88.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 81  # 8080: straight to the server
checked = []
signal.signal(signal.SIGUSR2, lambda *a: checked.append(1))

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((A, 8080))
server.listen(8)
client = socket.create_connection((A, PORT), timeout=30)
accepted, _ = server.accept()
client.sendall(b"x")
accepted.sendall(b"y")
if accepted.recv(1) != b"x" or client.recv(1) != b"y" or client.getpeername()[1] != PORT:
    print("FAIL before the dump", flush=True)
    raise SystemExit(1)
print("ready", flush=True)
while not checked:
    signal.pause()
result = {}
for s in (client, accepted):
    s.settimeout(10)
try:
    accepted.sendall(b"server first" * 1000)
    got = b""
    while len(got) < 12000:
        got += client.recv(65536)
    result["server to client"] = got == b"server first" * 1000
    client.sendall(b"client" * 1000)
    got = b""
    while len(got) < 6000:
        got += accepted.recv(65536)
    result["client to server"] = got == b"client" * 1000
except OSError as e:
    result["error"] = False
    print("error:", e, flush=True)
print("PASS" if result and all(result.values()) else "FAIL: %s" % result, flush=True)
