"""exec: what watching every exec costs, for vigil's three ways of doing it and its peers.

An exec storm (build/bench/execstorm: spawn + exec + wait of /bin/true) runs in phases:
off (no tool of ours loaded), then each tool on in turn with an off phase after each,
round after round (the order turns each round), so every on-phase has an off-phase on
either side and all the tools are measured in the same run, against the same off phases:

    off, A, off, B, off, C, off,   B, off, C, off, A, off,   ...

The tools: `vigil events --json` (vigil-events), `vigil events --match` with the default
pack (vigil-match), the `vigil run` daemon with the default pack (vigil-run), and, unless
--no-peers, libbpf-tools' execsnoop and a bpftrace one-liner on sched_process_exec when
installed; plus every --peer 'NAME=CMD'. Two workloads: seq (one worker) and par (one
worker per CPU; not in --tiny). --quick sizes its phases from the warm-up storm's pace
(about 0.4 s a phase, at least 200 execs), so that a busy machine keeps to its budget.

Per on-phase: µs per exec, the overhead against the mean of the two neighbouring
off-phases, the tool's on-CPU time (schedstat of all its threads) and the run time of its
BPF programs (those it holds open, read from /proc/PID/fdinfo; kernel.bpf_stats_enabled
is on for the suite). Each tool writes its output to a file in ctx.tmp; the events it
printed for the storm's execs are counted where the format is known. vigil's ring-buffer
drops are counted (exec.TOOL.drops), so are the events a peer says it lost.

Figures, per workload WL and tool slug TOOL: exec.WL.TOOL.overhead (%, a sample per
on-phase, with its band and min-to-min ratio in extra), exec.WL.TOOL.us_per_exec,
exec.WL.TOOL.bpf_ns, exec.WL.TOOL.cpu_us, and exec.WL.off.us_per_exec; plots overhead_WL,
us_per_exec_WL, bpf_ns and cpu_us.

A tool that cannot start, or dies, is recorded (run.error) and the suite goes on without
it; a peer that is not installed is a note. tracefs is mounted at /sys/kernel/tracing for
the suite when it is not (the peers' tracepoints need it), and unmounted after.
"""
import json
import os
import re
import shlex
import shutil
import statistics
import time

from .. import stats
from . import _procs

NAME = "exec"
TITLE = "exec sensor overhead"
NEEDS_ROOT = True

EXECSNOOP = "/usr/sbin/execsnoop"
BPFTRACE_PROG = ('tracepoint:sched:sched_process_exec '
                 '{ printf("%d %s %s\\n", pid, comm, str(args->filename)); }')
SEC_PER_EXEC = 600e-6  # one exec of /bin/true, sequential, on a quiet machine (estimates)
DRAIN = 0.1  # after the storm: vigil drains its ring buffer every 10 ms
QUICK_PHASE_S, QUICK_MIN = 0.4, 200  # --quick: execs a phase from the warm-up's pace
FULL_PHASE_S, FULL_MIN = 3.0, 1000  # full: at most ~3 s a phase on a slow or busy machine


class ToolFailed(Exception):
    """A tool did not start, or died during its phase."""


class Tool:
    """One thing measured: a slug (its figure ids), a display name, how to start it."""

    def __init__(self, slug, display, kind, argv=None, peer=False, count=None, shown=None):
        self.slug, self.display, self.kind, self.shown = slug, display, kind, shown
        self.argv, self.peer, self.count = argv, peer, count
        self.failed = None
        self.has_progs = None  # unknown until its first start: a peer may load none
        self.phases = {}

    def command(self):
        """The command as a reader should see it (vigil's without this build's path)."""
        return self.shown or shlex.join(self.argv)


def _count_lines(path, pred):
    n = 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if pred(line):
                    n += 1
    except OSError:
        return None
    return n


def _col(i):
    def pred(line):
        parts = line.split()
        return len(parts) > i and parts[i] == "true"
    return lambda path: _count_lines(path, pred)


