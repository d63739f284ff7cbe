#!/usr/bin/env python3
"""vigil bench's exec and memory suites, run the way the harness runs them, in --tiny mode.

Each suite is measured into a model.Run('tiny') with a context.Context of this build, as
the runner does. Checked: the figures are there with the ids, units, sample counts and
extra fields the report and `vigil bench compare` join on; an overhead's band holds its
median; the tools printed the storm's execs; nothing is left behind (no process the suite
started, none of the tools' BPF programs, kernel.bpf_stats_enabled and tracefs as they
were); and a --peer that exits at once is recorded as an error while the suite goes on.
No timing is asserted: the machine is shared.
"""
import glob
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

sys.path.insert(0, os.path.join(vigtest.SRC, "bench"))
from vigilbench import context, model, suites  # noqa: E402
from vigilbench.suites import exec as exec_suite  # noqa: E402
from vigilbench.suites import memory  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(vigtest.VIGIL))
QUANTITIES = {"overhead": "%", "us_per_exec": "µs", "bpf_ns": "ns", "cpu_us": "µs"}
PLOTS = {"overhead": "overhead_seq", "us_per_exec": "us_per_exec_seq", "bpf_ns": "bpf_ns",
         "cpu_us": "cpu_us"}


def loaded_progs():
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                       check=True)
    return {p["id"] for p in json.loads(r.stdout or "[]")}


def children():
    """The processes this test process has (the suites' tools would be among them)."""
    out = []
    for f in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(f) as fh:
            out += [int(x) for x in fh.read().split()]
    return out


def ours_running():
    """Processes running this build's vigil binary."""
    me = os.path.realpath(vigtest.VIGIL)
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.path.realpath(os.readlink(d + "/exe")) == me:
                pids.append(int(d[6:]))
        except OSError:
            pass
    return pids


def sysctl_stats():
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        return f.read().strip()


def tracefs_mounted():
    return os.path.exists("/sys/kernel/tracing/events")


