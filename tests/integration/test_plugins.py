#!/usr/bin/env python3
"""The shipped notifier plugins against local receivers that follow each service's
published API strictly: Splunk HEC (data channel required, request size enforced),
Jira REST (summary at most 255 characters, JQL search by label, comments,
transitions), PagerDuty Events v2 (severity, client, client_url, links, summary),
syslog CEF and Slack for an enforced alert. Containers run without Kubernetes."""
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"
CHANNEL = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"


def epoch(rfc3339):
    """Seconds since the epoch, with the fraction, of "2026-11-26T02:15:00.123456789Z"."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", rfc3339)
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + frac


class Service:
    """A local HTTP server: handle(method, path, headers, raw body) returns (status, JSON
    answer[, seconds to wait before answering]). Every request is recorded."""

    def __init__(self, handle):
        self.port = vigtest.free_port()
        self.got = []
        self.lock = threading.Lock()
        svc = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                item = {"method": self.command, "path": self.path, "headers": dict(self.headers),
                        "start": time.time(),
                        "raw": raw, "body": json.loads(raw) if raw else None}
                with svc.lock:
                    svc.got.append(item)
                    answer = handle(self.command, self.path, self.headers, raw)
                code, out = answer[:2]
                if len(answer) > 2:
                    time.sleep(answer[2])
                data = json.dumps(out).encode() if out is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = serve

        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def wait(self, pred, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                hits = [g for g in self.got if pred(g)]
            if hits:
                return hits
            time.sleep(0.05)
        raise AssertionError(f"no such request among {[(g['method'], g['path']) for g in self.got]}")


class Hec:
    """Splunk HEC: the token, the data channel (its indexer acknowledgement is on) and the
    request size limit (max_content_length) enforced as Splunk does."""

    def __init__(self, limit):
        self.limit = limit

    def __call__(self, method, path, headers, raw):
        if method != "POST" or path != "/services/collector/event":
            return 404, {"text": "The requested URL was not found on this server.", "code": 404}
        if headers.get("Authorization") != "Splunk HECTOKEN":
            return 403, {"text": "Invalid token", "code": 4}
        if len(raw) > self.limit:
            return 413, {"text": "Content-Length of %d too large (maximum is %d)" % (len(raw), self.limit)}
        if not re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}",
                            headers.get("X-Splunk-Request-Channel") or ""):
            return 400, {"text": "Data channel is missing", "code": 10}
        body = json.loads(raw)
        if "event" not in body or not isinstance(body.get("time", 0), (int, float)):
            return 400, {"text": "Invalid data format", "code": 6}
        return 200, {"text": "Success", "code": 0, "ackId": 0}


class Jira:
    """Jira REST v2: JQL search by label (/search/jql), create (summary at most 255
    characters, labels without spaces), comments, transitions. The first create is
    answered only after 2 s: past the client's timeout."""

    TRANSITIONS = [{"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]

    def __init__(self):
        self.issues = {}  # key -> {"fields", "comments", "status"}
        self.slowed = False

    def search(self, path):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        m = re.fullmatch(r'labels\s*=\s*"([^"]+)"', q.get("jql", [""])[0])
        if not m:
            return 400, {"errorMessages": ["Error in the JQL Query"], "errors": {}}
        hits = [{"id": str(1000 + i), "key": k} for i, (k, v) in enumerate(self.issues.items())
                if m.group(1) in v["fields"].get("labels", [])]
        return 200, {"issues": hits, "isLast": True}

    def create(self, body):
        f = body.get("fields", {})
        if len(f.get("summary", "")) > 255:
            return 400, {"errorMessages": [], "errors": {"summary": "Summary must be less than 255 characters."}}
        if any(" " in x for x in f.get("labels", [])):
            return 400, {"errorMessages": [], "errors": {"labels": "Labels cannot contain spaces."}}
        key = f"SEC-{len(self.issues) + 1}"
        self.issues[key] = {"fields": f, "comments": [], "status": "To Do"}
        answer = (201, {"id": str(1000 + len(self.issues) - 1), "key": key})
        if not self.slowed:
            self.slowed = True
            return answer + (2,)
        return answer

    def __call__(self, method, path, headers, raw):
        body = json.loads(raw) if raw else {}
        route = urllib.parse.urlparse(path).path
        if method == "GET" and route == "/rest/api/2/search/jql":
            return self.search(path)
        if method == "POST" and route == "/rest/api/2/issue":
            return self.create(body)
        m = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+|\d+)/(comment|transitions)", route)
        key = m and m.group(1)
        if key and key.isdigit():
            key = list(self.issues)[int(key) - 1000]
        if not m or key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        issue = self.issues[key]
        if m.group(2) == "comment" and method == "POST":
            if not isinstance(body.get("body"), str) or not body["body"]:
                return 400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}
            issue["comments"].append(body["body"])
            return 201, {"id": "1"}
        if m.group(2) == "transitions" and method == "GET":
            return 200, {"transitions": self.TRANSITIONS}
        if m.group(2) == "transitions" and method == "POST":
            t = [x for x in self.TRANSITIONS if x["id"] == body.get("transition", {}).get("id")]
            if not t:
                return 400, {"errorMessages": ["Transition id is not valid"], "errors": {}}
            issue["status"] = t[0]["name"]
            return 204, None
        return 405, {"errorMessages": ["method not allowed"], "errors": {}}


