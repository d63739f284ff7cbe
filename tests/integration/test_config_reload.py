#!/usr/bin/env python3
"""`vigil run` follows its files without a restart: a Kubernetes ConfigMap volume
(the kubelet's `..data` symlink swapped atomically to a new directory) and a plain
file edited in place. Each change is checked and applied whole or refused whole
(the policies before kept), logged and counted; reload.watch = false turns it off."""
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_k8s import StandIn  # noqa: E402

APPLIED = "(the files changed): applied"
RESTART = "the other keys take effect at the next start"
REFUSED = "reload failed (the files changed): refused whole"


def policy(name, comm):
    return (f"return policy {{ name = '{name}', severity = 'high', scope = {{ host = true }},"
            f" match = {{ process_name = '{comm}' }} }}\n")


def config(policy_dir, extra=""):
    return f'return {{ policy_dir = "{policy_dir}", builtin_policies = false, {extra} }}\n'


class ConfigMap:
    """A directory laid out as the kubelet lays out a ConfigMap volume."""

    def __init__(self, root):
        self.root, self.n, self.current = root, 0, None

    def publish(self, files):
        """A new timestamped directory, `..data` renamed over to it, the old one removed."""
        self.n += 1
        name = f"..2026_12_06_04_00_{self.n:02d}.{123456789 + self.n}"
        new = os.path.join(self.root, name)
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(new, rel)), exist_ok=True)
            with open(os.path.join(new, rel), "w") as f:
                f.write(text)
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(name, tmp)
        os.rename(tmp, os.path.join(self.root, "..data"))
        for top in {rel.split("/")[0] for rel in files}:
            link = os.path.join(self.root, top)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", top), link)
        if self.current:
            shutil.rmtree(os.path.join(self.root, self.current))
        self.current = name


class ConfigReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-reload-")
        self.data = os.path.join(self.tmp, "data")
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
            self.d.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def names(self):
        code, body = self.d.req("GET", "/v1/policies")
        self.assertEqual(code, 200, body)
        return sorted(p["name"] for p in body["policies"])

    def wait_log(self, what, count=1, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline and self.d.text().count(what) < count:
            time.sleep(0.05)
        self.assertGreaterEqual(self.d.text().count(what), count,
                                f"no '{what}' in the log:\n{self.d.text()}")

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        hits = [x for x in m.splitlines() if x.startswith(name + " ")]
        self.assertTrue(hits, f"no metric {name}")
        return int(hits[0].split()[-1])

    def start_configmap(self, extra=""):
        cm = ConfigMap(os.path.join(self.tmp, "cm"))
        os.makedirs(cm.root)
        pdir = os.path.join(cm.root, "policies")
        cm.publish({"vigil.conf.lua": config(pdir, extra), "policies/a.lua": policy("A", "vg-a")})
        self.d = Daemon(self.data, self.port, "--config", os.path.join(cm.root, "vigil.conf.lua"))
        self.assertEqual(self.names(), ["A"])
        return cm, pdir

    def test_configmap_new_policy_applied(self):
        cm, pdir = self.start_configmap()
        cm.publish({"vigil.conf.lua": config(pdir), "policies/a.lua": policy("A", "vg-a"),
                    "policies/x.lua": policy("X", "vg-x")})
        self.wait_log(APPLIED)
        self.assertIn("reloaded 2 policies " + APPLIED, self.d.text())
        self.assertEqual(self.names(), ["A", "X"])
        self.assertNotIn(RESTART, self.d.text())  # nothing waits for a restart
        self.assertEqual(self.metric("vigil_policy_reloads_total"), 1)
        self.assertEqual(self.metric("vigil_policy_reload_failures_total"), 0)

    def test_configmap_broken_policy_and_bad_config_refused(self):
        cm, pdir = self.start_configmap()
        # a broken policy beside a good new one: neither is taken
        cm.publish({"vigil.conf.lua": config(pdir), "policies/a.lua": policy("A", "vg-a"),
                    "policies/x.lua": policy("X", "vg-x"),
                    "policies/broken.lua": "return policy { name = 'B', match = \n"})
        self.wait_log(REFUSED)
        self.assertIn("broken.lua", self.d.text().split(REFUSED)[1].splitlines()[0])
        self.assertIn("kept the configuration and the 1 policies", self.d.text())
        self.assertEqual(self.names(), ["A"])
        # a bad configuration: refused before any policy is read
        cm.publish({"vigil.conf.lua": config(pdir, "relaod = true"),
                    "policies/a.lua": policy("A", "vg-a"), "policies/x.lua": policy("X", "vg-x")})
        self.wait_log(REFUSED, 2)
        line = self.d.text().split(REFUSED)[2].splitlines()[0]
        self.assertIn("unknown key 'relaod'", line)
        self.assertEqual(self.names(), ["A"])
        self.assertEqual(self.metric("vigil_policy_reload_failures_total"), 2)
        self.assertNotIn(APPLIED, self.d.text())
        # fixed: applied
        cm.publish({"vigil.conf.lua": config(pdir), "policies/a.lua": policy("A", "vg-a"),
                    "policies/x.lua": policy("X", "vg-x")})
        self.wait_log(APPLIED)
        self.assertEqual(self.names(), ["A", "X"])

    def test_kubernetes_events(self):
        """In a pod (POD_NAME, POD_NAMESPACE from the Downward API): an Event for each reload."""
        k = StandIn()
        self.addCleanup(k.stop)
        kube = (f'kubernetes = {{ server = "{k.url}", token_file = "{k.dir}/token", '
                f'insecure = true, node = "testnode" }}')
        os.environ.update(POD_NAME="vigil-x1", POD_NAMESPACE="vigil-system")
        try:
            cm, pdir = self.start_configmap(kube)
        finally:
            del os.environ["POD_NAME"], os.environ["POD_NAMESPACE"]
        cm.publish({"vigil.conf.lua": config(pdir, kube), "policies/a.lua": policy("A", "vg-a"),
                    "policies/broken.lua": "return policy {\n"})
        self.wait_log(REFUSED)
        cm.publish({"vigil.conf.lua": config(pdir, kube), "policies/a.lua": policy("A", "vg-a"),
                    "policies/x.lua": policy("X", "vg-x")})
        self.wait_log(APPLIED)
        deadline = time.time() + 10
        while time.time() < deadline and len(k.log()["events"]) < 2:
            time.sleep(0.05)
        evs = k.log()["events"]
        self.assertEqual([(e["type"], e["reason"]) for e in evs],
                         [("Warning", "VigilReloadRefused"), ("Normal", "VigilReloaded")], evs)
        self.assertEqual(evs[0]["involvedObject"], {"apiVersion": "v1", "kind": "Pod",
                                                    "name": "vigil-x1",
                                                    "namespace": "vigil-system"})
        self.assertIn("refused whole", evs[0]["message"])
        self.assertIn("broken.lua", evs[0]["message"])
        self.assertEqual(evs[1]["message"], "reloaded 2 policies " + APPLIED)
        r = k.kubectl("get", "events", "-n", "vigil-system", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["items"]), 2)

    def test_plain_edit_reloads_once(self):
        p1, p2 = os.path.join(self.tmp, "p1"), os.path.join(self.tmp, "p2")
        for d, files in ((p1, {"a.lua": policy("A", "vg-a")}),
                         (p2, {"a.lua": policy("A", "vg-a"), "c.lua": policy("C", "vg-c")})):
            os.makedirs(d)
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
        conf = os.path.join(self.tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(config(p1))
        self.d = Daemon(self.data, self.port, "--config", conf)
        self.assertEqual(self.names(), ["A"])
        for _ in range(3):  # an editor's several writes: one reload
            with open(conf, "w") as f:
                f.write(config(p2))
            time.sleep(0.02)
        self.wait_log(APPLIED)
        time.sleep(0.5)
        self.assertEqual(self.d.text().count(APPLIED), 1, self.d.text())
        self.assertEqual(self.names(), ["A", "C"])
        # a new file in the (now watched) policy directory
        with open(os.path.join(p2, "d.lua"), "w") as f:
            f.write(policy("D", "vg-d"))
        self.wait_log(APPLIED, 2)
        self.assertEqual(self.names(), ["A", "C", "D"])
        self.assertNotIn(RESTART, self.d.text())
        # a key a reload does not take: applied (the policies), and said
        with open(conf, "w") as f:
            f.write(config(p2, "volume = { burst = 5 }"))
        self.wait_log(APPLIED, 3)
        self.assertIn(RESTART, self.d.text())

    def test_watch_off(self):
        pdir = os.path.join(self.tmp, "p")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "a.lua"), "w") as f:
            f.write(policy("A", "vg-a"))
        conf = os.path.join(self.tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(config(pdir, "reload = { watch = false }"))
        self.d = Daemon(self.data, self.port, "--config", conf)
        with open(os.path.join(pdir, "b.lua"), "w") as f:
            f.write(policy("B", "vg-b"))
        time.sleep(1)
        self.assertEqual(self.names(), ["A"])
        self.d.proc.send_signal(signal.SIGHUP)  # SIGHUP still reloads
        self.wait_log("(SIGHUP): applied")
        self.assertEqual(self.names(), ["A", "B"])


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
