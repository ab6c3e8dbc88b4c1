#!/bin/bash
# selftest-workloads.sh — checks the checkpoint/restore workloads themselves,
# with no cryo involved: each one must report PASS when left alone, and FAIL
# when its state is damaged behind its back (otherwise a PASS after a
# restore would prove nothing).
#
# Usage: selftest-workloads.sh        (needs gcc and /usr/bin/python3; root
#                                      for the /proc/<pid>/mem tampering)
set -u

here=$(cd "$(dirname "$0")" && pwd)
csrc=$here/../c
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/selftest-workloads.XXXXXX)
failures=0
PID=

cleanup() {
    # Only processes this script started, by pid.
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok()  { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; failures=$((failures + 1)); }

# start NAME CMD... : runs CMD in the background, stdout to $tmp/NAME.out.
start() {
    local name=$1; shift
    OUT=$tmp/$name.out
    : >"$OUT"
    "$@" >"$OUT" 2>"$tmp/$name.err" &
    PID=$!
}

# wait_line PATTERN SECONDS : waits until $OUT has a line matching PATTERN.
wait_line() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        grep -qE "$1" "$OUT" && return 0
        kill -0 "$PID" 2>/dev/null || { grep -qE "$1" "$OUT"; return; }
        sleep 0.05
    done
    return 1
}

# check : sends SIGUSR2, waits for the exit; sets RC and LINE (last line).
check() {
    kill -USR2 "$PID"
    local i
    for ((i = 0; i < 600; i++)); do          # 30 s
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID"
        wait "$PID" 2>/dev/null
        RC=timeout
    else
        wait "$PID"
        RC=$?
    fi
    PID=
    LINE=$(tail -n 1 "$OUT")
}

# expect_pass NAME REGEX / expect_fail NAME : judges the last check.
expect_pass() {
    if [ "$RC" = 0 ] && [[ "$LINE" =~ $2 ]]; then ok "$1: $LINE"
    else bad "$1: rc=$RC line='$LINE' stderr='$(head -c 300 "$tmp/$1.err" 2>/dev/null)'"; fi
}
expect_fail() {
    if [ "$RC" = 1 ] && [[ "$LINE" == "FAIL: "* ]]; then ok "$1 (tampered): $LINE"
    else bad "$1 (tampered) should have failed: rc=$RC line='$LINE'"; fi
}

# ready NAME SECONDS : waits for "ready" or records a failure.
ready() {
    wait_line '^ready' "$2" && return 0
    bad "$1: no ready line: $(head -c 300 "$OUT")"
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
    return 1
}

# freeze PID... : stops the processes for 0.3 s, like the freeze around a
# dump; sleeps, futex waits and reads in flight must resume correctly.
freeze() {
    kill -STOP "$@"
    sleep 0.3
    kill -CONT "$@"
}

# poke PID ADDR DELTA : adds DELTA to the 64-bit word at ADDR in a stopped
# process, through /proc/PID/mem.
poke() {
    "$PY" - "$@" <<'EOF'
import struct, sys
pid, addr, delta = int(sys.argv[1]), int(sys.argv[2], 0), int(sys.argv[3])
with open("/proc/%d/mem" % pid, "r+b", buffering=0) as m:
    m.seek(addr)
    v = struct.unpack("<Q", m.read(8))[0]
    m.seek(addr)
    m.write(struct.pack("<Q", (v + delta) & (2**64 - 1)))
EOF
}

# ---------------------------------------------------------------- build
for prog in counter tree bigmem; do
    gcc -O1 -g -Wall -o "$tmp/$prog" "$csrc/$prog.c" || { bad "build $prog"; exit 1; }
done
gcc -O1 -g -Wall -pthread -o "$tmp/threads" "$csrc/threads.c" || { bad "build threads"; exit 1; }
ok "built counter threads tree bigmem"

