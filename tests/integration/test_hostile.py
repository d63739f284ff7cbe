#!/usr/bin/env python3
"""Hostile policies against a real daemon: a Lua pattern that backtracks for
minutes inside C (at evaluation, at load, at lint, at reload) is stopped by the
budget and the daemon stays responsive; SIGTERM stops a daemon that is inside
a Lua call; an enforcing policy whose check() fails (an error, or its memory
cap) kills nothing and records the error, while a real match is still killed."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402

V = vigtest.VIGIL
HOSTILE = 'string.rep("a", 65536):find(".-.-b")'


def policy(name, body, extra=""):
    return (f"return policy {{ name = '{name}', severity = 'high', scope = {{ host = true }},"
            f" match = {{ process_name = '{body}' }}, {extra} }}\n")


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-hostile-")
        cls.marker = os.path.join(cls.tmp, "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-hostile-data-")
        self.pdir = os.path.join(self.data, "policies")
        os.makedirs(self.pdir)
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d and self.d.proc.poll() is None:
            self.d.proc.kill()
            self.d.proc.wait()

    def write(self, name, text):
        with open(os.path.join(self.pdir, name), "w") as f:
            f.write(text)

    def binary(self, name):
        """The marker under another name: its comm is what policies match."""
        path = os.path.join(self.tmp, name)
        if not os.path.exists(path):
            shutil.copy(self.marker, path)
        return path

    def run_marker(self, name, mark, ms):
        path = os.path.join(self.tmp, mark)
        if os.path.exists(path):
            os.unlink(path)
        r = subprocess.run([self.binary(name), path, str(ms)], timeout=60)
        return r.returncode, os.path.exists(path)

    def healthz(self, timeout=3):
        """Seconds /healthz took, or None when it did not answer within timeout."""
        t0 = time.time()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                        timeout=timeout) as r:
                r.read()
                return time.time() - t0
        except (urllib.error.URLError, TimeoutError, OSError):
            return None

    def metric(self, line_start):
        _, m = self.d.req("GET", "/metrics")
        hits = [x for x in m.splitlines() if x.startswith(line_start + " ")]
        self.assertTrue(hits, f"no metric {line_start}")
        return int(hits[0].split()[-1])

    def alert(self, name, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, body = self.d.req("GET", "/v1/alerts?query=State:ALL")
            hits = [a for a in body["alerts"] if a["policy"]["name"] == name]
            if hits:
                return self.d.req("GET", f"/v1/alerts/{hits[0]['id']}")[1]
            time.sleep(0.05)
        raise AssertionError(f"no alert for {name}: {self.d.text()[-3000:]}")

    def test_hostile_check_is_stopped(self):
        self.write("h.lua", policy("Hostile check", "stallme",
                                   f"check = function(ev) return {HOSTILE} ~= nil end"))
        self.d = Daemon(self.data, self.port, "--policies", self.pdir)
        for i in range(3):
            self.assertEqual(self.run_marker("stallme", f"s{i}", 0), (0, True))
        a = self.alert("Hostile check")
        # the loop answers: the check was stopped by its budget, in milliseconds
        took = self.healthz()
        self.assertIsNotNone(took, "the daemon's loop is stalled")
        deadline = time.time() + 5
        while time.time() < deadline and a["violations"] < 3:
            time.sleep(0.05)
            a = self.alert("Hostile check")
        self.assertEqual(a["violations"], 3)
        err = a["processes"][0].get("evaluationError", "")
        self.assertIn("instruction budget exceeded", err)
        self.assertEqual(self.metric('vigil_policy_budget_stops_total{policy="Hostile check"}'), 3)
        self.assertEqual(self.metric('vigil_check_failures_total{class="budget"}'), 3)
        self.assertEqual(self.d.stop(), 0)

    def test_sigterm_stops_a_call_in_progress(self):
        """With a budget and a time limit that let the pattern run for seconds (the largest the configuration allows), the
        loop is inside the call (/healthz does not answer): SIGTERM must stop it."""
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write("return { lua = { budget = 1000000000, time_ms = 10000 } }\n")
        self.write("h.lua", policy("Hostile check", "stallme",
                                   f"check = function(ev) return {HOSTILE} ~= nil end"))
        self.d = Daemon(self.data, self.port, "--policies", self.pdir, "--config", conf)
        self.assertIsNotNone(self.healthz())
        self.run_marker("stallme", "t1", 0)
        time.sleep(0.5)
        self.assertIsNone(self.healthz(timeout=1), "the call should still be running")
        t0 = time.time()
        self.d.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.d.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        self.assertIsNotNone(rc, f"SIGTERM did not stop the daemon in 10 s: {self.d.text()[-2000:]}")
        self.assertLess(took, 3.0)
        self.assertEqual(rc, 0, self.d.text()[-2000:])
        self.assertIn("stopped:", self.d.text())

    def test_hostile_load_lint_and_reload(self):
        hostile_file = os.path.join(self.tmp, "loadtime.lua")
        with open(hostile_file, "w") as f:
            f.write(f"local x = {HOSTILE}\n" + policy("Hostile load", "stallme"))
        # lint: an error, promptly
        t0 = time.time()
        try:
            r = subprocess.run([V, "policy", "lint", hostile_file], capture_output=True,
                               text=True, timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("vigil policy lint hung on a hostile pattern at load")
        self.assertLess(time.time() - t0, 10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("instruction budget exceeded", r.stderr + r.stdout)
        # a daemon reloading it: the reload fails, the old set stays, the loop answers
        self.write("good.lua", policy("Good", "fineone"))
        self.d = Daemon(self.data, self.port, "--policies", self.pdir)
        shutil.copy(hostile_file, os.path.join(self.pdir, "loadtime.lua"))
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "reload failed" not in self.d.text():
            time.sleep(0.05)
        self.assertIn("reload failed", self.d.text())
        self.assertIsNotNone(self.healthz())
        # SIGHUP's, and the watcher's of the policy directory
        self.assertGreaterEqual(self.metric("vigil_policy_reload_failures_total"), 1)
        self.run_marker("fineone", "g1", 0)
        self.alert("Good")
        # and a start with it: that file fails, the daemon runs the rest
        self.assertEqual(self.d.stop(), 0)
        self.d = Daemon(self.data, self.port, "--policies", self.pdir)
        self.assertIn("instruction budget exceeded", self.d.text())
        self.assertIsNotNone(self.healthz())
        self.assertEqual(self.d.stop(), 0)

    def test_failed_check_never_kills(self):
        self.write("k.lua", policy(
            "Guarded marker", "guardme",
            "enforcement = 'kill_process', check = function(ev)"
            " if ev.args:find('/boom', 1, true) then error('cannot decide') end"
            " if ev.args:find('/hog', 1, true) then local t = {}"
            "   while true do t[#t + 1] = string.rep('x', 1 << 20) .. #t end end"
            " return ev.args:find('/slow', 1, true) ~= nil end"))
        self.d = Daemon(self.data, self.port, "--policies", self.pdir)
        # the check errors: not killed (it sleeps 1.5 s and exits 0), recorded as an error
        self.assertEqual(self.run_marker("guardme", "boom", 1500), (0, True))
        a = self.alert("Guarded marker")
        self.assertIn("cannot decide", a["processes"][0]["evaluationError"])
        self.assertIn("skipped: check() failed", a["enforcement"]["message"])
        self.assertEqual(a["state"], "ATTEMPTED")  # as for a refused kill
        # the check runs out of its memory: not killed either
        self.assertEqual(self.run_marker("guardme", "hog", 1500), (0, True))
        deadline = time.time() + 5
        while time.time() < deadline and self.alert("Guarded marker")["violations"] < 2:
            time.sleep(0.05)
        a = self.alert("Guarded marker")
        errs = [p.get("evaluationError", "") for p in a["processes"]]
        self.assertTrue(any("memory cap" in e for e in errs), errs)
        # a real match of the same policy is killed, from user space, at once
        t0 = time.time()
        code, _ = self.run_marker("guardme", "slow", 10000)
        self.assertEqual(code, -signal.SIGKILL)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(self.metric("vigil_enforcements_skipped_total"), 2)
        self.assertEqual(self.metric('vigil_check_failures_total{class="error"}'), 1)
        self.assertEqual(self.metric('vigil_check_failures_total{class="memory"}'), 1)
        self.assertEqual(self.metric('vigil_policy_errors_total{policy="Guarded marker"}'), 2)
        self.assertGreaterEqual(self.metric("vigil_enforcements_total"), 1)
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
