#!/usr/bin/env python3
"""The Kubernetes manifests in deploy/: the kustomization builds and holds every file, each
object is well-formed, the DaemonSet has what vigil needs (hostPID, the unit's capabilities,
the host mounts, the Downward API, the probe), the ClusterRole allows every request vigil
makes to the API server and nothing more, and vigil itself accepts the ConfigMap's
vigil.conf.lua. Needs kubectl (no cluster) and PyYAML; no root or BPF."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import yaml
except ImportError:
    # Debian's python3-yaml is for Debian's python3; another python3 first on the PATH
    # (pyenv) may not see it: run this file again with Debian's.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    yaml = None

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

DEPLOY = os.path.join(vigtest.SRC, "deploy")
FILES = ["namespace.yaml", "rbac.yaml", "configmap.yaml", "secret.yaml", "service.yaml",
         "daemonset.yaml"]
KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
         "Secret", "Service", "DaemonSet"}
# packaging/vigil.service.in's capabilities, as Kubernetes spells them
CAPS = {"BPF", "PERFMON", "SYS_RESOURCE", "KILL", "SYS_PTRACE", "DAC_READ_SEARCH"}
# Every request vigil makes to the API server (core/net/k8s*.c): the URL's path as the C code
# formats it -> the (verb, API group, resource) it needs; a collection is listed, then watched
# (k8s_watch.c adds ?watch=1 to the same URL). Change this, the code and deploy/rbac.yaml
# together; test_every_request_is_listed fails when the code has a path this list lacks.
REQUESTS = {
    "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s": {("list", "", "pods"), ("watch", "", "pods")},
    "/api/v1/namespaces": {("list", "", "namespaces"), ("watch", "", "namespaces")},
    "/apis/apps/v1/namespaces/%s/replicasets/%s": {("get", "apps", "replicasets")},
    "/apis/batch/v1/namespaces/%s/jobs/%s": {("get", "batch", "jobs")},
    "/api/v1/namespaces/%s/pods/%s": {("delete", "", "pods")},
    "/api/v1/namespaces/%s/events": {("create", "", "events")},
}


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)
    if r.returncode:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


def objects(text):
    return [d for d in yaml.safe_load_all(text) if d]


class Deploy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.built = objects(run("kubectl", "kustomize", DEPLOY))
        cls.by_kind = {}
        for o in cls.built:
            cls.by_kind.setdefault(o["kind"], []).append(o)
        cls.ds = cls.by_kind["DaemonSet"][0]
        cls.pod = cls.ds["spec"]["template"]["spec"]
        cls.ctr = cls.pod["containers"][0]

    def test_kustomization_lists_every_file(self):
        with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
            k = yaml.safe_load(f)
        self.assertEqual(sorted(k["resources"]), sorted(FILES))
        self.assertEqual(k["namespace"], "vigil")
        self.assertIn("vigil", [i["name"] for i in k["images"]])
        on_disk = {f for f in os.listdir(DEPLOY) if f.endswith(".yaml")}
        self.assertEqual(on_disk, set(FILES) | {"kustomization.yaml"})
        # every object of every file is in the build
        names = {(o["kind"], o["metadata"]["name"]) for o in self.built}
        for f in FILES:
            with open(os.path.join(DEPLOY, f)) as fh:
                for o in objects(fh.read()):
                    self.assertIn((o["kind"], o["metadata"]["name"]), names, f)

    def test_objects_are_well_formed(self):
        for o in self.built:
            self.assertTrue(o.get("apiVersion"), o)
            self.assertTrue(o.get("kind"), o)
            self.assertTrue(o.get("metadata", {}).get("name"), o)
            if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                self.assertEqual(o["metadata"].get("namespace"), "vigil", o["metadata"])
        self.assertEqual({o["kind"] for o in self.built}, KINDS)

    def test_daemonset(self):
        self.assertTrue(self.pod["hostPID"])
        self.assertEqual(self.pod["serviceAccountName"], "vigil")
        self.assertEqual(self.ds["spec"]["updateStrategy"]["type"], "RollingUpdate")
        self.assertIn({"operator": "Exists"}, self.pod["tolerations"])
        self.assertEqual(self.ctr["image"], "vigil:0.1.0")
        sc = self.ctr["securityContext"]
        self.assertIs(sc["privileged"], False)
        self.assertEqual(set(sc["capabilities"]["add"]), CAPS)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        # bpf() past a runtime's default seccomp profile; host /proc past its AppArmor one
        self.assertEqual(sc["seccompProfile"]["type"], "Unconfined")
        self.assertEqual(sc["appArmorProfile"]["type"], "Unconfined")
        probe = self.ctr["livenessProbe"]["httpGet"]
        self.assertEqual(probe["path"], "/healthz")
        self.assertIn(probe["port"], (8077, "http"))
        self.assertIn(8077, [p["containerPort"] for p in self.ctr["ports"]])
        res = self.ctr["resources"]
        self.assertTrue(res["requests"]["memory"] and res["limits"]["memory"])
        self.assertTrue(res["requests"]["cpu"] and res["limits"]["cpu"])

    def test_downward_api(self):
        env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in self.ctr["env"]}
        self.assertEqual(env["NODE_NAME"], "spec.nodeName")
        self.assertEqual(env["POD_NAME"], "metadata.name")
        self.assertEqual(env["POD_NAMESPACE"], "metadata.namespace")

    def test_mounts(self):
        vols = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["mountPath"]: m for m in self.ctr["volumeMounts"]}

        def host(path, ro):
            m = mounts[path]
            self.assertEqual(vols[m["name"]]["hostPath"]["path"], path)
            self.assertEqual(bool(m.get("readOnly")), ro, path)

        host("/sys/kernel/btf", True)
        host("/sys/fs/cgroup", False)  # kill_pod writes cgroup.kill
        host("/var/lib/containers/storage", True)
        host("/var/lib/docker", True)
        host("/var/lib/vigil", False)
        self.assertEqual(vols[mounts["/var/lib/vigil"]["name"]]["hostPath"]["type"],
                         "DirectoryOrCreate")
        # the ConfigMap as a whole directory (no subPath): its `..data` swap is seen
        cfg = mounts["/etc/vigil"]
        self.assertNotIn("subPath", cfg)
        self.assertEqual(vols[cfg["name"]]["configMap"]["name"], "vigil-config")
        self.assertIn("--config", self.ctr["command"])
        self.assertEqual(self.ctr["command"][self.ctr["command"].index("--config") + 1],
                         "/etc/vigil/vigil.conf.lua")
        self.assertEqual(self.ctr["workingDir"], "/etc/vigil")  # `vigil console` finds it
        sec = [v for v in vols.values() if "secret" in v]
        self.assertEqual(sec[0]["secret"]["secretName"], "vigil-secrets")

    def test_every_request_is_listed(self):
        found = set()
        net = os.path.join(vigtest.SRC, "core", "net")
        for f in os.listdir(net):
            if f.startswith("k8s") and f.endswith(".c"):
                with open(os.path.join(net, f)) as fh:
                    found |= set(re.findall(r'"%s(/apis?/[^"]*)"', fh.read()))
        for root, _, names in os.walk(os.path.join(vigtest.SRC, "core")):
            for n in names:
                if n.endswith(".c") and not n.startswith("k8s"):
                    with open(os.path.join(root, n)) as fh:
                        self.assertNotRegex(fh.read(), r'"[^"]*/apis?/v1', n)
        self.assertEqual(found, set(REQUESTS),
                         "vigil's API requests changed: update REQUESTS and deploy/rbac.yaml")

    def test_rbac_allows_exactly_the_requests(self):
        role = self.by_kind["ClusterRole"][0]
        allowed = set()
        for rule in role["rules"]:
            allowed |= {(v, g, r) for v in rule["verbs"] for g in rule["apiGroups"]
                        for r in rule["resources"]}
        self.assertEqual(allowed, set().union(*REQUESTS.values()))
        b = self.by_kind["ClusterRoleBinding"][0]
        self.assertEqual(b["roleRef"]["name"], role["metadata"]["name"])
        self.assertIn({"kind": "ServiceAccount", "name": "vigil", "namespace": "vigil"},
                      b["subjects"])

    def test_service_scrape(self):
        svc = self.by_kind["Service"][0]
        ann = svc["metadata"]["annotations"]
        self.assertEqual(ann["prometheus.io/scrape"], "true")
        self.assertEqual(ann["prometheus.io/port"], "8077")
        self.assertEqual(ann["prometheus.io/path"], "/metrics")
        self.assertEqual(svc["spec"]["selector"], self.ds["spec"]["selector"]["matchLabels"])
        self.assertEqual(svc["spec"]["ports"][0]["port"], 8077)

    def test_vigil_accepts_the_config(self):
        """vigil reads the ConfigMap's vigil.conf.lua (paths moved to a temporary
        directory); the same file with a misspelt key is refused, so the check is real."""
        if not os.access(vigtest.VIGIL, os.X_OK):
            self.skipTest(f"vigil binary not built at {vigtest.VIGIL}")
        cm = [o for o in self.by_kind["ConfigMap"] if o["metadata"]["name"] == "vigil-config"]
        conf = cm[0]["data"]["vigil.conf.lua"]
        self.assertIn('"0.0.0.0:8077"', conf)
        self.assertIn('"/var/lib/vigil"', conf)
        tmp = tempfile.mkdtemp()
        try:
            os.mkdir(os.path.join(tmp, "policies"))
            conf = conf.replace("/var/lib/vigil", os.path.join(tmp, "data")).replace(
                "/etc/vigil-policies", os.path.join(tmp, "policies"))
            good, bad = os.path.join(tmp, "good.lua"), os.path.join(tmp, "bad.lua")
            with open(good, "w") as f:
                f.write(conf)
            with open(bad, "w") as f:
                f.write(conf.replace("hosts =", "hostz ="))
            run(vigtest.VIGIL, "policy", "list", "--config", good)
            r = subprocess.run([vigtest.VIGIL, "policy", "list", "--config", bad],
                               capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("api.hostz", r.stderr)
        finally:
            shutil.rmtree(tmp)

    def test_notifier_example(self):
        """The ConfigMap's commented webhook example, uncommented, is a notifier vigil
        accepts, reading its password from a key of the Secret where the pod mounts it."""
        if not os.access(vigtest.VIGIL, os.X_OK):
            self.skipTest(f"vigil binary not built at {vigtest.VIGIL}")
        cm = [o for o in self.by_kind["ConfigMap"] if o["metadata"]["name"] == "vigil-config"]
        lines, on = [], False
        for line in cm[0]["data"]["vigil.conf.lua"].split("\n"):
            if on and line.startswith("  -- "):
                line = "  " + line[5:]
            on = on or "Uncomment" in line
            lines.append(line)
        conf = "\n".join(lines)
        mount = [m["mountPath"] for m in self.ctr["volumeMounts"] if m["name"] == "secrets"][0]
        key = re.search(r'file = "' + re.escape(mount) + r'/([^"]+)"', conf)
        self.assertTrue(key, "the example reads no file of the Secret's mount")
        secret = self.by_kind["Secret"][0]
        self.assertIn(key.group(1), secret["stringData"])
        self.assertIn("EXAMPLE", secret["stringData"][key.group(1)])
        tmp = tempfile.mkdtemp()
        try:
            with open(os.path.join(tmp, key.group(1)), "w") as f:
                f.write("example\n")
            conf = conf.replace(mount, tmp).replace("/var/lib/vigil", os.path.join(tmp, "d"))
            path = os.path.join(tmp, "vigil.conf.lua")
            with open(path, "w") as f:
                f.write(conf)
            out = run(vigtest.VIGIL, "notifiers", "list", "--config", path)
            self.assertRegex(out, r"(?m)^ops\s+webhook\s+yes")
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    if yaml is None:
        vigtest.cannot_run("needs PyYAML (apt-get install python3-yaml)")
    if not shutil.which("kubectl"):
        vigtest.cannot_run("needs kubectl (apt-get install kubernetes-client)")
    vigtest.run_tests()
