#!/usr/bin/env python3
"""Pod attribution cannot be spoofed from inside a container.

The attacker is a real podman (runc) container started like a pod (cgroup
parent /kubepods/besteffort/pod<A>) with `--privileged --cgroupns=private`: it
mounts cgroup2 itself (its own cgroup is that mount's root) and does what any
container with a writable or delegated cgroup can do: mkdir a sub-cgroup below
its own named exactly like the victim pod's container cgroup
(kubepods/besteffort/pod<V>/libpod-<V's id>), move its shell there and exec
dpkg. The kernel then reports the exec in
/kubepods/besteffort/pod<A>/libpod-<A>/kubepods/besteffort/pod<V>/libpod-<V>.
The victim is another real container of another pod; the Kubernetes API
server stand-in serves both pods with their containers' ids in their status.

Expected: the alert names the attacker's pod, flags the nesting; kill_pod
deletes the attacker's pod and empties its container, never the victim's; the
victim's break-glass annotation does not spare the attacker; a path nested
deeper than the sensor walks is refused a pod kill; a container the pod's
status does not list is attributed to no pod and its pod is not deleted; and
an unprivileged user who mirrors the victim's whole cgroup path, real ids and
all, inside a cgroup subtree delegated to them (as systemd delegates
user@UID.service on cgroup v2) names no pod either.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_k8s import StandIn  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"
V = vigtest.VIGIL
CG = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def rmdir_tree(path):
    for root, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


class AttributionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.marker = os.path.join(tempfile.mkdtemp(), "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)

    def setUp(self):
        self.k = StandIn()
        self.data = tempfile.mkdtemp(prefix="vigil-attr-data-")
        self.port = vigtest.free_port()
        self.d = None
        self.cids, self.uids = [], []

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
        for c in self.cids:
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)
        for uid in self.uids:  # the sub-cgroups the attacker made (podman removes only its own)
            rmdir_tree(f"{CG}/kubepods/besteffort/pod{uid}")
        self.k.stop()

    def container(self, uid, *extra):
        cid = podman("run", "-d", "--network", "none", *extra, "--cgroup-parent",
                     f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
        self.cids.append(cid)
        self.uids.append(uid)
        podman("cp", self.marker, f"{cid}:/tmp/dpkg")
        return cid

    def pods(self, victim_annotations=None):
        """The victim (bank/vault-1) and the attacker (evil/tool-1), both running."""
        vuid, auid = str(uuid.uuid4()), str(uuid.uuid4())
        vcid = self.container(vuid)
        acid = self.container(auid, "--privileged", "--cgroupns=private")
        self.k.add_pod(vuid, "vault-1", "bank", annotations=victim_annotations, cids=[vcid])
        self.k.add_pod(auid, "tool-1", "evil", cids=[acid])
        return (vuid, vcid), (auid, acid)

    def start(self, kill_pod=False, *extra):
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }}, kubernetes = {{'
                    f' server = "{self.k.url}", token_file = "{self.k.dir}/token",'
                    f' insecure = true, node = "testnode", refresh_s = 1 }} }}\n')
        self.d = Daemon(self.data, self.port, "--config", conf, *extra)
        self.wait(lambda: "vigil_k8s_pods 2" in self.d.req("GET", "/metrics")[1], what="pod list")
        if kill_pod:
            r = subprocess.run([V, "policy", "enforce", UBUNTU, "--action", "kill_pod", "--data-dir",
                                self.data, "--config", conf], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def wait(self, pred, timeout=10, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.d.text() if self.d else ''}")

    def exec_nested(self, acid, nest):
        """In the attacker: cgroup2 mounted, mkdir nest below its own cgroup, move there, exec dpkg."""
        script = ("mkdir -p /tmp/cg && (mountpoint -q /tmp/cg || mount -t cgroup2 none /tmp/cg) && "
                  f"mkdir -p /tmp/cg/{nest} && echo $$ > /tmp/cg/{nest}/cgroup.procs && "
                  "cat /proc/self/cgroup | grep '^0::' >&2 && exec /tmp/dpkg /tmp/mark")
        return subprocess.run(["podman", "exec", acid, "sh", "-c", script], capture_output=True,
                              text=True, timeout=60)

    def alerts(self):
        """This test's alerts. Other tests on this host exec dpkg in their containers too, and
        an enforcing daemon of theirs may kill ours at exec: inform runs do not check exit status."""
        return [a for a in self.d.req("GET", "/v1/alerts?query=State:ALL")[1]["alerts"]
                if a.get("containerId") in self.cids]

    def alert(self, pred=lambda a: True, what="alert"):
        return self.wait(lambda: [self.d.req("GET", f"/v1/alerts/{a['id']}")[1] for a in self.alerts()
                                  if pred(a)], what=what)[0]

    def metric(self, name):
        for line in self.d.req("GET", "/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        raise AssertionError(f"no metric {name}")

    def deletes(self):
        return [e["path"] for e in self.k.log()["log"] if e["method"] == "DELETE"]

    def running(self, cid):
        return podman("inspect", "-f", "{{.State.Status}}", cid) == "running"

    def test_nested_fake_pod_is_attributed_to_the_container(self):
        (vuid, vcid), (auid, acid) = self.pods()
        self.start()
        r = self.exec_nested(acid, f"kubepods/besteffort/pod{vuid}/libpod-{vcid}")
        # the shell was in the fake (as its cgroup namespace shows it: its root is its own cgroup)
        self.assertIn(f"0::/kubepods/besteffort/pod{vuid}/libpod-{vcid}\n", r.stderr)
        a = self.alert(what="the attacker's alert")
        self.assertEqual((a["namespace"], a["pod"]), ("evil", "tool-1"), a)
        p = a["processes"][-1]
        self.assertEqual((p["podUid"], p["containerId"], p["podId"]), (auid, acid[:12], "tool-1"))
        self.assertIn(f"named below container {acid[:12]}", p["attributionWarning"])
        self.assertGreaterEqual(self.metric("vigil_attribution_nested_total"), 1)
        self.assertIn("possibly an attempt to pass as another pod", self.d.text())
        # nothing names the victim
        self.assertEqual([x for x in self.alerts() if x.get("namespace") == "bank"], [])
        # a plain exec of the victim's is attributed to it, unflagged
        podman("exec", vcid, "/tmp/dpkg", "/tmp/v", check=False)
        v = self.alert(lambda x: x.get("namespace") == "bank", what="the victim's own alert")
        self.assertEqual(v["pod"], "vault-1")
        self.assertIsNone(v["processes"][-1]["attributionWarning"])

    def test_victims_exclusion_does_not_cover_the_attacker(self):
        """A policy that trusts the victim's namespace still sees the attacker's exec."""
        pol = tempfile.mkdtemp(prefix="vigil-attr-pol-")
        with open(os.path.join(pol, "dpkg.lua"), "w") as f:
            f.write('return policy { id = "dpkg-outside-bank", name = "dpkg outside bank", '
                    'severity = "high", match = { process_name = { "dpkg" } }, '
                    'exclude = { { namespace = "bank" } } }\n')
        (vuid, vcid), (auid, acid) = self.pods()
        self.start(False, "--policies", pol)
        podman("exec", vcid, "/tmp/dpkg", "/tmp/v", check=False)  # the victim's own: excluded
        r = self.exec_nested(acid, f"kubepods/besteffort/pod{vuid}/libpod-{vcid}")
        self.assertIn(f"0::/kubepods/besteffort/pod{vuid}/libpod-{vcid}\n", r.stderr)
        a = self.alert(what="the attacker's alert, not excluded")
        self.assertEqual((a["policy"]["name"], a["namespace"], a["pod"]),
                         ("dpkg outside bank", "evil", "tool-1"))
        self.assertEqual([x for x in self.alerts() if x.get("namespace") == "bank"], [])

    def test_kill_pod_acts_on_the_attacker_never_the_victim(self):
        (vuid, vcid), (auid, acid) = self.pods()
        self.start(kill_pod=True)
        r = self.exec_nested(acid, f"kubepods/besteffort/pod{vuid}/libpod-{vcid}")
        self.assertEqual(r.returncode, 137, r.stderr)  # killed at exec
        self.wait(lambda: "/api/v1/namespaces/evil/pods/tool-1" in self.deletes(), what="DELETE of the attacker")
        self.wait(lambda: not self.running(acid), what="the attacker's container emptied")
        time.sleep(1)  # any DELETE of the victim would have come by now
        self.assertEqual(self.deletes(), ["/api/v1/namespaces/evil/pods/tool-1"])
        self.assertTrue(self.running(vcid))
        a = self.alert(lambda x: x["enforcement"] and "Kubernetes" in x["enforcement"]["action"],
                       what="the pod deletion recorded")
        self.assertEqual((a["namespace"], a["pod"]), ("evil", "tool-1"))
        self.assertIn("deleted", a["enforcement"]["message"])

    def test_victims_break_glass_does_not_spare_the_attacker(self):
        (vuid, vcid), (auid, acid) = self.pods(victim_annotations={"vigil.io/break-glass": "incident 7"})
        self.start(kill_pod=True)
        time.sleep(1)  # the victim's exemption reaches the kernel within half a second
        r = self.exec_nested(acid, f"kubepods/besteffort/pod{vuid}/libpod-{vcid}")
        self.assertEqual(r.returncode, 137, r.stderr)
        self.wait(lambda: "/api/v1/namespaces/evil/pods/tool-1" in self.deletes(), what="DELETE of the attacker")
        # the enforced alert (the copied binary also trips the inform-only drift policy)
        a = self.alert(lambda x: x["enforcement"], what="the enforced alert")
        self.assertNotIn("break-glass", a["enforcement"]["message"])
        self.assertNotIn("/api/v1/namespaces/bank/pods/vault-1", self.deletes())

    def test_nest_deeper_than_the_sensor_walks_is_refused(self):
        """Past 8 levels the real ones fall off the top of the path the kernel sends: the
        outermost container level left is the fake, so no pod is killed: the process is."""
        (vuid, vcid), (auid, acid) = self.pods()
        self.start(kill_pod=True)
        r = self.exec_nested(acid, f"a/b/c/d/kubepods/besteffort/pod{vuid}/libpod-{vcid}")
        self.assertEqual(r.returncode, 137, r.stderr)
        a = self.alert(lambda x: x["state"] == "ATTEMPTED", what="ATTEMPTED alert")
        self.assertIn("refused: the cgroup path is deeper than the sensor walks", a["enforcement"]["message"])
        self.assertIsNone(a["processes"][-1]["podUid"])
        self.assertIn("lost its top levels", a["processes"][-1]["attributionWarning"])
        time.sleep(1)
        self.assertEqual(self.deletes(), [])
        self.assertTrue(self.running(vcid))

    def test_container_the_pod_does_not_list(self):
        """A container in pod A's cgroup that A's status does not list (the API server is the
        judge of which containers a pod has): attributed to the container alone, its cgroup
        killed, the pod not deleted, the alert ATTEMPTED saying why."""
        (vuid, vcid), (auid, acid) = self.pods()
        stray = self.container(vuid)  # under the victim's pod cgroup, unknown to the API server
        self.start()
        podman("exec", stray, "/tmp/dpkg", "/tmp/s", check=False)
        a = self.alert(what="the stray's alert")
        p = a["processes"][-1]
        self.assertEqual((a["namespace"], p["podUid"], p["containerId"]), (None, None, stray[:12]), a)
        self.assertIn(f"pod {vuid} does not list container {stray[:12]}", p["attributionWarning"])
        self.assertGreaterEqual(self.metric("vigil_attribution_unverified_total"), 1)
        r = subprocess.run([V, "policy", "enforce", UBUNTU, "--action", "kill_pod", "--data-dir",
                            self.data, "--config", os.path.join(self.data, "vigil.conf.lua")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        subprocess.run(["podman", "exec", stray, "/tmp/dpkg", "/tmp/s2"], capture_output=True)
        a = self.alert(lambda x: x["state"] == "ATTEMPTED", what="ATTEMPTED alert")
        self.assertIn(f"no pod deleted: pod {vuid} does not list container {stray[:12]}",
                      a["enforcement"]["message"])
        self.wait(lambda: not self.running(stray), what="the stray container emptied")
        time.sleep(1)
        self.assertEqual(self.deletes(), [])
        self.assertTrue(self.running(vcid))

    def test_pod_named_in_a_delegated_subtree(self):
        """No container at all: user nobody owns a delegated cgroup (root moves a shell into it,
        as systemd does for a user's session), makes kubepods/besteffort/pod<V>/libpod-<V's id>
        below it, moves there and execs dpkg. The API server's check passes (the ids are the
        real ones), but the cgroups above that "container" are nobody's: no pod is named, and
        kill_pod deletes none."""
        (vuid, vcid), _ = self.pods()
        self.start(kill_pod=True)
        deleg = f"{CG}/vigil-test-deleg-{uuid.uuid4().hex[:8]}"
        os.mkdir(deleg)
        self.addCleanup(rmdir_tree, deleg)
        for f in ("", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"):
            os.chown(deleg + f, 65534, 65534)
        tool = tempfile.mkdtemp(prefix="vigil-deleg-")
        os.chmod(tool, 0o777)
        subprocess.run(["cp", self.marker, f"{tool}/dpkg"], check=True)
        nest = f"{deleg}/kubepods/besteffort/pod{vuid}/libpod-{vcid}"
        inner = f"mkdir -p {nest} && echo $$ > {nest}/cgroup.procs && exec {tool}/dpkg {tool}/mark"
        r = subprocess.run(["sh", "-c", f"echo $$ > {deleg}/cgroup.procs && exec setpriv --reuid=65534 "
                            f"--regid=65534 --clear-groups sh -c '{inner}'"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, -signal.SIGKILL, r.stderr)  # killed at exec, in the kernel
        self.assertEqual(os.stat(f"{deleg}/kubepods").st_uid, 65534)
        a = self.alert(lambda x: x["state"] == "ATTEMPTED", what="ATTEMPTED alert")
        p = a["processes"][-1]
        self.assertEqual((a["namespace"], p["podUid"]), (None, None), a)
        self.assertIn("not owned by root (a delegated subtree)", p["attributionWarning"])
        self.assertIn("no pod deleted", a["enforcement"]["message"])
        time.sleep(1)
        self.assertEqual(self.deletes(), [])
        self.assertTrue(self.running(vcid))


if __name__ == "__main__":
    vigtest.require_bpf()
    if subprocess.run(["which", "kubectl"], capture_output=True).returncode:
        vigtest.cannot_run("kubectl is not installed (make test installs kubernetes-client)")
    vigtest.run_tests()
