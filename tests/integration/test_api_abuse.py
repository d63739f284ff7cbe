#!/usr/bin/env python3
"""The REST API under abuse, against a real daemon: every numeric parameter is
checked whole (a page far past the end of 2,048+ alerts is an empty page, not a
crash); every error is JSON, the ones libevent answers itself included; a bulk
resolve needs a query or confirm; a NUL in an id finds nothing; and a local
unprivileged user holding more connections than the cap, trickling headers,
neither starves enforcement of descriptors, nor locks out a good client, nor
floods the log."""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402

V = vigtest.VIGIL
NOBODY = 65534

# A local user holding connections open, sending one header line per connection
# every second and never ending a request; dropped connections are made again.
FLOODER = r"""
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def conn():
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return [s, False]
socks = [conn() for _ in range(n)]
print("flooding", flush=True)
while True:
    for c in socks:
        try:
            c[0].send(b"X-Slow: 1\r\n" if c[1] else b"GET /v1/alerts HTTP/1.1\r\n")
            c[1] = True
        except BlockingIOError:
            pass
        except OSError:
            c[0].close()
            c[:] = conn()
    time.sleep(1)
"""


def as_nobody():
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def raw(port, data, timeout=10):
    """Sends data on a fresh connection; the status, the headers and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while b"\r\n\r\n" not in out or len(out.split(b"\r\n\r\n", 1)[1]) < clen(out):
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def clen(out):
    m = re.search(rb"\r\nContent-Length: (\d+)", out, re.I)
    return int(m.group(1)) if m else 0


class Abuse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-abuse-")
        cls.marker = os.path.join(cls.tmp, "marker")
        subprocess.run(["gcc", "-O2", "-static", "-o", cls.marker,
                        os.path.join(os.path.dirname(__file__), "marker.c")], check=True)
        os.chmod(cls.tmp, 0o755)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-abuse-data-")
        self.port = vigtest.free_port()
        self.d = None
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self.d:
            self.d.stop(signal.SIGKILL)

    def policies(self, n, name, check=None):
        """n host-scoped policies matching process name `name` (each violation makes n alerts)."""
        pdir = os.path.join(self.data, "policies")
        os.makedirs(pdir, exist_ok=True)
        for i in range(n):
            with open(os.path.join(pdir, f"p{i}.lua"), "w") as f:
                f.write(f"return policy {{ name = 'Abuse {i}', severity = 'low',"
                        f" scope = {{ host = true }}, match = {{ process_name = '{name}' }}"
                        + (f", check = {check}" if check else "") + " }\n")
        return pdir

    def config(self, body):
        path = os.path.join(self.data, "vigil.conf.lua")
        with open(path, "w") as f:
            f.write(body)
        return path

    def active(self, conn, h):
        conn.request("GET", "/v1/alerts?query=State:ACTIVE&pagination.limit=1", headers=h)
        return json.loads(conn.getresponse().read())["total"]

    def test_pagination_far_past_many_alerts(self):
        """GET /v1/alerts?pagination.offset=2147483600 with 2,048+ alerts held: an empty
        page (it crashed the daemon: (int)(offset + limit) went negative)."""
        name = "vg-many"
        exe = os.path.join(self.tmp, name)
        shutil.copy("/bin/true", exe)
        # 10: volume control lets 10 violations of one exec through (burst 10)
        self.d = Daemon(self.data, self.port, "--policies", self.policies(10, name))
        h = {"Authorization": f"Bearer {self.d.token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        # each exec makes 10 alerts (one per policy); resolving them lets the next make new ones
        for i in range(205):
            subprocess.run([exe, str(i)], check=True)
            deadline = time.time() + 10
            while self.active(conn, h) < 10:
                self.assertLess(time.time(), deadline, (i, self.d.text()[-2000:]))
                time.sleep(0.005)
            conn.request("PATCH", "/v1/alerts/resolve", body=json.dumps({"query": "State:ACTIVE"}),
                         headers=h)
            self.assertEqual(json.loads(conn.getresponse().read())["resolved"], 10)
        conn.close()
        code, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=1")
        self.assertEqual(body["total"], 2050)
        for off in ("2147483600", "2147483647", "2050", "4000"):
            code, body = self.d.req("GET", f"/v1/alerts?query=State:ALL&pagination.offset={off}"
                                           "&pagination.limit=1000")
            self.assertEqual((code, body["alerts"], body["total"]), (200, [], 2050), off)
        code, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.offset=2040"
                                       "&pagination.limit=1000")
        self.assertEqual((code, len(body["alerts"])), (200, 10))
        code, first = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=2")
        code, second = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.offset=1"
                                         "&pagination.limit=1")
        self.assertEqual(first["alerts"][1]["id"], second["alerts"][0]["id"])
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)

    def test_volume_control_counts_execs_not_policies(self):
        """Volume control limits repeats of one exec, not violations: an exec matching 12
        policies makes 12 alerts (the 11th and 12th were dropped when each policy's
        violation took a slot of the burst of 10), and only the 11th repeat is dropped."""
        name = "vg-vol"
        exe = os.path.join(self.tmp, name)
        shutil.copy("/bin/true", exe)
        self.d = Daemon(self.data, self.port, "--policies", self.policies(12, name))
        for i in range(11):
            subprocess.run([exe, "same"], check=True)
        deadline = time.time() + 10  # the 11th repeat is the first one dropped
        while not re.search(r"(?m)^vigil_events_suppressed_total [1-9]",
                            self.d.req("GET", "/metrics")[1]):
            self.assertLess(time.time(), deadline, self.d.text()[-2000:])
            time.sleep(0.05)
        time.sleep(0.3)
        code, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=100")
        self.assertEqual(len(body["alerts"]), 12, self.d.text()[-2000:])
        _, m = self.d.req("GET", "/metrics")
        self.assertRegex(m, r"(?m)^vigil_events_suppressed_total 1$")

    def test_numeric_parameters_checked_whole(self):
        self.d = Daemon(self.data, self.port)
        for param, rng in (("pagination.offset", "from 0 to 2147483647"),
                           ("pagination.limit", "from 1 to 1000")):
            for bad in ("1e3", "10abc", "-1", "", "+5", "%205", "0x10", "5%00",
                        "99999999999999999999999999", "18446744073709551616"):
                with self.subTest(param=param, value=bad):
                    code, body = self.d.req("GET", f"/v1/alerts?{param}={bad}")
                    self.assertEqual((code, body["code"]), (400, 400), body)
                    self.assertIn(param, body["error"])
                    if "%00" not in bad:
                        self.assertIn(rng, body["error"])
        for q, msg in (("pagination.offset=2147483648", "pagination.offset"),
                       ("pagination.limit=1001", "pagination.limit"),
                       ("pagination.limit=0", "pagination.limit"),
                       ("pagination.limit=5&pagination.limit=6", "given twice"),
                       ("query=Since:99999999999999999999", "Since"),
                       ("query=Since:18446744074", "Since"),
                       ("query=Since:1e9", "Since"),
                       ("query=Policy:a%00b", "control character")):
            with self.subTest(q=q):
                code, body = self.d.req("GET", f"/v1/alerts?{q}")
                self.assertEqual(code, 400, body)
                self.assertIn(msg, body["error"])
        self.assertEqual(self.d.req("GET", "/v1/alerts?pagination.limit=1000&pagination.offset="
                                    "2147483647&query=Since:18446744073")[0], 200)

    def test_every_error_is_json(self):
        """Errors evhttp answers before the handler (malformed or oversized requests) are
        JSON too, as the README documents; so is a method the API does not serve."""
        self.d = Daemon(self.data, self.port)
        tok = f"Authorization: Bearer {self.d.token}\r\n".encode()
        cases = [
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET /healthz HTTP/9.9\r\n\r\n", 400),
            (b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400),
            (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"x" * 20000 + b"\r\n\r\n", (400, 413)),
            (b"PATCH /v1/alerts/resolve HTTP/1.1\r\n" + tok +
             b"Content-Length: 999999\r\n\r\n", 413),
            (b"PATCH /v1/alerts/resolve HTTP/1.1\r\n" + tok +
             b"Content-Length: abc\r\n\r\n", 400),
            (b"PATCH /v1/alerts/resolve HTTP/1.1\r\n" + tok +
             b"Expect: telepathy\r\nContent-Length: 2\r\n\r\n{}", 417),
            (b"DELETE /v1/alerts HTTP/1.1\r\n" + tok + b"\r\n", 405),
            (b"FROB /v1/alerts HTTP/1.1\r\n" + tok + b"\r\n", 405),
            (b"POST /v1/alerts HTTP/1.1\r\n" + tok + b"Content-Length: 2\r\n\r\n{}", 405),
            (b"GET /v1/alerts?pagination.limit=1e3 HTTP/1.1\r\n" + tok + b"\r\n", 400),
        ]
        for data, want in cases:
            with self.subTest(request=data[:60]):
                status, headers, body = raw(self.port, data)
                self.assertIn(status, want if isinstance(want, tuple) else (want,), body)
                self.assertEqual(headers.get("content-type"), "application/json", body)
                ans = json.loads(body)
                self.assertEqual(ans["code"], status)
                self.assertTrue(ans["error"])
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)
        _, m = self.d.req("GET", "/metrics")
        self.assertRegex(m, r"vigil_api_http_errors_total [1-9]")

    def test_unserved_method_or_path_is_json_404_or_405(self):
        """A method the API does not serve on a path it knows is a JSON 405 with an Allow
        header; on a path it does not know, a JSON 404; libevent's own methods or not."""
        self.d = Daemon(self.data, self.port)
        tok = f"Authorization: Bearer {self.d.token}\r\n".encode()
        cases = [
            (b"PROPFIND /v1/alerts", 405, "GET"),
            (b"FOO /", 405, "GET, HEAD"),  # the web console's page
            (b"FROB /nowhere", 404, None),
            (b"DELETE /nowhere", 404, None),
            (b"DELETE /v1/policies/x", 405, "GET, PATCH"),
            (b"PUT /v1/alerts/resolve", 405, "PATCH"),
            (b"GET /v1/alerts/resolve", 405, "PATCH"),
            (b"MKCOL /v1/notifiers/ops/retry", 405, "PATCH"),
            (b"OPTIONS /healthz", 405, "GET"),
        ]
        for line, want, allow in cases:
            with self.subTest(request=line):
                status, headers, body = raw(self.port, line + b" HTTP/1.1\r\n" + tok + b"\r\n")
                self.assertEqual(status, want, body)
                self.assertEqual(headers.get("content-type"), "application/json", body)
                ans = json.loads(body)
                self.assertEqual(ans["code"], want)
                self.assertTrue(ans["error"])
                self.assertEqual(headers.get("allow"), allow)

    def one_alert(self, exe):
        subprocess.run([exe, os.path.join(self.tmp, "m"), "0"], check=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            _, body = self.d.req("GET", "/v1/alerts?query=State:ACTIVE")
            if body["total"]:
                return body["alerts"][0]
            time.sleep(0.02)
        raise AssertionError(f"no alert: {self.d.text()[-2000:]}")

    def test_bulk_resolve_needs_a_query_or_confirm(self):
        exe = os.path.join(self.tmp, "vg-bulk")
        shutil.copy(self.marker, exe)
        self.d = Daemon(self.data, self.port, "--policies", self.policies(2, "vg-bulk"))
        self.one_alert(exe)
        for body in ({"query": ""}, {"query": "  "}, {}, {"confirm": False}):
            with self.subTest(body=body):
                code, ans = self.d.req("PATCH", "/v1/alerts/resolve", body)
                self.assertEqual(code, 400, ans)
                self.assertIn("State:ACTIVE", ans["error"])
                self.assertIn('"confirm": true', ans["error"])
        code, ans = self.d.req("PATCH", "/v1/alerts/resolve", {"query": "", "confirm": "yes"})
        self.assertEqual(code, 400, ans)
        self.assertEqual(self.d.req("GET", "/v1/alerts?query=State:ACTIVE")[1]["total"], 2)
        self.assertEqual(self.d.req("PATCH", "/v1/alerts/resolve", {"query": "Policy:Abuse 0"}),
                         (200, {"resolved": 1}))
        self.assertEqual(self.d.req("PATCH", "/v1/alerts/resolve", {"query": "State:ACTIVE"}),
                         (200, {"resolved": 1}))
        self.one_alert(exe)
        self.assertEqual(self.d.req("PATCH", "/v1/alerts/resolve", {"confirm": True}),
                         (200, {"resolved": 2}))

    def test_api_follows_the_engine_a_reload_brings(self):
        """SIGHUP replaces the engine: GET /v1/policies, GET and PATCH /v1/policies/{id} and
        /metrics answer from the new one (a pointer kept from the start would read the old,
        freed set)."""
        pdir = self.policies(2, "vg-reload")
        self.d = Daemon(self.data, self.port, "--policies", pdir)
        names = lambda: sorted(p["name"] for p in self.d.req("GET", "/v1/policies")[1]["policies"])
        self.assertEqual(names(), ["Abuse 0", "Abuse 1"])
        os.unlink(os.path.join(pdir, "p1.lua"))
        with open(os.path.join(pdir, "p2.lua"), "w") as f:
            f.write("return policy { name = 'Reloaded', severity = 'high',"
                    " scope = { host = true }, match = { process_name = 'vg-reloaded' } }\n")
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and names() != ["Abuse 0", "Reloaded"]:
            time.sleep(0.05)
        self.assertEqual(names(), ["Abuse 0", "Reloaded"], self.d.text())
        code, pol = self.d.req("GET", "/v1/policies/Reloaded")
        self.assertEqual((code, pol["severity"]), (200, "high"), pol)
        self.assertEqual(self.d.req("GET", "/v1/policies/Abuse%201")[0], 404)
        code, pol = self.d.req("PATCH", "/v1/policies/Reloaded", {"disabled": True})
        self.assertEqual((code, pol["name"], pol["disabled"]), (200, "Reloaded", True), pol)
        code, text = self.d.req("GET", "/metrics")
        self.assertIn('vigil_policy_matches_total{policy="Reloaded"} 0', text)
        self.assertNotIn('policy="Abuse 1"', text)

    def test_one_exec_violating_seventy_policies_makes_seventy_alerts(self):
        """The pipeline holds every policy one exec violates, however many: 70 policies on
        one name give 70 alerts (a fixed list of 64 once dropped the rest unseen)."""
        exe = os.path.join(self.tmp, "vg-many")
        shutil.copy(self.marker, exe)
        self.d = Daemon(self.data, self.port, "--policies", self.policies(70, "vg-many"))
        subprocess.run([exe, os.path.join(self.tmp, "m"), "0"], check=True)
        deadline = time.time() + 10
        total = 0
        while time.time() < deadline and total < 70:
            total = self.d.req("GET", "/v1/alerts?query=State:ACTIVE&pagination.limit=100")[1]["total"]
            time.sleep(0.05)
        self.assertEqual(total, 70, self.d.text()[-2000:])
        _, text = self.d.req("GET", "/metrics")
        self.assertIn("vigil_flow_errors_total 0", text)

    def test_nul_or_control_character_in_an_id_finds_nothing(self):
        exe = os.path.join(self.tmp, "vg-nul")
        shutil.copy(self.marker, exe)
        self.d = Daemon(self.data, self.port, "--policies", self.policies(1, "vg-nul"))
        alert = self.one_alert(exe)
        pid = "Abuse%200"
        self.assertEqual(self.d.req("GET", f"/v1/policies/{pid}")[0], 200)
        for suffix in ("%00", "%00x", "%00/../x", "%0a", "%7f", "%1b"):
            with self.subTest(suffix=suffix):
                code, ans = self.d.req("GET", f"/v1/policies/{pid}{suffix}")
                self.assertEqual((code, ans["code"]), (404, 404), ans)
                code, ans = self.d.req("PATCH", f"/v1/policies/{pid}{suffix}", {"disabled": True})
                self.assertEqual(code, 404, ans)
                code, ans = self.d.req("GET", f"/v1/alerts/{alert['id']}{suffix}")
                self.assertEqual(code, 404, ans)
                code, ans = self.d.req("PATCH", f"/v1/alerts/{alert['id']}{suffix}/resolve",
                                       raw=b"")
                self.assertEqual(code, 404, ans)
        self.assertFalse(self.d.req("GET", f"/v1/policies/{pid}")[1]["disabled"])
        self.assertEqual(self.d.req("GET", f"/v1/alerts/{alert['id']}")[1]["state"], "ACTIVE")

    def test_open_files_limit_raised_at_start(self):
        self.d = Daemon(self.data, self.port, preexec=lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (1024, 4096)))
        with open(f"/proc/{self.d.proc.pid}/limits") as f:
            line = [x for x in f if x.startswith("Max open files")][0]
        self.assertEqual(line.split()[3:5], ["4096", "4096"], line)
        self.assertIn("raised the limit from 1024 to 4096", self.d.text())
        _, m = self.d.req("GET", "/metrics")
        self.assertIn("vigil_api_connections_max 256\n", m)

    def test_accept_errors_pause_instead_of_spinning(self):
        """Descriptors run out under the API (the limit lowered under the running daemon):
        accepting pauses and is retried, each failure is counted, the log stays a few lines."""
        self.d = Daemon(self.data, self.port)
        pid = self.d.proc.pid
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        log0 = len(self.d.text())
        n = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (n + 3, old[1]))
        socks = []
        try:
            for _ in range(40):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.port))
                socks.append(s)
            time.sleep(4)
        finally:
            for s in socks:
                s.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        time.sleep(1.5)  # the pause ends, the held connections are cut or closed
        self.assertEqual(self.d.req("GET", "/healthz")[0], 200)
        _, m = self.d.req("GET", "/metrics")
        errors = int(re.search(r"^vigil_api_accept_errors_total (\d+)$", m, re.M).group(1))
        self.assertTrue(1 <= errors <= 10, errors)
        text = self.d.text()[log0:]
        self.assertIn("cannot accept a connection (Too many open files)", text)
        self.assertLess(len(text), 4096, text[-2000:])

    def test_connection_flood_does_not_starve_enforcement(self):
        """1,100 trickling connections from an unprivileged user against a daemon whose
        open-files limit is 1,024: a kill_process enforcement still works, a good client
        is answered, the log stays small."""
        victim = os.path.join(self.tmp, "vg-victim")
        shutil.copy(self.marker, victim)
        pdir = self.policies(1, "vg-victim", check="function(ev) return ev.args:find('slow') ~= nil end")
        self.d = Daemon(self.data, self.port, "--policies", pdir,
                        preexec=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)))
        code, pol = self.d.req("PATCH", "/v1/policies/Abuse%200", {"enforcement": "kill_process"})
        self.assertEqual((code, pol["enforcement"]), (200, "kill_process"))
        log0 = len(self.d.text())
        script = os.path.join(self.tmp, "flooder.py")
        with open(script, "w") as f:
            f.write(FLOODER)
        flood = subprocess.Popen([shutil.which("python3", path="/usr/bin:/bin"), script, str(self.port), "1100"],
                                 preexec_fn=as_nobody, stdout=subprocess.PIPE, text=True)
        self.procs.append(flood)
        self.assertEqual(flood.stdout.readline().strip(), "flooding")
        time.sleep(3)  # the connections are held and trickling
        # a kill_process enforcement of a real exec needs a pidfd: there is one to spare
        marks = []
        for i in range(3):
            mark = os.path.join(self.tmp, f"slow{i}")
            t0 = time.time()
            r = subprocess.run([victim, mark, "10000"], timeout=60)
            marks.append((r.returncode, round(time.time() - t0, 1)))
        self.assertEqual([m[0] for m in marks], [-signal.SIGKILL] * 3, (marks, self.d.text()[-3000:]))
        # a good client is answered (it may wait for a slot; 30 s: "does not hang", generous)
        def good(path):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", path, headers={"Authorization": f"Bearer {self.d.token}"})
            r = c.getresponse()
            text = r.read().decode()
            c.close()
            return r.status, (json.loads(text) if text.startswith("{") else text)
        code, body = good("/v1/alerts?query=State:ALL")
        self.assertEqual(code, 200)
        enf = [good(f"/v1/alerts/{a['id']}")[1] for a in body["alerts"]]
        self.assertTrue(enf and all(a["enforcement"]["action"] == "kill_process" for a in enf), enf)
        self.assertNotIn("Too many open files", json.dumps(enf))
        self.assertEqual(good("/healthz")[0], 200)
        _, m = good("/metrics")
        metric = {x.split()[0]: int(x.split()[1]) for x in m.splitlines()
                  if x and not x.startswith("#") and "{" not in x}
        self.assertEqual(metric["vigil_enforcements_total"], 3, self.d.text()[-3000:])
        self.assertEqual(metric["vigil_enforcements_failed_total"], 0)
        self.assertLessEqual(metric["vigil_api_connections"], 256)
        self.assertEqual(metric["vigil_api_connections_max"], 256)
        self.assertGreater(metric["vigil_api_connection_cap_reached_total"], 0)
        self.assertGreater(metric["vigil_api_timeouts_total"], 0)
        flood.kill()
        flood.wait()
        # the log stayed small: no line per failed accept
        grown = len(self.d.text()) - log0
        self.assertLess(grown, 16 << 10, self.d.text()[-3000:])
        self.assertEqual(self.d.stop(), 0)
        self.d = None

    def test_every_query_parameter_is_checked(self):
        """A bad value of any parameter, a parameter an endpoint does not take and one without
        a value are each a JSON 400 that names the parameter, the value and what is allowed;
        nothing is answered with defaults."""
        self.d = Daemon(self.data, self.port)
        takes = ("GET /v1/alerts takes query, pagination.limit, pagination.offset and sort (or "
                 "pagination.sortOption.field and pagination.sortOption.reversed)")
        cases = [
            ("/v1/alerts?limit=-1&since=zz&state=foo", ["unknown parameter 'limit'", takes]),
            ("/v1/alerts?since=zz", ["unknown parameter 'since'", takes]),
            ("/v1/alerts?query=State:ACTIVE&state=foo", ["unknown parameter 'state'", takes]),
            ("/v1/alerts?pagination.limit=5&Pagination.offset=1", ["'Pagination.offset'", takes]),
            ("/v1/alerts?query", ["parameter query needs a value (query=...)"]),
            ("/v1/alerts?pagination.limit", ["parameter pagination.limit needs a value"]),
            ("/v1/alerts?query=State:foo",
             ["parameter query: State is ACTIVE, RESOLVED, ATTEMPTED or ALL, not 'foo'"]),
            ("/v1/alerts?query=Since:zz",
             ["parameter query: Since takes a whole number from 0 to", "not 'zz'"]),
            ("/v1/alerts?query=Colour:red",
             ["parameter query: unknown query key 'Colour' (known: Policy, Namespace"]),
            ("/v1/alerts?query=Policy:", ["parameter query: query key Policy needs a value"]),
            ("/v1/alerts?query=a%2B%2Bb", ["parameter query: bad query term ''"]),
            ("/v1/alerts?query=Severity:urgent",
             ["parameter query: Severity is low, medium, high or critical, not 'urgent'"]),
            ("/v1/alerts?pagination.limit=-1", ["pagination.limit takes a whole number from 1 to 1000, not '-1'"]),
            ("/v1/alerts?pagination.offset=zz",
             ["pagination.offset takes a whole number from 0 to 2147483647, not 'zz'"]),
            ("/v1/policies?limit=5", ["unknown parameter 'limit': GET /v1/policies takes no parameters"]),
            ("/v1/notifiers?x=1", ["unknown parameter 'x': GET /v1/notifiers takes no parameters"]),
            ("/metrics?format=json", ["unknown parameter 'format': GET /metrics takes no parameters"]),
            ("/healthz?verbose", ["unknown parameter 'verbose': GET /healthz takes no parameters"]),
            ("/v1/alerts/nosuch?x=1", ["unknown parameter 'x': GET /v1/alerts/nosuch takes no parameters"]),
            ("/v1/alerts?%ff%01=1", ["unknown parameter '%ff%01'"]),
        ]
        for path, words in cases:
            with self.subTest(path=path):
                code, body = self.d.req("GET", path)
                self.assertEqual(code, 400, body)
                self.assertEqual(body["code"], 400, body)
                for w in words:
                    self.assertIn(w, body["error"])
        code, body = self.d.req("PATCH", "/v1/alerts/resolve?confirm=true", {"query": "Policy:x"})
        self.assertEqual(code, 400, body)
        self.assertIn("unknown parameter 'confirm': PATCH /v1/alerts/resolve takes no parameters",
                      body["error"])
        # what is right still works; an empty parameter list or a stray '&' is no parameter
        for path in ("/v1/alerts?query=State:ACTIVE&pagination.limit=5&pagination.offset=0",
                     "/v1/alerts?", "/v1/alerts?&query=State:ALL&", "/v1/policies", "/healthz"):
            with self.subTest(path=path):
                self.assertEqual(self.d.req("GET", path)[0], 200, path)
        # no token: the 401 comes first, whatever the parameters
        self.assertEqual(self.d.req("GET", "/v1/alerts?limit=-1", token=False)[0], 401)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
