#!/usr/bin/env python3
"""`vigil bench`: a real tiny run of the replay and store suites, then its report and compare.

The run goes through the vigil binary (`vigil bench run --tiny --only replay,store`), which
execs the source tree's bench/vigil-bench with its own build directory. Checked: the exit
status, results.json (schema, machine, versions, suites, figures with every sample),
summary.md's tables, the SVG plots (each parses as XML; one per plot name), that
`vigil bench report` renders the same files again, that `compare` tells a change from noise
(synthetic runs made from the real one: samples ×2 is worse or better by direction, ×1.02
with a realistic spread is within noise) and gates with --fail-above, that a failing suite
is recorded and the run goes on, and that bad input gets one line and exit status 2.
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import VIGIL  # noqa: E402

FIGURES = {"replay.default.events_per_s": "higher", "replay.lua.events_per_s": "higher",
           "store.write.alerts_per_s": "higher", "store.rebuild.seconds": "lower"}
PLOTS = {"replay.svg", "store_write.svg", "store_rebuild.svg"}
SVG_NS = "{http://www.w3.org/2000/svg}"


def bench(*args, timeout=600):
    return subprocess.run([VIGIL, "bench", *args], capture_output=True, text=True,
                          timeout=timeout)


class Bench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-test-bench-")
        cls.out = os.path.join(cls.tmp, "run")
        cls.r = bench("run", "--tiny", "--only", "replay,store", "--no-peers",
                      "--peer", "mine=/bin/true --quiet", "--out", cls.out)
        path = os.path.join(cls.out, "results.json")
        cls.results = None
        if os.path.exists(path):
            with open(path) as f:
                cls.results = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def test_run(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        self.assertIn(os.path.join(self.out, "summary.md"), self.r.stdout)
        self.assertIn("[2/2] store", self.r.stderr)  # the progress lines
        d = self.results
        self.assertEqual(d["schema"], "vigil-bench/1")
        self.assertEqual(d["mode"], "tiny")
        for k in ("kernel", "cpu", "cpus", "arch"):
            self.assertTrue(d["machine"].get(k), k)
        self.assertTrue(d["versions"]["vigil"])
        self.assertEqual(d["versions"]["kernel"], os.uname().release)
        self.assertEqual([(s["name"], s["status"]) for s in d["suites"]],
                         [("replay", "ok"), ("store", "ok")])
        self.assertEqual(d["errors"], [])
        self.assertEqual(d["peers"], [{"name": "mine", "cmd": "/bin/true --quiet"}])

    def test_figures(self):
        figs = {f["id"]: f for f in self.results["figures"]}
        for fid, better in FIGURES.items():
            f = figs.get(fid)
            self.assertIsNotNone(f, f"{fid} missing: {sorted(figs)}")
            self.assertEqual(f["better"], better)
            self.assertGreaterEqual(len(f["samples"]), 3, fid)
            self.assertEqual(f["n"], len(f["samples"]))
            self.assertTrue(all(x > 0 for x in f["samples"]), fid)
            self.assertLessEqual(f["min"], f["median"])
            self.assertLessEqual(f["median"], f["max"])
            self.assertTrue(f["how"] and f["plot"] and f["label"], fid)

    def test_summary(self):
        with open(os.path.join(self.out, "summary.md"), encoding="utf-8") as f:
            md = f.read()
        self.assertIn("| figure | median | band | min..max | n | noise | how |", md)
        self.assertIn("| suite | status | seconds |", md)
        self.assertIn(f"kernel {os.uname().release}", md)
        self.assertIn("How to read it", md)
        for fid in FIGURES:
            self.assertIn(f"`{fid}`", md)
        for p in PLOTS:
            self.assertIn(f"(plots/{p})", md)
        self.assertNotIn("## Errors", md)

    def test_plots(self):
        pdir = os.path.join(self.out, "plots")
        self.assertEqual(set(os.listdir(pdir)), PLOTS)
        for p in PLOTS:
            root = ET.parse(os.path.join(pdir, p)).getroot()
            self.assertEqual(root.tag, SVG_NS + "svg", p)
            texts = " ".join(t.text or "" for t in root.iter(SVG_NS + "text"))
            self.assertTrue(root.findall(f"{SVG_NS}rect"), p)
            self.assertIn("is better", texts, p)
        root = ET.parse(os.path.join(pdir, "replay.svg")).getroot()
        texts = [t.text for t in root.iter(SVG_NS + "text")]
        self.assertIn("default pack", texts)
        self.assertIn("all-Lua worst case", texts)

    def test_report_renders_again(self):
        again = os.path.join(self.tmp, "again")
        r = bench("report", os.path.join(self.out, "results.json"), "--out", again)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ["summary.md"] + [os.path.join("plots", p) for p in PLOTS]:
            with open(os.path.join(self.out, name)) as a, open(os.path.join(again, name)) as b:
                self.assertEqual(a.read(), b.read(), name)

    def test_report_of_an_older_file(self):
        """A results.json from before fields were added (suites, counts, notes, versions)."""
        old = copy.deepcopy(self.results)
        for k in ("suites", "counts", "notes", "versions", "peers"):
            del old[k]
        out = os.path.join(self.tmp, "older")
        r = bench("report", self.write("older.json", old), "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "summary.md")) as f:
            self.assertIn("`store.rebuild.seconds`", f.read())
        self.assertEqual(set(os.listdir(os.path.join(out, "plots"))), PLOTS)

    def synthetic(self, scale):
        """The real run with a realistic spread around each median (old), and the same
        samples times scale (new)."""
        old = copy.deepcopy(self.results)
        for f in old["figures"]:
            f["samples"] = [f["median"] * k for k in (0.94, 0.97, 1.0, 1.03, 1.06)]
        new = copy.deepcopy(old)
        for f in new["figures"]:
            f["samples"] = [x * scale for x in f["samples"]]
        return self.write(f"old-{scale}.json", old), self.write(f"new-{scale}.json", new)

    def compare(self, scale, *args):
        old, new = self.synthetic(scale)
        r = bench("compare", old, new, *args)
        return r, {f["id"]: f for f in json.loads(r.stdout)["figures"]} \
            if "--json" in args else None

    def test_compare_doubled(self):
        r, figs = self.compare(2, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(figs["store.rebuild.seconds"]["verdict"], "worse")
        self.assertEqual(figs["replay.lua.events_per_s"]["verdict"], "better")
        self.assertAlmostEqual(figs["store.rebuild.seconds"]["pct"], 100.0)
        r, _ = self.compare(2, "--fail-above", "10%")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("store.rebuild.seconds", r.stdout.split("FAIL:")[1])
        self.assertIn("| worse", r.stdout)
        r, _ = self.compare(2, "--fail-above", "150")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_compare_within_noise(self):
        r, figs = self.compare(1.02, "--json", "--fail-above", "1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual({f["verdict"] for f in figs.values()}, {"within noise"})
        r, _ = self.compare(1.02, "--fail-above", "10")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("within noise", r.stdout)

    def test_compare_overhead_in_points(self):
        """An overhead (a figure in %) from +2 % to +4 % is +2 points worse, not +100 %: the
        gate at 10 lets it through, at 1 it fails; +2.0 % to +2.1 % is noise."""
        def run_with(samples):
            d = copy.deepcopy(self.results)
            d["figures"] = [{"id": "exec.seq.x.overhead", "title": "exec overhead", "unit": "%",
                             "better": "lower", "samples": samples, "how": "synthetic"}]
            return d
        base = [1.8, 1.9, 2.0, 2.1, 2.2]
        old = self.write("ov-old.json", run_with(base))
        worse = self.write("ov-new.json", run_with([x + 2 for x in base]))
        same = self.write("ov-same.json", run_with([x + 0.1 for x in base]))
        r = bench("compare", old, worse, "--json", "--fail-above", "10")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        f = json.loads(r.stdout)["figures"][0]
        self.assertEqual((f["verdict"], f["change_unit"]), ("worse", "points"))
        self.assertAlmostEqual(f["pct"], 2.0)
        self.assertEqual(bench("compare", old, worse, "--fail-above", "1").returncode, 1)
        r = bench("compare", old, same, "--fail-above", "0")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("points", r.stdout)
        self.assertIn("within noise", r.stdout)

    def test_compare_lists_figures_of_one_run(self):
        old = copy.deepcopy(self.results)
        old["figures"] = old["figures"][:1]
        old["mode"] = "quick"
        r = bench("compare", self.write("one.json", old),
                  os.path.join(self.out, "results.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("only in", r.stdout)
        self.assertIn("store.rebuild.seconds", r.stdout)
        self.assertIn("different modes", r.stderr)

    def test_failing_suite_is_recorded(self):
        """A build without the bench tools: both suites fail, the run goes on, exit 1. (Run
        as people type it, without the command: `vigil bench --tiny ...` is a run.)"""
        build = os.path.join(self.tmp, "build-without-tools")
        os.makedirs(build)
        os.symlink(os.path.abspath(VIGIL), os.path.join(build, "vigil"))
        out = os.path.join(self.tmp, "failing")
        r = bench("--tiny", "--only", "replay,store", "--build", build, "--out", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        with open(os.path.join(out, "results.json")) as f:
            d = json.load(f)
        self.assertEqual([(s["name"], s["status"]) for s in d["suites"]],
                         [("replay", "error"), ("store", "error")])
        self.assertEqual([e["suite"] for e in d["errors"]], ["replay", "store"])
        self.assertIn("is not built", d["errors"][0]["message"])
        with open(os.path.join(out, "summary.md")) as f:
            md = f.read()
        self.assertIn("## Errors", md)
        self.assertIn("replay_bench is not built", md)

    def test_bad_input(self):
        notres = self.write("not-a-result.json", {"hello": 1})
        res = os.path.join(self.out, "results.json")
        cases = [
            (["run", "--tiny", "--only", "replay,nope"], "unknown suite 'nope'"),
            (["run", "--tiny", "--peer", "no-equals-sign"], "NAME=CMD"),
            (["run", "--tiny", "--peer", "x="], "NAME=CMD"),
            (["run", "--tiny", "--build", self.tmp], "no vigil binary"),
            (["compare", notres, res], "is not a vigil bench result"),
            (["compare", res, os.path.join(self.tmp, "absent.json")], "cannot read"),
            (["compare", res, res, "--fail-above", "ten"], "--fail-above 'ten'"),
            (["report", VIGIL], "is not JSON"),
            (["run", "--tiny", "--quick"], "not allowed"),
        ]
        for args, words in cases:
            r = bench(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout} {r.stderr}")
            self.assertIn(words, r.stderr, args)
            self.assertNotIn("Traceback", r.stderr, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_help(self):
        r = bench("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("vigil bench compare OLD.json NEW.json", r.stdout)
        self.assertIn("bench", subprocess.run([VIGIL, "--help"], capture_output=True,
                                              text=True).stdout)


if __name__ == "__main__":
    if not os.access(VIGIL, os.X_OK):
        vigtest.cannot_run(f"vigil binary not built at {VIGIL}")
    if not shutil.which("python3"):
        vigtest.cannot_run("python3 is not on PATH (vigil bench runs bench/vigil-bench)")
    vigtest.run_tests()
