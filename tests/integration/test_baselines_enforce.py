#!/usr/bin/env python3
"""Locked process baselines enforced in the kernel, against a real daemon and real podman
containers. "Unauthorized Process Execution" set to kill_process; a container learns a few
binaries and is locked with `vigil baselines lock`: a learned binary runs; a copy of it
under another path is killed at exec before its first instruction (a marker binary that
creates a file first thing never creates it), and so is a fileless one and the alert says the kernel decided; `vigil
baselines add` lets it run at once; unlock lets anything run and lock kills again at once
(no exec needed to reprogram); a file replaced at a baselined path is killed once, said so,
then allowed; a container of another key and a host process are untouched; inform mode
kills nothing but still records the violation; enforcing again reprograms at once, and a
container that is gone leaves the kernel's maps."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402

V = vigtest.VIGIL
UPE = "Unauthorized Process Execution"


class BaselineEnforce(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-blk-")
        os.chmod(cls.tmp, 0o755)
        cls.marker = os.path.join(cls.tmp, "marker")
        for prog in ("marker", "memrun"):
            subprocess.run(["gcc", "-O2", "-static", "-o", os.path.join(cls.tmp, prog),
                            os.path.join(os.path.dirname(__file__), prog + ".c")], check=True)
        cls.data = os.path.join(cls.tmp, "data")
        os.makedirs(cls.data)
        cls.port = vigtest.free_port()
        cls.conf = os.path.join(cls.data, "vigil.conf.lua")
        with open(cls.conf, "w") as f:
            f.write('return { api = { listen = "127.0.0.1:%d" }, baselines = { observe = "1h",'
                    ' startup = "0s", auto_lock = false } }\n' % cls.port)
        cls.cids = []
        cls.d = Daemon(cls.data, cls.port, "--config", cls.conf)
        cls.a = cls.container("a", ["okmark", "badmark", "bad2", "bad3", "repl"])
        podman("cp", os.path.join(cls.tmp, "memrun"), f"{cls.a}:/tmp/memrun")
        cls.b = cls.container("b", ["badmark"])

    @classmethod
    def tearDownClass(cls):
        if cls.d:
            cls.d.stop()
        for c in cls.cids:
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def container(cls, tag, names):
        name = f"vg-blk-{tag}-{os.getpid()}"
        cid = podman("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep",
                     "infinity")
        cls.cids.append(cid)
        for n in names:
            podman("cp", cls.marker, f"{cid}:/tmp/{n}")  # each its own inode
        return cid

    def cmd(self, *args):
        r = subprocess.run([V, *args, "--data-dir", self.data, "--config", self.conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, (args, r.stdout, r.stderr))
        return r.stdout

    def run_in(self, cid, name, mark):
        """(exit status of /tmp/NAME /tmp/MARK, whether MARK exists after it)."""
        r = subprocess.run(["podman", "exec", cid, f"/tmp/{name}", f"/tmp/{mark}"],
                           capture_output=True, text=True, timeout=60)
        exists = subprocess.run(["podman", "exec", cid, "test", "-e", f"/tmp/{mark}"],
                                capture_output=True).returncode == 0
        return r.returncode, exists

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        return int([x for x in m.splitlines() if x.startswith(name + " ")][0].split()[1])

    def wait_metric(self, name, want, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline and self.metric(name) != want:
            time.sleep(0.05)
        self.assertEqual(self.metric(name), want, self.d.text()[-3000:])

    def process(self, path, timeout=5, pred=lambda p: True):
        """The alert of UPE on the exec of path (None: any), and that exec's process."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, body = self.d.req("GET", "/v1/alerts?query=State:ALL")
            for s in body["alerts"]:
                if s["policy"]["name"] != UPE:
                    continue
                _, a = self.d.req("GET", f"/v1/alerts/{s['id']}")
                for p in a["processes"]:
                    if path in (None, p["execFilePath"]) and pred(p):
                        return a, p
            time.sleep(0.05)
        raise AssertionError(f"no {UPE} alert on {path}: {self.d.text()[-3000:]}")

    def baseline(self, cid):
        name = podman("inspect", "-f", "{{.Name}}", cid).lstrip("/")
        for line in self.cmd("baselines", "list").splitlines():
            if line.endswith("/" + name):
                return line.split()[-1]
        raise AssertionError(f"no baseline for {name}: {self.d.text()[-3000:]}")

    def wait_learned(self, key, paths, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.cmd("baselines", "show", key)
            if all(p in out for p in paths):
                return
            time.sleep(0.1)
        self.fail(f"{paths} not learned in {key}: {out}")

    def test_enforce_in_kernel(self):
        a, b = self.a, self.b
        # learn: the marker, and what the test itself runs in the container
        self.assertEqual(self.run_in(a, "okmark", "m0"), (0, True))
        podman("exec", a, "stat", "-c", "%i", "/tmp/m0")
        podman("exec", a, "cp", "/tmp/m0", "/tmp/m0b")
        podman("exec", a, "mv", "/tmp/m0b", "/tmp/m0c")
        podman("exec", a, "/tmp/memrun", "/tmp/okmark", "x", "/tmp/f0")  # learned, fileless too
        key = self.baseline(a)
        self.wait_learned(key, ["/tmp/okmark", "/test", "/stat", "/cp", "/mv"])
        self.cmd("policy", "enforce", UPE, "--action", "kill_process")
        self.cmd("baselines", "lock", key)
        # the first exec checked against the lock is decided in user space; it programs
        self.assertEqual(self.run_in(a, "okmark", "m1"), (0, True))
        self.wait_metric("vigil_baseline_kernel_containers", 1)
        self.assertGreater(self.metric("vigil_baseline_kernel_allow_entries"), 0)

        # an unexpected binary dies in the kernel before its first instruction
        self.assertEqual(self.run_in(a, "badmark", "m2"), (137, False))
        alert, p = self.process("/tmp/badmark")
        self.assertTrue(p["killedInKernel"], p)
        self.assertEqual(alert["enforcement"]["action"], "killed in kernel", alert)
        self.assertEqual(p["decidedIn"], "kernel", p)
        self.assertGreaterEqual(self.metric("vigil_sensor_baseline_killed_total"), 1)
        self.assertGreaterEqual(self.metric("vigil_baseline_kernel_killed_total"), 1)
        self.assertTrue(podman("inspect", "-f", "{{.State.Status}}", a) == "running")
        # a fileless executable is in no baseline: memrun (learned) runs, its memfd dies
        r = subprocess.run(["podman", "exec", a, "/tmp/memrun", "/tmp/okmark", "x", "/tmp/f1"],
                           capture_output=True)
        self.assertEqual(r.returncode, 137, r.stderr)
        self.assertNotEqual(subprocess.run(["podman", "exec", a, "test", "-e", "/tmp/f1"])
                            .returncode, 0)  # not one instruction of the marker ran
        _, p = self.process(None, pred=lambda p: p["exeFileless"])  # exec'd as /dev/fd/N
        self.assertTrue(p["killedInKernel"], p)

        # a container of another key and a host process are untouched
        self.assertEqual(self.run_in(b, "badmark", "m3"), (0, True))
        host_mark = os.path.join(self.tmp, "host-mark")
        self.assertEqual(subprocess.run([self.marker, host_mark]).returncode, 0)
        self.assertTrue(os.path.exists(host_mark))

        # added to the baseline: it runs at once
        self.cmd("baselines", "add", key, "/tmp/badmark")
        self.assertEqual(self.run_in(a, "badmark", "m4"), (0, True))
        self.assertEqual(self.run_in(a, "bad2", "m5"), (137, False))

        # unlocked: the kernel forgets the container; locked: it kills again, no exec needed
        self.cmd("baselines", "unlock", key)
        self.wait_metric("vigil_baseline_kernel_containers", 0)
        self.assertEqual(self.run_in(a, "bad2", "m6"), (0, True))
        self.cmd("baselines", "remove", key, "/tmp/bad2")  # learned while unlocked
        self.cmd("baselines", "lock", key)
        self.wait_metric("vigil_baseline_kernel_containers", 1)
        self.assertEqual(self.run_in(a, "bad2", "m7"), (137, False))

        # a file replaced at a baselined path (a new inode): killed once, said so, then the
        # kernel takes the new file
        ino = podman("exec", a, "stat", "-c", "%i", "/tmp/okmark")
        podman("exec", a, "cp", "/tmp/repl", "/tmp/okmark.new")
        podman("exec", a, "mv", "/tmp/okmark.new", "/tmp/okmark")
        self.assertNotEqual(podman("exec", a, "stat", "-c", "%i", "/tmp/okmark"), ino)
        self.assertEqual(self.run_in(a, "okmark", "m8"), (137, False))
        self.assertIn("not the one programmed into the kernel", self.d.text())
        self.assertGreaterEqual(self.metric("vigil_baseline_kernel_replaced_total"), 1)
        alert, p = self.process("/tmp/okmark")
        self.assertTrue(p["killedInKernel"], p)
        self.assertTrue(p["baselineFileReplaced"], p)
        self.assertIn("the file there was replaced", alert["message"], alert)
        self.assertEqual(self.run_in(a, "okmark", "m9"), (0, True))

        # inform: nothing is killed, the violation is still recorded
        self.cmd("policy", "inform", UPE)
        self.wait_metric("vigil_baseline_kernel_containers", 0)
        self.assertEqual(self.run_in(a, "bad3", "m11"), (0, True))
        alert, p = self.process("/tmp/bad3")
        self.assertFalse(p["killedInKernel"], p)
        self.assertFalse(p["baselineFileReplaced"], p)
        self.assertEqual(p["decidedIn"], "userspace", p)
        self.assertEqual(self.metric("vigil_baseline_kernel_failures_total"), 0,
                         self.d.text()[-3000:])

        # enforcing again reprograms at once; a container gone leaves the kernel
        self.cmd("policy", "enforce", UPE, "--action", "kill_process")
        self.wait_metric("vigil_baseline_kernel_containers", 1)
        self.assertEqual(self.run_in(a, "bad3", "m12"), (137, False))
        subprocess.run(["podman", "rm", "-f", "-t", "0", a], capture_output=True)
        self.wait_metric("vigil_baseline_kernel_containers", 0, timeout=10)
        self.assertEqual(self.metric("vigil_baseline_kernel_allow_entries"), 0)
        self.assertEqual(self.metric("vigil_baseline_kernel_removed_total"), 1)


if __name__ == "__main__":
    vigtest.run_tests()