def _any_true(path):
    return _count_lines(path, lambda line: any(
        t == "true" or t.endswith("/true") for t in line.replace('"', " ").split()))


def _vigil_events(path):
    return _count_lines(path, lambda line: '"comm":"true"' in line)


def _slug(name, taken):
    s = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "peer"
    base, i = s, 2
    while s in taken or s == "off":
        s, i = f"{base}-{i}", i + 1
    taken.add(s)
    return s


def _peers(run, ctx, taken):
    """The peers to measure: execsnoop and bpftrace from PATH, then --peer ones."""
    out = []
    if ctx.auto_peers:
        snoop = EXECSNOOP if os.access(EXECSNOOP, os.X_OK) else shutil.which("execsnoop")
        if snoop:
            taken.add("execsnoop")
            out.append(Tool("execsnoop", "execsnoop (libbpf-tools)", "peer", [snoop],
                            peer=True, count=_col(0)))
        else:
            run.note("execsnoop not installed: apt install libbpf-tools")
        bt = shutil.which("bpftrace")
        if bt:
            taken.add("bpftrace")
            out.append(Tool("bpftrace", "bpftrace", "peer", [bt, "-B", "line", "-e",
                                                             BPFTRACE_PROG],
                            peer=True, count=_col(1)))
        else:
            run.note("bpftrace not installed: apt install bpftrace")
    mine = [Tool(_slug(name, taken), name, "peer", list(argv), peer=True, count=_any_true)
            for name, argv in ctx.peers]
    return mine + out  # --peer first: tiny mode measures one peer, the one asked for


def tools(run, ctx):
    """The tools this run measures, in the order of the first round."""
    taken = {"vigil-events", "vigil-match", "vigil-run"}
    match_dir = os.path.join(ctx.tmp, "match-data")  # no daemon state: the pack as shipped
    vigil = [Tool("vigil-events", "vigil events --json", "events",
                  [ctx.vigil, "events", "--json"], count=_vigil_events,
                  shown="vigil events --json"),
             Tool("vigil-match", "vigil events --match", "match",
                  [ctx.vigil, "events", "--match", "--data-dir", match_dir],
                  shown="vigil events --match (the default pack, no daemon state)"),
             Tool("vigil-run", "vigil run", "run",
                  shown="vigil run (the default pack, a fresh data directory)")]
    peers = _peers(run, ctx, taken)
    if run.mode != "tiny":
        return vigil + peers
    left = [t.display for t in vigil[1:] + peers[1:]]
    if left:
        run.note(f"tiny run: exec measured vigil events --json and one peer only "
                 f"(not: {', '.join(left)})")
    return vigil[:1] + peers[:1]


def workloads(run):
    """[(workload, workers, execs a phase, on-phases per tool)]."""
    out = [("seq", 1, run.n(5000, 1000, 200), run.n(5, 3, 2))]
    if run.mode != "tiny":
        out.append(("par", os.cpu_count() or 2, run.n(5000, 1500, 0), run.n(5, 2, 0)))
    return out


def estimate(run):
    k = 2 if run.mode == "tiny" else 5 + len(run.peers)
    total = 0.0
    for _wl, workers, n, rounds in workloads(run):
        one = n * SEC_PER_EXEC / min(workers, 2)
        if run.mode != "tiny":
            one = min(one, QUICK_PHASE_S if run.mode == "quick" else FULL_PHASE_S)
        total += one * 1.5 + rounds * k * (2 * one + run.n(1.2, 0.9, 0.9))
    return total


