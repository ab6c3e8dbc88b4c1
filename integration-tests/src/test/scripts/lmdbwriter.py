# An LMDB writer (py-lmdb over Debian's liblmdb) holding a write transaction open: LMDB's writer
# mutex, a robust process-shared mutex in the environment's lock.mdb mapped shared, stays held until
# the transaction commits. Argument: the environment's directory. Prints "ready" with the
# transaction open; on SIGUSR2 commits it and prints PASS if the three keys are there, else FAIL.
import lmdb
import signal
import sys
import time

env = lmdb.open(sys.argv[1], map_size=1 << 24)
with env.begin(write=True) as t:
    t.put(b'before', b'1')
txn = env.begin(write=True)
txn.put(b'during', b'2')
got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(s))
print('ready', flush=True)
for _ in range(6000):  # 10 minutes at most
    if got:
        break
    time.sleep(0.1)
txn.commit()
with env.begin(write=True) as t:
    t.put(b'after', b'3')
with env.begin() as t:
    keys = [k for k, _ in t.cursor()]
print('PASS' if keys == [b'after', b'before', b'during'] else 'FAIL: keys %r' % keys, flush=True)
