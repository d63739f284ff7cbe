#!/usr/bin/env python3
"""Process baselines through the REST API and the CLI, against a real daemon and a real
podman container: every endpoint (list by query, one by key, add and remove elements,
lock, delete, alert resolve with addToBaseline) and every `vigil baselines` command, with
each bad input the issue names: unknown keys (404), malformed JSON (400), a lock on a key
that does not exist (404), a relative path (400), a duplicate element (400), DELETE without
confirm (400), add to baseline from a host process's alert (400). The CLI is run through
the API and on the stopped daemon's store."""
import json
import os
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
UBUNTU = "Ubuntu Package Manager Execution"
HOST_NAME = "vg-blhost"
D = None
TMP = None
DATA = None
CTR = None
CTR_NAME = f"vg-bl-{os.getpid()}"
UNKNOWN = "ffffffffffffffff"


def bl(*args, data=None):
    """`vigil baselines ARGS --data-dir DATA`."""
    return subprocess.run([V, "baselines", *args, "--data-dir", data or DATA],
                          capture_output=True, text=True, timeout=60)


def violations(*args):
    return subprocess.run([V, "violations", *args, "--data-dir", DATA],
                          capture_output=True, text=True, timeout=60)


def q(s):
    return urllib.parse.quote(s, safe="")


def start_all():
    global D, TMP, DATA, CTR
    vigtest.prepare_image()
    TMP = tempfile.mkdtemp(prefix="vigil-blapi-")
    os.chmod(TMP, 0o755)
    pdir = os.path.join(TMP, "policies")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "host.lua"), "w") as f:
        f.write("return policy { name = 'Baseline test host', severity = 'low', "
                f"scope = {{ host = true }}, match = {{ process_name = '{HOST_NAME}' }} }}\n")
    DATA = os.path.join(TMP, "data")
    os.makedirs(DATA)
    conf = os.path.join(DATA, "vigil.conf.lua")
    with open(conf, "w") as f:
        f.write(f'return {{ policy_dir = "{pdir}" }}\n')
    D = Daemon(DATA, vigtest.free_port(), "--config", conf)
    CTR = podman("run", "-d", "--name", CTR_NAME, "--network", "none", IMAGE, "sleep",
                 "infinity")
    podman("exec", CTR, "cp", "/bin/true", "/tmp/dpkg")


def stop_all():
    if D:
        D.stop()
    if CTR:
        subprocess.run(["podman", "rm", "-f", "-t", "0", CTR], capture_output=True)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def setUpModule():
    try:
        start_all()
    except BaseException:
        stop_all()  # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    stop_all()


