#!/usr/bin/env python3
"""A policy's own `on_violation` flow against a real daemon (real BPF, host processes):
it runs with the event and the alert, store/enforce/notify work from it, an enforcement
is recorded whatever the order of its calls, a flow that fails still stores its
violation (and is counted); volume control stores exactly `burst` repeats and counts
every one it drops; a configuration past 1 MiB is refused, not cut."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_notify import Receiver  # noqa: E402

V = vigtest.VIGIL


class FlowTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-flow-")
        self.data = os.path.join(self.tmp, "data")
        self.pdir = os.path.join(self.tmp, "policies")
        os.makedirs(self.data)
        os.makedirs(self.pdir)
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
            self.d.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def policy(self, name, comm, extra=""):
        """A host-scoped policy matching process name `comm`, with `extra` fields."""
        with open(os.path.join(self.pdir, f"{comm}.lua"), "w") as f:
            f.write(f"return policy {{ name = '{name}', severity = 'low',"
                    f" scope = {{ host = true }}, match = {{ process_name = '{comm}' }}"
                    f"{extra} }}\n")

    def binary(self, comm, src="/bin/sleep"):
        path = os.path.join(self.tmp, comm)
        shutil.copy(src, path)
        return path

    def start(self, conf=None):
        args = ["--policies", self.pdir]
        if conf is not None:
            path = os.path.join(self.tmp, "vigil.conf.lua")
            with open(path, "w") as f:
                f.write(conf)
            args += ["--config", path]
        self.d = Daemon(self.data, self.port, *args)

    def alert(self, policy, timeout=5):
        """The full alert of the policy (waiting for it)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=100")
            hits = [a for a in body["alerts"] if a["policy"]["name"] == policy]
            if hits:
                return self.d.req("GET", f"/v1/alerts/{hits[0]['id']}")[1]
            time.sleep(0.05)
        raise AssertionError(f"no alert for {policy}: {self.d.text()[-3000:]}")

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        return int(re.search(rf"(?m)^{name} (\d+)$", m).group(1))

    def wait_metric(self, name, value, timeout=10):
        deadline = time.time() + timeout
        while self.metric(name) < value:
            self.assertLess(time.time(), deadline, f"{name} < {value}: {self.d.text()[-2000:]}")
            time.sleep(0.05)

    def killed(self, exe):
        """Runs exe 5 (a copy of sleep): True when it was killed, promptly."""
        t0 = time.time()
        r = subprocess.run([exe, "5"], timeout=30)
        return r.returncode == -9 and time.time() - t0 < 4

    def test_enforce_before_store_is_recorded(self):
        """vigil.enforce() before vigil.store() (or without it) kills and is recorded on
        the alert: the record does not depend on the order of the calls."""
        self.policy("Enforce first", "vg-enf-first",
                    ", on_violation = function(ev, vigil)"
                    " local ok = vigil.enforce('kill_process')"
                    " local a = vigil.store(); assert(a and a.id ~= '')"
                    " vigil.log('enforce first: ' .. tostring(ok) .. ' ' .. a.id) end")
        self.policy("Enforce only", "vg-enf-only",
                    ", on_violation = function(ev, vigil) vigil.enforce('kill_process') end")
        self.start()
        for comm in ("vg-enf-first", "vg-enf-only"):
            self.assertTrue(self.killed(self.binary(comm)), self.d.text()[-2000:])
        a = self.alert("Enforce first")
        self.assertEqual(a["violations"], 1)
        self.assertEqual(a["enforcementCount"], 1)
        self.assertEqual(a["enforcement"]["action"], "kill_process")
        self.assertIn(f"enforce first: true {a['id']}", self.d.text())
        a = self.alert("Enforce only")
        self.assertEqual(a["violations"], 1)
        self.assertEqual(a["enforcementCount"], 1)
        self.assertEqual(a["enforcement"]["action"], "kill_process")
        self.assertEqual(self.metric("vigil_violations_stored_total"), 2)

    def test_on_violation_runs_with_the_alert(self):
        """on_violation gets the event and `vigil`: store() returns the alert, notify()
        hands it to the notifiers (a flow that does not notify sends nothing)."""
        rec = Receiver()
        self.addCleanup(rec.stop)
        self.policy("Own flow", "vg-own-flow",
                    ", on_violation = function(ev, vigil, enforcement)"
                    " local a = vigil.store()"
                    " vigil.log('flow saw ' .. ev.comm .. ' ' .. ev.args .. ' ' .. enforcement"
                    "   .. ' ' .. a.id .. ' notify=' .. tostring(vigil.notify(a))) end")
        self.policy("Silent flow", "vg-silent",
                    ", on_violation = function(ev, vigil) vigil.store() end")
        self.start("return { notifiers = { hook = { type = 'webhook',"
                   f" url = 'http://127.0.0.1:{rec.port}/hook' }} }},"
                   " default_notifiers = { 'hook' } }\n")
        subprocess.run([self.binary("vg-silent", "/bin/true"), "quiet"], check=True)
        subprocess.run([self.binary("vg-own-flow", "/bin/true"), "hello"], check=True)
        a = self.alert("Own flow")
        rec.wait(1)
        self.assertIn(f"flow saw vg-own-flow hello inform {a['id']} notify=true", self.d.text())
        self.alert("Silent flow")
        time.sleep(0.5)  # anything the silent flow would have sent has arrived by now
        sent = json.dumps([g["body"] for g in rec.wait(1)])
        self.assertIn("Own flow", sent)
        self.assertNotIn("Silent flow", sent)

    def test_failed_flow_still_stores(self):
        """A flow that raises stores its violation anyway (once, also when it had stored
        before failing), and the failure is counted."""
        self.policy("Broken flow", "vg-broken",
                    ", on_violation = function(ev, vigil) error('flow broke') end")
        self.policy("Broken late", "vg-late",
                    ", on_violation = function(ev, vigil) vigil.store() error('late') end")
        self.start()
        subprocess.run([self.binary("vg-broken", "/bin/true")], check=True)
        subprocess.run([self.binary("vg-late", "/bin/true")], check=True)
        self.assertEqual(self.alert("Broken flow")["violations"], 1)
        self.assertEqual(self.alert("Broken late")["violations"], 1)
        self.wait_metric("vigil_flow_errors_total", 2)
        time.sleep(0.2)
        self.assertEqual(self.metric("vigil_flow_errors_total"), 2)
        self.assertEqual(self.metric("vigil_violations_stored_total"), 2)
        self.assertIn("flow broke", self.d.text())

    def test_volume_control_counts_exactly(self):
        """12 identical execs with burst 3: the alert holds exactly 3 violations and the
        other 9 are counted as suppressed; a different argument is not a repeat."""
        self.policy("Repeats", "vg-repeat")
        self.start("return { volume = { burst = 3, window_s = 600 } }\n")
        exe = self.binary("vg-repeat", "/bin/true")
        for _ in range(12):
            subprocess.run([exe, "same"], check=True)
        self.wait_metric("vigil_events_suppressed_total", 9)
        subprocess.run([exe, "other"], check=True)
        self.wait_metric("vigil_violations_stored_total", 4)
        time.sleep(0.3)
        self.assertEqual(self.metric("vigil_events_suppressed_total"), 9)
        self.assertEqual(self.metric("vigil_violations_stored_total"), 4)
        self.assertEqual(self.metric("vigil_violations_total"), 4)
        self.assertEqual(self.alert("Repeats")["violations"], 4)
        _, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=100")
        self.assertEqual(len(body["alerts"]), 1)

    def test_config_past_1mib_is_refused(self):
        """A configuration past 1 MiB is an error naming the file, its size and the limit
        (it was cut at 1 MiB: here the cut one is valid Lua and would have loaded)."""
        path = os.path.join(self.tmp, "big.conf.lua")
        with open(path, "w") as f:
            f.write("return {}\n" + ("-- " + "x" * 60 + "\n") * 17000)
        size = os.path.getsize(path)
        self.assertGreater(size, 1 << 20)
        r = subprocess.run([V, "violations", "list", "--config", path, "--data-dir", self.data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"the configuration {path} is {size} bytes: at most 1048576 bytes (1 MiB)",
                      r.stderr)
        with open(path, "w") as f:  # exactly 1 MiB still loads
            f.write("return {}\n" + "-" * ((1 << 20) - 11) + "\n")
        self.assertEqual(os.path.getsize(path), 1 << 20)
        r = subprocess.run([V, "violations", "list", "--config", path, "--data-dir", self.data],
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn("bytes", r.stderr)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
