#!/usr/bin/env python3
"""`vigil run` end to end: a package manager in a real container becomes a
stored alert with its forensic detail, visible through the CLI and the REST
API; every API endpoint, its auth and each class of bad input; resolutions
and policy settings survive restarts; acknowledged violations survive kill -9;
a damaged store is repaired and reported; one daemon per data dir; bad config."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"
V = vigtest.VIGIL




class Daemon:
    def __init__(self, data, port, *extra, preexec=None):
        self.data, self.port = data, port
        self.log = open(os.path.join(data + ".log"), "w+")  # this run's output only
        self.proc = subprocess.Popen([V, "run", "--data-dir", data, "--listen",
                                      f"127.0.0.1:{port}", *extra],
                                     stdout=self.log, stderr=self.log, preexec_fn=preexec)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"vigil run exited: {self.text()}")
            if "ready:" in self.text():
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"vigil run not ready: {self.text()}")
        with open(os.path.join(data, "api.token")) as f:
            self.token = f.read().strip()

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def req(self, method, path, body=None, token=True, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        r = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                   method=method)
        if token:
            r.add_header("Authorization", f"Bearer {self.token if token is True else token}")
        for k, v in (headers or {}).items():
            r.add_header(k, v)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text.startswith("{") else text)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, (json.loads(text) if text.startswith("{") else text)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        return self.proc.returncode


def cli(data, *args):
    return subprocess.run([V, "violations", *args, "--data-dir", data], capture_output=True,
                          text=True, timeout=60)


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.pod = str(uuid.uuid4())
        cls.cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                         f"/kubepods/besteffort/pod{cls.pod}", IMAGE, "sleep", "infinity")
        podman("exec", cls.cid, "cp", "/bin/true", "/tmp/dpkg")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["podman", "rm", "-f", "-t", "0", cls.cid], capture_output=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-daemon-")
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)

    def wait_alert(self, policy=UBUNTU, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            code, body = self.d.req("GET", "/v1/alerts")
            hits = [a for a in body["alerts"] if a["policy"]["name"] == policy]
            if hits:
                return hits[0]
            time.sleep(0.05)
        raise AssertionError(f"no alert for {policy}: {self.d.text()}")

    def test_end_to_end(self):
        self.d = Daemon(self.data, self.port)
        subprocess.run(["/usr/bin/dpkg", "--version"], capture_output=True, check=True)
        t0 = time.time()
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        alert = self.wait_alert()
        self.assertLess(time.time() - t0, 1.5)  # podman exec's own start-up included
        self.assertEqual(alert["podUid"], self.pod)
        self.assertEqual(alert["containerId"], self.cid)
        self.assertEqual(alert["state"], "ACTIVE")
        self.assertEqual(alert["message"],
                         "Binary '/usr/bin/dpkg' executed with arguments '--version' under user ID 0")
        code, full = self.d.req("GET", f"/v1/alerts/{alert['id']}")
        self.assertEqual(code, 200)
        proc = full["processes"][0]
        self.assertEqual(proc["args"], "--version")
        self.assertEqual(proc["uid"], 0)
        self.assertEqual(proc["execFilePath"], "/usr/bin/dpkg")
        self.assertEqual(proc["containerId"], self.cid[:12])
        self.assertTrue(proc["lineage"] and proc["lineage"][0]["parentExecFilePath"], proc)
        # only the container's dpkg: the host's is not a violation
        code, body = self.d.req("GET", "/v1/alerts?query=Policy:" + UBUNTU.replace(" ", "%20"))
        self.assertEqual(body["total"], 1)
        # the CLI, through the API
        r = cli(self.data, "list", "--policy", UBUNTU, "--config", self.conf())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(alert["id"], r.stdout)
        r = cli(self.data, "show", alert["id"], "--config", self.conf())
        self.assertIn("args:  --version", r.stdout)
        r = cli(self.data, "resolve", alert["id"], "--config", self.conf())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.d.stop(), 0)
        self.d = None
        # resolved after a restart, seen offline ...
        r = cli(self.data, "list", "--state", "resolved")
        self.assertIn(alert["id"], r.stdout)
        # ... and by the restarted daemon
        self.d = Daemon(self.data, self.port)
        code, body = self.d.req("GET", "/v1/alerts?query=State:RESOLVED")
        self.assertEqual([a["id"] for a in body["alerts"]], [alert["id"]])

    def conf(self):
        path = os.path.join(self.data, "cli.conf.lua")
        with open(path, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }} }}\n')
        return path

    def test_api_endpoints_and_bad_input(self):
        self.d = Daemon(self.data, self.port)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        alert = self.wait_alert()
        d = self.d
        # auth
        self.assertEqual(d.req("GET", "/v1/alerts", token=False)[0], 401)
        self.assertEqual(d.req("GET", "/v1/alerts", token="wrong-token-0123456789")[0], 401)
        self.assertEqual(d.req("GET", "/healthz", token=False), (200, {"status": "ok"}))
        self.assertEqual(os.stat(os.path.join(self.data, "api.token")).st_mode & 0o777, 0o600)
        # every endpoint
        self.assertEqual(d.req("GET", f"/v1/alerts/{alert['id']}")[0], 200)
        code, body = d.req("GET", "/v1/policies")
        self.assertEqual(code, 200)
        self.assertEqual(len(body["policies"]), 32)
        self.assertNotIn("criteria", body["policies"][0])  # the list stays small
        self.assertNotIn("tests", body["policies"][0])
        code, pol = d.req("GET", "/v1/policies/ubuntu-package-manager-execution")
        self.assertEqual((code, pol["name"], pol["disabled"]), (200, UBUNTU, False))
        # its definition, as policies/ubuntu_package_manager.lua says it
        self.assertEqual(pol["criteria"], [{"process_name": ["apt-get", "apt", "dpkg"]}])
        self.assertEqual((pol["scope"], pol["exclusions"]), ({}, []))
        self.assertEqual((pol["hasCheck"], pol["check"]), (False, None))
        self.assertFalse(pol["definitionTruncated"])
        self.assertEqual(len(pol["tests"]), 15)
        self.assertEqual(pol["tests"][0], {"ev": {"exe": "/usr/bin/apt", "args": "update"},
                                           "expect": True})
        self.assertEqual([t["expect"] for t in pol["tests"]],
                         [True] * 4 + [False] * 3 + [True] * 4 + [False] * 4)
        self.assertEqual(pol["tests"][10]["ev"]["content"], ["dpkg"])
        code, pol = d.req("GET", "/v1/policies/" + UBUNTU.replace(" ", "%20"))
        self.assertEqual(code, 200)
        code, m = d.req("GET", "/metrics")
        self.assertEqual(code, 200)
        for name in ("vigil_sensor_exec_seen_total", "vigil_violations_durable_total",
                     "vigil_store_fsyncs_total", 'vigil_policy_matches_total{policy="Ubuntu',
                     "vigil_fastpath_rejected_total", "vigil_events_suppressed_total"):
            self.assertIn(name, m)
        code, body = d.req("GET", "/v1/alerts?query=Policy:nope")
        self.assertEqual((code, body["total"]), (200, 0))
        # a part of a policy name, severity, free text (exe, any case), all terms at once
        for q in ("Policy:ubuntu%20package", "Severity:LOW", "DPKG", "dpkg%2BSeverity:low"):
            code, body = d.req("GET", "/v1/alerts?query=" + q)
            self.assertEqual(code, 200, q)
            self.assertIn(alert["id"], [a["id"] for a in body["alerts"]], q)
        for q in ("Severity:critical%2Bdpkg", "dpkg%2Bno-such-word"):
            code, body = d.req("GET", "/v1/alerts?query=" + q)
            self.assertNotIn(alert["id"], [a["id"] for a in body["alerts"]], q)
        code, body = d.req("GET", "/v1/alerts?pagination.limit=1&pagination.offset=0")
        self.assertEqual((code, len(body["alerts"])), (200, 1))
        # bad input: each a 4xx with a JSON error naming the problem
        cases = [
            ("GET", "/v1/alerts?query=Color:red", None, None, 400, "unknown query key 'Color'"),
            ("GET", "/v1/alerts?query=:text", None, None, 400, "write Key:Value"),
            ("GET", "/v1/alerts?query=Severity:urgent", None, None, 400, "Severity is low"),
            ("GET", "/v1/alerts?query=State:sleepy", None, None, 400, "State is ACTIVE"),
            ("GET", "/v1/alerts?pagination.limit=0", None, None, 400, "pagination.limit"),
            ("GET", "/v1/alerts?pagination.limit=abc", None, None, 400, "pagination.limit"),
            ("GET", "/v1/alerts/no-such-id", None, None, 404, "no alert with id"),
            ("PATCH", "/v1/alerts/no-such-id/resolve", None, b"", 404, "no alert with id"),
            ("GET", "/v1/policies/no-such-policy", None, None, 404, "no policy"),
            ("PATCH", "/v1/policies/systemd-execution", None, b"{not json", 400, "malformed JSON"),
            ("PATCH", "/v1/policies/systemd-execution", None, b"[1]", 400, "must be a JSON object"),
            ("PATCH", "/v1/policies/systemd-execution", None, b"", 400, "needs a JSON body"),
            ("PATCH", "/v1/policies/systemd-execution", {"disabled": "yes"}, None, 400, "true or false"),
            ("PATCH", "/v1/policies/systemd-execution", {"colour": 1}, None, 400, "unknown field 'colour'"),
            ("PATCH", "/v1/policies/systemd-execution", {"enforcement": "nuke"}, None, 400, "enforcement"),
            ("PATCH", "/v1/alerts/resolve", {"q": 1}, None, 400, "the body must be"),
            ("PATCH", "/v1/alerts/resolve", {"query": ":Bad"}, None, 400, "write Key:Value"),
            ("GET", "/v1/nothing", None, None, 404, "no such endpoint"),
        ]
        for method, path, body, raw, want, msg in cases:
            with self.subTest(path=path, body=body, raw=raw):
                code, ans = d.req(method, path, body=body, raw=raw)
                self.assertEqual(code, want, ans)
                self.assertIn(msg, ans["error"])
                self.assertEqual(ans["code"], want)
        code, _ = d.req("PATCH", "/v1/policies/systemd-execution", raw=b"{" + b'"a":1,' * 20000 + b"}")
        self.assertEqual(code, 413)  # over the body limit
        code, _ = d.req("GET", "/v1/alerts", headers={"X-Big": "x" * 20000})
        self.assertIn(code, (400, 413, 431))
        code, _ = d.req("DELETE", "/v1/alerts")
        self.assertIn(code, (405, 501))  # evhttp answers 501 for methods it does not serve
        # still serving
        self.assertEqual(d.req("GET", "/healthz")[0], 200)
        # bulk resolve by query
        code, body = d.req("PATCH", "/v1/alerts/resolve", {"query": "Policy:" + UBUNTU})
        self.assertEqual((code, body["resolved"]), (200, 1))

    def mine(self):
        """This container's alerts: the default pack sees every container of the host, and
        other tests run binaries they copied into theirs (Binary Not In Image Executed)."""
        return [a for a in self.d.req("GET", "/v1/alerts")[1]["alerts"]
                if a.get("containerId") == self.cid]

    def test_policy_settings_persist(self):
        self.d = Daemon(self.data, self.port)
        code, pol = self.d.req("PATCH", "/v1/policies/ubuntu-package-manager-execution",
                               {"disabled": True})
        self.assertEqual((code, pol["disabled"]), (200, True))
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        time.sleep(0.5)
        self.assertEqual(self.mine(), [])
        self.d.stop()
        self.d = Daemon(self.data, self.port)
        code, pol = self.d.req("GET", "/v1/policies/ubuntu-package-manager-execution")
        self.assertTrue(pol["disabled"])
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        time.sleep(0.5)
        self.assertEqual(self.mine(), [])
        self.d.req("PATCH", "/v1/policies/ubuntu-package-manager-execution", {"disabled": False})
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        self.wait_alert()

    def test_second_instance_and_bad_config(self):
        self.d = Daemon(self.data, self.port)
        r = subprocess.run([V, "run", "--data-dir", self.data, "--listen",
                            f"127.0.0.1:{self.port + 1}"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"another vigil (pid {self.d.proc.pid}) is running on the data directory",
                      r.stderr)
        conf = os.path.join(self.data, "bad.conf.lua")
        for body, msg in [
            ('return { api = { lisen = "x" } }', "unknown key 'api.lisen' (known in api: listen, hosts, max_connections, request_timeout_s, stream_keepalive_s, console_code_ttl, console_session_ttl)"),
            ('return { store = { commit_ms = "fast" } }', "store.commit_ms must be an integer (1..1000"),
            ('return { store = { fsync = "sometimes" } }', 'store.fsync must be "batch" or "always"'),
            ('return 42', "must return a table"),
            ('return {', "expected"),
        ]:
            with open(conf, "w") as f:
                f.write(body + "\n")
            r = subprocess.run([V, "run", "--config", conf, "--data-dir", self.data + "-x"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, body)
            self.assertIn(msg, r.stderr)

    def test_kill_9_keeps_acknowledged_violations(self):
        self.d = Daemon(self.data, self.port)
        # distinct args: volume control lets each through
        storm = subprocess.Popen(["podman", "exec", self.cid, "sh", "-c",
                                  "i=0; while [ $i -lt 400 ]; do /tmp/dpkg $i; i=$((i+1)); done"])
        acked = 0
        try:
            deadline = time.time() + 60
            while acked < 100 and time.time() < deadline:
                _, m = self.d.req("GET", "/metrics")
                acked = int([x for x in m.splitlines()
                             if x.startswith("vigil_violations_durable_total ")][0].split()[1])
                time.sleep(0.02)
            self.d.proc.kill()  # mid-storm
            self.d.proc.wait()
            self.d = None
        finally:
            storm.wait(timeout=120)
        self.assertGreaterEqual(acked, 100)
        r = cli(self.data, "list", "--json", "--state", "all")
        self.assertEqual(r.returncode, 0, r.stderr)
        total = sum(a["violations"] for a in json.loads(r.stdout))
        self.assertGreaterEqual(total, acked)

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        return int([x for x in m.splitlines() if x.startswith(name + " ")][0].split()[1])

    def check_timeline(self, made):
        """GET /v1/alerts/timeline counts every violation (not the 40 an alert keeps), after
        a restart; its bad input is a 400 that says what it takes."""
        code, tl = self.d.req("GET", "/v1/alerts/timeline")
        self.assertEqual(code, 200, tl)
        self.assertEqual(tl["step"], 300)
        self.assertEqual(tl["since"] % 60, 0)
        self.assertLessEqual(tl["since"], time.time() - 86400 + 1)
        sevs = ("low", "medium", "high", "critical")
        self.assertEqual(sum(b[k] for b in tl["buckets"] for k in sevs), made)
        self.assertEqual([b["t"] for b in tl["buckets"]],
                         [tl["since"] + i * 300 for i in range(len(tl["buckets"]))])
        since = int(time.time()) - 3600
        code, tl = self.d.req("GET", f"/v1/alerts/timeline?since={since}&step=60")
        self.assertEqual(code, 200, tl)
        self.assertEqual((tl["since"], tl["step"]), (since - since % 60, 60))
        self.assertEqual(sum(b[k] for b in tl["buckets"] for k in sevs), made)
        for qs, msg in (("step=90", "multiple of 60"), ("since=1", "7 days"),
                        ("step=60&since=" + str(int(time.time()) - 6 * 86400), "at most 2000"),
                        ("query=Colour:red", "parameter query"), ("limit=3", "since, step and query")):
            code, body = self.d.req("GET", "/v1/alerts/timeline?" + qs)
            self.assertEqual(code, 400, qs)
            self.assertIn(msg, body["error"] if isinstance(body, dict) else body, qs)

    def test_disk_full_keeps_violations_until_space_returns(self):
        mnt = tempfile.mkdtemp(prefix="vigil-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], check=True)
        try:
            data = os.path.join(mnt, "data")
            os.makedirs(data)
            self.d = Daemon(data, self.port)
            fill = os.path.join(mnt, "fill")
            subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=4k"], capture_output=True)
            # 50 execs of /tmp/dpkg, 100 violations: its name (Ubuntu Package Manager) and
            # copied into the container after it started (Binary Not In Image Executed)
            podman("exec", self.cid, "sh", "-c",
                   "i=0; while [ $i -lt 50 ]; do /tmp/dpkg full$i; i=$((i+1)); done")
            deadline = time.time() + 20
            while time.time() < deadline and (self.metric("vigil_violations_stored_total") < 100 or
                                               self.metric("vigil_store_write_errors_total") == 0):
                time.sleep(0.05)
            self.assertEqual(self.metric("vigil_violations_stored_total"), 100)
            self.assertGreater(self.metric("vigil_store_write_errors_total"), 0)
            self.assertLess(self.metric("vigil_violations_durable_total"), 100)
            self.assertGreater(self.metric("vigil_store_pending_bytes"), 0)
            self.assertEqual(self.d.req("GET", "/healthz")[0], 200)  # the loop never blocked
            os.unlink(fill)  # space returns
            deadline = time.time() + 20
            while time.time() < deadline and self.metric("vigil_violations_durable_total") < 100:
                time.sleep(0.05)
            self.assertEqual(self.metric("vigil_violations_durable_total"), 100)
            self.assertEqual(self.metric("vigil_store_dropped_total"), 0)
            self.d.stop()
            self.d = Daemon(data, self.port)
            code, body = self.d.req("GET", "/v1/alerts?query=State:ALL")
            self.assertEqual(sum(a["violations"] for a in body["alerts"]), 100)
            self.check_timeline(100)
            self.d.stop()
            self.d = None
        finally:
            if self.d:
                self.d.stop(signal.SIGKILL)
                self.d = None
            subprocess.run(["umount", "-l", mnt])

    def test_damaged_store_is_repaired_and_reported(self):
        self.d = Daemon(self.data, self.port)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        alert = self.wait_alert()
        self.d.stop()
        seg = os.path.join(self.data, "store", "seg-00000001.log")
        good = os.path.getsize(seg)
        with open(seg, "ab") as f:
            f.write(b"VLGR\x99\x00\x00\x00torn")
        self.d = Daemon(self.data, self.port)
        self.assertIn(f"torn tail: truncated to the last good record at offset {good}", self.d.text())
        self.assertEqual(self.d.req("GET", f"/v1/alerts/{alert['id']}")[0], 200)
        self.assertEqual(os.path.getsize(seg), good)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
