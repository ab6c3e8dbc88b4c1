#!/bin/bash
# Fetches CRIU's source through apt (Debian's criu source package: its upstream tarball holds zdtm), builds zdtm's
# tests and patches zdtm.py for cryo (see README.md). Usage: setup.sh [DIR] (default /tmp/cryo-zdtm). Not run by CI.
set -euo pipefail
dir=${1:-/tmp/cryo-zdtm}
version=4.1.1
mkdir -p "$dir" && cd "$dir"
if [ ! -d "criu-$version" ]; then
  # bookworm's criu_3.17.1.orig.tar.xz is missing on the mirror; trixie's source package is fetched instead, from
  # a deb-src entry of its own, removed again (the system's sources are left as they were)
  src=/etc/apt/sources.list.d/cryo-zdtm-src.sources
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$src"
  apt-get update -qq || true
  apt-get source --download-only "criu=$version-1" || true # the .dsc may be missing: the upstream tarball is enough
  rm -f "$src"; apt-get update -qq || true
  tar xf "criu_$version.orig.tar.xz"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libaio-dev libcap-dev libnl-3-dev libnl-route-3-dev python3-yaml
make -C "criu-$version/test/zdtm" -k -j2 >make.log 2>&1 || echo "some zdtm tests did not build: $dir/make.log" >&2
cd "criu-$version/test"
# pycriu (test/pycriu is ../lib/pycriu) is only needed for RPC mode and CRIU's images, neither of which cryo has:
# zdtm.py and the tests' hooks (socket-tcp-*.hook) import it, and its generated protobuf modules are not built
if [ ! -f ../lib/pycriu/__init__.py.orig ]; then
  mv ../lib/pycriu/__init__.py ../lib/pycriu/__init__.py.orig
  printf 'class CRIUExceptionExternal(Exception):\n    pass\nrpc = images = None\ndef criu():\n    raise RuntimeError("no RPC mode against cryo")\n' > ../lib/pycriu/__init__.py
fi
python3 - <<'PY'
s = open('zdtm.py').read()
# a test's wait for its end, and criu's, are bounded by 30 and 60 s: too short on a loaded host
s = s.replace("self.__timeout = int(self.__desc.get('timeout') or 30)",
              "self.__timeout = max(int(self.__desc.get('timeout') or 30), int(os.getenv('ZDTM_TERM_WAIT', '0')))")
s = s.replace("            timeout=60):", "            timeout=int(os.getenv('ZDTM_CRIU_TIMEOUT', '60'))):")
# -F FILE: the list was read after the file was closed, and keep-going turned off
s = s.replace("""            torun = map(lambda x: x.strip(), fd)
        opts['keep_going'] = False
""", """            torun = [x.strip() for x in fd if x.strip()]
""")
# ZDTM_NO_V1_CGROUPS=1 (run.sh's default): no named v1 cgroup hierarchies (name=zdtmtst*) on the host; only the
# cgroup0*/cgroup_* tests use them, and every host process's /proc/PID/cgroup lists them while they exist
guard = "        if 'rootless' in opts and opts['rootless'] or os.getenv('ZDTM_NO_V1_CGROUPS') == '1':\n            return\n"
for script in ('zdtm_mount_cgroups', 'zdtm_umount_cgroups'):
    old = ("        if 'rootless' in opts and opts['rootless']:\n            return\n        subprocess.check_call(\n"
           "            [\"flock\", \"zdtm_mount_cgroups.lock\", \"./%s\", str(uuid)])\n" % script)
    s = s.replace(old, guard + old.split('return\n', 1)[1])
# glibc's pthread_exit loads libgcc_s.so.1 (for the unwinder), which ldd does not list: the ns/uns roots lacked it and
# pthread02 aborted at its start ("libgcc_s.so.1 must be installed for pthread_exit to work")
old = "        for b in l_bins:\n            self.__copy_libs(b)\n"
if 'libgcc_s' not in s:
    s = s.replace(old, old + "        for lib in glob.glob('/lib/*/libgcc_s.so.1'):\n            self.__copy_one(lib)\n", 1)
open('zdtm.py', 'w').write(s)
PY
echo "zdtm ready in $dir/criu-$version/test"
