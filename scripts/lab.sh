#!/bin/bash
# lab.sh - the seed lab, replayed with real parts, where StackRox let `apt update`
# finish before the pod died:
#   * a local HTTPS stand-in for the Kubernetes API server (none can run here)
#   * `vigil run` with "Ubuntu Package Manager Execution" set to enforce as a user
#     types it, `vigil policy enforce NAME` (no --action: kill_pod, StackRox's
#     "inform and enforce")
#   * a real podman container started like a pod, a shell inside it, and
#     `apt-get update`, `dpkg -i`, `apt install` typed into that shell
# Expected: the shell's first such command dies at once (exit 137) having printed
# nothing; the container is gone; the violation names the pod, namespace, uid, args,
# the shell as parent, and "killed in kernel"; the stand-in got the DELETE and the
# Warning Event, and kubectl reads them back; `vigil violations resolve` resolves it.
# Then with --action kill_process: the command dies, the container keeps running
# and the API server gets no DELETE. Then on inform: the container keeps running
# and an alert is recorded.
#
#   sudo scripts/lab.sh            (after `make`; prints LAB PASSED or why not)
set -u
cd "$(dirname "$0")/.."
V=${VIGIL_BIN:-build/vigil}
IMAGE=${VIGIL_TEST_IMAGE:-localhost/debmin:bookworm}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/tests/podman/containers.conf}
T=$(mktemp -d /tmp/vigil-lab.XXXXXX)
KPORT=$((41000 + RANDOM % 9000))
APORT=$((21000 + RANDOM % 9000))
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
POLICY="Ubuntu Package Manager Execution"
FAILED=0
PIDS=""
CIDS=""

say() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
bad() { printf '   FAILED: %s\n' "$*"; FAILED=1; }
cleanup() {
	for c in $CIDS; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT
kc() { kubectl --server "https://127.0.0.1:$KPORT" --token "$TOKEN" --insecure-skip-tls-verify \
	--cache-dir "$T/kcache" "$@"; }
vig() { "$V" "$@" --data-dir "$T/data" --config "$T/vigil.conf.lua"; }

scripts/test-image.sh || { echo "cannot prepare $IMAGE"; exit 1; }

say "a Kubernetes API server stand-in on 127.0.0.1:$KPORT"
mkdir -p "$T/k8s"
echo "$TOKEN" > "$T/token"
python3 tests/k8s_standin.py --port "$KPORT" --token "$TOKEN" --dir "$T/k8s" > "$T/k8s.out" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do grep -q ready "$T/k8s.out" && break; sleep 0.1; done

# a pod of namespace "lab" on node "lab-node": the stand-in serves it, podman runs it
start_pod() { # name -> sets CID, UID_
	UID_=$(cat /proc/sys/kernel/random/uuid)
	CID=$(podman run -d --network none --cgroup-parent "/kubepods/besteffort/pod$UID_" "$IMAGE" \
		sleep infinity)
	CIDS="$CIDS $CID"
	# the pod's status lists its container, as the API server's does (vigil checks it)
	curl -sk -X POST "https://127.0.0.1:$KPORT/_standin/pods" -d "{\"metadata\": {\"uid\": \"$UID_\",
		\"name\": \"$1\", \"namespace\": \"lab\", \"labels\": {\"app\": \"ubuntu\"},
		\"ownerReferences\": [{\"kind\": \"ReplicaSet\", \"name\": \"ubuntu-7c9d8f6b5\"}]},
		\"spec\": {\"nodeName\": \"lab-node\", \"containers\": [{\"name\": \"ubuntu\"}]},
		\"status\": {\"phase\": \"Running\", \"containerStatuses\": [{\"name\": \"ubuntu\",
		\"containerID\": \"cri-o://$CID\"}]}}" >/dev/null
}

cat > "$T/vigil.conf.lua" <<EOF
return {
  api = { listen = "127.0.0.1:$APORT" },
  kubernetes = { server = "https://127.0.0.1:$KPORT", token_file = "$T/token", insecure = true,
                 node = "lab-node", refresh_s = 1 },
}
EOF

say "vigil run, with '$POLICY' set to inform and enforce (no --action: kill_pod)"
start_pod ubuntu-7c9d8f6b5-x2k4q
"$V" run --data-dir "$T/data" --config "$T/vigil.conf.lua" > "$T/vigil.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do grep -q "ready:" "$T/vigil.log" && break; sleep 0.1; done
vig policy enforce "$POLICY" > "$T/enforce.out" && ok "enforcing: $(cat "$T/enforce.out")" ||
	bad "policy enforce"
grep -q ": kill_pod: .*Kubernetes DELETE and Event" "$T/enforce.out" ||
	bad "the default action is not kill_pod with Kubernetes"
sleep 1.5 # the pod list reaches vigil

say "a shell in the pod; typed in: apt-get update; dpkg -i x.deb; apt install curl"
OUT=$(printf 'echo shell-started\napt-get update\ndpkg -i /tmp/x.deb\napt install -y curl\n' |
	podman exec -i "$CID" bash 2>&1)
RC=$?
echo "   exit status $RC, output: $(echo "$OUT" | tr '\n' '|')"
[ "$RC" = 137 ] && ok "the shell's command died at exec: 137" || bad "expected exit 137, got $RC"
# the only other lines may be bash's own notices that its child was killed
REST=$(echo "$OUT" | grep -v '^shell-started$' | grep -v 'Killed' || true)
[ -z "$REST" ] && ok "apt-get, dpkg and apt printed nothing (bash only reports them Killed)" ||
	bad "output from the killed binaries: $REST"
for _ in $(seq 50); do
	[ "$(podman inspect -f '{{.State.Status}}' "$CID")" != running ] && break; sleep 0.1
done
ST=$(podman inspect -f '{{.State.Status}}' "$CID")
[ "$ST" != running ] && ok "the container is gone ($ST)" || bad "the container still runs"

say "the violation"
sleep 1
vig violations list --namespace lab --state all | tee "$T/list.txt"
ID=$(vig violations list --namespace lab --pod ubuntu-7c9d8f6b5-x2k4q --json --state all |
	python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["id"] if a else "")')
[ -n "$ID" ] && ok "alert $ID in namespace lab, pod ubuntu-7c9d8f6b5-x2k4q" || bad "no alert for the pod"
vig violations show "$ID" --json > "$T/alert.json"
python3 - "$T/alert.json" <<'PY' && ok "uid 0, args 'update', the shell as parent, killed in kernel" || bad "forensic detail"
import json, sys
a = json.load(open(sys.argv[1]))
p = a["processes"][-1]
assert a["namespace"] == "lab" and a["deployment"]["name"] == "ubuntu", a
assert p["uid"] == 0 and p["args"] == "update" and p["execFilePath"].endswith("apt-get"), p
assert p["lineage"][0]["parentExecFilePath"].endswith("bash"), p["lineage"]
assert p["killedInKernel"], p
assert "kill_pod" in a["enforcement"]["action"], a["enforcement"]
PY

say "the Kubernetes side"
for _ in $(seq 50); do
	curl -sk "https://127.0.0.1:$KPORT/_standin/log" | grep -q "vigil enforcement" && break; sleep 0.1
done
curl -sk "https://127.0.0.1:$KPORT/_standin/log" > "$T/k8s-log.json"
python3 - "$T/k8s-log.json" <<'PY' && ok "DELETE /api/v1/namespaces/lab/pods/... with grace 0, Background, uid; the Warning Event" || bad "what the API server received"
import json, sys
log = json.load(open(sys.argv[1]))
d = [e for e in log["log"] if e["method"] == "DELETE"][0]
assert d["path"] == "/api/v1/namespaces/lab/pods/ubuntu-7c9d8f6b5-x2k4q", d
b = json.loads(d["body"])
assert b["gracePeriodSeconds"] == 0 and b["propagationPolicy"] == "Background" and b["preconditions"]["uid"], b
e = log["events"][0]
assert e["type"] == "Warning" and e["reason"] == "vigil enforcement", e
assert e["message"] == 'A pod (ubuntu-7c9d8f6b5-x2k4q) violated vigil policy "Ubuntu Package Manager Execution" and was killed', e
PY
kc get events -n lab -o json | grep -q '"reason": "vigil enforcement"' &&
	ok "kubectl get events shows it" || bad "kubectl get events"

say "resolve it"
vig violations resolve "$ID" && ok "resolved" || bad "resolve"
vig violations list --state resolved | grep -q "$ID" && ok "listed as resolved" || bad "not resolved"

say "the same with --action kill_process: the process alone"
vig policy enforce "$POLICY" --action kill_process >/dev/null && ok "enforcing: kill_process" ||
	bad "policy enforce --action kill_process"
start_pod ubuntu-7c9d8f6b5-k3p9z
sleep 1.5
OUT=$(printf 'apt-get update\necho still-here\n' | podman exec -i "$CID" bash 2>&1)
echo "$OUT" | grep -q still-here && ok "apt-get died, the shell lived on" || bad "the shell died"
echo "$OUT" | grep -q Killed && ok "bash reports apt-get Killed" || bad "apt-get was not killed"
[ "$(podman inspect -f '{{.State.Status}}' "$CID")" = running ] && ok "the container is running" ||
	bad "the container is gone"
curl -sk "https://127.0.0.1:$KPORT/_standin/log" | python3 -c '
import json, sys
log = json.load(sys.stdin)
assert [e["path"] for e in log["log"] if e["method"] == "DELETE"] == \
	["/api/v1/namespaces/lab/pods/ubuntu-7c9d8f6b5-x2k4q"], log["log"]' &&
	ok "no DELETE for this pod" || bad "kill_process deleted a pod"
sleep 0.5
vig violations list --pod ubuntu-7c9d8f6b5-k3p9z --json > "$T/kp.json"
ID=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a[0]["id"] if a else "")' \
	"$T/kp.json")
vig violations show "$ID" --json 2>/dev/null | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["enforcement"]["action"] == "killed in kernel", a["enforcement"]' &&
	ok "the alert says killed in kernel, nothing more" || bad "the kill_process alert"
# resolved, so that the next run makes its own alert
vig violations resolve "$ID" >/dev/null || bad "resolve the kill_process alert"

say "the same with the policy on inform"
vig policy inform "$POLICY" >/dev/null && ok "informing" || bad "policy inform"
start_pod ubuntu-7c9d8f6b5-q8w2e
sleep 1.5
OUT=$(printf 'apt-get update\necho still-here\n' | podman exec -i "$CID" bash 2>&1)
echo "$OUT" | grep -q still-here && ok "the shell lived on" || bad "the shell died"
[ "$(podman inspect -f '{{.State.Status}}' "$CID")" = running ] && ok "the container is running" ||
	bad "the container is gone"
sleep 0.5
vig violations list --pod ubuntu-7c9d8f6b5-q8w2e | grep -q "$POLICY" && ok "an alert is recorded" ||
	bad "no alert for the informing run"

if [ $FAILED = 0 ]; then
	echo; echo "LAB PASSED"; rm -rf "$T"; exit 0
fi
echo; echo "LAB FAILED (files in $T)"; exit 1
