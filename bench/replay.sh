#!/bin/sh
# replay.sh - policy engine throughput on a synthetic node trace.
#   bench/replay.sh [EVENTS]      default 10,000,000 (about 5.7 GB in $TMPDIR)
# (a) the default pack on the realistic mix; (b) the worst case, every exec
# through one Lua check (bench/policies-worst).
set -eu
cd "$(dirname "$0")/.."
N=${1:-10000000}
T=${TMPDIR:-/tmp}/vigil-replay-$N.trace
B=${VIGIL_BUILD:-build}
[ -s "$T" ] || "$B/bench/replay_bench" gen "$T" "$N"
echo "== (a) default pack, $N events"
"$B/bench/replay_bench" run "$T"
echo "== (b) worst case: every event through one Lua check"
"$B/bench/replay_bench" run "$T" -d bench/policies-worst
