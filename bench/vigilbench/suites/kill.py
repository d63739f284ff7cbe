"""kill: exec-to-death latency of vigil's enforcement, beside bpftrace's signal("KILL").

A real `vigil run` with the policies of bench/policies-kill kills copies of a static
marker binary (build/bench/kill_marker, from tests/integration/marker.c) by their name:

    vgkernel   exact-name policy: decided and killed in the kernel at exec (bpf_send_signal)
    vglua      a check() policy: the event goes to user space, Lua decides, a pidfd kills
    vgpod      kill_pod, run inside a cgroup named like a container: time to the empty cgroup
    vgnone     no policy: the marker's own run (exec, create a file, exit) as the reference
    vgbpft     the anchor: bpftrace --unsafe, signal("KILL") on sched_process_exec for this
               comm (where bpftrace is installed and peers from PATH are allowed)

build/bench/kill_bench times each run from fork to reap (pod: to the empty cgroup) and
says whether SIGKILL ended it and whether the marker wrote its file (ran instructions of
its own). The paths are measured in rounds, interleaved, so they share the machine's
noise. A marker that was not killed sleeps 200 ms, so it shows in the samples, and it is
counted (kill.<path>.survived): nothing is left out.
"""
import json
import os
import shutil
import signal
import subprocess
import time

from . import _common, _procs

NAME = "kill"
TITLE = "kill latency"
NEEDS_ROOT = True

BPFTRACE_PROG = 'tracepoint:sched:sched_process_exec /comm == "vgbpft"/ { signal("KILL"); }'

# path: (marker name, kill_bench mode, label, how)
PATHS = {
    "none": ("vgnone", "proc", "not policed (the marker's own run)",
             "no policy matches: fork, exec, create a file, exit, reaped"),
    "kernel": ("vgkernel", "proc", "vigil in-kernel",
               "an exact-name kill_process policy, killed in the kernel at exec"),
    "userspace": ("vglua", "proc", "vigil user space",
                  "a check() policy: ring buffer, Lua decides, killed through a pidfd"),
    "pod": ("vgpod", "pod", "vigil kill_pod (exec to an empty cgroup)",
            "kill_pod on a cgroup named like a container, holding a sleeper too: "
            "time from fork to the empty cgroup"),
    "bpftrace": ("vgbpft", "proc", "bpftrace signal(KILL)",
                 f"bpftrace --unsafe -e '{BPFTRACE_PROG}'"),
}


def sizes(run):
    """(runs per killing path, rounds they are interleaved in)."""
    return run.n(1000, 150, 20), run.n(5, 3, 2)


def estimate(run):
    return run.n(30, 6, 3)


