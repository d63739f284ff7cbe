#!/usr/bin/env python3
"""`vigil bench`'s api, kill and notify suites, each run for real in tiny mode: the figures
they add (ids, units, which way is better, every sample, the CDF charts), the drops they
count, that they leave no daemon, bpftrace or marker process behind, and that a build
without the bench tools gets an error naming the tool and how to build it."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(vigtest.VIGIL))
sys.path.insert(0, os.path.join(vigtest.SRC, "bench"))
from vigilbench import context, model  # noqa: E402
from vigilbench.suites import _common, api, kill, notify  # noqa: E402

MARKERS = {"vgnone", "vgkernel", "vglua", "vgpod", "vgbpft"}


def processes():
    """[(pid, comm, cmdline)] of every process now."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append((int(pid), comm, cmd))
    return out


class Suites(unittest.TestCase):
    def measure(self, suite):
        """Run suite in tiny mode; (run, the context's private directory)."""
        run = model.Run("tiny", BUILD)
        ctx = context.Context(BUILD, vigtest.SRC)
        try:
            suite.measure(run, ctx)
        finally:
            ctx.close()
        self.assertEqual(run.errors, [], run.errors)
        left = [p for p in processes()
                if ctx.tmp in p[2] or p[1] in MARKERS or
                (p[1] == "bpftrace" and "vgbpft" in p[2])]
        self.assertEqual(left, [], f"{suite.NAME} left processes behind")
        return run

    def figures(self, run):
        return {f.id: f for f in run.figures}

    def test_contract(self):
        for s in (api, kill, notify):
            self.assertEqual(s.__name__.rsplit(".", 1)[1], s.NAME)
            self.assertTrue(s.TITLE)
            for mode in ("full", "quick", "tiny"):
                self.assertGreater(s.estimate(model.Run(mode, BUILD)), 0)
        self.assertTrue(api.NEEDS_ROOT and kill.NEEDS_ROOT)

    def test_api(self):
        run = self.measure(api)
        figs = self.figures(run)
        n, reps = api.sizes(run)
        self.assertEqual(set(figs), {"api.selective.latency_ms", "api.matchall.latency_ms",
                                     "api.freetext.latency_ms"})
        failed = run.counts.get("api.failed_requests", 0)
        for f in figs.values():
            self.assertEqual((f.unit, f.better, f.plot), ("ms", "lower", "api_latency"))
            self.assertEqual(f.extra["chart"], "cdf")
            self.assertEqual(f.extra["alerts"], n)
            self.assertGreater(len(f.samples), 0)
            self.assertLessEqual(len(f.samples), reps)
            self.assertTrue(all(x > 0 for x in f.samples))
        self.assertEqual(sum(len(f.samples) for f in figs.values()) + failed, 3 * reps)
        # the match-all page counts every alert; the selective one a few of them
        self.assertEqual(figs["api.matchall.latency_ms"].extra["matches"], n)
        sel = figs["api.selective.latency_ms"].extra["matches"]
        self.assertTrue(0 < sel < n / 10, sel)

    def test_kill(self):
        run = self.measure(kill)
        figs = self.figures(run)
        runs, _rounds = kill.sizes(run)
        want = {"kill.none.latency_us", "kill.kernel.latency_us", "kill.userspace.latency_us",
                "kill.pod.latency_us"}
        bpftrace = os.path.exists("/usr/bin/bpftrace") or os.path.exists("/usr/sbin/bpftrace")
        if bpftrace:
            want.add("kill.bpftrace.latency_us")
        else:
            self.assertTrue(any("bpftrace not installed" in x for x in run.notes), run.notes)
        self.assertEqual(set(figs), want)
        labels = {figs[f"kill.{p}.latency_us"].label for p in ("kernel", "userspace")}
        self.assertEqual(labels, {"vigil in-kernel", "vigil user space"})
        for fid, f in figs.items():
            path = fid.split(".")[1]
            self.assertEqual((f.unit, f.better, f.plot), ("µs", "lower", "kill_latency"))
            self.assertEqual(f.extra["chart"], "cdf")
            self.assertEqual(len(f.samples), f.extra["runs"])
            if path != "pod":  # kill_pod runs a fifth as many
                self.assertEqual(f.extra["runs"], runs)
            if path == "none":
                self.assertEqual(f.extra["killed"], 0)  # nothing polices it
                self.assertEqual(f.extra["marker_written"], runs)
                continue
            # every survivor is counted, under its path
            self.assertEqual(run.counts.get(f"kill.{path}.survived", 0),
                             f.extra["runs"] - f.extra["killed"])
            self.assertEqual(f.extra["survived"], f.extra["runs"] - f.extra["killed"])
        self.assertGreater(figs["kill.pod.latency_us"].extra["runs"], 0)
        if bpftrace:
            self.assertEqual(figs["kill.bpftrace.latency_us"].label, "bpftrace signal(KILL)")
            self.assertTrue(figs["kill.bpftrace.latency_us"].extra["peer"])

    def test_notify(self):
        run = self.measure(notify)
        figs = self.figures(run)
        _n, rounds = notify.sizes(run)
        ids = set()
        for c in notify.CONCURRENCY:
            ids |= {f"notify.webhook.c{c}.per_s", f"notify.webhook.c{c}.cpu_us"}
        self.assertEqual(set(figs), ids)
        for fid, f in figs.items():
            self.assertEqual(len(f.samples), rounds)
            if fid.endswith(".per_s"):
                self.assertEqual((f.unit, f.better, f.plot), ("alerts/s", "higher", "notify"))
            else:
                self.assertEqual((f.unit, f.better, f.plot), ("µs", "lower", "notify_cpu"))
            self.assertTrue(all(x > 0 for x in f.samples))
        self.assertEqual(run.counts.get("notify.webhook.failed_runs", 0), 0)

    def test_missing_tools(self):
        """A build without the bench tools: an error naming the tool and `make build`."""
        with tempfile.TemporaryDirectory() as empty:
            for suite, tool in ((api, "store_bench"), (kill, "kill_bench"),
                                (notify, "notify_bench")):
                run = model.Run("tiny", empty)
                ctx = context.Context(empty, vigtest.SRC)
                try:
                    with self.assertRaises(_common.SuiteError) as e:
                        suite.measure(run, ctx)
                finally:
                    ctx.close()
                self.assertIn(tool, str(e.exception))
                self.assertIn("make build", str(e.exception))
                self.assertEqual(run.figures, [])
            # the daemon itself missing is said the same way
            ctx = context.Context(empty, vigtest.SRC)
            try:
                with self.assertRaises(_common.SuiteError) as e:
                    _common.Daemon(ctx, os.path.join(ctx.tmp, "d"))
            finally:
                ctx.close()
            self.assertIn("vigil is not built", str(e.exception))
            self.assertIn("make build", str(e.exception))


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
