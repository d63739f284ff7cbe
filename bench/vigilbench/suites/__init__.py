"""The suites `vigil bench` runs, in this order.

A suite is a module of this package with:

    NAME = "exec"                      # what --only / --skip take
    TITLE = "exec sensor overhead"     # the progress line and the report's heading
    NEEDS_ROOT = True                  # skipped (recorded as an error, with the reason) without
    def estimate(run): ...             # seconds it should take in run.mode (the progress ETA)
    def measure(run, ctx): ...         # adds figures to run; raises on failure

ctx (see ../context.py) has: ctx.vigil (the binary), ctx.build (the build directory),
ctx.src (the source tree), ctx.tmp (a private directory, removed after the run),
ctx.step(text) (a progress line inside the suite), ctx.peers (a list of (name, argv) from
--peer), ctx.auto_peers (False with --no-peers: do not look for execsnoop / bpftrace on PATH).
"""
ORDER = ["exec", "memory", "replay", "store", "api", "kill", "notify"]