def _wait_bpf(tool, p):
    """A peer is ready when it holds BPF programs and they run on an exec; '' or why not.

    A peer that holds no program after 20 s at its first start is taken as one without
    (its BPF cost is then not measured) and given one second at the next starts."""
    deadline = time.monotonic() + (1.0 if tool.has_progs is False else 20.0)
    ids = set()
    while time.monotonic() < deadline:
        if not p.alive():
            return f"exited at start ({p.proc.returncode}): {p.tail()}"
        ids = _procs.prog_ids(_procs.tree(p.pid))
        if ids:
            break
        time.sleep(0.05)
    if not ids:
        if tool.has_progs:
            return f"its BPF programs did not appear within 20 s: {p.tail()}"
        tool.has_progs = False
        return ""
    tool.has_progs = True
    base = _procs.bpf_progs()
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and p.alive():
        os.spawnv(os.P_WAIT, "/bin/true", ["true"])
        cur = _procs.bpf_progs()
        if any(cur.get(i, {}).get("run_cnt", 0) > base.get(i, {}).get("run_cnt", 0)
               for i in ids):
            return ""
        time.sleep(0.05)
        ids |= _procs.prog_ids(_procs.tree(p.pid))
    return "" if p.alive() else f"exited at start ({p.proc.returncode}): {p.tail()}"


def _start(tool, ctx, stem):
    """The tool running and ready, or ToolFailed (and nothing left running)."""
    try:
        if tool.kind == "run":
            p = _procs.VigilRun(ctx.vigil, ctx.tmp, stem)
        else:
            p = _procs.Proc(tool.argv, ctx.tmp, stem, cwd=ctx.tmp)
    except OSError as e:
        raise ToolFailed(f"cannot start `{tool.command()}`: {e.strerror or e}")
    try:
        if tool.kind == "run":
            why = p.ready()
        elif tool.kind in ("events", "match"):
            why = p.wait_text("watching execs", 30)
        else:
            why = _wait_bpf(tool, p)
    except BaseException:
        p.stop()
        raise
    if why:
        p.stop()
        raise ToolFailed(f"`{tool.command()}` {why}")
    return p