class BenchExecTest(unittest.TestCase):
    def measure(self, suite, peers=(), auto_peers=True):
        """The suite run in tiny mode as the runner runs it: (run, its JSON)."""
        before = (sysctl_stats(), tracefs_mounted())
        run = model.Run("tiny", BUILD, peers=[{"name": n, "cmd": " ".join(a)}
                                              for n, a in peers])
        ctx = context.Context(BUILD, vigtest.SRC, peers=peers, auto_peers=auto_peers)
        try:
            suite.measure(run, ctx)
        finally:
            ctx.close()
        self.assertEqual((sysctl_stats(), tracefs_mounted()), before,
                         "kernel.bpf_stats_enabled or the tracefs mount were not restored")
        self.assertEqual(children(), [], "the suite left processes running")
        self.assertEqual(ours_running(), [], "a vigil of this build is still running")
        d = json.loads(json.dumps(run.to_json()))  # what results.json would hold
        return run, d

    def figs(self, d):
        return {f["id"]: f for f in d["figures"]}

    def check_tool(self, figs, slug, display, peer, n):
        for q, unit in QUANTITIES.items():
            fid = f"exec.seq.{slug}.{q}"
            self.assertIn(fid, figs, sorted(figs))
            f = figs[fid]
            self.assertEqual(f["unit"], unit, fid)
            self.assertEqual(f["better"], "lower", fid)
            self.assertEqual(f["n"], n, fid)
            self.assertEqual(f["plot"], PLOTS[q], fid)
            self.assertEqual(f["label"], display if q in ("overhead", "us_per_exec")
                             else f"{display} (seq)", fid)
            self.assertEqual({k: f["extra"][k] for k in ("tool", "workload", "peer")},
                             {"tool": display, "workload": "seq", "peer": peer}, fid)
            self.assertTrue(f["how"], fid)
        o = figs[f"exec.seq.{slug}.overhead"]
        self.assertIsInstance(o["within_noise"], bool)
        self.assertLessEqual(o["extra"]["lo"], o["median"])
        self.assertLessEqual(o["median"], o["extra"]["hi"])
        self.assertIn("min_to_min", o["extra"])
        bpf = figs[f"exec.seq.{slug}.bpf_ns"]
        self.assertTrue(bpf["extra"]["prog_ids"], bpf)
        self.assertGreater(bpf["median"], 0)
        still = set(bpf["extra"]["prog_ids"]) & loaded_progs()
        self.assertEqual(still, set(), f"{display}'s BPF programs are still loaded")
        # every exec of the storm was seen (background execs of true may add a few)
        self.assertGreaterEqual(figs[f"exec.seq.{slug}.us_per_exec"]["extra"]
                                ["events_per_exec"], 0.95)

    def test_exec_vigil_events_beside_a_peer(self):
        run, d = self.measure(exec_suite)
        self.assertEqual(d["errors"], [])
        figs = self.figs(d)
        self.assertFalse([i for i in figs if i.startswith("exec.par.")],
                         "tiny mode measures the sequential storm only")
        self.check_tool(figs, "vigil-events", "vigil events --json", False, 2)
        off = figs["exec.seq.off.us_per_exec"]
        self.assertEqual((off["unit"], off["plot"], off["label"]),
                         ("µs", "us_per_exec_seq", "off"))
        self.assertIn("exec.vigil-events.drops", d["counts"])
        if os.access(exec_suite.EXECSNOOP, os.X_OK):
            self.check_tool(figs, "execsnoop", "execsnoop (libbpf-tools)", True, 2)
            self.assertEqual(off["n"], 5)  # off, on, off, on, off, on, off, on, off
            self.assertIn("bpftrace", " ".join(d["notes"]))  # said what tiny left out
        else:
            print("SKIPPED part: execsnoop not installed (apt install libbpf-tools)")
            self.assertIn("execsnoop not installed: apt install libbpf-tools", d["notes"])

    def test_a_peer_that_exits_is_recorded_and_the_suite_goes_on(self):
        run, d = self.measure(exec_suite, peers=[("Bogus Tool", ["/bin/false", "-x"])],
                              auto_peers=False)
        figs = self.figs(d)
        self.check_tool(figs, "vigil-events", "vigil events --json", False, 2)
        self.assertFalse([i for i in figs if ".bogus-tool." in i])
        self.assertEqual(len(d["errors"]), 1, d["errors"])
        err = d["errors"][0]
        self.assertEqual(err["suite"], "exec")
        self.assertIn("Bogus Tool", err["message"])
        self.assertIn("/bin/false -x", err["message"])
        self.assertIn("exited", err["message"])
        self.assertEqual(d["counts"].get("exec.bogus-tool.failed"), 1)
        self.assertEqual(figs["exec.seq.off.us_per_exec"]["n"], 3)

    def test_memory(self):
        run, d = self.measure(memory)
        self.assertEqual(d["errors"], [])
        figs = self.figs(d)
        ids = ["memory.idle.vigil-run.rss_mib", "memory.load.vigil-run.rss_mib",
               "memory.load.vigil-run.hwm_mib"]
        self.assertEqual(sorted(figs), sorted(ids))
        for fid in ids:
            f = figs[fid]
            self.assertEqual((f["unit"], f["better"], f["plot"]), ("MiB", "lower", "memory"))
            self.assertEqual(f["extra"]["tool"], "vigil run")
            self.assertGreater(f["min"], 1.0, fid)  # a daemon with its pack loaded
        self.assertEqual(figs[ids[0]]["n"], 3)
        self.assertEqual(figs[ids[2]]["n"], 3)
        self.assertGreaterEqual(figs[ids[1]]["n"], 4)  # during the storm, then 3 after
        # the high-water mark is never below what was resident before it was read
        self.assertGreaterEqual(figs[ids[2]]["min"], figs[ids[0]]["max"])
        self.assertGreater(figs[ids[1]]["extra"]["execs_received"], 0)
        self.assertIn("memory.vigil-run.drops", d["counts"])

    def test_contract(self):
        for mod, name in ((exec_suite, "exec"), (memory, "memory")):
            self.assertEqual(mod.NAME, name)
            self.assertIn(name, suites.ORDER)
            self.assertTrue(mod.NEEDS_ROOT)
            self.assertTrue(mod.TITLE)
            for mode in ("tiny", "quick", "full"):
                self.assertGreater(mod.estimate(model.Run(mode, BUILD)), 0)


if __name__ == "__main__":
    vigtest.require_bpf()
    if not os.access(os.path.join(BUILD, "bench", "execstorm"), os.X_OK):
        vigtest.cannot_run(f"bench tools not built in {BUILD}/bench")
    if not subprocess.run(["sh", "-c", "command -v bpftool"], capture_output=True).stdout:
        vigtest.cannot_run("bpftool not installed (apt install bpftool)")
    vigtest.run_tests()