class PagerDuty:
    """Events API v2, as it validates an event."""

    def __call__(self, method, path, headers, raw):
        b = json.loads(raw)
        errs = []
        if b.get("event_action") == "trigger":
            p = b.get("payload", {})
            if p.get("severity") not in ("critical", "error", "warning", "info"):
                errs.append("'payload.severity' is invalid")
            if not p.get("summary") or len(p["summary"]) > 1024:
                errs.append("'payload.summary' is missing or too long")
            for link in b.get("links", []):
                if not link.get("href"):
                    errs.append("'links.href' is missing")
        if errs:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errs}
        return 202, {"status": "success", "message": "Event processed", "dedup_key": b.get("dedup_key")}


class PluginsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.cid = podman("run", "-d", "--network", "none", IMAGE, "sleep", "infinity")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["podman", "rm", "-f", "-t", "0", cls.cid], capture_output=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-plugins-")
        self.port = vigtest.free_port()
        self.d = None
        self.services = []

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
        for s in self.services:
            s.stop()

    def service(self, handle):
        s = Service(handle)
        self.services.append(s)
        return s

    def start(self, notifiers, *extra, policies=None):
        conf = os.path.join(self.data, "vigil.conf.lua")
        names = ", ".join(f'"{n}"' for n in re.findall(r"(\w+) = \{ type =", notifiers))
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }},\n'
                    f'  notifiers = {{ {notifiers} }},\n  default_notifiers = {{ {names} }} }}\n')
        args = ["--config", conf]
        if policies:
            pol = os.path.join(self.data, "policies")
            os.makedirs(pol)
            for i, text in enumerate(policies):
                with open(os.path.join(pol, f"p{i}.lua"), "w") as f:
                    f.write(text)
            args += ["--policies", pol]
        self.d = Daemon(self.data, self.port, *args, *extra)
        return conf

    def dead_letters(self, name):
        _, nt = self.d.req("GET", "/v1/notifiers")
        return [x for x in nt["notifiers"] if x["name"] == name][0]["deadLetters"]

    def assert_start_fails(self, notifiers, msg):
        conf = os.path.join(self.data, "bad.conf.lua")
        with open(conf, "w") as f:
            f.write(f"return {{ notifiers = {{ {notifiers} }} }}\n")
        r = subprocess.run([vigtest.VIGIL, "run", "--config", conf, "--data-dir", self.data + "-b"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(msg, r.stderr)

    def test_splunk_hec_channel_metadata_time_and_size(self):
        """The data channel header, the envelope's metadata, the violation's own time, and a
        whole request within max_bytes even when the message alone is over it."""
        hec = self.service(Hec(1200))
        self.start(f'splunk = {{ type = "splunk", url = "http://127.0.0.1:{hec.port}", '
                   f'token = "HECTOKEN", channel = "{CHANNEL}", index = "sec", host = "node-a", '
                   f'source = "vigil-test", sourcetype = "vigil:alert", max_bytes = 1200, '
                   f'retry_ms = 100 }}')
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", "x" * 1500, check=False)
        req = hec.wait(lambda g: True)[0]
        time.sleep(0.5)
        self.assertEqual(len(hec.got), 1, [g["raw"][:200] for g in hec.got])
        self.assertEqual(req["headers"]["X-Splunk-Request-Channel"], CHANNEL)
        self.assertLessEqual(len(req["raw"]), 1200)
        b = req["body"]
        self.assertEqual((b["index"], b["host"], b["source"], b["sourcetype"]),
                         ("sec", "node-a", "vigil-test", "vigil:alert"))
        ev = b["event"]
        self.assertEqual(ev["policy"]["name"], UBUNTU)
        self.assertTrue(ev["trimmed"])
        self.assertIn("[trimmed]", ev["message"])
        self.assertTrue(ev["message"].startswith("Binary '/usr/bin/dpkg' executed"))
        self.assertAlmostEqual(b["time"], epoch(ev["time"]), delta=0.001)  # the violation's time
        self.assertEqual(self.dead_letters("splunk"), [])
        self.assert_start_fails('s = { type = "splunk", url = "http://x", token = "t", channel = "chan-1" }',
                                "channel 'chan-1' is not a UUID")

    def test_jira_summary_idempotency_and_resolve(self):
        """A summary cut to 255 characters; a create answered too late is not made twice (the
        retry finds the issue by its label); a resolve comments and transitions."""
        jira = Jira()
        svc = self.service(jira)
        cluster = "lab-" + "x" * 280
        self.start(f'jira = {{ type = "jira", url = "http://127.0.0.1:{svc.port}", username = "bot", '
                   f'token = "JT", project = "SEC", cluster = "{cluster}", resolve_transition = "Done", '
                   f'timeout_ms = 1000, retry_ms = 100 }}')
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)

        def label(issue):
            return [x for x in issue["fields"]["labels"] if x.startswith("vigil-")][0]
        # the slow create, then its retry: a search for its label after the create
        first = svc.wait(lambda g: g["method"] == "POST" and g["path"] == "/rest/api/2/issue")[0]
        slow = "vigil-" + first["body"]["fields"]["labels"][1][len("vigil-"):]
        searches = lambda g: g["method"] == "GET" and urllib.parse.quote(slow) in g["path"]
        svc.wait(lambda g: searches(g) and g["start"] > first["start"])
        time.sleep(1.5)
        labels = [label(i) for i in jira.issues.values()]
        self.assertEqual(len(labels), len(set(labels)), [g["path"] for g in svc.got])  # one issue an alert
        key = [k for k, i in jira.issues.items() if label(i) == slow][0]
        issue = jira.issues[key]
        summary = issue["fields"]["summary"]
        self.assertLessEqual(len(summary), 255)
        self.assertIn("Container " + self.cid[:12], summary)
        self.assertEqual(self.dead_letters("jira"), [])
        n = len(jira.issues)
        code, _ = self.d.req("PATCH", f"/v1/alerts/{slow[len('vigil-'):]}/resolve", raw=b"")
        self.assertEqual(code, 200)
        svc.wait(lambda g: g["method"] == "POST" and g["path"] == f"/rest/api/2/issue/{key}/transitions")
        self.assertEqual(len(issue["comments"]), 1)
        self.assertIn("resolved", issue["comments"][0])
        self.assertEqual(issue["status"], "Done")
        self.assertEqual(len(jira.issues), n)
        self.assertEqual(self.dead_letters("jira"), [])

    def test_pagerduty_severity_client_links_and_container_summary(self):
        """Four severities stay four; client, client_url and links point at the alert in
        vigil's console when console_url is set; without Kubernetes the summary names the
        container by its name, image and short id."""
        pd = self.service(PagerDuty())
        procs = {"critical": "dpkg", "high": "date", "medium": "apt-get", "low": "id"}
        policies = [f'return policy {{ id = "sev-{s}", name = "sev-{s}", severity = "{s}", '
                    f'match = {{ process_name = "{p}" }} }}\n' for s, p in procs.items()]
        self.start(f'pd = {{ type = "pagerduty", url = "http://127.0.0.1:{pd.port}/v2/enqueue", '
                   f'routing_key = "R0UT1NGKEY", console_url = "https://vigil.example:8443/", '
                   f'retry_ms = 100 }},\n'
                   f'pd2 = {{ type = "pagerduty", url = "http://127.0.0.1:{pd.port}/plain", '
                   f'routing_key = "R0UT1NGKEY", retry_ms = 100 }}', policies=policies)
        for p in procs.values():
            podman("exec", self.cid, f"/usr/bin/{p}", "--version", check=False)
        for s in procs:
            pd.wait(lambda g: g["path"] == "/v2/enqueue" and g["body"]["payload"]["class"] == f"sev-{s}")
        pd.wait(lambda g: g["path"] == "/plain")
        time.sleep(0.3)
        got = {g["body"]["payload"]["class"]: g["body"] for g in pd.got if g["path"] == "/v2/enqueue"}
        self.assertEqual({s: got[f"sev-{s}"]["payload"]["severity"] for s in procs},
                         {"critical": "critical", "high": "error", "medium": "warning", "low": "info"})
        b = got["sev-critical"]
        url = f"https://vigil.example:8443/violations/{b['dedup_key']}"
        self.assertEqual((b["client"], b["client_url"]), ("vigil", url))
        self.assertEqual(b["links"], [{"href": url, "text": "The violation in vigil"}])
        summary = b["payload"]["summary"]
        # named by the runtime (podman's random name), its image and short id
        self.assertRegex(summary, rf"^Container \S+ \({re.escape(IMAGE)}, {self.cid[:12]}\) ")
        self.assertNotRegex(summary, r"[0-9a-f]{64}|Deployment|\b[Hh]ost\b")
        self.assertIn("violates 'sev-critical' Policy", summary)
        plain = [g["body"] for g in pd.got if g["path"] == "/plain"][0]
        self.assertEqual(plain["client"], "vigil")
        self.assertNotIn("client_url", plain)
        self.assertNotIn("links", plain)
        self.assertEqual(self.dead_letters("pd"), [])

    def enforced_dry_run(self, notifiers):
        """An alert of a kill_process policy under --dry-run."""
        policy = ('return policy { id = "no-dpkg", name = "no-dpkg", severity = "high", '
                  'enforcement = "kill_process", match = { process_name = "dpkg" } }\n')
        self.start(notifiers, "--dry-run", policies=[policy])
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)

    def test_syslog_cef_act_is_the_enforcement_action(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(15)
        self.addCleanup(srv.close)
        self.enforced_dry_run(f'sys = {{ type = "syslog", address = "tcp://127.0.0.1:{srv.getsockname()[1]}" }}')
        conn, _ = srv.accept()
        self.addCleanup(conn.close)
        conn.settimeout(15)
        data, text = b"", ""
        while "no-dpkg" not in text:  # octet-counted frames: "LEN SP MSG"
            n, _, rest = data.partition(b" ")
            if n.isdigit() and len(rest) >= int(n):
                text, data = rest[:int(n)].decode(), rest[int(n):]
                continue
            chunk = conn.recv(65536)
            self.assertTrue(chunk, "the connection closed before the alert's message")
            data += chunk
        self.assertNotIn("table: 0x", text)
        self.assertRegex(text, r" act=dry run ")

    def test_slack_says_dry_run_once(self):
        slack = self.service(lambda *a: (200, None))
        self.enforced_dry_run(f'slack = {{ type = "slack", url = "http://127.0.0.1:{slack.port}/services/T/B/X" }}')
        text = slack.wait(lambda g: "no-dpkg" in g["body"]["text"])[0]["body"]["text"]
        self.assertIn("would kill", text)
        self.assertEqual(text.lower().count("dry run"), 1, text)

    def test_jira_api_version_is_2_or_3(self):
        """An api_version other than 2 or 3 stops the start, naming the setting and the values
        allowed (requests to /rest/api/4/... would fail only at the first alert)."""
        base = 'j = { type = "jira", url = "http://127.0.0.1:9", username = "u", token = "t", project = "P"'
        for bad in ("4", "1", "2.5"):
            self.assert_start_fails(f"{base}, api_version = {bad} }}",
                                    f"notifiers.j: api_version {bad} is not a Jira REST API version vigil"
                                    " speaks: use 2 (the default) or 3")

    def test_pagerduty_names_a_container_by_its_runtime_name_and_image(self):
        """Without Kubernetes, vigil reads the container's name and image from podman's own
        state (containers.json): the alert carries containerName and image, they survive a
        restart, PagerDuty's summary names them, and /metrics counts the cache misses."""
        name = "vigil-name-test"
        podman("rm", "-f", "-t", "0", name, check=False)
        cid = podman("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "infinity")
        self.addCleanup(podman, "rm", "-f", "-t", "0", cid, check=False)
        pd = self.service(PagerDuty())
        conf = self.start(f'pd = {{ type = "pagerduty", url = "http://127.0.0.1:{pd.port}/v2/enqueue", '
                          f'routing_key = "R0UT1NGKEY", retry_ms = 100 }}')
        podman("exec", cid, "/usr/bin/dpkg", "--version", check=False)
        b = pd.wait(lambda g: g["body"]["payload"]["custom_details"].get("containerId") == cid)[0]["body"]
        self.assertEqual(b["payload"]["summary"],
                         f"Container {name} ({IMAGE}, {cid[:12]}) (in cluster default) "
                         f"violates '{UBUNTU}' Policy")
        code, alert = self.d.req("GET", f"/v1/alerts/{b['dedup_key']}")
        self.assertEqual(code, 200, alert)
        self.assertEqual((alert["containerName"], alert["image"]), (name, IMAGE))
        _, metrics = self.d.req("GET", "/metrics")
        self.assertRegex(metrics, r"(?m)^vigil_container_name_misses_total [1-9]")
        self.assertRegex(metrics, r"(?m)^vigil_container_state_reads_total [1-9]")
        self.d.stop()
        self.d = Daemon(self.data, self.port, "--config", conf)  # the store kept them
        _, alert = self.d.req("GET", f"/v1/alerts/{b['dedup_key']}")
        self.assertEqual((alert["containerName"], alert["image"]), (name, IMAGE))


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
