"""memory: what the `vigil run` daemon keeps in memory, idle and under an exec storm.

The daemon runs with the default pack, a fresh data directory and a free loopback port.
Its resident set (VmRSS of /proc/PID/status) is read several times at idle once it is
ready and settled, then while exec storms run for a set time (build/bench/execstorm, one
worker per CPU) and after them; its high-water mark (VmHWM) is read after the storm. Sizes in MiB.
Ring-buffer drops during the storm are counted (memory.vigil-run.drops).
"""
import os
import threading
import time

from . import _procs

NAME = "memory"
TITLE = "daemon memory"
NEEDS_ROOT = True


def _sizes(run):
    """(settle s, readings, interval s, seconds of storm, execs a storm)."""
    return (run.n(2.0, 1.0, 0.3), run.n(10, 5, 3), run.n(0.5, 0.3, 0.1),
            run.n(20.0, 4.0, 1.0), run.n(1000, 500, 200))


def estimate(run):
    settle, k, every, secs, _chunk = _sizes(run)
    return 1.0 + settle + 2 * k * every + secs


def _read(pid, key, what):
    v = _procs.status_mib(pid, key)
    if v is None:
        raise RuntimeError(f"vigil run exited while {what}")
    return v


def _storm_samples(ctx, p, secs, chunk, workers, every):
    """VmRSS readings while storms of chunk execs follow each other for secs seconds (at
    least one storm and one reading): (readings, execs, seconds)."""
    err, out, done = [], [], [0]
    t0 = time.monotonic()

    def go():
        try:
            while not done[0] or time.monotonic() < t0 + secs:
                _procs.storm(ctx, chunk, workers)
                done[0] += chunk
        except (RuntimeError, OSError) as e:
            err.append(e)

    th = threading.Thread(target=go, daemon=True)
    th.start()
    while True:
        time.sleep(every)
        out.append(_read(p.pid, "VmRSS", "under load"))
        if not th.is_alive():
            break
    th.join()
    if err:
        raise RuntimeError(f"the storm failed: {err[0]}")
    return out, done[0], time.monotonic() - t0


def measure(run, ctx):
    if os.geteuid() != 0:
        raise RuntimeError("the memory suite runs the daemon, which loads BPF: run it as root")
    for path, what in ((ctx.vigil, "vigil"), (ctx.tool("execstorm"), "execstorm")):
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{what} is not built at {path}: build the tree (make build)")
    settle, k, every, secs, chunk = _sizes(run)
    workers = os.cpu_count() or 2
    ctx.step("starting vigil run (default pack)")
    p = _procs.VigilRun(ctx.vigil, ctx.tmp, "memory-vigil-run")
    try:
        why = p.ready()
        if why:
            raise RuntimeError(f"vigil run did not start: {why}")
        time.sleep(settle)
        ctx.step(f"idle: {k} readings of VmRSS")
        idle = []
        for _ in range(k):
            idle.append(_read(p.pid, "VmRSS", "idle"))
            time.sleep(every)
        m0 = p.metrics()
        ctx.step(f"under load: {secs:g} s of exec storm, {workers} workers")
        load, n, took = _storm_samples(ctx, p, secs, chunk, workers, every)
        ctx.step(f"after the storm: {k} readings")
        hwm = []
        for _ in range(k):
            time.sleep(every)
            load.append(_read(p.pid, "VmRSS", "after the storm"))
            hwm.append(_read(p.pid, "VmHWM", "after the storm"))
        m1 = p.metrics()
    finally:
        p.stop()
    got = m1.get("vigil_events_total", 0) - m0.get("vigil_events_total", 0)
    if "vigil_sensor_ringbuf_dropped_total" in m1:
        run.count("memory.vigil-run.drops", int(m1["vigil_sensor_ringbuf_dropped_total"]))
    base = "`vigil run` with the default pack, a fresh data directory"
    storm = (f"during {took:.1f} s of exec storm ({n:,} execs of /bin/true from {workers} "
             f"workers, build/bench/execstorm; the daemon received {got:,.0f} execs) and "
             f"after it, every {every * 1000:.0f} ms")
    ex = {"tool": "vigil run", "peer": False}
    run.figure("memory.idle.vigil-run.rss_mib", "daemon memory", "MiB", "lower", idle,
               f"{base}: VmRSS at idle, {settle:g} s after its ready line, {k} readings "
               f"every {every * 1000:.0f} ms",
               plot="memory", label="vigil run, idle (VmRSS)",
               extra={**ex, "workload": "idle"})
    run.figure("memory.load.vigil-run.rss_mib", "daemon memory", "MiB", "lower", load,
               f"{base}: VmRSS {storm}; ring-buffer drops in the count memory.vigil-run.drops",
               plot="memory", label="vigil run, under load (VmRSS)",
               extra={**ex, "workload": "load", "execs_received": got})
    run.figure("memory.load.vigil-run.hwm_mib", "daemon memory", "MiB", "lower", hwm,
               f"{base}: VmHWM (the resident set's high-water mark since start) read {k} "
               f"times after the storm",
               plot="memory", label="vigil run, peak (VmHWM)",
               extra={**ex, "workload": "load"})
