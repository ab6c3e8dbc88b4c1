# A container's init behind a firewall of its own (NetNamespaceTest), set up before it starts:
# nft DNATs 10.86.0.1:80 to :8080 through a map and drops SYNs to :8081; iptables-nft DNATs :81 to
# :8080 and drops :8082 (a rule with a comment). Each rule is checked by what it does: a connection
# through each DNAT reaches the server on 8080, a connect to 8081/8082 (listeners there) times out.
# One connection made through the DNAT stays open across the dump. SIGUSR2: check again, PASS/FAIL.
import signal
import socket
import sys

A = "10.86.0.1"
checked = []
signal.signal(signal.SIGUSR2, lambda *a: checked.append(1))


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((A, port))
    s.listen(8)
    return s


server = listener(8080)
closed = [listener(8081), listener(8082)]  # reached only if the drop rules are gone


def through(port):
    """A new connection to port, DNATed to the server: one byte each way."""
    c = socket.create_connection((A, port), timeout=30)
    a, _ = server.accept()
    c.sendall(b"x")
    got = a.recv(1)
    a.sendall(b"y")
    ok = got == b"x" and c.recv(1) == b"y" and c.getpeername()[1] == port
    c.close()
    a.close()
    return ok


def blocked(port):
    """The firewall drops the SYN: the connect times out (a listener is there)."""
    c = socket.socket()
    c.settimeout(3)
    try:
        c.connect((A, port))
        return False
    except socket.timeout:
        return True
    finally:
        c.close()


def checks():
    return {"dnat nft": through(80), "dnat iptables": through(81), "drop nft": blocked(8081),
            "drop iptables": blocked(8082)}


held = socket.create_connection((A, 80), timeout=30)
held_at, _ = server.accept()
first = checks()
if not all(first.values()):
    print("FAIL before the dump:", first, flush=True)
    sys.exit(1)
print("ready", flush=True)
while not checked:
    signal.pause()
result = checks()
held.sendall(b"h")
held_at.sendall(b"k")
result["held through the dnat"] = held_at.recv(1) == b"h" and held.recv(1) == b"k"
print("PASS" if all(result.values()) else "FAIL: %s" % result, flush=True)
