#!/usr/bin/env python3
"""exec_overhead.py - what `vigil events` costs an exec storm.

Runs N spawn+exec+wait of /bin/true (bench/execstorm) in interleaved phases,
off, on, off, ..., off, all in one run, so the figures are ratios on a noisy
machine: "off" phases run with no sensor loaded at all; "on" phases with
`vigil events --json` attached, writing every event to a file. Per on-phase
it records vigil's CPU (on-CPU ns, /proc/PID/task/*/schedstat), the BPF programs' run
time (kernel.bpf_stats_enabled), events written, and vigil's own counters
(drops must be 0).

    bench/exec_overhead.py [-n 5000] [-r 5] [-p 1] [-- extra vigil events args]

Needs root. Prints a table and a SUMMARY block to paste into bench/RESULTS.md.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("VIGIL_BUILD", os.path.join(HERE, "..", "build"))
VIGIL = os.path.join(BUILD, "vigil")
STORM = os.path.join(BUILD, "bench", "execstorm")


def storm(n, p, binary):
    out = subprocess.run([STORM, "-p", str(p), str(n), binary], capture_output=True,
                         text=True, check=True).stdout
    kv = dict(x.split("=") for x in out.split())
    return float(kv["us_per_exec"]), float(kv["execs_per_s"])


def cpu_ns(pid):
    """On-CPU ns of every thread of pid (schedstat: finer than stat's clock ticks)."""
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            t += int(f.read().split()[0])
    return t


def progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: p for p in json.loads(out)}


def bpf_runtime(ids):
    """{program name: (run_time_ns, run_cnt)} for the given program ids."""
    cur = progs()
    return {cur[i]["name"]: (cur[i].get("run_time_ns", 0), cur[i].get("run_cnt", 0))
            for i in ids if i in cur}


def start_vigil(extra, outpath):
    out = open(outpath, "w")
    p = subprocess.Popen([VIGIL, "events", "--json", *extra], stdout=out,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    while line and "watching" not in line:
        line = p.stderr.readline()
    if not line:
        raise SystemExit(f"vigil did not start: {p.stderr.read()}")
    return p, out


def stop_vigil(p, out):
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    p.wait()
    out.close()
    for line in err.splitlines():
        if line.startswith("{"):
            return json.loads(line)["stats"]
    raise SystemExit(f"vigil printed no stats: {err}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000, help="execs per phase")
    ap.add_argument("-r", type=int, default=5, help="on-phases")
    ap.add_argument("-p", type=int, default=1, help="parallel workers")
    ap.add_argument("-b", default="/bin/true", help="binary to exec")
    ap.add_argument("extra", nargs="*", help="extra `vigil events` arguments (after --)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("exec_overhead: needs root")
    old_stats = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    off, on = [], []
    print(f"# exec storm: n={a.n} workers={a.p} bin={a.b} rounds={a.r} "
          f"vigil events --json {' '.join(a.extra)}")
    print(f"{'phase':5} {'round':>5} {'execs/s':>9} {'us/exec':>8} {'cpu_us/ex':>10} "
          f"{'bpf_ns/ex':>10} {'events/ex':>10} {'dropped':>8}")
    try:
        storm(500, a.p, a.b)  # warm-up
        for r in range(1, a.r + 2):
            us, eps = storm(a.n, a.p, a.b)
            off.append(us)
            print(f"{'off':5} {r:>5} {eps:>9.0f} {us:>8.1f}", flush=True)
            if r == a.r + 1:
                break
            outpath = os.path.join(tmp, f"events-{r}.json")
            before = set(progs())
            p, out = start_vigil(a.extra, outpath)
            mine = set(progs()) - before  # vigil's programs (bpftool here lacks pid info)
            time.sleep(0.5)
            c0, b0 = cpu_ns(p.pid), bpf_runtime(mine)
            us, eps = storm(a.n, a.p, a.b)
            time.sleep(0.1)  # let the drain timer take the tail
            c1, b1 = cpu_ns(p.pid), bpf_runtime(mine)
            per_prog = {k: (b1[k][0] - b0[k][0]) / a.n for k in b1}
            st = stop_vigil(p, out)
            with open(outpath) as f:
                nev = sum(1 for _ in f)
            row = dict(us=us, eps=eps, cpu=(c1 - c0) / 1e3 / a.n, bpf=sum(per_prog.values()),
                       ev=nev / a.n, drop=st["kernel"]["ringbuf_dropped"], progs=per_prog)
            on.append(row)
            print(f"{'on':5} {r:>5} {eps:>9.0f} {us:>8.1f} {row['cpu']:>10.2f} "
                  f"{row['bpf']:>10.0f} {row['ev']:>10.3f} {row['drop']:>8}", flush=True)
    finally:
        subprocess.run(["sysctl", "-qw", f"kernel.bpf_stats_enabled={old_stats}"])
    med_off = statistics.median(off)
    med_on = statistics.median(x["us"] for x in on)
    print(f"SUMMARY off us/exec median {med_off:.1f} min {min(off):.1f} (n={len(off)})")
    print(f"SUMMARY on  us/exec median {med_on:.1f} min {min(x['us'] for x in on):.1f} "
          f"(n={len(on)})")
    print(f"SUMMARY overhead median {100 * (med_on / med_off - 1):+.1f}% "
          f"(min-to-min {100 * (min(x['us'] for x in on) / min(off) - 1):+.1f}%)")
    names = sorted(on[0]["progs"])
    print("SUMMARY bpf ns/exec by program: " + ", ".join(
        f"{k} {statistics.median(x['progs'][k] for x in on):.0f}" for k in names))
    print(f"SUMMARY vigil cpu us/exec median {statistics.median(x['cpu'] for x in on):.2f}; "
          f"bpf ns/exec median {statistics.median(x['bpf'] for x in on):.0f}; "
          f"events/exec {statistics.median(x['ev'] for x in on):.3f}; "
          f"ringbuf drops total {sum(x['drop'] for x in on)}")


if __name__ == "__main__":
    main()
