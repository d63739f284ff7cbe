#!/usr/bin/env python3
"""Kubernetes, against a local HTTPS stand-in for the API server (none can run
here), itself checked with the real kubectl. A container started like a pod
gets its namespace, pod and deployment from the node's pod list; `policy
enforce` with no --action (kill_pod) deletes the pod with the exact
DeleteOptions and records the Warning Event, --action kill_process deletes none;
break-glass pods are never enforced; API errors are retried or recorded."""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import ssl
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon, cli  # noqa: E402
from test_notify import Receiver  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"
V = vigtest.VIGIL
CTX = ssl._create_unverified_context()


class StandIn:
    """The stand-in, authorizing vigil's token by deploy/rbac.yaml's ClusterRole (kubectl here
    uses an admin token). port and dir given: the same stand-in restarted."""

    def __init__(self, port=None, dir=None, token=None, admin=None):
        self.dir = dir or tempfile.mkdtemp(prefix="vigil-k8s-")
        self.port = port or vigtest.free_port()
        self.token = token or uuid.uuid4().hex
        self.admin = admin or uuid.uuid4().hex
        with open(os.path.join(self.dir, "token"), "w") as f:
            f.write(self.token + "\n")
        self.proc = subprocess.Popen([sys.executable, os.path.join(vigtest.SRC, "tests", "k8s_standin.py"),
                                      "--port", str(self.port), "--token", self.token, "--dir", self.dir,
                                      "--rbac", os.path.join(vigtest.SRC, "deploy", "rbac.yaml"),
                                      "--admin-token", self.admin],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.url = f"https://127.0.0.1:{self.port}"

    def restart(self):
        """Killed, then started again on the same port with the same state (and no history)."""
        self.stop()
        return StandIn(self.port, self.dir, self.token, self.admin)

    def control(self, path, obj=None, method=None):
        data = json.dumps(obj).encode() if obj is not None else None
        r = urllib.request.Request(self.url + path, data=data,
                                   method=method or ("POST" if data else "GET"))
        with urllib.request.urlopen(r, context=CTX, timeout=10) as resp:
            return json.loads(resp.read())

    def add_namespace(self, name, annotations):
        self.control("/_standin/namespaces", {"metadata": {"name": name, "annotations": annotations}})

    def add_object(self, kind, ns, name, owner=None):
        """A ReplicaSet, Job, StatefulSet... owned (controller) by owner = (kind, name)."""
        group = {"ReplicaSet": "apps", "StatefulSet": "apps", "Deployment": "apps",
                 "Job": "batch", "CronJob": "batch"}[kind]
        md = {"namespace": ns, "name": name}
        if owner:
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": owner[0], "name": owner[1],
                                      "uid": str(uuid.uuid4()), "controller": True}]
        self.control("/_standin/objects", {"apiVersion": f"{group}/v1", "kind": kind, "metadata": md})

    def pod_object(self, uid, name, ns, node="testnode", annotations=None, cids=(),
                   privileged=False, owner=("ReplicaSet", "web-5d8f7b9c4d")):
        names = ["c"] + [f"c{i}" for i in range(1, len(cids))]
        ctrs = [{"name": n} for n in names]
        if privileged:
            ctrs[0]["securityContext"] = {"privileged": True}
        return {"metadata": {"uid": uid, "name": name, "namespace": ns, "labels": {"app": "web"},
                             "annotations": annotations or {},
                             "ownerReferences": [{"kind": owner[0], "name": owner[1],
                                                  "controller": True}]},
                "spec": {"nodeName": node, "containers": ctrs},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": n, "ready": True, "containerID": f"cri-o://{c}"}
                    for n, c in zip(names, cids)]}}

    def add_pod(self, uid, name, ns, owner=("ReplicaSet", "web-5d8f7b9c4d"), **kw):
        """A running pod; cids: its containers' ids, listed in its status as the runtime gave them.
        Its default owner is ReplicaSet web-5d8f7b9c4d of Deployment web, as the API server has it."""
        if owner == ("ReplicaSet", "web-5d8f7b9c4d"):
            self.add_object("ReplicaSet", ns, owner[1], ("Deployment", "web"))
        self.control("/_standin/pods", self.pod_object(uid, name, ns, owner=owner, **kw))

    def watches(self, **what):
        """close (abrupt), bookmark, expire (http): see k8s_standin.py."""
        return self.control("/_standin/watches", what)

    def log(self):
        return self.control("/_standin/log")

    def refused(self):
        return [e for e in self.log()["log"] if e.get("rbac") == "forbidden"]

    def kubectl(self, *args, popen=False):
        cmd = ["kubectl", "--server", self.url, "--token", self.admin, "--insecure-skip-tls-verify",
               "--cache-dir", os.path.join(self.dir, "cache"), *args]
        if popen:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class K8sTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.marker = os.path.join(tempfile.mkdtemp(), "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)

    def setUp(self):
        self.k = StandIn()
        self.data = tempfile.mkdtemp(prefix="vigil-k8s-data-")
        self.port = vigtest.free_port()
        self.d = None
        self.cids = []

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
        for c in self.cids:
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)
        self.k.stop()

    def start(self, server=None, extra="", refresh_s=None, k8s=""):
        """vigil on the stand-in; no periodic relist unless refresh_s: the watch keeps it
        current. k8s: more keys of its kubernetes table (", k = v")."""
        conf = os.path.join(self.data, "vigil.conf.lua")
        refresh = f", refresh_s = {refresh_s}" if refresh_s else ""
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }}, kubernetes = {{'
                    f' server = "{server or self.k.url}", token_file = "{self.k.dir}/token",'
                    f' insecure = true, node = "testnode"{refresh} {k8s} }} {extra} }}\n')
        self.conf = conf
        self.d = Daemon(self.data, self.port, "--config", conf)

    def pod(self, annotations=None, ns="shop", privileged=False, containers=1):
        """A pod of `containers` podman containers under one pod cgroup; returns its uid and
        its first container's id (all of them are in self.cids)."""
        uid = str(uuid.uuid4())
        cids = [podman("run", "-d", "--network", "none", "--cgroup-parent",
                       f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
                for _ in range(containers)]
        self.cids += cids
        self.k.add_pod(uid, "web-1", ns, annotations=annotations, cids=cids,
                       privileged=privileged)
        for cid in cids:
            podman("cp", self.marker, f"{cid}:/tmp/dpkg")
        return uid, cids[0]

    def wait(self, pred, timeout=10, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.diag()}")

    def diag(self):
        """What a failed wait shows: vigil's log, its kubernetes counters, the last requests."""
        if not self.d:
            return ""
        try:
            m = [x for x in self.d.req("GET", "/metrics")[1].splitlines()
                 if x.startswith("vigil_k8s_")]
        except Exception as e:  # noqa: BLE001 (a diagnosis must not hide the failure)
            m = [f"no metrics: {e}"]
        try:  # the file keeps the requests of a stand-in that was restarted
            with open(os.path.join(self.k.dir, "requests.jsonl")) as f:
                log = [json.loads(x) for x in f.readlines()[-16:]]
            reqs = [f"{time.strftime('%H:%M:%S', time.localtime(e['time']))} {e['method']} "
                    f"{e['path']}?{e['query']}" for e in log]
        except (OSError, ValueError, KeyError) as e:
            reqs = [f"no request log: {e}"]
        return "\n".join([self.d.text(), *m, "requests:", *reqs])

    def enforce(self, *action):
        """`vigil policy enforce` as a user types it: no --action is kill_pod."""
        r = subprocess.run([V, "policy", "enforce", UBUNTU, *action, "--data-dir",
                            self.data, "--config", self.conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_standin_speaks_kubectl(self):
        self.k.add_pod(str(uuid.uuid4()), "web-9", "shop")
        # kubectl's own watch: the list, then the pod added after it
        w = self.k.kubectl("get", "pods", "-n", "shop", "--watch", "-o", "name", popen=True)
        self.addCleanup(lambda: (w.kill(), w.wait()))
        self.assertEqual(self.readline(w, 30), "pod/web-9")
        self.k.add_pod(str(uuid.uuid4()), "web-10", "shop")
        self.assertEqual(self.readline(w, 30), "pod/web-10")
        self.k.control("/_standin/pods/shop/web-10", method="DELETE")
        self.assertEqual(self.readline(w, 30), "pod/web-10")  # its deletion
        r = self.k.kubectl("get", "pods", "-n", "shop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("web-9", r.stdout)
        r = self.k.kubectl("delete", "pod", "web-9", "-n", "shop", "--wait=false")
        self.assertEqual(r.returncode, 0, r.stderr)
        dels = [e for e in self.k.log()["log"] if e["method"] == "DELETE"]
        self.assertEqual(dels[-1]["path"], "/api/v1/namespaces/shop/pods/web-9")
        self.assertEqual(json.loads(dels[-1]["body"])["propagationPolicy"], "Background")
        self.assertEqual(dels[-1]["auth"], f"Bearer {self.k.admin}")
        r = self.k.kubectl("get", "events", "-n", "shop")
        self.assertEqual(r.returncode, 0, r.stderr)
        # namespaces, as vigil lists them for their annotations
        self.k.add_namespace("shop", {"vigil.io/jira-project": "SHOP"})
        r = self.k.kubectl("get", "namespaces", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([n["metadata"]["annotations"] for n in json.loads(r.stdout)["items"]],
                         [{"vigil.io/jira-project": "SHOP"}])
        r = self.k.kubectl("get", "namespace", "shop", "-o", "jsonpath={.metadata.annotations}")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"vigil.io/jira-project": "SHOP"}), r.stderr)
        self.assertIn("/api/v1/namespaces", [e["path"] for e in self.k.log()["log"]])
        # and it refuses what a real API server refuses
        req = urllib.request.Request(self.k.url + "/api/v1/pods?fieldSelector=metadata.uid%3Dx",
                                     headers={"Authorization": f"Bearer {self.k.token}"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=CTX)
        self.assertEqual(e.exception.code, 400)
        # and what vigil's ClusterRole does not allow (deploy/rbac.yaml): listing Events
        req = urllib.request.Request(self.k.url + "/api/v1/namespaces/shop/events",
                                     headers={"Authorization": f"Bearer {self.k.token}"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=CTX)
        st = json.loads(e.exception.read())
        self.assertEqual((e.exception.code, st["kind"], st["reason"]), (403, "Status", "Forbidden"))
        self.assertEqual(st["message"], 'events is forbidden: User "system:serviceaccount:vigil:vigil" '
                         'cannot list resource "events" in API group "" in the namespace "shop"')
        self.assertEqual(len(self.k.refused()), 1)

    def readline(self, proc, timeout):
        """A line of proc's output, within timeout s."""
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        self.assertTrue(ready, f"no output from kubectl: {proc.poll()}")
        return proc.stdout.readline().strip()

    def container(self, uid=None):
        """A container under the cgroup of a pod the API server does not know (yet): (uid, cid)."""
        uid = uid or str(uuid.uuid4())
        cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                     f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
        self.cids.append(cid)
        podman("cp", self.marker, f"{cid}:/tmp/dpkg")
        return uid, cid

    def alerts(self, n):
        return self.wait(lambda: (lambda al: al if len(al) >= n else None)(
            self.d.req("GET", "/v1/alerts")[1]["alerts"]), what=f"{n} alerts")

    def test_pod_added_after_start_known_at_once(self):
        """A pod the API server learns of after vigil started: the watch brings it at once, and
        an exec in it right after is attributed to it. No list explains it: there is one."""
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_pod_lists_total") == 1, what="pod list")
        uid, cid = self.container()
        time.sleep(1.5)  # vigil saw the container start long ago, with no pod for it
        self.k.add_pod(uid, "late-1", "shop", cids=[cid])
        podman("exec", cid, "/usr/bin/dpkg", "--version")
        a = self.alerts(1)[0]
        self.assertEqual((a["namespace"], a["pod"], a["deployment"]["name"]), ("shop", "late-1", "web"))
        self.assertEqual(self.metric("vigil_k8s_pod_lists_total"), 1)
        self.assertGreaterEqual(self.metric("vigil_k8s_watch_events_total"), 1)

    def test_watch_survives_close_410_and_restart(self):
        """The watch ends (the server closes it), its resourceVersion expires (410: listed
        again), the API server restarts with a pod added while it was down: each time vigil
        watches again and knows the pods added since; every exec is an alert of its pod."""
        def add(name):
            uid, cid = self.container()
            self.k.add_pod(uid, name, "shop", cids=[cid], owner=("StatefulSet", name))
            return cid

        def run(cid):
            podman("exec", cid, "/usr/bin/dpkg", "--version")

        run_first = add("a")
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_pods") == 1, what="pod list")
        run(run_first)
        # the server ends every watch: watched again from the last resourceVersion, no list
        w = self.metric("vigil_k8s_watches_total")
        self.k.watches(close=True)
        self.wait(lambda: self.metric("vigil_k8s_watches_total") >= w + 2, what="watched again")
        self.assertEqual(self.metric("vigil_k8s_pod_lists_total"), 1)
        self.k.watches(bookmark=True)
        self.wait(lambda: self.metric("vigil_k8s_bookmarks_total") >= 1, what="a bookmark")
        cid = add("b")
        self.wait(lambda: self.metric("vigil_k8s_pods") == 2, what="pod b")
        run(cid)
        # the connection drops; while vigil cannot watch again (the server answers 503) a pod
        # comes and the history is gone: from its old version the watch gets 410, and vigil
        # lists again. (Without the 503s vigil may be watching again before the pod comes.)
        uid, cid = self.container()
        self.k.control("/_standin/faults", {"all": 503})
        self.k.watches(close=True, abrupt=True)
        self.wait(lambda: self.metric("vigil_k8s_watch_errors_total") >= 2, what="the watch broken")
        self.k.add_pod(uid, "c", "shop", cids=[cid], owner=("StatefulSet", "c"))
        self.k.watches(expire=True)
        self.k.control("/_standin/faults", {"all": None})
        self.wait(lambda: self.metric("vigil_k8s_relists_410_total") >= 2, timeout=60,
                  what="410, listed again")
        self.wait(lambda: self.metric("vigil_k8s_pods") == 3, timeout=60, what="pod c")
        run(cid)
        # the API server restarts (no history) with a pod added while it was down
        errors = self.metric("vigil_k8s_watch_errors_total")
        pods0, ns0 = self.listed("pod"), self.listed("namespace")
        self.k.stop()
        uid, cid = self.container()
        path = os.path.join(self.k.dir, "state.json")
        with open(path) as f:
            st = json.load(f)
        st["rv"] += 1
        pod = self.k.pod_object(uid, "d", "shop", cids=[cid], owner=("StatefulSet", "d"))
        pod["metadata"]["resourceVersion"] = str(st["rv"])
        st["pods"].append(pod)
        with open(path, "w") as f:
            json.dump(st, f)
        self.wait(lambda: self.metric("vigil_k8s_watch_errors_total") >= errors + 1,
                  what="the pods watch broken")
        self.k = StandIn(self.k.port, self.k.dir, self.k.token, self.k.admin)
        # each reflector retries after its backoff (up to 30 s, +50 % jitter), and a 410 that
        # comes at once backs off once more before the list: up to 90 s on a loaded machine.
        # Both list from the restarted server: after a 410 of their old version, or (namespaces,
        # when the restart came while it waited to list after the 410 above) because they were
        # about to list anyway.
        self.wait(lambda: self.metric("vigil_k8s_pods") == 4, timeout=100, what="pod d")
        self.wait(lambda: self.listed("pod") > pods0 and self.listed("namespace") > ns0,
                  timeout=100, what="pods and namespaces listed from the restarted server")
        run(cid)
        got = self.alerts(4)
        self.assertEqual(sorted((a["pod"], a["namespace"], a["deployment"]["name"]) for a in got),
                         [(p, "shop", p) for p in "abcd"])
        self.assertEqual(sum(a["violations"] for a in got), 4)
        # a list answered at start, then one for each 410 (pods and namespaces; a list that
        # found the server down is tried again), never another; a 410 that comes before the
        # watch delivered anything lists after a backoff, so wait for it
        def lists():
            return self.listed("pod") + self.listed("namespace")
        self.wait(lambda: lists() >= 2 + self.metric("vigil_k8s_relists_410_total"),
                  timeout=100, what="a list for each 410")
        self.assertEqual(lists(), 2 + self.metric("vigil_k8s_relists_410_total"))

    def listed(self, what):
        """Lists of pods or namespaces the API server answered (made, less those that failed)."""
        return (self.metric(f"vigil_k8s_{what}_lists_total") -
                self.metric(f"vigil_k8s_{what}_list_errors_total"))

    def test_watch_error_lists_again(self):
        """A watch that ends with an ERROR other than 410 (a resourceVersion the server does not
        have, as after an etcd restore) is not retried from the same version forever: vigil
        lists again, after a backoff, and knows the pods added meanwhile."""
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_watches_total") >= 2, what="the watches")
        time.sleep(0.5)  # and the server has them
        self.k.watches(error=504)
        self.wait(lambda: self.metric("vigil_k8s_pod_lists_total") >= 2, what="listed again")
        self.assertGreaterEqual(self.metric("vigil_k8s_watch_errors_total"), 1)
        uid, cid = self.container()
        self.k.add_pod(uid, "after-1", "shop", cids=[cid])
        self.wait(lambda: self.metric("vigil_k8s_pods") == 1, what="the pod added since")
        lists = self.metric("vigil_k8s_pod_lists_total")
        time.sleep(2)  # watching again: no list more
        self.assertEqual(self.metric("vigil_k8s_pod_lists_total"), lists)

    def test_hostile_pod_objects_do_not_stop_the_watch(self):
        """Pods anyone who may create a pod can make: an annotation with a NUL (valid JSON,
        "\\u0000"), an owner name that is a path, one longer than any name. Each is kept or
        refused on its own; the list and the watch go on, and the owner GET stays in its
        collection."""
        evil = "../../../../api/v1/namespaces/kube-system/secrets/x"
        self.k.add_pod(str(uuid.uuid4()), "nul-1", "shop", annotations={"x": "a\x00b"})
        self.k.add_pod(str(uuid.uuid4()), "evil-1", "shop", owner=("ReplicaSet", evil))
        self.k.add_pod(str(uuid.uuid4()), "long-1", "shop", owner=("ReplicaSet", "r" * 300))
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_pods") == 3, what="the three pods")
        uid, cid = self.container()
        self.k.add_pod(uid, "late-1", "shop", cids=[cid])
        self.wait(lambda: self.metric("vigil_k8s_pods") == 4, what="a pod added after them")
        podman("exec", cid, "/usr/bin/dpkg", "--version")
        a = self.alerts(1)[0]
        self.assertEqual((a["namespace"], a["pod"]), ("shop", "late-1"))
        self.assertEqual(self.metric("vigil_k8s_pod_lists_total"), 1)
        self.assertEqual(self.metric("vigil_k8s_watch_errors_total"), 0)
        paths = [e["path"] for e in self.k.log()["log"] if e.get("verb") == "get"]
        self.assertFalse([x for x in paths if "/secrets" in x], paths)
        self.assertIn("/apis/apps/v1/namespaces/shop/replicasets/"
                      "..%2F..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets%2Fx",
                      paths)
        self.assertFalse([x for x in paths if "rrrr" in x], paths)

    def test_static_pod_by_its_mirror(self):
        """A static pod (etcd, kube-apiserver: a manifest the kubelet runs itself): its cgroups
        carry the kubelet's uid, a 32-digit hash, which the API server's mirror pod names in
        its kubernetes.io/config.mirror annotation. Its execs are attributed to it, and a
        DELETE of it names the mirror's own uid."""
        kubelet_uid, api_uid = uuid.uuid4().hex, str(uuid.uuid4())
        _, cid = self.container(kubelet_uid)
        self.k.add_pod(api_uid, "etcd-testnode", "kube-system", cids=[cid],
                       annotations={"kubernetes.io/config.mirror": kubelet_uid},
                       owner=("Node", "testnode"))
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_pods") == 1, what="pod list")
        self.enforce()
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"], capture_output=True)
        self.assertEqual(r.returncode, 137)
        a = self.alerts(1)[0]
        self.assertEqual((a["namespace"], a["pod"], a["podUid"]),
                         ("kube-system", "etcd-testnode", kubelet_uid))
        dels = self.wait(lambda: [e for e in self.k.log()["log"] if e["method"] == "DELETE"],
                         what="the DELETE")
        self.assertEqual(json.loads(dels[0]["body"])["preconditions"], {"uid": api_uid})

    def test_owners_resolved(self):
        """A pod's deployment is its top owner as the API server has it: ReplicaSet web-abc
        (not named <deployment>-<hash>) of Deployment shop-frontend, a Job of CronJob nightly, a
        StatefulSet itself. One GET an owner, however many pods it has."""
        self.k.add_object("ReplicaSet", "shop", "web-abc", ("Deployment", "shop-frontend"))
        self.k.add_object("Job", "shop", "nightly-28391234", ("CronJob", "nightly"))
        self.k.add_object("StatefulSet", "shop", "db")
        cids = {}
        for kind, name, top in (("ReplicaSet", "web-abc", "shop-frontend"),
                                ("Job", "nightly-28391234", "nightly"), ("StatefulSet", "db", "db")):
            uid, cid = self.container()
            self.k.add_pod(uid, f"{name}-x1", "shop", cids=[cid], owner=(kind, name))
            cids[top] = cid
        self.k.add_pod(str(uuid.uuid4()), "web-abc-x2", "shop", owner=("ReplicaSet", "web-abc"))
        self.start()
        self.wait(lambda: self.metric("vigil_k8s_pods") == 4, what="pod list")
        self.wait(lambda: self.metric("vigil_k8s_owner_gets_total") == 2, what="owner GETs")
        time.sleep(0.5)
        for cid in cids.values():
            podman("exec", cid, "/usr/bin/dpkg", "--version")
        got = self.alerts(3)
        self.assertEqual(sorted((a["deployment"] or {}).get("name") for a in got), sorted(cids), got)
        gets = [e["path"] for e in self.k.log()["log"] if e.get("verb") == "get"]
        self.assertEqual(sorted(gets), ["/apis/apps/v1/namespaces/shop/replicasets/web-abc",
                                        "/apis/batch/v1/namespaces/shop/jobs/nightly-28391234"])
        self.assertEqual(self.metric("vigil_k8s_owner_errors_total"), 0)
        self.assert_rbac_allowed({("get", "apps", "replicasets"), ("get", "batch", "jobs")})

    def jira_config(self, jira):
        return (f', notifiers = {{ jira = {{ type = "jira", url = "http://127.0.0.1:{jira.port}", '
                f'username = "bot", token = "JT", project = "DEF", projects = {{ dev = "DEVMAP" }} }} }}, '
                f'default_notifiers = {{ "jira" }}')

    def test_jira_project_from_namespace_annotation(self):
        """The Jira project key comes from the namespace's vigil.io/jira-project annotation,
        read from the API server; a namespace without one uses the `projects` map, else the
        default."""
        jira = Receiver()
        self.addCleanup(jira.stop)
        self.k.add_namespace("shop", {"vigil.io/jira-project": "SHOP", "other": "x"})
        _, shop = self.pod(ns="shop")
        _, dev = self.pod(ns="dev")
        _, plain = self.pod(ns="plain")
        self.start(extra=self.jira_config(jira))
        self.wait(lambda: "vigil_k8s_namespaces 3" in self.d.req("GET", "/metrics")[1], what="namespace list")
        keys = []
        for cid in (shop, dev, plain):
            podman("exec", cid, "/usr/bin/dpkg", "--version")
            got = jira.wait(len(keys) + 1)
            keys.append(got[-1]["body"]["fields"]["project"]["key"])
        self.assertEqual(keys, ["SHOP", "DEVMAP", "DEF"])

    def test_namespaces_forbidden_falls_back(self):
        """A service account that may not list namespaces: counted and reported, and the
        Jira issue goes to the default project; nothing else is affected."""
        jira = Receiver()
        self.addCleanup(jira.stop)
        self.k.control("/_standin/faults", {"namespaces": 403})
        self.k.add_namespace("shop", {"vigil.io/jira-project": "SHOP"})
        _, cid = self.pod()
        self.start(extra=self.jira_config(jira))
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        m = self.d.req("GET", "/metrics")[1]
        self.assertNotIn("vigil_k8s_namespace_list_errors_total 0", m)
        podman("exec", cid, "/usr/bin/dpkg", "--version")
        issue = jira.wait(1)[0]["body"]["fields"]
        self.assertEqual(issue["project"]["key"], "DEF")
        self.assertIn("Deployment web", issue["summary"])  # the pod's metadata still came through

    def test_metadata_and_kill_pod(self):
        uid, cid = self.pod()
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        # inform first: the alert knows the pod's namespace, name and deployment
        podman("exec", cid, "/usr/bin/dpkg", "--version")
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]], what="alert")[0]
        self.assertEqual((a["namespace"], a["pod"], a["deployment"]["name"]), ("shop", "web-1", "web"))
        # ... and its labels, in the list and in the full document
        self.assertEqual(a["labels"], {"app": "web"}, a)
        self.assertEqual(self.d.req("GET", f"/v1/alerts/{a['id']}")[1]["labels"], {"app": "web"})
        r = cli(self.data, "list", "--namespace", "shop", "--pod", "web-1", "--config", self.conf)
        self.assertIn(a["id"], r.stdout, r.stderr)
        # now enforce, no --action: killed in the kernel, the cgroup emptied, the pod
        # deleted, an Event
        self.assertIn("kill_pod: kill the process (in the kernel at exec where it can decide), "
                      "then its container's cgroup and its pod (Kubernetes DELETE and Event)",
                      self.enforce())
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"], capture_output=True)
        self.assertEqual(r.returncode, 137)
        self.wait(lambda: podman("inspect", "-f", "{{.State.Status}}", cid) != "running",
                  what="container killed")
        log = self.wait(lambda: self.k.log() if self.k.log()["events"] else None, what="Event")
        dels = [e for e in log["log"] if e["method"] == "DELETE"]
        self.assertEqual(dels[0]["path"], "/api/v1/namespaces/shop/pods/web-1")
        self.assertEqual(json.loads(dels[0]["body"]), {"gracePeriodSeconds": 0,
                                                       "propagationPolicy": "Background",
                                                       "preconditions": {"uid": uid}})
        ev = log["events"][0]
        self.assertEqual(ev["type"], "Warning")
        self.assertEqual(ev["reason"], "vigil enforcement")
        self.assertEqual(ev["message"],
                         f'A pod (web-1) violated vigil policy "{UBUNTU}" and was killed')
        self.assertEqual(ev["involvedObject"], {"apiVersion": "v1", "kind": "Pod", "name": "web-1",
                                                "namespace": "shop", "uid": uid})
        r = self.k.kubectl("get", "events", "-n", "shop", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["reason"] for e in json.loads(r.stdout)["items"]], ["vigil enforcement"])
        full = self.wait(lambda: (lambda x: x if x["enforcement"]["action"] == "kill_pod (Kubernetes)" else None)(
            self.d.req("GET", f"/v1/alerts/{a['id']}")[1]), what="enforcement recorded")
        self.assertIn("deleted", full["enforcement"]["message"])
        self.assertEqual(full["state"], "ACTIVE")
        self.assert_rbac_allowed({("list", "", "pods"), ("watch", "", "pods"),
                                  ("list", "", "namespaces"), ("watch", "", "namespaces"),
                                  ("get", "apps", "replicasets"), ("delete", "", "pods"),
                                  ("create", "", "events")})

    def assert_rbac_allowed(self, want):
        """Every request vigil made was allowed by deploy/rbac.yaml, and they include want."""
        self.assertEqual(self.k.refused(), [])
        mine = [e for e in self.k.log()["log"] if e["auth"] == f"Bearer {self.k.token}"]
        self.assertTrue(all(e.get("rbac") == "allowed" for e in mine), mine)
        self.assertLessEqual(want, {(e["verb"], e["group"], e["resource"]) for e in mine})

    def test_one_delete_for_a_burst(self):
        """Three violations of one pod before the pod list shows it gone (one in each of its
        containers, each killed at exec and its container with it): one DELETE, one Event;
        the other two deletions are counted as asked for already. The watch says the pod is
        DELETED at once (grace 0); it stays known while its containers stop, so the second and
        third exec are still attributed to it."""
        self.pod(containers=3)
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.enforce()
        for cid in self.cids:
            r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"],
                               capture_output=True)
            self.assertEqual(r.returncode, 137, r.stderr)
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                               if x["violations"] >= 3], what="three violations")[0]
        self.wait(lambda: "vigil_k8s_deletes_deduped_total 2" in self.d.req("GET", "/metrics")[1],
                  what="two deletions not sent again")
        time.sleep(1)  # a second DELETE would have been sent by now
        log = self.k.log()
        self.assertEqual(len([e for e in log["log"] if e["method"] == "DELETE"]), 1, log["log"])
        self.assertEqual(len(log["events"]), 1, log["events"])
        self.assertEqual(a["violations"], 3)

    def new_pod_container(self):
        """A container under the cgroup of a pod the stand-in does not list yet: its uid and id."""
        uid = str(uuid.uuid4())
        cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                     f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
        self.cids.append(cid)
        podman("cp", self.marker, f"{cid}:/tmp/dpkg")
        return uid, cid

    def metric(self, name):
        for line in self.d.req("GET", "/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        raise AssertionError(f"no metric {name}")

    def ubuntu_alerts(self, cid):
        """The alerts of the Ubuntu policy in container cid (other tests on this host exec
        dpkg in their own containers, which this daemon sees too)."""
        return [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                if x["policy"]["name"] == UBUNTU and x["containerId"] == cid]

    # The counters are the host's: other tests' containers under pod cgroups this stand-in
    # does not list are held (and time out) too, so they are checked as at least.

    def test_first_exec_waits_for_its_pod(self):
        """A pod's first exec comes before the API server lists the pod (a new pod starts faster
        than vigil hears of it): the exec is held, and evaluated with the pod's namespace, name
        and deployment once the pod is listed, within kubernetes.pod_wait_ms."""
        uid, cid = self.new_pod_container()
        self.k.add_pod(str(uuid.uuid4()), "db-1", "shop")  # another pod: the list has succeeded
        self.start(refresh_s=60, k8s=", pod_wait_ms = 10000")
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        podman("exec", cid, "/tmp/dpkg", "/tmp/mark")
        self.wait(lambda: self.metric("vigil_k8s_exec_waits_total") >= 1, what="the exec held")
        time.sleep(1.5)  # its pod not listed yet (and lists asked for since): no alert
        self.assertEqual(self.ubuntu_alerts(cid), [])
        self.k.add_pod(uid, "web-1", "shop", cids=[cid])
        a = self.wait(lambda: self.ubuntu_alerts(cid), what="alert", timeout=10)[0]
        self.assertEqual((a["namespace"], a["pod"], a["deployment"]["name"]), ("shop", "web-1", "web"))
        self.assertEqual(a["labels"], {"app": "web"}, a)
        self.assertGreaterEqual(self.metric("vigil_k8s_exec_wait_resolved_total"), 1)

    def test_first_exec_waits_for_its_container_status(self):
        """The pod is known from its scheduling on, but its container's id comes with the
        status the kubelet writes after starting it, after the container's first exec: that
        exec is held too, and evaluated with the pod's metadata once the status lists it
        (without the wait it would be attributed to the container alone)."""
        uid, cid = self.new_pod_container()
        self.k.add_pod(uid, "web-1", "shop", cids=[])  # scheduled: no container statuses yet
        self.start(k8s=", pod_wait_ms = 10000")
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        podman("exec", cid, "/tmp/dpkg", "/tmp/mark")
        self.wait(lambda: self.metric("vigil_k8s_exec_waits_total") >= 1, what="the exec held")
        time.sleep(1)
        self.assertEqual(self.ubuntu_alerts(cid), [])
        self.k.add_pod(uid, "web-1", "shop", cids=[cid])  # the status: a MODIFIED event
        a = self.wait(lambda: self.ubuntu_alerts(cid), what="alert", timeout=10)[0]
        self.assertEqual((a["namespace"], a["pod"], a["deployment"]["name"]), ("shop", "web-1", "web"))
        self.assertGreaterEqual(self.metric("vigil_k8s_exec_wait_resolved_total"), 1)

    def test_pod_never_listed_is_evaluated_after_the_wait(self):
        """A pod the API server never lists: its exec is evaluated after kubernetes.pod_wait_ms,
        without pod metadata, and counted as a timeout."""
        uid, cid = self.new_pod_container()
        self.k.add_pod(str(uuid.uuid4()), "db-1", "shop")
        self.start(refresh_s=60, k8s=", pod_wait_ms = 300")
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        podman("exec", cid, "/tmp/dpkg", "/tmp/mark")
        a = self.wait(lambda: self.ubuntu_alerts(cid), what="alert")[0]
        self.assertEqual((a["namespace"], a["pod"], a["podUid"]), (None, None, uid), a)
        self.assertGreaterEqual(self.metric("vigil_k8s_exec_wait_timeouts_total"), 1)
        self.assertEqual(self.metric("vigil_k8s_exec_wait_resolved_total"), 0)

    def test_held_exec_is_evaluated_at_shutdown(self):
        """vigil stops while an exec waits for its pod: the exec is evaluated and stored on the
        way out, not lost."""
        uid, cid = self.new_pod_container()
        self.k.add_pod(str(uuid.uuid4()), "db-1", "shop")
        self.start(refresh_s=60, k8s=", pod_wait_ms = 60000")
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        podman("exec", cid, "/tmp/dpkg", "/tmp/mark")
        self.wait(lambda: self.metric("vigil_k8s_exec_waits_total") >= 1, what="the exec held")
        time.sleep(0.5)
        self.assertEqual(self.ubuntu_alerts(cid), [])
        self.assertEqual(self.d.stop(), 0, self.d.text())
        self.start(refresh_s=60, k8s=", pod_wait_ms = 60000")
        a = self.wait(lambda: self.ubuntu_alerts(cid), what="the alert stored at shutdown")[0]
        self.assertEqual((a["namespace"], a["podUid"]), (None, uid), a)

    def test_no_wait_while_the_pods_are_not_listed(self):
        """An API server that does not answer: execs of pods are evaluated at once (never held
        for pod_wait_ms), and counted."""
        self.k.stop()
        uid, cid = self.new_pod_container()
        self.start(server="https://127.0.0.1:1", k8s=", pod_wait_ms = 60000")
        self.wait(lambda: "vigil_k8s_pod_list_errors_total 0" not in self.d.req("GET", "/metrics")[1],
                  what="list error counted")
        podman("exec", cid, "/tmp/dpkg", "/tmp/mark")
        a = self.wait(lambda: self.ubuntu_alerts(cid), what="alert")[0]
        self.assertIsNone(a["namespace"], a)
        self.assertGreaterEqual(self.metric("vigil_k8s_exec_unsynced_total"), 1)
        self.assertEqual(self.metric("vigil_k8s_exec_waits_total"), 0)
        self.k = StandIn()  # for tearDown

    def test_iptables_in_privileged_pod(self):
        """"Iptables or nftables Executed in Privileged Container" is on, as in StackRox: the
        privileged flag comes from the pod's securityContext, so iptables as root in a
        privileged pod is a critical violation."""
        _, priv = self.pod(privileged=True)
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        podman("exec", priv, "sh", "-c", "cp /bin/true /tmp/iptables && /tmp/iptables -L")
        name = "Iptables or nftables Executed in Privileged Container"
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                               if x["policy"]["name"] == name], what="iptables alert")[0]
        self.assertEqual((a["policy"]["severity"], a["pod"]), ("critical", "web-1"))

    def test_kill_process_deletes_no_pod(self):
        """--action kill_process: the process dies at exec; the container runs on, and the API
        server gets no DELETE and no Event."""
        uid, cid = self.pod()
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.assertIn("kill_process: kill the process", self.enforce("--action", "kill_process"))
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"], capture_output=True)
        self.assertEqual(r.returncode, 137)
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                               if x["enforcement"]], what="enforcement")[0]
        self.assertEqual(a["enforcement"]["action"], "killed in kernel")
        time.sleep(1)  # a DELETE would have been sent by now
        log = self.k.log()
        self.assertEqual([e for e in log["log"] if e["method"] == "DELETE"], [])
        self.assertEqual(log["events"], [])
        self.assertEqual(podman("inspect", "-f", "{{.State.Status}}", cid), "running")

    def test_break_glass_is_never_enforced(self):
        uid, cid = self.pod(annotations={"vigil.io/break-glass": "incident 42"})
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.enforce()
        time.sleep(1)  # the exemption reaches the kernel within half a second
        # neither the kernel nor user space kills in a break-glass pod
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(subprocess.run(["podman", "exec", cid, "test", "-e", "/tmp/mark"]).returncode, 0)
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts?query=State:ALL")[1]["alerts"]
                               if x["enforcement"]], what="alert")[0]
        self.assertIn("break-glass", a["enforcement"]["message"])
        self.assertGreaterEqual(int([x for x in self.d.req("GET", "/metrics")[1].splitlines()
                                     if x.startswith("vigil_sensor_kill_spared_total ")][0].split()[1]), 1)
        self.assertEqual([e for e in self.k.log()["log"] if e["method"] == "DELETE"], [])
        self.assertEqual(podman("inspect", "-f", "{{.State.Status}}", cid), "running")

    def test_api_errors_retried_or_recorded(self):
        uid, cid = self.pod()
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.enforce()
        self.k.control("/_standin/faults", {"delete": [500, 503], "retry_after": 0})
        subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/m"], capture_output=True)
        self.wait(lambda: self.k.log()["events"], what="Event after retries")
        m = self.d.req("GET", "/metrics")[1]
        self.assertIn("vigil_k8s_delete_retries_total 2", m)
        # 403: not retried, recorded as failed, the alert ATTEMPTED
        uid2, cid2 = self.pod()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1] or
                  "vigil_k8s_pods 2" in self.d.req("GET", "/metrics")[1], what="pod list")
        time.sleep(1.5)
        self.k.control("/_standin/faults", {"delete": [403]})
        subprocess.run(["podman", "exec", cid2, "/tmp/dpkg", "/tmp/m"], capture_output=True)
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts?query=State:ATTEMPTED")[1]["alerts"]],
                      what="ATTEMPTED alert")[0]
        self.assertIn("403", a["enforcement"]["message"])
        self.assertIn("vigil_k8s_delete_errors_total 1", self.d.req("GET", "/metrics")[1])

    def test_pod_already_gone_is_success(self):
        uid, cid = self.pod()
        self.start()
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.enforce()
        # the pod disappears from the API server between the list and the kill
        r = self.k.kubectl("delete", "pod", "web-1", "-n", "shop", "--wait=false")
        self.assertEqual(r.returncode, 0, r.stderr)
        subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/m"], capture_output=True)
        a = self.wait(lambda: [x for x in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                               if x["enforcement"] and "Kubernetes" in x["enforcement"]["action"]],
                      what="enforcement")[0]
        self.assertIn("deleted (404)", a["enforcement"]["message"])  # NotFound is success
        self.assertEqual(a["state"], "ACTIVE")

    def test_wrong_token_and_bad_ca(self):
        uid, cid = self.pod()
        # a token the server refuses (expired, revoked): lists fail with 401, counted
        with open(os.path.join(self.k.dir, "token"), "w") as f:
            f.write("expired-token\n")
        self.start()
        self.wait(lambda: "vigil_k8s_pod_list_errors_total 0" not in self.d.req("GET", "/metrics")[1],
                  what="401 counted")
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)
        self.d.stop()
        # a CA that did not sign the server's certificate: TLS fails, counted, the loop lives
        with open(os.path.join(self.k.dir, "token"), "w") as f:
            f.write(self.k.token + "\n")
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }}, kubernetes = {{'
                    f' server = "{self.k.url}", token_file = "{self.k.dir}/token",'
                    f' ca_file = "/etc/ssl/certs/ca-certificates.crt", node = "testnode" }} }}\n')
        self.d = Daemon(self.data, self.port, "--config", conf)
        self.wait(lambda: "vigil_k8s_pod_list_errors_total 0" not in self.d.req("GET", "/metrics")[1],
                  what="TLS failure counted")
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)

    def test_kubeconfig(self):
        kc = os.path.join(self.data, "kubeconfig")
        env = {**os.environ, "KUBECONFIG": kc}
        # the stand-in's certificate embedded (certificate-authority-data): TLS verified
        for args in (["set-cluster", "lab", f"--server={self.k.url}",
                      f"--certificate-authority={self.k.dir}/cert.pem", "--embed-certs=true"],
                     ["set-credentials", "vigil", f"--token={self.k.token}"],
                     ["set-context", "lab", "--cluster=lab", "--user=vigil"],
                     ["use-context", "lab"]):
            subprocess.run(["kubectl", "config", *args], env=env, check=True, capture_output=True)
        uid, cid = self.pod()
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }}, kubernetes = {{'
                    f' kubeconfig = "{kc}", node = "testnode" }} }}\n')
        self.d = Daemon(self.data, self.port, "--config", conf)
        self.wait(lambda: "vigil_k8s_pods 1" in self.d.req("GET", "/metrics")[1], what="pod list")
        self.d.stop()
        self.d = None
        with open(conf, "w") as f:
            f.write('return { kubernetes = { kubeconfig = "/nonexistent/kubeconfig" } }\n')
        r = subprocess.run([V, "run", "--config", conf, "--data-dir", self.data], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read the kubeconfig /nonexistent/kubeconfig", r.stderr)

    def test_unreachable_api_server(self):
        self.k.stop()
        self.start(server="https://127.0.0.1:1")
        self.wait(lambda: "vigil_k8s_pod_list_errors_total 0" not in self.d.req("GET", "/metrics")[1],
                  what="list error counted")
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)
        self.k = StandIn()  # for tearDown


if __name__ == "__main__":
    vigtest.require_bpf()
    if subprocess.run(["which", "kubectl"], capture_output=True).returncode:
        vigtest.cannot_run("kubectl is not installed (make test installs kubernetes-client)")
    vigtest.run_tests()
