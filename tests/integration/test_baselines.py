#!/usr/bin/env python3
"""Process baselines in the pipeline, against a real daemon and real podman containers:
learning real executable paths while observing, nothing unexpected while unlocked, a lock
that makes an unlisted path one violation of "Unauthorized Process Execution" with
StackRox's message, the element cap, a restart after kill -9, resolve --add-to-baseline,
start-up learning, auto_lock, host processes without a baseline, and the metrics."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402

V = vigtest.VIGIL
POLICY = "Unauthorized Process Execution"


def q(s):
    return urllib.parse.quote(s, safe="")


class Setup:
    """One daemon with the default pack and the given baselines config, and one container."""

    def __init__(self, tag, baselines):
        vigtest.prepare_image()
        self.tmp = tempfile.mkdtemp(prefix=f"vigil-bl{tag}-")
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        self.conf = os.path.join(self.data, "vigil.conf.lua")
        with open(self.conf, "w") as f:
            f.write(f"return {{ baselines = {{ {baselines} }} }}\n")
        self.name = f"vg-bl{tag}-{os.getpid()}"
        self.d = None
        self.ctr = None
        self.start_daemon(vigtest.free_port())

    def start_daemon(self, port):
        self.d = Daemon(self.data, port, "--config", self.conf)

    def start_container(self):
        self.ctr = podman("run", "-d", "--name", self.name, "--network", "none", IMAGE,
                          "sleep", "infinity")

    def run(self, *argv):
        podman("exec", self.ctr, *argv, check=False)

    def baseline(self, timeout=5, pred=lambda b: True):
        deadline = time.time() + timeout
        b = None
        while time.time() < deadline:
            code, body = self.d.req("GET", "/v1/processbaselines?query=" +
                                    q(f"Container Name:{self.name}"))
            assert code == 200, body
            if body["baselines"]:
                code, b = self.d.req("GET", "/v1/processbaselines/key?id=" +
                                     body["baselines"][0]["id"])
                assert code == 200, b
                if pred(b):
                    return b
            time.sleep(0.1)
        return b

    def alerts(self):
        code, body = self.d.req("GET", "/v1/alerts?query=" + q(f"Policy:{POLICY}"))
        assert code == 200, body
        return [a for a in body["alerts"] if a.get("containerName") == self.name or
                a.get("containerId") == self.ctr]

    def violations(self):
        return sum(a["violations"] for a in self.alerts() if a["state"] == "ACTIVE")

    def wait_violations(self, n, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline and self.violations() < n:
            time.sleep(0.05)
        return self.violations()

    def cli(self, *args):
        return subprocess.run([V, *args, "--data-dir", self.data], capture_output=True,
                              text=True, timeout=60)

    def metrics(self):
        code, text = self.d.req("GET", "/metrics")
        assert code == 200, text
        return text

    def close(self):
        if self.d:
            self.d.stop()
        if self.ctr:
            subprocess.run(["podman", "rm", "-f", "-t", "0", self.ctr], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def paths(b):
    return sorted(e["element"]["processName"] for e in b["elements"])


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\d+)$", text, re.M)
    if not m:
        raise AssertionError(f"no {name} in /metrics")
    return int(m.group(1))


class WithContainer(unittest.TestCase):
    """A daemon with the class's TAG and BASELINES config, and one container."""
    TAG, BASELINES = None, None

    @classmethod
    def setUpClass(cls):
        cls.s = Setup(cls.TAG, cls.BASELINES)
        try:
            cls.s.start_container()
        except BaseException:
            cls.s.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.s.close()


