#!/usr/bin/env python3
"""The container image of `make image`, run as deploy/daemonset.yaml runs it: the pod spec
(parsed from the manifest, not copied here) becomes podman flags: hostPID, the
securityContext (capabilities, user, read-only root, no privilege escalation, seccomp and
AppArmor unconfined), every volume mounted where the pod mounts it (the ConfigMaps and the
Secret projected with the kubelet's `..data` layout, the service account's token, ca.crt
and namespace), the Downward API environment and the API server's address. The API server
is tests/k8s_standin.py over TLS that the mounted ca.crt verifies. vigil in the image sees
a pod's exec, deletes the pod through the API and posts the Event; its violation survives a
restart of the container on the same data directory; /healthz answers the liveness probe.
A manifest field this test cannot translate fails it, so the manifest and the test move
together. Needs root, BPF, podman and PyYAML."""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

try:
    import yaml
except ImportError:
    # Debian's python3-yaml is for Debian's python3 (see test_deploy.py)
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    yaml = None

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_k8s import StandIn  # noqa: E402

DEPLOY = os.path.join(vigtest.SRC, "deploy")
UBUNTU = "Ubuntu Package Manager Execution"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# capability numbers (linux/capability.h) of the names Kubernetes uses
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "KILL": 5,
            "SETGID": 6, "SETUID": 7, "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13,
            "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24,
            "PERFMON": 38, "BPF": 39}
# Pod and container fields this translation knows (what it ignores is said why).
POD_KEYS = {"serviceAccountName", "hostPID", "tolerations", "terminationGracePeriodSeconds",
            "containers", "volumes"}
CTR_KEYS = {"name", "image", "workingDir", "command", "args", "ports", "env", "securityContext",
            "resources", "livenessProbe", "volumeMounts"}
