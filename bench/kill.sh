#!/bin/sh
# kill.sh [N] - exec-to-kill latency with a real `vigil run`.
# Starts the daemon with bench/policies-kill, times N runs of the marker
# binary unpoliced, killed in the kernel, killed from Lua (check()), and
# N/5 kill_pod runs from exec to an empty cgroup. Needs root.
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000}
B=${VIGIL_BUILD:-build}
T=$(mktemp -d)
for n in vgnone vgkernel vglua vgpod; do cp "$B/bench/kill_marker" "$T/$n"; done
"$B/vigil" run --data-dir "$T/data" --listen 127.0.0.1:18777 --policies bench/policies-kill \
	>"$T/vigil.log" 2>&1 &
V=$!
trap 'kill -INT $V 2>/dev/null; wait $V 2>/dev/null; rm -rf "$T"' EXIT
until grep -q "ready:" "$T/vigil.log"; do sleep 0.1; kill -0 $V; done
echo "== not policed (the marker's own run: exec, create a file, sleep 200 ms)"
"$B/bench/kill_bench" proc "$T/vgnone" 20
echo "== killed in the kernel at exec"
"$B/bench/kill_bench" proc "$T/vgkernel" "$N"
echo "== killed from user space (Lua check, then pidfd)"
"$B/bench/kill_bench" proc "$T/vglua" "$N"
echo "== kill_pod: exec to an empty cgroup (kernel kill + cgroup.kill)"
"$B/bench/kill_bench" pod "$T/vgpod" $((N / 5))