# ---------------------------------------------------------------- counter.c / counter.py
counter_cases() {   # $1 = label, rest = command prefix
    local label=$1; shift
    local file=$tmp/$label.data
    rm -f "$file"
    start "$label" "$@" "$file"
    if ready "$label" 10; then
        sleep 0.2
        for _ in 1 2 3; do kill -USR1 "$PID"; sleep 0.05; done
        freeze "$PID"
        sleep 0.3
        check
        expect_pass "$label" '^PASS sigusr1=3 last=[0-9]+$'
        local last=${LINE##*last=}
        [ "$RC" = 0 ] && { [ "$last" -ge 10 ] && [ "$(tail -n 1 "$file")" = "$last" ] \
            && ok "$label: file ends at $last" || bad "$label: last=$last, file ends at $(tail -n 1 "$file")"; }
    fi

    # Tampered: a foreign number appended mid-run must show as a gap.
    rm -f "$file"
    start "$label-tamper" "$@" "$file"
    if ready "$label-tamper" 10; then
        sleep 0.2
        echo 999999 >>"$file"
        sleep 0.2
        check
        expect_fail "$label-tamper"
    fi
}
counter_cases counter "$tmp/counter"
counter_cases counter-py "$PY" "$here/counter.py"

# ---------------------------------------------------------------- threads
start threads "$tmp/threads"
if ready threads 10; then
    sleep 0.2
    freeze "$PID"
    sleep 0.3
    check
    expect_pass threads '^PASS shared=[0-9]+$'
fi

# Tampered: shared counter bumped while all threads are stopped.
start threads-tamper "$tmp/threads"
if ready threads-tamper 10; then
    sleep 0.2
    off=$(nm "$tmp/threads" | awk '$3 == "shared_count" { print $1 }')
    base=$(awk '$6 ~ /\/threads$/ { split($1, r, "-"); print r[1]; exit }' "/proc/$PID/maps")
    kill -STOP "$PID"
    poke "$PID" "$((0x$base + 0x$off))" 1000
    kill -CONT "$PID"
    sleep 0.1
    check
    expect_fail threads-tamper
fi

# ---------------------------------------------------------------- tree
descendants() {   # pids of the child and grandchild of $1
    local c= g=
    read -r c _ <"/proc/$1/task/$1/children"
    [ -n "$c" ] && read -r g _ <"/proc/$c/task/$c/children"
    echo $c $g
}
gone() {          # true if every pid is gone or a zombie (reparented to init)
    local p s
    for p in "$@"; do
        s=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) || continue
        [ -z "$s" ] || [ "$s" = Z ] || return 1
    done
}

start tree "$tmp/tree"
if ready tree 10; then
    sleep 0.2
    kids=$(descendants "$PID")
    freeze "$PID" $kids
    sleep 0.3
    check
    expect_pass tree '^PASS seq=[0-9]+$'
    set -- $kids
    if [ $# = 2 ] && ! ls -d /proc/$1 /proc/$2 >/dev/null 2>&1; then
        ok "tree: child and grandchild ($kids) reaped on exit"
    else bad "tree: descendants '$kids' left behind"; fi
fi

# Tampered: grandchild killed behind the parent's back.
start tree-tamper "$tmp/tree"
if ready tree-tamper 10; then
    sleep 0.2
    set -- $(descendants "$PID") none none
    kill -KILL "$2"
    sleep 0.1
    check
    expect_fail tree-tamper
fi

# The parent killed outright: PR_SET_PDEATHSIG must take the others down.
start tree-kill "$tmp/tree"
if ready tree-kill 10; then
    kids=$(descendants "$PID")
    kill -KILL "$PID"
    wait "$PID" 2>/dev/null
    PID=
    for _ in $(seq 40); do gone $kids && break; sleep 0.05; done
    if gone $kids; then ok "tree: descendants ($kids) die with the parent"
    else bad "tree: descendants ($kids) survived the parent"; fi
fi

# ---------------------------------------------------------------- bigmem
start bigmem "$tmp/bigmem" 256
if ready bigmem 60; then
    sum=$(awk '/^ready/ { print $2 }' "$OUT")
    freeze "$PID"
    check
    expect_pass bigmem "^PASS checksum=$sum\$"
fi

# Tampered: one word in the middle of the 256 MiB mapping changed.
start bigmem-tamper "$tmp/bigmem" 256
if ready bigmem-tamper 60; then
    # The biggest rw anonymous mapping is ours (maybe merged with a small
    # neighbour, so aim at its middle).
    mid=$("$PY" - "$PID" <<'EOF'
import sys
best = (0, 0)
for line in open("/proc/%s/maps" % sys.argv[1]):
    f = line.split()
    if f[1].startswith("rw") and len(f) == 5:
        s, e = (int(x, 16) for x in f[0].split("-"))
        best = max(best, (e - s, s))
size, start = best
print(hex(start + size // 2 // 4096 * 4096 + 8))
EOF
)
    kill -STOP "$PID"
    poke "$PID" "$mid" 1
    kill -CONT "$PID"
    check
    expect_fail bigmem-tamper
fi

echo
if [ "$failures" = 0 ]; then echo "selftest-workloads: all passed"; exit 0; fi
echo "selftest-workloads: $failures failure(s)"
exit 1
