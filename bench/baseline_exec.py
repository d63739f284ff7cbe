#!/usr/bin/env python3
"""baseline_exec.py - what a locked process baseline in the kernel costs an exec.

Execs in a podman container in a loop (bench/execstorm.c, built static and copied in),
with the container's baseline holding 200 paths (each a real file in the container, so
200 allow entries in the kernel): BPF ns per exec (handle_exec's run_time_ns / run_cnt
deltas, kernel.bpf_stats_enabled) and the daemon's CPU µs per exec (on-CPU ns of every
thread, /proc/PID/task/*/schedstat), with "Unauthorized Process Execution" enforcing and
the baseline locked (programmed into the kernel) vs the same baseline unlocked, in
interleaved phases, and the exec time with no vigil at all, before and after, all in
one run.

    sudo bench/baseline_exec.py [-n 3000] [-r 3]

Needs root, podman and the test image (scripts/test-image.sh). Prints a table to paste
into bench/RESULTS.md.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..")
BUILD = os.environ.get("VIGIL_BUILD", os.path.join(SRC, "build"))
VIGIL = os.path.join(BUILD, "vigil")
IMAGE = os.environ.get("VIGIL_TEST_IMAGE", "localhost/debmin:bookworm")
UPE = "Unauthorized Process Execution"
PATHS = 200


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check).stdout.strip()


def storm(cid, n):
    out = sh("podman", "exec", cid, "/tmp/execstorm", str(n), "/usr/bin/true")
    return float(dict(x.split("=") for x in out.split())["us_per_exec"])


def cpu_ns(pid):
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                t += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return t


def exec_progs():
    return {p["id"]: p for p in json.loads(sh("bpftool", "-j", "prog", "show"))
            if p.get("name") == "handle_exec"}


MINE = []  # the id of this run's handle_exec: loaded by its daemon, not another's


def exec_prog():
    """(run_time_ns, run_cnt) of this run's handle_exec."""
    p = exec_progs().get(MINE[0])
    if not p:
        raise SystemExit("handle_exec is not loaded")
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)


class Daemon:
    def __init__(self, data, port, conf):
        self.data, self.port, self.conf = data, port, conf
        self.log = open(data + ".log", "w")
        self.proc = subprocess.Popen([VIGIL, "run", "--data-dir", data, "--config", conf],
                                     stdout=self.log, stderr=self.log)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()  # never leave a daemon behind
            raise

    def wait_ready(self):
        for _ in range(300):
            if os.path.exists(os.path.join(self.data, "api.token")):
                with open(os.path.join(self.data, "api.token")) as f:
                    self.token = f.read().strip()
                try:
                    self.metrics()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise SystemExit("vigil run did not start: see " + self.log.name)

    def metrics(self):
        r = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics")
        r.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(r, timeout=10) as f:
            text = f.read().decode()
        out = {}
        for x in text.splitlines():
            name, _, v = x.rpartition(" ")
            if name and not x.startswith("#") and v.isdigit():
                out[name] = int(v)
        return out

    def cli(self, *args):
        return sh(VIGIL, *args, "--data-dir", self.data, "--config", self.conf)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def phase(d, cid, n):
    """(BPF ns per exec, daemon CPU µs per exec, µs per exec) over one storm."""
    b0, c0 = exec_prog(), cpu_ns(d.proc.pid)
    us = storm(cid, n)
    time.sleep(0.3)  # the daemon drains on a short timer: its work for the storm is done
    b1, c1 = exec_prog(), cpu_ns(d.proc.pid)
    runs = max(b1[1] - b0[1], 1)
    return (b1[0] - b0[0]) / runs, (c1 - c0) / 1e3 / n, us


def setup_container(tmp):
    storm_bin = os.path.join(tmp, "execstorm")
    sh("gcc", "-O2", "-static", "-o", storm_bin, os.path.join(HERE, "execstorm.c"))
    # explicit limits: a host without CAP_SYS_RESOURCE cannot give runc podman's defaults
    cid = sh("podman", "run", "-d", "--name", f"vg-blbench-{os.getpid()}", "--network",
             "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", IMAGE,
             "sleep", "infinity")
    sh("podman", "cp", storm_bin, f"{cid}:/tmp/execstorm")
    return cid


def prepare_baseline(d, cid):
    """200 real files in the baseline; the policy enforcing; returns the baseline's key."""
    storm(cid, 10)  # learned: execstorm, true
    sh("podman", "exec", cid, "sh", "-c", "mkdir -p /opt/b && for i in $(seq 1 %d); do "
       "cp /usr/bin/true /opt/b/t$i; done" % PATHS)
    name = sh("podman", "inspect", "-f", "{{.Name}}", cid).lstrip("/")
    key = next(x.split()[-1] for x in d.cli("baselines", "list").splitlines()
               if x.endswith("/" + name))
    d.cli("baselines", "add", key, *[f"/opt/b/t{i}" for i in range(1, PATHS + 1)])
    d.cli("policy", "enforce", UPE, "--action", "kill_process")
    return key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("-r", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid():
        raise SystemExit("needs root")
    tmp = tempfile.mkdtemp(prefix="vigil-blbench-")
    old_stats = sh("sysctl", "-n", "kernel.bpf_stats_enabled")
    cid = None
    d = None
    try:
        cid = setup_container(tmp)
        none = [storm(cid, a.n)]
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        with socket.socket() as s:  # a port nothing listens on, from the kernel
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = os.path.join(tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write('return { api = { listen = "127.0.0.1:%d" }, baselines = { observe = '
                    '"1h", startup = "0s", auto_lock = false } }\n' % port)
        before = set(exec_progs())
        d = Daemon(data, port, conf)
        MINE.extend(set(exec_progs()) - before)
        if len(MINE) != 1:
            raise SystemExit(f"cannot tell this daemon's handle_exec: {MINE}")
        key = prepare_baseline(d, cid)
        sh("sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1")
        res = {"unlocked": [], "locked": []}
        for _ in range(a.r):
            d.cli("baselines", "unlock", key)
            res["unlocked"].append(phase(d, cid, a.n))
            d.cli("baselines", "lock", key)
            storm(cid, 1)  # the first exec checked against the lock programs the container
            m = d.metrics()
            if m.get("vigil_baseline_kernel_containers") != 1:
                raise SystemExit(f"the container is not programmed: {m}")
            res["locked"].append(phase(d, cid, a.n))
        m = d.metrics()
        d.stop()
        d = None
        none.append(storm(cid, a.n))
        print(f"allow entries {m.get('vigil_baseline_kernel_allow_entries')}, "
              f"kernel kills {m.get('vigil_sensor_baseline_killed_total')}, "
              f"failures {m.get('vigil_baseline_kernel_failures_total')}")
        print("| | BPF ns/exec (handle_exec) | daemon CPU µs/exec | µs/exec (wall) |")
        print("|---|---|---|---|")
        print(f"| no vigil | – | – | {statistics.median(none):.0f} |")
        for k in ("unlocked", "locked"):
            rows = res[k]
            print(f"| baseline {k} | {statistics.median(r[0] for r in rows):,.0f} | "
                  f"{statistics.median(r[1] for r in rows):.1f} | "
                  f"{statistics.median(r[2] for r in rows):.0f} |")
    finally:
        sh("sysctl", "-q", "-w", f"kernel.bpf_stats_enabled={old_stats}", check=False)
        if d:
            d.stop()
        if cid:
            sh("podman", "rm", "-f", "-t", "0", cid, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
