"""replay: the policy engine's throughput, events per second on one core.

bench/replay_bench writes a synthetic node trace (shells, runtimes, coreutils, health
probes, runc; 70 % in containers, ~1 % violating the default pack) into ctx.tmp, then
replays it through the engine: once with the default pack, once with
bench/policies-worst (every event through one Lua check: the worst case). Each
repetition is one `replay_bench run` (read + decode, then the engine) and one sample.
"""
import os
import re
import subprocess

NAME = "replay"
TITLE = "policy engine throughput (replay)"
NEEDS_ROOT = False

_LINE = re.compile(r"^(?P<stage>.+?)\s+(?P<n>\d+) events\s+(?P<s>[\d.]+) s\s+"
                   r"(?P<rate>[\d.]+) events/s", re.MULTILINE)
_STATS = re.compile(r"violations (\d+) .*Lua calls (\d+), Lua errors (\d+)")


def _sizes(run):
    """(events in the trace, repetitions per pack)."""
    return run.n(2000000, 500000, 20000), run.n(7, 5, 3)


def estimate(run):
    events, reps = _sizes(run)
    # generating ~4 µs an event; each repetition reads the trace twice and runs the engine
    return 2 + events * 4e-6 + 2 * reps * events * 0.9e-6


def _replay(ctx, trace, policy_dir):
    """One `replay_bench run`: {stage: events/s} and (violations, Lua calls, Lua errors)."""
    argv = [ctx.tool("replay_bench"), "run", trace, "-r", "1"]
    if policy_dir:
        argv += ["-d", policy_dir]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"replay_bench run failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-400:]}")
    rates = {}
    for m in _LINE.finditer(r.stdout):
        rates[m.group("stage").strip()] = float(m.group("rate"))
    engine = [v for k, v in rates.items() if k.startswith("engine")]
    decode = [v for k, v in rates.items() if k.startswith("the same")]
    st = _STATS.search(r.stdout)
    if not engine or not decode or not st:
        raise RuntimeError(f"replay_bench printed no rates: {r.stdout.strip()[-400:]}")
    return engine[0], decode[0], tuple(int(x) for x in st.groups())


def measure(run, ctx):
    tool = ctx.tool("replay_bench")
    if not os.access(tool, os.X_OK):
        raise RuntimeError(f"{tool} is not built: build the tree (make build)")
    events, reps = _sizes(run)
    trace = os.path.join(ctx.tmp, "replay.trace")
    ctx.step(f"writing a synthetic trace of {events:,} execs")
    r = subprocess.run([tool, "gen", trace, str(events)], capture_output=True, text=True,
                       timeout=1800)
    if r.returncode:
        raise RuntimeError(f"replay_bench gen failed: {r.stderr.strip()[-400:]}")
    worst = os.path.join(ctx.src, "bench", "policies-worst")
    packs = [("default", None, "the default pack"),
             ("lua", worst, "every event through one Lua check (bench/policies-worst)")]
    samples = {"default": [], "lua": [], "decode": []}
    for r_i in range(reps):
        for key, pdir, desc in packs:
            ctx.step(f"replaying {events:,} events, {desc} ({r_i + 1}/{reps})")
            engine, decode, (viol, calls, errs) = _replay(ctx, trace, pdir)
            samples[key].append(engine)
            samples["decode"].append(decode)
            if errs:
                run.count(f"replay.{key}.lua_errors", errs)
        if r_i == 0 and viol == 0 and calls == 0:
            run.note("replay: the Lua worst case made no Lua calls: check bench/policies-worst")
    how = (f"bench/replay_bench run on a synthetic trace of {events:,} execs in ctx.tmp "
           f"(page cache), one core, mapping the file included; one sample per repetition")
    run.figure("replay.decode.events_per_s", "trace read + decode, no policies",
               unit="events/s", better="higher", samples=samples["decode"], how=how,
               plot="replay", label="read + decode")
    run.figure("replay.default.events_per_s", "engine with the default pack",
               unit="events/s", better="higher", samples=samples["default"], how=how,
               plot="replay", label="default pack")
    run.figure("replay.lua.events_per_s", "engine, every event through a Lua check",
               unit="events/s", better="higher", samples=samples["lua"], how=how,
               plot="replay", label="all-Lua worst case")
    os.unlink(trace)
