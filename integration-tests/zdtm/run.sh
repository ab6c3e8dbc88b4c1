#!/bin/bash
# Runs CRIU's zdtm.py against cryo: run.sh [zdtm.py run options], e.g. run.sh -t zdtm/static/fd01 -f ns
# ZDTM_DIR: setup.sh's directory (default /tmp/cryo-zdtm); CRYO: the cryo launcher (default this checkout's).
here=$(cd "$(dirname "$0")" && pwd)
cd "${ZDTM_DIR:-/tmp/cryo-zdtm}"/criu-4.1.1/test || { echo "run setup.sh first" >&2; exit 1; }
# ZDTM_NO_V1_CGROUPS=0 for the cgroup0*/cgroup_* tests only (ns flavor): zdtm.py then makes its named v1 hierarchies
export ZDTM_TERM_WAIT=${ZDTM_TERM_WAIT:-120} ZDTM_CRIU_TIMEOUT=${ZDTM_CRIU_TIMEOUT:-300} ZDTM_NO_V1_CGROUPS=${ZDTM_NO_V1_CGROUPS:-1}
# poll (h flavor) fails when its SIGTERM comes more than ZDTM_DELTA s (its default 5) after its start: a loaded host's cycle takes longer
export ZDTM_DELTA=${ZDTM_DELTA:-30}
# the ns flavor's root is this directory; tests that run as zdtm's uid 18943 (no suid flag) and create files at its top,
# unlink_multiple_largefiles' /unlinked0, fail at their start (EACCES) unless a uns run (zdtm.py adds 077 to its mode) came first
chmod go+rwx .
exec python3 zdtm.py run --criu-bin "$here/cryo-criu" --keep-going --ignore-taint "$@"
