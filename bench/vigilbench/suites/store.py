"""store: the violation store's write throughput and its index rebuild at start.

bench/store_bench --json appends N violations (over a fixed number of pods, so of alerts)
through the store's group commit, waits until every one is durable (fdatasync), then
reopens the store and times the rebuild of its index from the log. Each repetition is a
fresh store in ctx.tmp and one sample of each figure.
"""
import json
import os
import shutil
import subprocess

NAME = "store"
TITLE = "alert store: writes and rebuild"
NEEDS_ROOT = False


def _sizes(run):
    """(violations per repetition, pods, repetitions)."""
    return run.n(1000000, 250000, 20000), 1000, run.n(5, 4, 3)


def estimate(run):
    n, _pods, reps = _sizes(run)
    # ~4 µs a violation: building its record, writing it, rebuilding
    return 1 + reps * n * 4e-6


def _one(ctx, d, n, pods):
    r = subprocess.run([ctx.tool("store_bench"), "--json", d, str(n), str(pods)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode:
        raise RuntimeError(f"store_bench failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-400:]}")
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"store_bench printed no JSON line (an older build? rebuild): "
                       f"{r.stdout.strip()[-300:]}")


def measure(run, ctx):
    tool = ctx.tool("store_bench")
    if not os.access(tool, os.X_OK):
        raise RuntimeError(f"{tool} is not built: build the tree (make build)")
    n, pods, reps = _sizes(run)
    writes, rebuilds, per_commit = [], [], []
    for i in range(reps):
        ctx.step(f"writing {n:,} violations durably, then rebuilding ({i + 1}/{reps})")
        d = os.path.join(ctx.tmp, f"store-{i}")
        os.makedirs(d)
        try:
            res = _one(ctx, d, n, pods)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        writes.append(res["violations_per_s"])
        rebuilds.append(res["rebuild_s"])
        per_commit.append(res["violations"] / max(res["fsyncs"], 1))
        if res["records"] < res["violations"]:
            run.count("store.rebuild.records_missing", res["violations"] - res["records"])
    run.figure("store.write.alerts_per_s", "violations stored durably per second",
               unit="alerts/s", better="higher", samples=writes,
               how=(f"bench/store_bench: {n:,} violations over {pods:,} alerts through "
                    f"group commit (fdatasync per batch, median "
                    f"{sorted(per_commit)[len(per_commit) // 2]:,.0f} a batch), timed until "
                    f"all are acknowledged durable; a fresh store per sample"),
               plot="store_write", label="group commit")
    run.figure("store.rebuild.seconds", "index rebuild when the store opens",
               unit="s", better="lower", samples=rebuilds,
               how=f"bench/store_bench: reopening the store of {n:,} violations "
                   f"({pods:,} alerts), the log read and the index rebuilt",
               plot="store_rebuild", label=f"{n:,} violations")