def bench(ctx, exe, mode, marker, n, sleep_ms="200"):
    """kill_bench --json over n runs of marker: its parsed answer."""
    argv = [exe, "--json", "--sleep", sleep_ms, mode, marker, str(n)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60 + n)
    if r.returncode:
        raise _common.SuiteError(f"kill_bench {mode} {os.path.basename(marker)} failed "
                                 f"({r.returncode}): {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout)


def start_bpftrace(run, ctx, exe, marker):
    """bpftrace killing vgbpft, attached (a probe run was killed); None, noted, if it cannot."""
    if not ctx.auto_peers:
        run.note("kill: bpftrace's signal(KILL) anchor not measured (--no-peers)")
        return None
    bt = shutil.which("bpftrace")
    if not bt:
        run.note("kill: bpftrace not installed (apt install bpftrace): its signal(KILL) "
                 "anchor is not measured")
        return None
    errf = open(os.path.join(ctx.tmp, "kill-bpftrace.err"), "w+")
    proc = subprocess.Popen([bt, "--unsafe", "-e", BPFTRACE_PROG], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=errf)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if bench(ctx, exe, "proc", marker, 1, "0")["killed"]:
            errf.close()
            return proc
        time.sleep(0.2)
    stop(proc)
    errf.seek(0)
    why = errf.read().strip()[-400:] or "it did not kill within 30 s"
    errf.close()
    run.error(NAME, f"bpftrace's signal(KILL) anchor could not run: {why}")
    return None


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def markers(ctx, src):
    """Copies of the static marker under each path's name (the policies match the name)."""
    d = os.path.join(ctx.tmp, "kill-markers")
    os.makedirs(d, exist_ok=True)
    out = {}
    for path, (name, *_) in PATHS.items():
        out[path] = os.path.join(d, name)
        shutil.copy2(src, out[path])
    return out


def collect(run, ctx, exe, bins, paths, n, rounds):
    """Every path's runs, in rounds interleaved: {path: {"lat": [], "killed": k, ...}}.

    A killing path none of whose runs in a round was killed is not run again (each such
    run costs the marker's 200 ms): that is recorded as an error, its runs kept."""
    got = {p: {"lat": [], "signalled": 0, "marker": 0, "n": 0} for p in paths}
    paths = list(paths)
    for r in range(rounds):
        for p in list(paths):
            name, mode = PATHS[p][0], PATHS[p][1]
            k = n // rounds + (1 if r < n % rounds else 0)
            if mode == "pod":
                k = max(1, k // 5)
            if k < 1:
                continue
            ctx.step(f"round {r + 1}/{rounds}: {name} x {k}")
            res = bench(ctx, exe, mode, bins[p], k, "0" if p == "none" else "200")
            g = got[p]
            g["lat"] += res["latency_us"]
            g["signalled"] += res["killed"]
            g["marker"] += res["marker_written"]
            g["n"] += res["n"]
            if p != "none" and res["killed"] == 0:
                run.error(NAME, f"{PATHS[p][2]}: none of {k} runs in round {r + 1} was "
                                f"killed; not run again")
                paths.remove(p)
    return got


def report(run, got, policies):
    for p, g in got.items():
        name, _mode, label, what = PATHS[p]
        survived = g["n"] - g["signalled"]
        if p != "none" and survived:
            run.count(f"kill.{p}.survived", survived)
        extra = {"chart": "cdf", "runs": g["n"], "killed": g["signalled"],
                 "marker_written": g["marker"], "peer": p == "bpftrace"}
        if p != "none":
            extra["survived"] = survived
        by = f"vigil run --policies {policies} running"
        run.figure(f"kill.{p}.latency_us", f"exec to death, {label}", unit="µs",
                   better="lower", samples=g["lat"],
                   how=(f"{what}; {by}; {g['n']} runs of the static marker as {name}, "
                        f"timed by kill_bench: {g['signalled']} SIGKILLed, "
                        f"{g['marker']} wrote their marker file (ran code of their own)"),
                   plot="kill_latency", label=label,
                   extra=extra)


def measure(run, ctx):
    exe = _common.need_tool(ctx, "kill_bench")
    src = _common.need_tool(ctx, "kill_marker")
    _common.need_vigil(ctx)
    policies = os.path.join(ctx.src, "bench", "policies-kill")
    if not os.path.isdir(policies):
        raise _common.SuiteError(f"the kill policies are missing ({policies}): give the "
                                 f"source tree the build came from")
    n, rounds = sizes(run)
    bins = markers(ctx, src)
    ctx.step("starting vigil run with bench/policies-kill")
    # bpftrace resolves tracepoints through tracefs, which a fresh machine may not mount
    with _procs.Tracefs(), \
            _common.Daemon(ctx, os.path.join(ctx.tmp, "kill-data"), policies=policies) as d:
        bt = start_bpftrace(run, ctx, exe, bins["bpftrace"])
        try:
            paths = ["none", "kernel", "userspace", "pod"] + (["bpftrace"] if bt else [])
            got = collect(run, ctx, exe, bins, paths, n, rounds)
            if bt is not None and bt.poll() is not None:
                run.error(NAME, f"bpftrace exited during the runs ({bt.returncode})")
        finally:
            stop(bt)
        if not d.alive():
            raise _common.SuiteError(f"vigil run died during the runs: {d.log()[-800:]}")
    report(run, got, "bench/policies-kill")
