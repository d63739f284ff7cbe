#!/usr/bin/env python3
"""k8s_requests.py - how many requests one node's vigil makes of the API server an hour.

Starts the Kubernetes stand-in (tests/k8s_standin.py, authorizing by deploy/rbac.yaml) with
N pods on this node (in 5 namespaces, owned by 10 ReplicaSets of 10 Deployments), runs
`vigil run` against it for a fixed time while pods churn (every CHURN seconds one pod is
replaced by a new one and another one's status changes), then counts the stand-in's request
log by kind. The first WARM seconds (the start: first lists, owner GETs) are left out of the
steady-state rate, which is extrapolated to an hour; the start is shown apart.

    bench/k8s_requests.py [--vigil build/vigil] [--pods 100] [--seconds 120] [--warm 15]
                          [--churn 10] [--refresh S]

Needs root (vigil run loads its sensor). Prints a table to paste into bench/RESULTS.md.
"""
import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..")
CTX = ssl._create_unverified_context()
NODE = "benchnode"


def control(url, path, obj=None, method=None):
    data = json.dumps(obj).encode() if obj is not None else None
    r = urllib.request.Request(url + path, data=data, method=method or ("POST" if data else "GET"))
    with urllib.request.urlopen(r, context=CTX, timeout=10) as resp:
        return json.loads(resp.read())


def pod(i, phase="Running"):
    app = f"app{i % 10}"
    return {"metadata": {"uid": str(uuid.uuid4()), "name": f"{app}-5d8f7b9c4d-{i:05d}",
                         "namespace": f"ns{i % 5}", "labels": {"app": app},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": f"{app}-5d8f7b9c4d",
                                              "controller": True}]},
            "spec": {"nodeName": NODE, "containers": [{"name": "c"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "c", "ready": True, "containerID": "cri-o://" + uuid.uuid4().hex * 2}]}}


def kind(e):
    """What a logged request is: list/watch/get of a resource, delete, create."""
    watch = "watch=1" in e["query"]
    return f"{e.get('verb') or e['method']} {e.get('resource') or e['path']}" + \
        (" (watch)" if watch and e.get("verb") != "watch" else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.path.join(SRC, "build", "vigil"))
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--warm", type=int, default=15)
    ap.add_argument("--churn", type=float, default=10)
    ap.add_argument("--refresh", type=int, default=0, help="kubernetes.refresh_s (0: unset)")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="vigil-k8s-bench-")
    port, api = 20000 + os.getpid() % 20000, 40000 + os.getpid() % 20000
    token = uuid.uuid4().hex
    with open(os.path.join(d, "token"), "w") as f:
        f.write(token + "\n")
    standin = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "k8s_standin.py"),
                                "--port", str(port), "--token", token, "--dir", d,
                                "--rbac", os.path.join(SRC, "deploy", "rbac.yaml")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert standin.stdout.readline().strip() == "ready"
    url = f"https://127.0.0.1:{port}"
    for i in range(10):
        for ns in range(5):
            control(url, "/_standin/objects", {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"namespace": f"ns{ns}", "name": f"app{i}-5d8f7b9c4d",
                             "ownerReferences": [{"kind": "Deployment", "name": f"app{i}",
                                                  "controller": True}]}})
    pods = [pod(i) for i in range(a.pods)]
    for p in pods:
        control(url, "/_standin/pods", p)
    conf = os.path.join(d, "vigil.conf.lua")
    refresh = f", refresh_s = {a.refresh}" if a.refresh else ""
    with open(conf, "w") as f:
        f.write(f'return {{ kubernetes = {{ server = "{url}", token_file = "{d}/token", '
                f'insecure = true, node = "{NODE}"{refresh} }} }}\n')
    data = os.path.join(d, "data")
    os.mkdir(data)
    start = time.time()
    vigil = subprocess.Popen([a.vigil, "run", "--data-dir", data, "--listen", f"127.0.0.1:{api}",
                              "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n, nxt = a.pods, start + a.churn
    while time.time() < start + a.seconds:
        time.sleep(max(0, min(nxt, start + a.seconds) - time.time()))
        if time.time() >= nxt:  # churn: one pod replaced, another one's status changes
            gone = pods.pop(0)
            control(url, f"/_standin/pods/{gone['metadata']['namespace']}/{gone['metadata']['name']}",
                    method="DELETE")
            pods.append(pod(n))
            control(url, "/_standin/pods", pods[-1])
            n += 1
            pods[0]["status"]["containerStatuses"][0]["ready"] = False
            control(url, "/_standin/pods", pods[0])
            nxt += a.churn
    vigil.send_signal(signal.SIGTERM)
    vigil.wait(timeout=30)
    log = [e for e in control(url, "/_standin/log")["log"] if e["auth"] == f"Bearer {token}"]
    req = urllib.request.Request(f"{url}/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=CTX) as resp:
        list_bytes = len(resp.read())
    standin.kill()
    standin.wait()
    warm = Counter(kind(e) for e in log if e["time"] < start + a.warm)
    steady = Counter(kind(e) for e in log if e["time"] >= start + a.warm)
    span = a.seconds - a.warm
    print(f"vigil {a.vigil}, {a.pods} pods, {a.seconds} s (first {a.warm} s apart), churn every "
          f"{a.churn} s, refresh_s {a.refresh or 'unset'}; a pod list is {list_bytes} bytes")
    print(f"{'request':40} {'start':>6} {'steady':>7} {'per hour':>9}")
    for k in sorted(set(warm) | set(steady)):
        print(f"{k:40} {warm[k]:6} {steady[k]:7} {steady[k] * 3600 / span:9.0f}")
    total = sum(steady.values()) * 3600 / span
    print(f"{'total':40} {sum(warm.values()):6} {sum(steady.values()):7} {total:9.0f}")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
