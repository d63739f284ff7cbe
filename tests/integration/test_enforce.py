#!/usr/bin/env python3
"""Enforcement with real containers: `policy enforce` with no --action is
kill_pod (StackRox's "inform and enforce"): the binary dies in the kernel at
exec and its container goes with it, both recorded on the alert; a host process
under it dies alone, never its cgroup. --action kill_process kills in the
kernel at exec, so the binary never runs (a marker binary that creates a file
first thing never creates it), and the container lives on; host processes of
the same name are spared; inform leaves things running; a check()-refined
policy kills from user space; kill_pod empties the container's cgroup; dry run
kills nothing; the setting survives a restart."""
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

UBUNTU = "Ubuntu Package Manager Execution"
V = vigtest.VIGIL


class EnforceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-enforce-")
        cls.marker = os.path.join(cls.tmp, "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)
        cls.cids = []

    @classmethod
    def tearDownClass(cls):
        for c in cls.cids:
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-enf-data-")
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()

    def container(self, name="dpkg"):
        cid = podman("run", "-d", "--network", "none", IMAGE, "sleep", "infinity")
        self.cids.append(cid)
        podman("cp", self.marker, f"{cid}:/tmp/{name}")
        return cid

    def conf(self):
        path = os.path.join(self.data, "cli.conf.lua")
        with open(path, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }} }}\n')
        return path

    def policy_cmd(self, *args):
        r = subprocess.run([V, "policy", *args, "--data-dir", self.data, "--config", self.conf()],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def run_in(self, cid, name, mark, ms=0):
        r = subprocess.run(["podman", "exec", cid, f"/tmp/{name}", f"/tmp/{mark}", str(ms)],
                           capture_output=True, text=True, timeout=60)
        exists = subprocess.run(["podman", "exec", cid, "test", "-e", f"/tmp/{mark}"]).returncode == 0
        return r.returncode, exists

    def alert(self, policy=UBUNTU, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, body = self.d.req("GET", "/v1/alerts?query=State:ALL")
            hits = [a for a in body["alerts"] if a["policy"]["name"] == policy and a["enforcement"]]
            if hits:
                return self.d.req("GET", f"/v1/alerts/{hits[0]['id']}")[1]
            time.sleep(0.05)
        raise AssertionError(f"no enforced alert for {policy}: {self.d.text()}")

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        return int([x for x in m.splitlines() if x.startswith(name + " ")][0].split()[1])

    def running(self, cid):
        return podman("inspect", "-f", "{{.State.Status}}", cid) == "running"

    def test_default_action_kills_in_kernel_then_the_container(self):
        """No --action: the real dpkg dies at exec in the kernel, then the container's
        cgroup is killed; the alert records both."""
        cid = self.container()
        self.d = Daemon(self.data, self.port)
        out = self.policy_cmd("enforce", UBUNTU)
        self.assertIn(f"{UBUNTU}: kill_pod: kill the process", out)
        r = subprocess.run(["podman", "exec", cid, "dpkg", "--version"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 137, r.stderr)
        self.assertNotIn("Debian", r.stdout)  # dpkg printed nothing: it never ran
        deadline = time.time() + 5
        while time.time() < deadline and self.running(cid):
            time.sleep(0.05)
        self.assertFalse(self.running(cid), "the container survived kill_pod")
        a = self.alert()
        self.assertEqual(a["enforcement"]["action"], "killed in kernel + kill_pod")
        self.assertIn("killed in kernel at exec", a["enforcement"]["message"])
        self.assertIn("cgroup", a["enforcement"]["message"])
        self.assertIn("killed", a["enforcement"]["message"].split("; ")[1])
        self.assertEqual(a["state"], "ACTIVE")
        self.assertTrue(a["processes"][0]["killedInKernel"])
        self.assertEqual(a["processes"][0]["execFilePath"], "/usr/bin/dpkg")

    def test_default_action_on_a_host_process_kills_it_alone(self):
        """A host-scoped policy on the default action: the host process dies at exec; the
        cgroup it runs in (a service's, a session's: the host) is never killed."""
        pdir = os.path.join(self.data, "policies")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "p.lua"), "w") as f:
            f.write("return policy { name = 'Host marker', severity = 'high',"
                    " scope = { host = true }, match = { process_name = 'vghostmark' } }\n")
        cg = f"/sys/fs/cgroup/unified/vigil-test-host-{os.getpid()}"
        if not os.path.isdir("/sys/fs/cgroup/unified"):
            cg = f"/sys/fs/cgroup/vigil-test-host-{os.getpid()}"
        os.mkdir(cg)
        self.addCleanup(os.rmdir, cg)

        def into_cg():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        sibling = subprocess.Popen(["sleep", "60"], preexec_fn=into_cg)
        self.addCleanup(sibling.wait)
        self.addCleanup(sibling.kill)
        self.d = Daemon(self.data, self.port, "--policies", pdir)
        r = subprocess.run([V, "policy", "enforce", "Host marker", "--dir", pdir,
                            "--data-dir", self.data, "--config", self.conf()],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kill_pod", r.stdout)
        host_bin = os.path.join(self.tmp, "vghostmark")
        shutil.copy(self.marker, host_bin)
        mark = os.path.join(self.tmp, "host-kill-mark")
        self.assertEqual(subprocess.run([host_bin, mark], preexec_fn=into_cg).returncode, -9)
        self.assertFalse(os.path.exists(mark))
        a = self.alert("Host marker")
        self.assertEqual(a["enforcement"]["action"], "killed in kernel")
        self.assertIn("a host process: the process alone", a["enforcement"]["message"])
        time.sleep(0.3)  # a cgroup kill would have reached the sibling by now
        self.assertIsNone(sibling.poll(), "the host process's cgroup was killed")

    def test_kernel_kill_inform_host_and_restart(self):
        cid = self.container()
        self.d = Daemon(self.data, self.port)
        out = self.policy_cmd("enforce", UBUNTU, "--action", "kill_process")
        self.assertIn("kill_process: kill the process", out)
        code, exists = self.run_in(cid, "dpkg", "m1")
        self.assertEqual(code, 137)       # SIGKILL
        self.assertFalse(exists)          # not one instruction of its own ran
        self.assertTrue(self.running(cid))  # kill_process: the container lives on
        a = self.alert()
        self.assertEqual(a["enforcement"]["action"], "killed in kernel")
        self.assertEqual(a["enforcementCount"], 1)
        self.assertTrue(a["processes"][0]["killedInKernel"])
        self.assertEqual(self.metric("vigil_killed_in_kernel_total"), 1)
        # the same name on the host: the policy's scope is containers, it runs
        host_bin = os.path.join(self.tmp, "dpkg")
        shutil.copy(self.marker, host_bin)
        mark = os.path.join(self.tmp, "host-mark")
        self.assertEqual(subprocess.run([host_bin, mark]).returncode, 0)
        self.assertTrue(os.path.exists(mark))
        self.assertGreaterEqual(self.metric("vigil_sensor_kill_spared_total"), 1)
        # the setting survives a restart
        self.d.stop()
        self.d = Daemon(self.data, self.port)
        self.assertEqual(self.run_in(cid, "dpkg", "m2"), (137, False))
        # inform: it runs, and is still recorded
        self.assertIn("inform", self.policy_cmd("inform", UBUNTU))
        self.assertEqual(self.run_in(cid, "dpkg", "m3"), (0, True))

    def test_kernel_kill_by_uid(self):
        pdir = os.path.join(self.data, "policies")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "p.lua"), "w") as f:
            f.write("return policy { name = 'Root marker', severity = 'high',"
                    " match = { process_name = 'marker', process_uid = 0 } }\n")
        cid = self.container("marker")
        self.d = Daemon(self.data, self.port, "--policies", pdir)
        r = subprocess.run([V, "policy", "enforce", "Root marker", "--dir", pdir,
                            "--data-dir", self.data, "--config", self.conf()],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # uid 1000: not this policy's uid, it runs
        r = subprocess.run(["podman", "exec", "--user", "1000", cid, "/tmp/marker", "/tmp/u1000"],
                           capture_output=True)
        self.assertEqual(r.returncode, 0)
        # uid 0: killed at exec, in the kernel
        self.assertEqual(self.run_in(cid, "marker", "u0"), (137, False))
        a = self.alert("Root marker")
        self.assertTrue(a["processes"][0]["killedInKernel"])

    def test_lua_path_kill_process(self):
        pdir = os.path.join(self.data, "policies")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "p.lua"), "w") as f:
            f.write("return policy { name = 'Marker refined', severity = 'high',"
                    " match = { process_name = 'marker' },"
                    " check = function(ev) return ev.args:find('slow') ~= nil end }\n")
        cid = self.container("marker")
        self.d = Daemon(self.data, self.port, "--policies", pdir)
        r = subprocess.run([V, "policy", "enforce", "Marker refined", "--action", "kill_process",
                            "--dir", pdir, "--data-dir", self.data, "--config", self.conf()],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        t0 = time.time()
        code, _ = self.run_in(cid, "marker", "slow", 10000)
        self.assertEqual(code, 137)
        self.assertLess(time.time() - t0, 5)  # not the 10 s it would have slept
        a = self.alert("Marker refined")
        self.assertEqual(a["enforcement"]["action"], "kill_process")
        self.assertTrue(self.running(cid))
        self.assertFalse(a["processes"][0]["killedInKernel"])
        # the check says no: not a violation, not killed
        self.assertEqual(self.run_in(cid, "marker", "fast")[0], 0)

    def test_kill_pod_empties_the_container(self):
        cid = self.container()
        self.d = Daemon(self.data, self.port)
        self.policy_cmd("enforce", UBUNTU, "--action", "kill_pod")
        code, _ = self.run_in(cid, "dpkg", "p1")  # (the container is gone: no file to look for)
        self.assertEqual(code, 137)
        deadline = time.time() + 5
        while time.time() < deadline:
            state = podman("inspect", "-f", "{{.State.Status}}", cid)
            if state != "running":
                break
            time.sleep(0.05)
        self.assertNotEqual(state, "running")
        a = self.alert()
        self.assertIn("cgroup", a["enforcement"]["message"])

    def test_dry_run_kills_nothing(self):
        cid = self.container()
        self.d = Daemon(self.data, self.port, "--dry-run")
        self.policy_cmd("enforce", UBUNTU)
        self.assertEqual(self.run_in(cid, "dpkg", "d1"), (0, True))
        a = self.alert()
        self.assertEqual(a["enforcement"]["action"], "dry run")
        self.assertIn("would kill", a["enforcement"]["message"])
        self.assertEqual(self.metric("vigil_sensor_killed_total"), 0)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
