# Runs argv[1:] as root of a new user namespace whose root is 100000 outside, 65536 ids mapped (zdtm's
# uns flavor; no newuidmap needed: this process, root outside, writes the child's maps).
import ctypes, os, sys

libc = ctypes.CDLL(None, use_errno=True)
made, mapped = os.pipe(), os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        print('FAIL: unshare(CLONE_NEWUSER): errno %d' % ctypes.get_errno(), flush=True)
        os._exit(1)
    os.write(made[1], b'u')
    os.read(mapped[0], 1)
    os.setresgid(0, 0, 0)
    os.setgroups([])
    os.setresuid(0, 0, 0)
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(made[0], 1)
for m in ('uid_map', 'gid_map'):
    with open('/proc/%d/%s' % (pid, m), 'w') as f:
        f.write('0 100000 65536')
os.write(mapped[1], b'm')
os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