def _vigil_drops(p):
    """ringbuf_dropped from the stats `vigil events` prints at exit; None if absent."""
    for line in reversed(p.stderr().splitlines()):
        if line.startswith("{"):
            try:
                return int(json.loads(line)["stats"]["kernel"]["ringbuf_dropped"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def on_phase(run, ctx, tool, wl, workers, n, stem):
    """One storm with the tool on: a dict of what it cost."""
    p = _start(tool, ctx, stem)
    try:
        time.sleep(run.n(0.5, 0.15, 0.15))  # its start-up work (seeding from /proc) done
        pids = _procs.tree(p.pid)
        ids = _procs.prog_ids(pids)
        b0, c0 = _procs.bpf_progs(), _procs.cpu_ns(pids)
        us, _secs = _procs.storm(ctx, n, workers)
        time.sleep(DRAIN)
        pids = _procs.tree(p.pid)
        c1, b1 = _procs.cpu_ns(pids), _procs.bpf_progs()
        alive = p.alive()
        metrics = p.metrics() if tool.kind == "run" and alive else {}
    finally:
        rc = p.stop()
    if not alive:
        raise ToolFailed(f"`{tool.command()}` died during the storm ({rc}): {p.tail()}")
    progs = {}
    for i in ids:
        if i in b0 and i in b1:
            name = b1[i]["name"]
            progs[name] = progs.get(name, 0) + (b1[i]["run_time_ns"] - b0[i]["run_time_ns"]) / n
    ph = {"us": us, "cpu_us": (c1 - c0) / 1e3 / n, "ids": sorted(ids), "progs": progs,
          "bpf_ns": sum(progs.values()) if progs else None, "drops": None}
    if tool.kind in ("events", "match"):
        ph["drops"] = _vigil_drops(p)
    elif tool.kind == "run":
        d = metrics.get("vigil_sensor_ringbuf_dropped_total")
        ph["drops"] = None if d is None else int(d)
    else:
        with open(p.out, errors="replace") as f:
            lost = _procs.lost_events(p.stderr() + f.read()[-4096:])
        ph["drops"] = lost or None
    if tool.count:
        c = tool.count(p.out)
        ph["events"] = None if c is None else c / n
    return ph


def _storm_off(ctx, n, workers):
    return _procs.storm(ctx, n, workers)[0]


def run_workload(run, ctx, tls, wl, workers, n, rounds):
    """The interleaved phases of one workload: (off-phases' µs per exec, execs a phase)."""
    ctx.step(f"{wl}: warming up ({workers} worker{'s' if workers > 1 else ''})")
    warm = _procs.storm(ctx, run.n(500, 300, 50), workers)[0]
    if run.mode != "tiny":  # phases of a bounded length even on a busy machine
        secs, least = (QUICK_PHASE_S, QUICK_MIN) if run.mode == "quick" else (FULL_PHASE_S,
                                                                           FULL_MIN)
        n = max(least, min(n, int(secs * 1e6 * workers / max(warm, 1.0))))
    offs = [_storm_off(ctx, n, workers)]
    for r in range(rounds):
        k = r % len(tls)
        for t in tls[k:] + tls[:k]:
            if t.failed:
                continue
            ctx.step(f"{wl} round {r + 1}/{rounds}: {t.display} on, {n:,} execs")
            try:
                ph = on_phase(run, ctx, t, wl, workers, n, f"{t.slug}-{wl}-{r + 1}")
            except ToolFailed as e:
                t.failed = str(e)
                run.error(NAME, f"{t.display}: {e}; the suite went on without it")
                run.count(f"exec.{t.slug}.failed", 1)
                continue
            if ph["drops"] is not None:
                run.count(f"exec.{t.slug}.drops", ph["drops"])
            ph["prev"] = len(offs) - 1
            ctx.step(f"{wl} round {r + 1}/{rounds}: off, {n:,} execs")
            offs.append(_storm_off(ctx, n, workers))
            ph["next"] = len(offs) - 1
            t.phases.setdefault(wl, []).append(ph)
    return offs, n


def _extra(t, wl, **kw):
    return {"tool": t.display, "workload": wl, "peer": t.peer, **kw}


def _storm_how(workers, n):
    return (f"exec storm (build/bench/execstorm, spawn+exec+wait of /bin/true, {workers} "
            f"worker{'s' if workers > 1 else ''}), {n:,} execs a phase")


def overhead_figure(run, t, wl, phs, offs, how):
    samples = [(ph["us"] / ((offs[ph["prev"]] + offs[ph["next"]]) / 2) - 1) * 100
               for ph in phs]
    used = sorted({i for ph in phs for i in (ph["prev"], ph["next"])})
    o = stats.overhead([offs[i] for i in used], [ph["us"] for ph in phs])
    _med, blo, bhi = stats.band(samples)
    lo, hi = min(o["lo"], blo), max(o["hi"], bhi)
    noise = lo <= 0 <= hi or o["min_to_min"] <= 0
    drops = f"; ring-buffer drops in the count exec.{t.slug}.drops" if not t.peer else ""
    wname = "sequential" if wl == "seq" else "parallel"
    run.figure(f"exec.{wl}.{t.slug}.overhead", f"exec overhead, {wname} storm", "%", "lower",
               samples, f"{how}; interleaved off/on phases, on: `{t.command()}`; a sample is "
               f"an on-phase's µs/exec over the mean of its two neighbouring off-phases, "
               f"minus 1; band: the wider of the bootstrap bands of the per-phase median and "
               f"of median(on)/median(off){drops}",
               plot=f"overhead_{wl}", label=t.display, within_noise=noise,
               extra=_extra(t, wl, min_to_min=o["min_to_min"], lo=lo, hi=hi))


def figures(run, tls, wl, workers, n, offs):
    how = _storm_how(workers, n)
    wname = "sequential" if wl == "seq" else "parallel"
    run.figure(f"exec.{wl}.off.us_per_exec", f"exec wall time, {wname} storm", "µs", "lower",
               offs, f"{how}; the off-phases (no tool of this suite loaded), first and after "
               f"every on-phase; µs per exec per worker",
               plot=f"us_per_exec_{wl}", label="off",
               extra={"tool": "off", "workload": wl, "peer": False})
    for t in tls:
        phs = t.phases.get(wl)
        if not phs:
            continue
        overhead_figure(run, t, wl, phs, offs, how)
        evs = [ph["events"] for ph in phs if ph.get("events") is not None]
        ex = _extra(t, wl)
        note = ""
        if evs:
            ex["events_per_exec"] = statistics.median(evs)
            note = f"; it printed {ex['events_per_exec']:.3f} events per exec of the storm"
        run.figure(f"exec.{wl}.{t.slug}.us_per_exec", f"exec wall time, {wname} storm", "µs",
                   "lower", [ph["us"] for ph in phs],
                   f"{how}; the on-phases of `{t.command()}`; µs per exec per worker{note}",
                   plot=f"us_per_exec_{wl}", label=t.display, extra=ex)
        bpf = [ph for ph in phs if ph["bpf_ns"] is not None]
        if not bpf:
            run.note(f"{t.display} ({wl}): no BPF program among its open files "
                     f"(/proc/PID/fdinfo): its BPF run time is not measured")
        else:
            names = sorted({k for ph in bpf for k in ph["progs"]})
            per = {k: statistics.median(ph["progs"].get(k, 0) for ph in bpf) for k in names}
            run.figure(f"exec.{wl}.{t.slug}.bpf_ns", "BPF run time per exec", "ns", "lower",
                       [ph["bpf_ns"] for ph in bpf],
                       f"{how}; run time of the BPF programs `{t.command()}` holds open "
                       f"(its /proc/PID/fdinfo), kernel.bpf_stats_enabled, over the storm, "
                       f"per exec; by program: "
                       + ", ".join(f"{k} {v:.0f}" for k, v in per.items()),
                       plot="bpf_ns", label=f"{t.display} ({wl})",
                       extra=_extra(t, wl, programs=per,
                                    prog_ids=sorted({i for ph in bpf for i in ph["ids"]})))
        run.figure(f"exec.{wl}.{t.slug}.cpu_us", "tool CPU per exec", "µs", "lower",
                   [ph["cpu_us"] for ph in phs],
                   f"{how}; on-CPU time of every thread of `{t.command()}` (schedstat) from "
                   f"just before the storm to {DRAIN * 1000:.0f} ms after it, per exec",
                   plot="cpu_us", label=f"{t.display} ({wl})", extra=_extra(t, wl))


def _check(ctx):
    if os.geteuid() != 0:
        raise RuntimeError("the exec suite loads BPF programs: run it as root")
    for path, what in ((ctx.vigil, "vigil"), (ctx.tool("execstorm"), "execstorm")):
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{what} is not built at {path}: build the tree (make build)")
    if not shutil.which("bpftool"):
        raise RuntimeError("bpftool not found (the BPF run time is read with it): "
                           "apt install bpftool")


def measure(run, ctx):
    _check(ctx)
    tls = tools(run, ctx)
    with _procs.BpfStats(), _procs.Tracefs() as tfs:
        if tfs.error and any(t.peer for t in tls):
            run.note(f"tracefs could not be mounted at {_procs.TRACEFS} ({tfs.error}): "
                     f"peers using tracepoints may fail to start")
        for wl, workers, n, rounds in workloads(run):
            offs, n = run_workload(run, ctx, tls, wl, workers, n, rounds)
            figures(run, tls, wl, workers, n, offs)
    if not any(t.phases for t in tls):
        raise RuntimeError("no tool could be measured: "
                           + "; ".join(f"{t.display}: {t.failed}" for t in tls if t.failed))