def wait_alert(policy, pred=lambda a: True, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, body = D.req("GET", "/v1/alerts?query=" + q(f"Policy:{policy}"))
        hits = [a for a in body["alerts"] if pred(a)]
        if hits:
            return hits[0]
        time.sleep(0.05)
    raise AssertionError(f"no alert for {policy}: {D.text()[-3000:]}")


def container_baseline(timeout=5):
    """The container's baseline once the daemon learned it, else None."""
    podman("exec", CTR, "/bin/ls", "/")
    deadline = time.time() + timeout
    while time.time() < deadline:
        code, body = D.req("GET", "/v1/processbaselines?query=" + q(f"Container Name:{CTR_NAME}"))
        assert code == 200, body
        if body["baselines"]:
            return body["baselines"][0]
        time.sleep(0.1)
    return None


def key_of(b):
    k = b["key"]
    return {"namespace": k["namespace"], "deploymentId": k["deploymentId"],
            "containerName": k["containerName"], "image": k["image"]}


def paths(b):
    return [e["element"]["processName"] for e in b["elements"]]


class BadInput(unittest.TestCase):
    """What needs no baseline: every error path of every endpoint and command."""

    def fails(self, method, path, code, body=None, raw=None, said=None):
        got, ans = D.req(method, path, body=body, raw=raw)
        self.assertEqual(got, code, ans)
        self.assertEqual(ans["code"], code, ans)
        if said:
            self.assertIn(said, ans["error"])
        return ans

    def test_list_and_its_bad_queries(self):
        code, body = D.req("GET", "/v1/processbaselines")
        self.assertEqual(code, 200, body)
        self.assertIsInstance(body["baselines"], list)
        self.assertEqual(body["total"], len(body["baselines"]))
        self.fails("GET", "/v1/processbaselines?query=Pod:x", 400, said="unknown query key")
        self.fails("GET", "/v1/processbaselines?query=Locked:maybe", 400, said="Locked")
        self.fails("GET", "/v1/processbaselines?pagination.limit=0", 400)
        self.fails("GET", "/v1/processbaselines?color=red", 400, said="unknown parameter")
        code, body = D.req("GET", "/v1/processbaselines?query=Namespace:none%2BLocked:true")
        self.assertEqual((code, body["total"]), (200, 0), body)

    def test_key_unknown_and_missing(self):
        self.fails("GET", f"/v1/processbaselines/key?id={UNKNOWN}", 404,
                   said="vigil baselines list")
        self.fails("GET", "/v1/processbaselines/key?key.namespace=a&key.deploymentId=b"
                   "&key.containerName=c", 404, said="a/b/c")
        self.fails("GET", "/v1/processbaselines/key", 400, said="name the baseline")
        self.fails("GET", "/v1/processbaselines/key?alertId=nope", 404)

    def test_put_bad_bodies(self):
        self.fails("PUT", "/v1/processbaselines", 400, raw=b'{"keys": [', said="malformed JSON")
        self.fails("PUT", "/v1/processbaselines", 400, raw=b"[]")
        self.fails("PUT", "/v1/processbaselines", 400, body={"keys": []}, said="keys")
        self.fails("PUT", "/v1/processbaselines", 404,
                   body={"keys": [{"id": UNKNOWN}],
                         "addElements": [{"processName": "/bin/x"}]}, said=UNKNOWN)
        self.fails("PUT", "/v1/processbaselines", 400,
                   body={"keys": [{"id": UNKNOWN}], "colour": 1}, said="unknown member")

    def test_lock_unknown_key_is_404(self):
        self.fails("PUT", "/v1/processbaselines/lock", 404,
                   body={"keys": [{"namespace": "no", "deploymentId": "such",
                                   "containerName": "key"}], "locked": True}, said="no/such/key")
        self.fails("PUT", "/v1/processbaselines/lock", 400,
                   body={"keys": [{"id": UNKNOWN}], "locked": "yes"}, said="locked")
        self.fails("PUT", "/v1/processbaselines/lock", 400, raw=b"{nope", said="malformed")

    def test_delete_needs_confirm(self):
        self.fails("DELETE", "/v1/processbaselines?query=Namespace:x", 400, said="confirm=true")
        self.fails("DELETE", "/v1/processbaselines?query=Namespace:x&confirm=yes", 400)
        code, body = D.req("DELETE", "/v1/processbaselines?query=Namespace:none&confirm=true")
        self.assertEqual((code, body), (200, {"deleted": 0}))

    def test_methods(self):
        got, ans = D.req("POST", "/v1/processbaselines", body={})
        self.assertEqual(got, 405, ans)
        got, ans = D.req("GET", "/v1/processbaselines/lock")
        self.assertEqual(got, 405, ans)
        got, _ = D.req("GET", "/v1/processbaselines", token=False)
        self.assertEqual(got, 401)

    def test_resolve_bodies(self):
        """The old no-body resolve still works; a bad body is a 400; a host process's alert
        has no baseline to add to (400, and it stays active)."""
        exe = os.path.join(TMP, HOST_NAME)
        shutil.copy("/bin/true", exe)
        subprocess.run([exe], check=True)
        alert = wait_alert("Baseline test host", lambda a: a["state"] == "ACTIVE")
        path = f"/v1/alerts/{alert['id']}/resolve"
        self.fails("PATCH", path, 400, raw=b"{bad", said="malformed")
        self.fails("PATCH", path, 400, body={"addToBaseline": "yes"}, said="addToBaseline")
        self.fails("PATCH", path, 400, body={"addToBaseline": True}, said="host process")
        _, a = D.req("GET", f"/v1/alerts/{alert['id']}")
        self.assertEqual(a["state"], "ACTIVE")
        r = violations("resolve", alert["id"], "--add-to-baseline")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("host process", r.stderr)
        code, a = D.req("PATCH", path)
        self.assertEqual((code, a["state"]), (200, "RESOLVED"), a)
        self.fails("PATCH", "/v1/alerts/00000000-0000-0000-0000-000000000000/resolve", 404,
                   body={"addToBaseline": True})

    def test_cli_errors(self):
        r = bl("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("lock KEY...|--namespace N|--all", r.stdout)
        r = bl("list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsInstance(json.loads(r.stdout), list)
        for args in (["show", UNKNOWN], ["lock", "no/such/key"], ["add", UNKNOWN, "/bin/x"],
                     ["remove", "a/b/c", "/bin/x"]):
            r = bl(*args)
            self.assertEqual(r.returncode, 1, (args, r.stdout))
            self.assertIn("vigil baselines list", r.stderr, args)
        for args in (["lock"], ["lock", "x", "--all"], ["add", UNKNOWN], ["show"],
                     ["list", "--locked", "--unlocked"], ["frob"], ["list", "--bogus"]):
            r = bl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
        r = violations("list", "--add-to-baseline")
        self.assertEqual(r.returncode, 2, r.stderr)


class Learned(unittest.TestCase):
    """What needs the container's learned baseline."""

    @classmethod
    def setUpClass(cls):
        cls.b = container_baseline()
        if cls.b is None:
            _, every = D.req("GET", "/v1/processbaselines")
            raise AssertionError(f"no baseline learned for {CTR_NAME}: {every}\n"
                                 f"{D.text()[-2000:]}")

    def fresh(self):
        code, b = D.req("GET", f"/v1/processbaselines/key?id={self.b['id']}")
        self.assertEqual(code, 200, b)
        return b

    def test_a_learned_and_found_every_way(self):
        self.assertIn("/bin/ls", paths(self.b) + [p.replace("/usr", "") for p in paths(self.b)])
        k = key_of(self.b)
        query = "&".join(f"key.{n}={q(v)}" for n, v in k.items() if v)
        code, b = D.req("GET", f"/v1/processbaselines/key?{query}")
        self.assertEqual((code, b["id"]), (200, self.b["id"]), b)
        r = bl("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = next(line for line in r.stdout.splitlines() if self.b["id"] in line)
        text = line.split()[-1]
        self.assertTrue(text.endswith("/" + CTR_NAME), line)
        for arg in (self.b["id"], text):
            r = bl("show", arg, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["id"], self.b["id"])

    def test_b_add_remove_and_their_errors(self):
        key = {"id": self.b["id"]}
        new = f"/usr/local/bin/vg-new-{os.getpid()}"
        code, ans = D.req("PUT", "/v1/processbaselines",
                          body={"keys": [key], "addElements": [{"processName": new}]})
        self.assertEqual(code, 200, ans)
        self.assertIn(new, paths(ans["baselines"][0]))
        el = next(e for e in ans["baselines"][0]["elements"]
                  if e["element"]["processName"] == new)
        self.assertFalse(el["auto"])
        for body, said in (
                ({"keys": [key], "addElements": [{"processName": new}]}, "duplicate"),
                ({"keys": [key], "addElements": [{"processName": "bin/rel"}]}, "absolute"),
                ({"keys": [key], "addElements": [{"processName": "/x"}, {"processName": "/x"}]},
                 "duplicate"),
                ({"keys": [key, {"id": UNKNOWN}], "addElements": [{"processName": "/y"}]},
                 UNKNOWN)):
            code, ans = D.req("PUT", "/v1/processbaselines", body=body)
            self.assertIn(code, (400, 404, 409), ans)
            self.assertIn(said, ans["error"])
        self.assertNotIn("/y", paths(self.fresh()))  # nothing changed
        code, ans = D.req("PUT", "/v1/processbaselines",
                          body={"keys": [key], "removeElements": [{"processName": new}]})
        self.assertEqual(code, 200, ans)
        self.assertIn(new, [e["element"]["processName"]
                            for e in ans["baselines"][0]["elementGraveyard"]])
        # the CLI
        r = bl("add", self.b["id"], new + "-cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = bl("add", self.b["id"], new + "-cli")
        self.assertEqual(r.returncode, 1)
        self.assertIn("duplicate", r.stderr)
        r = bl("add", self.b["id"], "relative/x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("absolute", r.stderr)
        r = bl("remove", self.b["id"], new + "-cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(new + "-cli", paths(self.fresh()))

    def test_c_lock_unlock(self):
        code, ans = D.req("PUT", "/v1/processbaselines/lock",
                          body={"keys": [key_of(self.b)], "locked": True})
        self.assertEqual(code, 200, ans)
        self.assertTrue(ans["baselines"][0]["locked"])
        self.assertIsNotNone(ans["baselines"][0]["userLockedTimestamp"])
        code, body = D.req("GET", "/v1/processbaselines?query=" + q(
            f"Container Name:{CTR_NAME}+Locked:true"))
        self.assertEqual(body["total"], 1, body)
        r = bl("unlock", self.b["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.fresh()["locked"])
        r = bl("lock", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.fresh()["locked"])
        r = bl("list", "--unlocked", "--json")
        self.assertNotIn(self.b["id"], [b["id"] for b in json.loads(r.stdout)])
        r = bl("unlock", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_d_add_to_baseline_from_alerts(self):
        """An alert of the container (dpkg): show ALERT_ID finds the baseline; resolve with
        addToBaseline puts the exe in it and resolves the alert; the CLI does the same."""
        podman("exec", CTR, "/usr/bin/dpkg", "--version")
        alert = wait_alert(UBUNTU, lambda a: a["state"] == "ACTIVE" and
                           a.get("containerId") == CTR)
        r = bl("show", alert["id"], "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["id"], self.b["id"])
        if "/usr/bin/dpkg" in paths(self.fresh()):
            D.req("PUT", "/v1/processbaselines",
                  body={"keys": [{"id": self.b["id"]}],
                        "removeElements": [{"processName": "/usr/bin/dpkg"}]})
        code, a = D.req("PATCH", f"/v1/alerts/{alert['id']}/resolve",
                        body={"addToBaseline": True})
        self.assertEqual((code, a["state"]), (200, "RESOLVED"), a)
        self.assertIn("/usr/bin/dpkg", paths(self.fresh()))
        # the CLI: the renamed copy
        podman("exec", CTR, "/tmp/dpkg")
        alert = wait_alert(UBUNTU, lambda a: a["state"] == "ACTIVE" and
                           a.get("containerId") == CTR)
        r = violations("resolve", alert["id"], "--add-to-baseline")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/tmp/dpkg", paths(self.fresh()))

    def test_e_offline_then_delete(self):
        """The CLI on the stopped daemon's store, then the daemon again: DELETE forgets it."""
        global D
        port = D.port
        self.assertEqual(D.stop(), 0)
        try:
            r = bl("list")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(self.b["id"], r.stdout)
            r = bl("lock", self.b["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = bl("add", self.b["id"], "/opt/offline")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = bl("show", UNKNOWN)
            self.assertEqual(r.returncode, 1)
            self.assertIn("vigil baselines list", r.stderr)
        finally:
            D = Daemon(DATA, port, "--config", os.path.join(DATA, "vigil.conf.lua"))
        b = self.fresh()
        self.assertTrue(b["locked"])
        self.assertIn("/opt/offline", paths(b))
        code, ans = D.req("DELETE", "/v1/processbaselines?query=" + q(
            f"Container Name:{CTR_NAME}") + "&confirm=true")
        self.assertEqual((code, ans), (200, {"deleted": 1}))
        code, _ = D.req("GET", f"/v1/processbaselines/key?id={self.b['id']}")
        self.assertEqual(code, 404)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
