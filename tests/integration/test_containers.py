#!/usr/bin/env python3
"""Container and pod identity from real podman containers (runc, cgroupfs).

A container started like a pod (`--cgroup-parent /kubepods/besteffort/pod<uid>`)
must yield its 64-hex container id and the pod uid; one started plainly, the id
and no pod; --cgroup-v1 must read the same from the v1 memory hierarchy; and
the same binary run on the host is not a container process.
"""
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import Events, IMAGE, podman  # noqa: E402





class ContainersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.started = []

    @classmethod
    def tearDownClass(cls):
        for cid in cls.started:
            podman("rm", "-f", "-t", "0", cid, check=False)

    def start(self, *extra):
        cid = podman("run", "-d", "--network", "none", *extra, IMAGE, "sleep", "infinity")
        self.started.append(cid)
        self.assertRegex(cid, "^[0-9a-f]{64}$")
        return cid

    def exec_dpkg(self, ev, cid, *vigil_args):
        podman("exec", cid, "/usr/bin/dpkg", "--version")
        return ev.wait_for(lambda e: e["comm"] == "dpkg" and e["container_id"] == cid,
                           timeout=20)[0]

    def test_pod_container(self):
        pod = str(uuid.uuid4())
        cid = self.start("--cgroup-parent", f"/kubepods/besteffort/pod{pod}")
        host_pid = int(podman("inspect", "-f", "{{.State.Pid}}", cid))
        ev = Events("--containers-only")
        try:
            got = self.exec_dpkg(ev, cid)
        finally:
            ev.stop()
        self.assertEqual(got["container_id"], cid)
        self.assertEqual(got["container_id_short"], cid[:12])
        self.assertEqual(got["pod_uid"], pod)
        self.assertEqual(got["container_runtime"], "podman")
        self.assertEqual(got["cgroup"], f"/kubepods/besteffort/pod{pod}/libpod-{cid}")
        self.assertFalse(got["cgroup_nested"])
        self.assertEqual(got["exe"], "/usr/bin/dpkg")
        self.assertEqual(got["args"], "--version")
        self.assertEqual(got["uid"], 0)
        self.assertEqual(got["cwd"], "/")  # the container's root, not the host's path to it
        # its own pid namespace: the one of the container's init
        self.assertEqual(got["pidns"], os.stat(f"/proc/{host_pid}/ns/pid").st_ino)
        self.assertNotEqual(got["pidns"], os.stat("/proc/self/ns/pid").st_ino)
        self.assertNotEqual(got["ns_pid"], got["pid"])
        self.assertGreaterEqual(len(got["lineage"]), 2)
        self.assertEqual(got["cgroup_id"],
                         os.stat(f"/sys/fs/cgroup/unified{got['cgroup']}").st_ino)
        # only container processes were printed
        self.assertEqual(ev.find(lambda e: e["container_id"] is None), [])

    def test_plain_container(self):
        cid = self.start()
        ev = Events("--containers-only")
        try:
            got = self.exec_dpkg(ev, cid)
        finally:
            ev.stop()
        self.assertEqual(got["container_id"], cid)
        self.assertIsNone(got["pod_uid"])
        self.assertTrue(got["cgroup"].endswith(f"/libpod-{cid}"), got["cgroup"])

    def test_cgroup_v1_hierarchy(self):
        pod = str(uuid.uuid4())
        cid = self.start("--cgroup-parent", f"/kubepods/besteffort/pod{pod}")
        ev = Events("--containers-only", "--cgroup-v1")
        try:
            got = self.exec_dpkg(ev, cid)
        finally:
            ev.stop()
        self.assertEqual(got["container_id"], cid)
        self.assertEqual(got["pod_uid"], pod)
        with open(f"/proc/{podman('inspect', '-f', '{{.State.Pid}}', cid)}/cgroup") as f:
            mem = [x.split(":", 2)[2].strip() for x in f if ":memory:" in x][0]
        self.assertEqual(got["cgroup"], mem)

    def test_host_binary_is_not_a_container(self):
        ev = Events("--containers-only", "--comm", "dpkg")
        try:
            subprocess.run(["/usr/bin/dpkg", "--version"], capture_output=True, check=True)
            cid = self.start()
            got = self.exec_dpkg(ev, cid)
        finally:
            stats = ev.stop()
        self.assertEqual(got["container_id"], cid)
        self.assertEqual(len(ev.find(lambda e: e["comm"] == "dpkg")), 1)
        self.assertGreaterEqual(stats["not_in_container"], 1)

    def test_container_named_from_the_runtime_state(self):
        """Without Kubernetes, the event names the container and its image as podman keeps
        them (containers.json), and a container it does not know stays named by id."""
        name = "vigil-name-test-ev"
        podman("rm", "-f", "-t", "0", name, check=False)
        cid = self.start("--name", name)
        ev = Events("--containers-only")
        try:
            got = self.exec_dpkg(ev, cid)
        finally:
            ev.stop()
        self.assertEqual((got["container_name"], got["container_image"]), (name, IMAGE))
        tmp = tempfile.mkdtemp(prefix="vigil-ctrname-")
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp])
        storage = os.path.join(tmp, "storage", "overlay-containers")
        os.makedirs(storage)
        with open(os.path.join(storage, "containers.json"), "w") as f:
            f.write("[]")
        conf = os.path.join(tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ containers = {{ storage_root = "{os.path.dirname(storage)}" }} }}\n')
        ev = Events("--containers-only", "--config", conf)
        try:
            got = self.exec_dpkg(ev, cid)
        finally:
            ev.stop()
        self.assertIsNone(got["container_name"])  # the configured root, not the default
        self.assertIsNone(got["container_image"])


if __name__ == "__main__":
    vigtest.require_bpf()
    for tool in ("podman", "runc"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            vigtest.cannot_run(f"{tool} is not installed (make test installs it)")
    vigtest.run_tests()