class LearnLockEnforce(WithContainer):
    """Observation 3 s, no start-up period, no auto lock, a cap of 5 paths."""
    TAG, BASELINES = "a", 'observe = "3s", startup = "0s", max_elements = 5'

    def test_flow(self):
        s = self.s
        # observing: the real path, not the exec'd one (/bin is a link to /usr/bin here)
        s.run("/bin/sh", "-c", "exec /bin/ls /")
        b = s.baseline(pred=lambda b: "/usr/bin/ls" in paths(b))
        self.assertIsNotNone(b, "no baseline learned for the container")
        self.assertIn("/usr/bin/ls", paths(b))
        self.assertNotIn("/bin/ls", paths(b))
        self.assertFalse(b["locked"])
        m = s.metrics()
        # other containers on this host may have baselines in this daemon too: only this
        # test locks, so "locked" is exact; the others are at least ours
        self.assertGreaterEqual(metric(m, 'vigil_baselines{state="observing"}'), 1)
        self.assertEqual(metric(m, 'vigil_baselines{state="locked"}'), 0)
        self.assertGreaterEqual(metric(m, "vigil_baseline_learned_total"), 2)
        # the cap: more distinct paths than 5 while observing
        for tool in ("cat", "date", "uname", "head", "tail", "wc", "sort", "env"):
            s.run(f"/usr/bin/{tool}", "/dev/null")
        b = s.baseline(pred=lambda b: b["cappedPaths"] > 0)
        self.assertEqual(len(b["elements"]), 5, paths(b))
        self.assertGreater(b["cappedPaths"], 0)
        self.assertGreater(metric(s.metrics(), "vigil_baseline_capped_total"), 0)
        # after observation, unlocked: a new path is neither learned nor unexpected
        time.sleep(3.2)
        s.run("/usr/bin/id")
        time.sleep(0.5)
        b = s.baseline()
        self.assertNotIn("/usr/bin/id", paths(b))
        self.assertFalse(b["locked"], "locked with auto_lock off")
        self.assertEqual(s.violations(), 0, s.alerts())
        # locked by the CLI: a path not in it is one violation, a listed one none
        r = s.cli("baselines", "lock", b["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        s.run("/usr/bin/ls", "/")
        s.run("/usr/bin/id")
        self.assertEqual(s.wait_violations(1), 1, s.alerts())
        time.sleep(0.5)
        self.assertEqual(s.violations(), 1, s.alerts())
        alert = s.alerts()[0]
        self.assertEqual(alert["message"],
                         f"Unexpected process '/usr/bin/id' in container '{s.name}'")
        code, full = s.d.req("GET", f"/v1/alerts/{alert['id']}")
        self.assertEqual(code, 200, full)
        proc = full["processes"][0]
        self.assertEqual(proc["execFilePath"], "/usr/bin/id", proc)
        m = s.metrics()
        self.assertEqual(metric(m, 'vigil_baselines{state="locked"}'), 1)
        self.assertGreaterEqual(metric(m, "vigil_baseline_elements"), 5)
        self.assertGreaterEqual(metric(m, "vigil_baseline_checked_total"), 2)
        self.assertEqual(metric(m, "vigil_baseline_unexpected_execs_total"), 1)
        self.assertEqual(metric(m, f'vigil_baseline_unexpected_total{{policy="{POLICY}"}}'), 1)
        # host processes have no baseline: a host exec of a path of its own is in none
        host_exe = os.path.join(s.tmp, f"vg-host-id-{os.getpid()}")
        shutil.copy("/usr/bin/id", host_exe)
        subprocess.run([host_exe], capture_output=True, check=True)
        time.sleep(0.5)
        code, body = s.d.req("GET", "/v1/processbaselines")
        self.assertEqual(code, 200, body)
        self.assertIn(s.name, [x["key"]["containerName"] for x in body["baselines"]])
        for x in body["baselines"]:
            code, full = s.d.req("GET", "/v1/processbaselines/key?id=" + x["id"])
            self.assertEqual(code, 200, full)
            self.assertNotIn(host_exe, paths(full), full["key"])
        # a removed element is remembered (the graveyard), which frees room under the cap
        gone = next(p for p in paths(b) if p != "/usr/bin/ls")
        r = s.cli("baselines", "remove", b["id"], gone)
        self.assertEqual(r.returncode, 0, r.stderr)
        b = s.baseline(pred=lambda b: gone not in paths(b))
        self.assertNotIn(gone, paths(b))
        self.assertEqual(len(b["elements"]), 4, paths(b))
        # kill -9 and restart: locked, same elements, and it still fires
        port = s.d.port
        s.d.proc.send_signal(signal.SIGKILL)
        s.d.proc.wait()
        s.start_daemon(port)
        b2 = s.baseline()
        self.assertTrue(b2["locked"])
        self.assertEqual(paths(b2), paths(b))
        self.assertIn(gone, [e["element"]["processName"] for e in b2["elementGraveyard"]])
        self.assertGreater(b2["cappedPaths"], 0)
        s.run("/usr/bin/id")
        self.assertEqual(s.wait_violations(2), 2, s.alerts())
        # resolve --add-to-baseline: the path joins it, and the next exec is expected
        r = s.cli("violations", "resolve", alert["id"], "--add-to-baseline")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/usr/bin/id", paths(s.baseline()))
        s.run("/usr/bin/id")
        time.sleep(0.8)
        self.assertEqual(s.violations(), 0, s.alerts())


class StartUp(WithContainer):
    """Observation 1 s, start-up 8 s, no auto lock: an exec after observation but while the
    container starts up is learned."""
    TAG, BASELINES = "b", 'observe = "1s", startup = "8s"'

    def test_startup_learned(self):
        s = self.s
        s.run("/usr/bin/ls", "/")
        self.assertIsNotNone(s.baseline(pred=lambda b: "/usr/bin/ls" in paths(b)))
        time.sleep(1.5)  # observation over, the container still starting up
        s.run("/usr/bin/id")
        b = s.baseline(pred=lambda b: "/usr/bin/id" in paths(b))
        self.assertIn("/usr/bin/id", paths(b), "a start-up exec was not learned")
        time.sleep(7)  # start-up over too: no longer learned, and unlocked: no violation
        s.run("/usr/bin/whoami")
        time.sleep(0.8)
        self.assertNotIn("/usr/bin/whoami", paths(s.baseline()))
        self.assertEqual(s.violations(), 0, s.alerts())


class AutoLock(WithContainer):
    """Observation 2 s, no start-up period, auto_lock on."""
    TAG, BASELINES = "c", 'observe = "2s", startup = "0s", auto_lock = true'

    def test_locked_at_the_end_of_observation(self):
        s = self.s
        s.run("/usr/bin/ls", "/")
        b = s.baseline(pred=lambda b: "/usr/bin/ls" in paths(b))
        self.assertFalse(b["locked"], "locked while observing")
        b = s.baseline(timeout=8, pred=lambda b: b["locked"])
        self.assertTrue(b["locked"], "auto_lock did not lock at the end of observation")
        self.assertIsNotNone(b["stackRoxLockedTimestamp"], b)
        self.assertIsNone(b["userLockedTimestamp"], b)
        # other containers' baselines may auto-lock in this daemon too
        self.assertGreaterEqual(metric(s.metrics(), "vigil_baseline_auto_locked_total"), 1)
        s.run("/usr/bin/ls", "/")
        s.run("/usr/bin/whoami")
        self.assertEqual(s.wait_violations(1), 1, s.alerts())
        self.assertIn("/usr/bin/whoami", s.alerts()[0]["message"])


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