SC_KEYS = {"privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsUser",
           "capabilities", "seccompProfile", "appArmorProfile"}


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def project(path, files, mode=0o644):
    """A directory as the kubelet projects a ConfigMap, Secret or service account token:
    the files in a timestamped directory, `..data` a link to it, each name a link through
    `..data`."""
    os.makedirs(path)
    ts = "..2026_01_01_00_00_00.000000001"
    os.mkdir(os.path.join(path, ts))
    for name, text in files.items():
        with open(os.path.join(path, ts, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(path, ts, name), mode)
        os.symlink(os.path.join("..data", name), os.path.join(path, name))
    os.symlink(ts, os.path.join(path, "..data"))
    return path


def quantity(q, unit):
    """A Kubernetes quantity as podman takes it: memory 256Mi -> 256m, cpu 500m -> 0.5."""
    if unit == "memory":
        for suf, p in (("Gi", "g"), ("Mi", "m"), ("Ki", "k")):
            if q.endswith(suf):
                return q[:-len(suf)] + p
        return q
    return str(int(q[:-1]) / 1000) if q.endswith("m") else q


def metric(text, name):
    """The value of an unlabelled metric, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0


class ImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t = time.time()
        r = subprocess.run([os.path.join(vigtest.SRC, "scripts", "image.sh"),
                            os.path.dirname(os.path.abspath(vigtest.VIGIL))],
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise AssertionError(f"scripts/image.sh failed: {r.stderr}")
        print(f"image: {r.stderr.strip()} ({time.time() - t:.1f}s)", flush=True)
        vigtest.prepare_image()
        cls.ds = [o for o in load("daemonset.yaml") if o["kind"] == "DaemonSet"][0]
        cls.spec = cls.ds["spec"]["template"]["spec"]
        cls.ctr = cls.spec["containers"][0]
        cls.image = cls.ctr["image"]
        with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
            for i in yaml.safe_load(f).get("images", []):
                if i["name"] == cls.image.split(":")[0]:
                    cls.image = f"{i.get('newName', i['name'])}:{i.get('newTag', 'latest')}"
        # The image this binary made, by its id: another tree's test on this host may give
        # the name to its own build meanwhile (test_image checks the name).
        with open(vigtest.VIGIL, "rb") as b, open(os.path.join(vigtest.SRC, "scripts",
                                                                "image.sh"), "rb") as s:
            key = hashlib.sha256(b.read() + s.read()).hexdigest()
        info = json.loads(podman("image", "inspect", cls.image))[0]
        if info["Config"]["Labels"].get("vigil.source") != key:
            raise AssertionError(f"{cls.image} is not the image of {vigtest.VIGIL}: "
                                 "is another tree's test making its own?")
        cls.image_id = info["Id"]
        cls.tmp = tempfile.mkdtemp(prefix="vigil-image-")
        cls.marker = os.path.join(cls.tmp, "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.k = StandIn()
        self.dir = tempfile.mkdtemp(prefix="vigil-image-", dir=self.tmp)
        self.port = vigtest.free_port()
        self.name = f"vigil-image-{uuid.uuid4().hex[:8]}"
        self.ctrs = [self.name]
        self.pod_uid = str(uuid.uuid4())

    def tearDown(self):
        for c in self.ctrs:
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)
        self.k.stop()

    # ---- the DaemonSet as podman flags -------------------------------------------------

    def volume(self, name, mount):
        """The host directory a volume of the pod spec is, made as Kubernetes makes it."""
        vol = [v for v in self.spec["volumes"] if v["name"] == name][0]
        where = os.path.join(self.dir, "vol-" + name)
        if "configMap" in vol:
            cm = [o for o in load("configmap.yaml") if o["metadata"]["name"] ==
                  vol["configMap"]["name"]][0]
            files = dict(cm.get("data") or {})
            if "vigil.conf.lua" in files:
                files["vigil.conf.lua"] = self.adapt(files["vigil.conf.lua"])
            return project(where, files)
        if "secret" in vol:
            sec = [o for o in load("secret.yaml") if o["metadata"]["name"] ==
                   vol["secret"]["secretName"]][0]
            return project(where, sec.get("stringData") or {},
                           vol["secret"].get("defaultMode", 0o644))
        if "emptyDir" in vol:
            os.mkdir(where)
            os.chmod(where, 0o777)  # as the kubelet makes one
            return where
        path = vol["hostPath"]["path"]
        if path == "/var/lib/vigil":  # the data directory: a new one, not this host's
            os.mkdir(where, 0o700)
            self.data = where
            return where
        if os.path.isdir(path):
            return path
        # no such directory here: Kubernetes would make it (empty) unless the type says it
        # must exist; an empty one elsewhere leaves this host as it is
        self.assertNotIn(vol["hostPath"].get("type"), ("Directory",), f"no {path} here")
        os.mkdir(where)
        return where

    def adapt(self, conf):
        """The ConfigMap's vigil.conf.lua, with the API on a free port of 127.0.0.1 (the
        container shares this host's network to reach the stand-in)."""
        self.assertIn('listen = "0.0.0.0:8077"', conf)
        return conf.replace('listen = "0.0.0.0:8077"', f'listen = "127.0.0.1:{self.port}"')

    def env(self):
        field = {"spec.nodeName": "testnode", "metadata.name": "vigil-x7k2p",
                 "metadata.namespace": "vigil", "metadata.uid": self.pod_uid}
        out = {}
        for e in self.ctr.get("env", []):
            if "value" in e:
                out[e["name"]] = e["value"]
            else:
                out[e["name"]] = field[e["valueFrom"]["fieldRef"]["fieldPath"]]
        # what the kubelet adds for the API server, and the service account's files
        out["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
        out["KUBERNETES_SERVICE_PORT"] = str(self.k.port)
        return out

    def run_args(self, spec=None, ctr=None):
        spec, ctr = spec or self.spec, ctr or self.ctr
        self.assertFalse(set(spec) - POD_KEYS, "pod spec fields this test does not translate")
        self.assertFalse(set(ctr) - CTR_KEYS, "container fields this test does not translate")
        a = ["run", "-d", "--name", self.name, "--pull=never", "--network=host",
             # the kubelet's pod cgroup (requests and limits: Burstable)
             "--cgroup-parent", f"/kubepods/burstable/pod{self.pod_uid}"]
        if spec.get("hostPID"):
            a.append("--pid=host")
        a += ["--stop-timeout", str(spec.get("terminationGracePeriodSeconds", 30))]
        sc = ctr.get("securityContext", {})
        self.assertFalse(set(sc) - SC_KEYS, "securityContext fields this test does not translate")
        if sc.get("privileged"):
            a.append("--privileged")
        for c in sc.get("capabilities", {}).get("drop", []):
            a += ["--cap-drop", c if c == "ALL" else "CAP_" + c]
        for c in sc.get("capabilities", {}).get("add", []):
            a += ["--cap-add", "CAP_" + c]
        if "runAsUser" in sc:
            a += ["--user", str(sc["runAsUser"])]
        if sc.get("readOnlyRootFilesystem"):
            a += ["--read-only", "--read-only-tmpfs=false"]  # Kubernetes adds no tmpfs
        if sc.get("allowPrivilegeEscalation") is False:
            a += ["--security-opt", "no-new-privileges"]
        for key, opt in (("seccompProfile", "seccomp"), ("appArmorProfile", "apparmor")):
            kind = sc.get(key, {}).get("type", "RuntimeDefault")
            if kind == "Unconfined":
                a += ["--security-opt", f"{opt}=unconfined"]
            else:
                self.assertEqual(kind, "RuntimeDefault", key)
        lim = ctr.get("resources", {}).get("limits", {})
        if "memory" in lim:
            a += ["--memory", quantity(lim["memory"], "memory")]
        if "cpu" in lim:
            a += ["--cpus", quantity(lim["cpu"], "cpu")]
        for k, v in self.env().items():
            a += ["--env", f"{k}={v}"]
        for m in ctr.get("volumeMounts", []):
            self.assertNotIn("subPath", m)
            src = self.volume(m["name"], m["mountPath"])
            a += ["--volume", f"{src}:{m['mountPath']}:{'ro' if m.get('readOnly') else 'rw'}"]
        if spec.get("serviceAccountName"):
            with open(os.path.join(self.k.dir, "cert.pem")) as f:
                ca = f.read()  # the stand-in's self-signed certificate: it verifies it
            sa = project(os.path.join(self.dir, "serviceaccount"),
                         {"token": self.k.token, "namespace": "vigil", "ca.crt": ca})
            a += ["--volume", f"{sa}:{SA_DIR}:ro"]
        if "workingDir" in ctr:
            a += ["--workdir", ctr["workingDir"]]
        # command replaces the image's ENTRYPOINT, args its CMD (none: the CMD is dropped)
        a += ["--entrypoint", json.dumps(ctr["command"]), self.image_id, *ctr.get("args", [])]
        return a

    # ---- talking to it ------------------------------------------------------------------

    def req(self, path, token=True):
        r = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            with open(os.path.join(self.data, "api.token")) as f:
                r.add_header("Authorization", f"Bearer {f.read().strip()}")
        try:
            with urllib.request.urlopen(r, timeout=5) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text.startswith("{") else text)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def logs(self):
        return podman("logs", self.name, check=False)[-3000:]

    def wait(self, pred, timeout=30, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = pred()
            except (OSError, ValueError):
                v = None
            if v:
                return v
            if podman("inspect", "-f", "{{.State.Status}}", self.name, check=False) != "running":
                break
            time.sleep(0.1)
        state = podman("inspect", "-f", "{{.State.Status}} exit {{.State.ExitCode}}", self.name,
                       check=False)
        raise AssertionError(f"timed out waiting for {what}; {self.name}: {state}; "
                             f"its log:\n{self.logs()}")

    def live(self):
        """The liveness probe: an HTTP GET of its path on its port, no token."""
        probe = self.ctr["livenessProbe"]["httpGet"]
        port = probe["port"]
        if isinstance(port, str):
            self.assertIn(port, [p["name"] for p in self.ctr["ports"]])
        status, _ = self.req(probe["path"], token=False)
        return status == 200

    def start_pod(self):
        """A pod's container, under its pod cgroup, with the trigger at /tmp/dpkg."""
        uid = str(uuid.uuid4())
        cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                     f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
        self.ctrs.append(cid)
        self.k.add_pod(uid, "web-1", "shop", cids=[cid])
        podman("cp", self.marker, f"{cid}:/tmp/dpkg")
        return uid, cid

    # ---- the tests ----------------------------------------------------------------------

    def test_image(self):
        """What the DaemonSet asks of the image: its name is the project's version, it runs
        the user and directory the pod spec names, and it is small."""
        info = json.loads(podman("image", "inspect", self.image))[0]
        with open(os.path.join(os.path.dirname(os.path.abspath(vigtest.VIGIL)),
                               "CMakeCache.txt")) as f:
            version = [line.split("=")[1] for line in f
                       if line.startswith("CMAKE_PROJECT_VERSION:")][0].strip()
        self.assertEqual(self.image, f"vigil:{version}")
        self.assertEqual(info["Config"]["Labels"]["org.opencontainers.image.version"], version)
        sc = self.ctr["securityContext"]
        self.assertEqual(info["Config"]["User"].split(":")[0], str(sc["runAsUser"]))
        self.assertEqual(info["Config"]["WorkingDir"], self.ctr["workingDir"])
        self.assertLess(info["Size"], 50_000_000)
        # the latest tag is the same image
        self.assertEqual(podman("image", "inspect", "-f", "{{.Id}}", "localhost/vigil:latest"),
                         info["Id"])

    def test_daemonset_in_the_image(self):
        uid, cid = self.start_pod()
        args = self.run_args()
        print("the DaemonSet as podman runs it:", shlex.join(["podman", *args]), flush=True)
        podman(*args)
        self.wait(self.live, what="/healthz")
        self.wait(lambda: "vigil_k8s_pods 1" in self.req("/metrics")[1], what="the node's pods")
        # what the process really got: the pod spec's user, exactly its capabilities, and
        # no privilege escalation
        pid = podman("inspect", "-f", "{{.State.Pid}}", self.name)
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        sc = self.ctr["securityContext"]
        self.assertEqual(st["Uid"].split()[0], str(sc["runAsUser"]))
        want = sum(1 << CAP_BITS[c] for c in sc["capabilities"]["add"])
        # (a capability this host's own bounding set lacks cannot be granted to anything
        # started here: on some test machines, CAP_SYS_RESOURCE)
        with open("/proc/self/status") as f:
            here = [int(line.split()[1], 16) for line in f if line.startswith("CapBnd:")][0]
        self.assertEqual(int(st["CapEff"], 16), want & here)
        self.assertEqual(st["NoNewPrivs"].strip(), "1")
        with open(f"/proc/{pid}/cmdline") as f:  # command and args, not the image's CMD
            self.assertEqual(f.read().split("\0")[:-1],
                             self.ctr["command"] + self.ctr.get("args", []))
        # inform first: the pod's metadata from the API server, the container's name and
        # image from the runtime's storage (its mount), executables hashed through their
        # /proc entries (hostPID, CAP_SYS_PTRACE)
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark", "1000"],
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # (other tests on this host may run dpkg in their containers: this pod's alert)
        a = self.wait(lambda: [x for x in self.req("/v1/alerts")[1]["alerts"]
                               if x["policy"]["name"] == UBUNTU and x["podUid"] == uid],
                      what="the alert")[0]
        a = self.req(f"/v1/alerts/{a['id']}")[1]
        self.assertEqual((a["namespace"], a["pod"], a["podUid"]), ("shop", "web-1", uid))
        self.assertEqual(a["containerName"], podman("inspect", "-f", "{{.Name}}", cid))
        self.assertEqual(a["image"], IMAGE)
        # (without CAP_SYS_PTRACE no other container's /proc/PID/exe opens: nothing hashed)
        self.wait(lambda: metric(self.req("/metrics")[1], "vigil_content_files_hashed_total"),
                  what="executables hashed")
        # the policy to enforce, from inside the pod as an operator does (kubectl exec):
        # the CLI finds vigil.conf.lua in the working directory
        out = podman("exec", self.name, "vigil", "policy", "enforce", UBUNTU)
        self.assertIn("kill_pod", out)
        r = subprocess.run(["podman", "exec", cid, "/tmp/dpkg", "/tmp/mark"],
                           capture_output=True)
        self.assertEqual(r.returncode, 137, r.stderr)
        # the container's cgroup killed (the host's /sys/fs/cgroup, written from the pod)
        self.wait(lambda: podman("inspect", "-f", "{{.State.Status}}", cid) != "running",
                  what="the pod's container killed")
        log = self.wait(lambda: (lambda x: x if x["events"] else None)(self.k.log()),
                        what="the Event")
        dels = [e for e in log["log"] if e["method"] == "DELETE"]
        self.assertEqual([d["path"] for d in dels], ["/api/v1/namespaces/shop/pods/web-1"])
        self.assertEqual(json.loads(dels[0]["body"])["preconditions"], {"uid": uid})
        self.assertEqual(dels[0]["auth"], f"Bearer {self.k.token}")
        ev = log["events"][0]
        self.assertEqual((ev["type"], ev["involvedObject"]["uid"]), ("Warning", uid))
        # the store is the hostPath's: a restart of the container keeps the violation
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        podman("stop", "-t", str(grace), self.name)
        self.assertEqual(podman("inspect", "-f", "{{.State.ExitCode}}", self.name), "0",
                         self.logs())
        podman("start", self.name)
        self.wait(self.live, what="/healthz after the restart")
        alerts = self.wait(lambda: self.req("/v1/alerts?query=State:ALL")[1]["alerts"],
                           what="the alerts after the restart")
        mine = [a for a in alerts if a["policy"]["name"] == UBUNTU and a["podUid"] == uid]
        self.assertEqual([(a["pod"], a["violations"]) for a in mine], [("web-1", 2)], alerts)
        self.assertEqual(mine[0]["enforcement"]["action"], "kill_pod (Kubernetes)")


if __name__ == "__main__":
    vigtest.require_bpf()
    if yaml is None:
        vigtest.cannot_run("needs PyYAML (apt-get install python3-yaml)")
    if not shutil.which("podman"):
        vigtest.cannot_run("needs podman (scripts/deps.sh installs it)")
    vigtest.run_tests()
