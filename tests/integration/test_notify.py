#!/usr/bin/env python3
"""Notifiers through the durable outbox, against local HTTP receivers that check
each request as the real service documents it: the generic webhook
({"alert": {...}} with extra fields, custom headers, Basic auth) and
PagerDuty Events v2 (trigger on created, resolve on resolved, dedup_key = the
alert id, severity mapped). A receiver that is down gets it later; a 400 goes
to the dead letters with the answer; kill -9 with notifications pending loses
none; bad notifier configuration is a clear error at start."""
import base64
import json
import os
import random
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"



def metric(m, name):
    """The value of one line of Prometheus text."""
    for line in m.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def wait_metric(d, name, value, timeout=10):
    """Polls /metrics until NAME reads VALUE: the receiver has the request before vigil
    has read the answer and counted it."""
    deadline = time.time() + timeout
    while True:
        m = d.req("GET", "/metrics")[1]
        if metric(m, name) == value:
            return m
        if time.time() > deadline:
            raise AssertionError(f"{name} is {metric(m, name)}, not {value}, after {timeout}s")
        time.sleep(0.05)


class Receiver:
    """A local HTTP server recording requests; answers from a queue of statuses (default 200)."""

    def __init__(self, port=None, tls=None):
        self.port = port or vigtest.free_port()
        self.extra_headers = {}  # sent with every answer, e.g. Retry-After
        self.raw_body = None     # answer with this instead of JSON
        self.hang = False
        self.got = []
        self.statuses = []
        self.delay = None  # body -> seconds to wait before answering
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                item = {"path": self.path, "headers": dict(self.headers), "size": len(body),
                        "body": json.loads(body) if body else None, "start": time.time()}
                with rec.lock:
                    rec.got.append(item)
                    code = rec.statuses.pop(0) if rec.statuses else 200
                if rec.delay:
                    time.sleep(rec.delay(item["body"]))
                if rec.hang:
                    time.sleep(8)
                item["end"] = time.time()
                out = rec.raw_body or json.dumps({"status": "success" if code < 300 else "error"}).encode()
                self.send_response(code)
                for k, v in rec.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):  # jira looks the alert's issue up first: none yet
                out = json.dumps({"issues": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def wait(self, n, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.02)
        raise AssertionError(f"receiver got {len(self.got)} of {n}")


class NotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-notify-")
        self.port = vigtest.free_port()
        self.d = None
        self.recv = []
        self.pod = str(uuid.uuid4())
        self.cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                          f"/kubepods/besteffort/pod{self.pod}", IMAGE, "sleep", "infinity")

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
        for r in self.recv:
            r.stop()
        subprocess.run(["podman", "rm", "-f", "-t", "0", self.cid], capture_output=True)

    def assert_start_fails(self, conf, msg):
        """`vigil run` refuses this configuration at start, with msg in its error."""
        r = subprocess.run([vigtest.VIGIL, "run", "--config", conf, "--data-dir", self.data + "-b"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, msg)
        self.assertIn(msg, r.stderr)

    def config(self, hook_port, pd_port, extra=""):
        secret = os.path.join(self.data, "pd-key")
        with open(secret, "w") as f:
            f.write("R0UT1NGKEY\n")
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'''return {{
  api = {{ listen = "127.0.0.1:{self.port}" }},
  notifiers = {{
    ops = {{ type = "webhook", url = "http://127.0.0.1:{hook_port}/hook",
             headers = {{ ["X-Team"] = "sec" }}, fields = {{ cluster = "lab" }},
             username = "vigil", password = "s3cret", retry_ms = 100 {extra} }},
    pd = {{ type = "pagerduty", url = "http://127.0.0.1:{pd_port}/v2/enqueue",
            routing_key = {{ file = "{secret}" }}, cluster = "lab", retry_ms = 100 }},
  }},
  default_notifiers = {{ "ops", "pd" }},
}}
''')
        return conf

    def test_webhook_and_pagerduty(self):
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        self.d = Daemon(self.data, self.port, "--config", conf)
        t0 = time.time()
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        h = hook.wait(1)[0]
        p = pd.wait(1)[0]
        self.assertLess(time.time() - t0, 2.0)
        # the webhook: {"alert": ...} plus the extra fields, headers, Basic auth
        self.assertEqual(h["path"], "/hook")
        self.assertEqual(h["headers"]["X-Team"], "sec")
        self.assertEqual(h["headers"]["Authorization"],
                         "Basic " + base64.b64encode(b"vigil:s3cret").decode())
        self.assertEqual(h["body"]["cluster"], "lab")
        alert = h["body"]["alert"]
        self.assertEqual(alert["policy"]["name"], UBUNTU)
        self.assertEqual(alert["processes"][0]["args"], "--version")
        # PagerDuty Events v2
        b = p["body"]
        self.assertEqual(p["path"], "/v2/enqueue")
        self.assertEqual((b["routing_key"], b["event_action"], b["dedup_key"]),
                         ("R0UT1NGKEY", "trigger", alert["id"]))
        # low -> info: critical, high, medium, low map to four distinct PagerDuty severities
        self.assertEqual(b["payload"]["severity"], "info")
        self.assertEqual(b["payload"]["class"], UBUNTU)
        self.assertIn(f"violates '{UBUNTU}' Policy", b["payload"]["summary"])
        # secrets redacted in the API
        _, nt = self.d.req("GET", "/v1/notifiers")
        pdn = [x for x in nt["notifiers"] if x["name"] == "pd"][0]
        self.assertEqual(pdn["settings"]["routing_key"], "***")
        self.assertNotIn("R0UT1NGKEY", json.dumps(nt))
        self.assertNotIn("s3cret", json.dumps(nt))
        self.assertNotIn("R0UT1NGKEY", self.d.text())
        # resolving sends PagerDuty's resolve, same dedup key
        code, _ = self.d.req("PATCH", f"/v1/alerts/{alert['id']}/resolve", raw=b"")
        self.assertEqual(code, 200)
        r = pd.wait(2)[1]["body"]
        self.assertEqual((r["event_action"], r["dedup_key"]), ("resolve", alert["id"]))
        m = wait_metric(self.d, 'vigil_notifier_sent_total{notifier="pd"}', 2)
        self.assertIn('vigil_notifier_request_seconds_count{notifier="ops"}', m)

    def test_down_receiver_dead_letters_and_kill_9(self):
        hook_port = vigtest.free_port()
        pd = Receiver()
        self.recv.append(pd)
        conf = self.config(hook_port, pd.port)
        self.d = Daemon(self.data, self.port, "--config", conf)
        # the webhook receiver is down: pd still gets its trigger at once
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        pd.wait(1)
        time.sleep(0.5)
        m = self.d.req("GET", "/metrics")[1]
        self.assertIn('vigil_notifier_queue_depth{notifier="ops"} 1', m)
        self.assertNotIn('vigil_notifier_retried_total{notifier="ops"} 0', m)
        # more alerts pile up (distinct args pass volume control), then kill -9
        for i in range(5):
            podman("exec", self.cid, "/usr/bin/dpkg", f"--version{i}", check=False)
        time.sleep(0.5)
        self.d.stop(signal.SIGKILL)
        self.d = None
        # the receiver comes back, vigil restarts: every notification arrives
        hook = Receiver(hook_port)
        self.recv.append(hook)
        self.d = Daemon(self.data, self.port, "--config", conf)
        got = hook.wait(6, timeout=15)
        self.assertEqual([g["body"]["alert"]["policy"]["name"] for g in got], [UBUNTU] * 6)
        # a 400 goes straight to the dead letters with the receiver's answer
        hook.statuses = [400]
        podman("exec", self.cid, "/usr/bin/dpkg", "--bad", check=False)
        hook.wait(7)
        time.sleep(0.3)
        _, nt = self.d.req("GET", "/v1/notifiers")
        ops = [x for x in nt["notifiers"] if x["name"] == "ops"][0]
        self.assertEqual(len(ops["deadLetters"]), 1)
        self.assertIn("400", ops["deadLetters"][0]["reason"])
        # retried on request: delivered this time
        code, body = self.d.req("PATCH", "/v1/notifiers/ops/retry", raw=b"")
        self.assertEqual((code, body["requeued"]), (200, 1))
        hook.wait(8)

    def test_max_age_makes_a_dead_letter(self):
        """An event still failing max_age_s after it was queued goes to the dead letters
        (before max_attempts runs out), with the last answer and the reason; a retry on
        request gives it a fresh max_age_s."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        hook.statuses = [503] * 1000
        conf = self.config(hook.port, pd.port, extra=", max_age_s = 2, max_attempts = 1000")
        self.d = Daemon(self.data, self.port, "--config", conf)
        t0 = time.time()
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        pd.wait(1)

        def dead():
            _, nt = self.d.req("GET", "/v1/notifiers")
            return [x for x in nt["notifiers"] if x["name"] == "ops"][0]["deadLetters"]
        deadline = time.time() + 10
        while not dead() and time.time() < deadline:
            time.sleep(0.1)
        took = time.time() - t0
        d = dead()
        self.assertEqual(len(d), 1)
        self.assertIn("503", d[0]["reason"])
        self.assertIn("max_age_s", d[0]["reason"])
        self.assertGreaterEqual(took, 1.5)  # not before its age...
        self.assertLess(len(hook.got), 40)  # ...and long before max_attempts
        self.assertGreaterEqual(len(hook.got), 3)  # retried in between
        # retried on request, against a receiver that answers now: delivered
        hook.statuses = []
        n = len(hook.got)
        code, body = self.d.req("PATCH", "/v1/notifiers/ops/retry", raw=b"")
        self.assertEqual((code, body["requeued"]), (200, 1))
        self.assertEqual(hook.wait(n + 1)[-1]["body"]["alert"]["policy"]["name"], UBUNTU)

    def test_throttled_does_not_burn_attempts(self):
        """429 with Retry-After waits and is not a failed attempt: a receiver throttling for
        longer than max_attempts x Retry-After still gets every event, none dead-lettered."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        hook.statuses = [429] * 1000
        hook.extra_headers = {"Retry-After": "1"}
        conf = self.config(hook.port, pd.port, extra=", max_attempts = 2")
        self.d = Daemon(self.data, self.port, "--config", conf)
        for i in range(3):
            podman("exec", self.cid, "/usr/bin/dpkg", f"--version{i}", check=False)
        pd.wait(1)
        time.sleep(3.5)  # > max_attempts x Retry-After of throttling
        with hook.lock:
            throttled = len(hook.got)
            hook.statuses = []
            hook.extra_headers = {}
        self.assertGreaterEqual(throttled, 3)  # tried, throttled, tried again...

        def ops():
            _, nt = self.d.req("GET", "/v1/notifiers")
            return [x for x in nt["notifiers"] if x["name"] == "ops"][0]
        deadline = time.time() + 15
        while ops()["counters"]["queued"] and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(ops()["deadLetters"], [])
        self.assertEqual(ops()["counters"]["queued"], 0)  # ...and every event delivered
        got = hook.wait(throttled + 1)
        # the wait was Retry-After at least: no event came back within a second of its 429
        by_alert = {}
        for g in got[:throttled]:
            by_alert.setdefault(g["body"]["alert"]["id"], []).append(g["start"])
        for starts in by_alert.values():
            for a, b in zip(starts, starts[1:]):
                self.assertGreaterEqual(b - a, 0.95)

    def test_splunk_slack_jira(self):
        splunk, slack, jira = Receiver(), Receiver(), Receiver()
        self.recv += [splunk, slack, jira]
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'''return {{
  api = {{ listen = "127.0.0.1:{self.port}" }},
  notifiers = {{
    splunk = {{ type = "splunk", url = "http://127.0.0.1:{splunk.port}", token = "HECTOKEN", max_bytes = 900 }},
    slack = {{ type = "slack", url = "http://127.0.0.1:{slack.port}/services/T/B/X" }},
    jira = {{ type = "jira", url = "http://127.0.0.1:{jira.port}", username = "bot", token = "JT",
              project = "SEC", api_version = 3, cluster = "lab" }},
  }},
  default_notifiers = {{ "splunk", "slack", "jira" }},
}}
''')
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        s = splunk.wait(1)[0]
        self.assertEqual(s["path"], "/services/collector/event")
        self.assertEqual(s["headers"]["Authorization"], "Splunk HECTOKEN")
        self.assertEqual((s["body"]["source"], s["body"]["sourcetype"]), ("vigil", "vigil-alert"))
        self.assertEqual(s["body"]["event"]["policy"]["name"], UBUNTU)
        self.assertTrue(s["body"]["event"].get("trimmed"))  # over 900 bytes: trimmed
        self.assertLessEqual(s["size"], 900, s["body"])  # the bytes sent, as HEC counts them
        sl = slack.wait(1)[0]
        self.assertIn(UBUNTU, sl["body"]["text"])
        self.assertIn("Binary '/usr/bin/dpkg'", sl["body"]["text"])
        j = jira.wait(1)[0]
        self.assertEqual(j["path"], "/rest/api/3/issue")
        self.assertEqual(j["headers"]["Authorization"], "Basic " + base64.b64encode(b"bot:JT").decode())
        fields = j["body"]["fields"]
        self.assertEqual(fields["project"], {"key": "SEC"})
        self.assertEqual(fields["priority"], {"name": "Low"})
        self.assertEqual(fields["description"]["type"], "doc")
        self.assertIn(f"violates '{UBUNTU}' Policy", fields["summary"])

    def test_cli(self):
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        run = lambda *a: subprocess.run([vigtest.VIGIL, "notifiers", *a, "--config", conf,
                                         "--data-dir", self.data], capture_output=True, text=True,
                                        timeout=60)
        r = run("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"ops\s+webhook\s+yes")
        # test: a sample alert through the webhook, the receiver's answer printed
        r = run("test", "ops")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ops: accepted", r.stdout)
        self.assertEqual(hook.wait(1)[0]["body"]["alert"]["policy"]["name"], "vigil test notification")
        hook.statuses = [403]
        r = run("test", "ops")
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused: HTTP 403", r.stdout)
        r = run("test", "nobody")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no notifier named 'nobody'", r.stderr)
        # outbox and retry go through the daemon
        r = run("outbox")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no vigil daemon runs", r.stderr)
        self.d = Daemon(self.data, self.port, "--config", conf)
        hook.statuses = [400]
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        hook.wait(3)
        time.sleep(0.3)
        r = run("outbox", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 dead", r.stdout)
        self.assertIn("HTTP 400", r.stdout)
        r = run("retry", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 dead letters queued again", r.stdout)
        hook.wait(4)
        # one dead letter by its id, then an alert's by the alert id; a name that matches nothing is an error
        hook.statuses = [400]
        podman("exec", self.cid, "/usr/bin/dpkg", "--version-again", check=False)
        hook.wait(5)
        time.sleep(0.3)
        dead = [x for x in self.d.req("GET", "/v1/notifiers")[1]["notifiers"] if x["name"] == "ops"][0]["deadLetters"]
        self.assertEqual(len(dead), 1)
        self.assertIn(f"dead {dead[0]['id']}: alert {dead[0]['alert']}", run("outbox", "ops").stdout)
        r = run("outbox", "nobody")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stderr, r"no notifier named 'nobody'.*known: .*ops")
        r = run("retry", "nothing-42")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no notifier named 'nothing-42'", r.stderr)
        hook.statuses = [400]
        r = run("retry", str(dead[0]["id"]))
        self.assertIn("1 dead letters queued again", r.stdout, r.stderr)
        hook.wait(6)
        time.sleep(0.3)
        r = run("retry", dead[0]["alert"])
        self.assertIn("1 dead letters queued again", r.stdout, r.stderr)
        self.assertEqual(hook.wait(7)[-1]["body"]["alert"]["id"], dead[0]["alert"])

    def test_per_policy_notifiers(self):
        """A policy's own `notifiers` replace default_notifiers for its alerts; a name that
        is not configured is an error at start naming the policy and the notifier."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        pol = os.path.join(self.data, "policies")
        os.makedirs(pol)

        def policy(fname, pid, proc, notifiers):
            with open(os.path.join(pol, fname), "w") as f:
                f.write(f'return policy {{ id = "{pid}", name = "{pid}", severity = "high", '
                        f'match = {{ process_name = "{proc}" }}{notifiers} }}\n')
        policy("a.lua", "dpkg-to-pd", "dpkg", ', notifiers = { "pd" }')
        policy("b.lua", "apt-to-defaults", "apt-get", "")
        policy("c.lua", "date-to-nobody", "date", ", notifiers = {}")
        self.d = Daemon(self.data, self.port, "--config", conf, "--policies", pol)
        podman("exec", self.cid, "/usr/bin/date")
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        self.assertEqual(pd.wait(1)[0]["body"]["payload"]["class"], "dpkg-to-pd")
        podman("exec", self.cid, "/usr/bin/apt-get", "--version")
        self.assertEqual(hook.wait(1)[0]["body"]["alert"]["policy"]["name"], "apt-to-defaults")
        self.assertEqual(pd.wait(2)[1]["body"]["payload"]["class"], "apt-to-defaults")
        time.sleep(0.5)
        self.assertEqual(len(hook.got), 1)  # neither dpkg's nor date's alert went to the webhook
        self.assertEqual(len(pd.got), 2)
        code, alerts = self.d.req("GET", "/v1/alerts")
        self.assertIn("date-to-nobody", json.dumps(alerts))  # recorded, just not notified
        self.d.stop(signal.SIGTERM)
        self.d = None
        policy("a.lua", "dpkg-to-pd", "dpkg", ', notifiers = { "pagerduty" }')
        r = subprocess.run([vigtest.VIGIL, "run", "--config", conf, "--data-dir", self.data,
                            "--policies", pol], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("policy 'dpkg-to-pd' names notifier 'pagerduty', which vigil.conf.lua does not "
                      "configure", r.stderr)

    def test_concurrency_keeps_order_per_alert(self):
        """Up to `concurrency` events in flight per notifier: another alert's trigger goes
        while a slow one hangs, but a resolve never overtakes its own trigger."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        pd.delay = lambda b: 1.5 if b["event_action"] == "trigger" and b["payload"]["class"] == "slow" else 0
        conf = self.config(hook.port, pd.port)
        pol = os.path.join(self.data, "policies")
        os.makedirs(pol)
        for fname, pid, proc in [("a.lua", "slow", "dpkg"), ("b.lua", "fast", "date")]:
            with open(os.path.join(pol, fname), "w") as f:
                f.write(f'return policy {{ id = "{pid}", name = "{pid}", severity = "high", '
                        f'match = {{ process_name = "{proc}" }} }}\n')
        self.d = Daemon(self.data, self.port, "--config", conf, "--policies", pol)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        trig = pd.wait(1)[0]
        self.assertEqual(trig["body"]["payload"]["class"], "slow")
        code, _ = self.d.req("PATCH", f"/v1/alerts/{trig['body']['dedup_key']}/resolve", raw=b"")
        self.assertEqual(code, 200)
        podman("exec", self.cid, "/usr/bin/date")
        got = pd.wait(3, timeout=15)
        fast = [g for g in got if g["body"].get("payload", {}).get("class") == "fast"][0]
        resolve = [g for g in got if g["body"]["event_action"] == "resolve"][0]
        self.assertLess(fast["start"], trig["end"])  # in parallel with the slow one
        self.assertEqual(resolve["body"]["dedup_key"], trig["body"]["dedup_key"])
        self.assertGreaterEqual(resolve["start"], trig["end"])  # never before its trigger finished

    def test_plugin_dir_opsgenie(self):
        """A third-party plugin from plugin_dir (examples/plugins/opsgenie.lua) against a
        receiver that checks requests as Opsgenie's Alert API v2 documents them."""
        genie = Receiver()
        genie.statuses = [202, 202]
        self.recv.append(genie)
        src = os.path.join(os.environ.get("VIGIL_SRC", os.path.join(os.path.dirname(__file__), "../..")),
                           "examples", "plugins")
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'''return {{
  api = {{ listen = "127.0.0.1:{self.port}" }},
  plugin_dir = "{src}",
  notifiers = {{ genie = {{ type = "opsgenie", url = "http://127.0.0.1:{genie.port}", api_key = "K3Y",
                           responders = {{ {{ type = "team", name = "SecOps" }} }}, cluster = "lab" }} }},
  default_notifiers = {{ "genie" }},
}}
''')
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        c = genie.wait(1)[0]
        self.assertEqual(c["path"], "/v2/alerts")
        self.assertEqual(c["headers"]["Authorization"], "GenieKey K3Y")
        b = c["body"]
        self.assertLessEqual(len(b["message"]), 130)
        self.assertIn(f"violates '{UBUNTU}' Policy", b["message"])
        self.assertEqual(b["priority"], "P4")  # low
        self.assertEqual(b["responders"], [{"type": "team", "name": "SecOps"}])
        self.assertEqual(b["details"]["exe"], "/usr/bin/dpkg")
        alias = b["alias"]
        code, _ = self.d.req("PATCH", f"/v1/alerts/{alias}/resolve", raw=b"")
        self.assertEqual(code, 200)
        r = genie.wait(2)[1]
        self.assertEqual(r["path"], f"/v2/alerts/{alias}/close?identifierType=alias")
        self.assertEqual(r["body"]["source"], "vigil")
        _, nt = self.d.req("GET", "/v1/notifiers")
        self.assertNotIn("K3Y", json.dumps(nt))
        self.d.stop(signal.SIGTERM)
        self.d = None
        # plugin_dir errors: each stops vigil at start naming the file or directory
        bad = os.path.join(self.data, "bad-plugins")
        os.makedirs(bad)
        for fname, text, msg in [
            (None, None, "plugin_dir /nonexistent-vigil-plugins: No such file or directory"),
            ("a.lua", "return 42", "a.lua must return a table with a name"),
            ("a.lua", 'return { name = "webhook" }', "a notifier type 'webhook' is already defined by "
                                                      "plugins/webhook.lua"),
            ("a.lua", "return {", "a.lua:1:"),
        ]:
            pdir = "/nonexistent-vigil-plugins"
            if fname:
                pdir = bad
                with open(os.path.join(bad, fname), "w") as f:
                    f.write(text)
            with open(conf, "w") as f:
                f.write(f'return {{ plugin_dir = "{pdir}", notifiers = {{}} }}\n')
            self.assert_start_fails(conf, msg)

    def test_thousand_pending_survive_kill_9(self):
        """The receiver is down, 1,000 violations raise 1,000 events, vigil is killed with -9
        and restarted, the receiver comes back: every event arrives (at least once). With
        queue_max = 100, 900 of them wait in the spill file on disk, before and after."""
        hook_port = vigtest.free_port()
        pd = Receiver()
        self.recv.append(pd)
        conf = self.config(hook_port, pd.port, extra=", max_attempts = 1000, queue_max = 100")
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "sh", "-c",
               "i=0; while [ $i -lt 1000 ]; do /usr/bin/dpkg --version-$i >/dev/null 2>&1; i=$((i+1)); done",
               check=False)

        q, last = -1, None
        deadline = time.time() + 60
        while time.time() < deadline:  # every violation's event queued for the dead webhook
            m = self.d.req("GET", "/metrics")[1]
            q = metric(m, 'vigil_notifier_queue_depth{notifier="ops"}')
            if q >= 1000 and q == metric(m, "vigil_violations_durable_total") and q == last:
                break
            last = q
            time.sleep(0.3)
        self.assertGreaterEqual(q, 1000)
        self.assertGreaterEqual(metric(m, 'vigil_notifier_spilled{notifier="ops"}'), q - 100)
        r = subprocess.run([vigtest.VIGIL, "notifiers", "outbox", "ops", "--config", conf, "--data-dir",
                            self.data], capture_output=True, text=True, timeout=60)
        self.assertRegex(r.stdout, r"ops \(webhook\): \d+ pending \(\d+ of them on disk\)")
        self.d.stop(signal.SIGKILL)
        self.d = None
        hook = Receiver(hook_port)
        self.recv.append(hook)
        self.d = Daemon(self.data, self.port, "--config", conf)
        got = hook.wait(int(q), timeout=90)
        self.assertGreaterEqual(len(got), q)  # at least once: none lost
        deadline = time.time() + 30
        while time.time() < deadline:
            m = self.d.req("GET", "/metrics")[1]
            if metric(m, 'vigil_notifier_queue_depth{notifier="ops"}') == 0:
                break
            time.sleep(0.2)
        self.assertEqual(metric(m, 'vigil_notifier_queue_depth{notifier="ops"}'), 0)
        self.assertEqual(metric(m, 'vigil_notifier_dead_total{notifier="ops"}'), 0)
        self.assertEqual(metric(m, 'vigil_notifier_sent_total{notifier="ops"}'), len(hook.got))

    def test_offline_resolve_is_queued(self):
        """`vigil violations resolve` with no daemon running queues the resolve in the
        outbox, for the policy's own notifiers as the daemon would route it; the daemon
        sends it when it next starts."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        pol = os.path.join(self.data, "policies")
        os.makedirs(pol)
        with open(os.path.join(pol, "dpkg.lua"), "w") as f:
            f.write('return policy { id = "dpkg-to-pd", name = "dpkg-to-pd", severity = "high", '
                    'match = { process_name = "dpkg" }, notifiers = { "pd" } }\n')
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("  default_notifiers", f'  policy_dir = "{pol}", builtin_policies = false,\n  default_notifiers'))
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        aid = pd.wait(1)[0]["body"]["dedup_key"]
        # stopped only once the trigger is recorded as delivered: one stopped while the
        # receiver's answer is on its way sends it again at the next start (at least once)
        wait_metric(self.d, 'vigil_notifier_sent_total{notifier="pd"}', 1)
        self.d.stop(signal.SIGTERM)
        self.d = None
        r = subprocess.run([vigtest.VIGIL, "violations", "resolve", aid, "--config", conf,
                            "--data-dir", self.data], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queued until the daemon runs", r.stdout)
        time.sleep(0.5)
        self.assertEqual(len(pd.got), 1)  # nothing sent by the CLI itself
        self.d = Daemon(self.data, self.port, "--config", conf)
        r = pd.wait(2)[1]["body"]
        self.assertEqual((r["event_action"], r["dedup_key"]), ("resolve", aid))
        time.sleep(0.5)
        self.assertEqual(hook.got, [])  # the policy names pd only: not the default webhook

    def test_failure_matrix(self):
        """Each way a receiver or a plugin can fail, through `vigil notifiers test`: what is
        retried, what is refused at once, and what the operator is told."""
        from test_syslog import make_ca
        good, other = make_ca(self.data, "good"), make_ca(self.data, "other")
        plain, tls = Receiver(), Receiver(tls=good)
        self.recv += [plain, tls]
        pdir = os.path.join(self.data, "plugins")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "bad.lua"), "w") as f:
            f.write('return { name = "thrower", schema = { how = { type = "string" } },\n'
                    '  created = function(alert, conf, vigil)\n'
                    '    if conf.how == "loop" then while true do end end\n'
                    '    error("boom from the plugin") end }\n')
        conf = os.path.join(self.data, "vigil.conf.lua")
        u = f"http://127.0.0.1:{plain.port}/hook"
        s = f"https://127.0.0.1:{tls.port}/hook"
        with open(conf, "w") as f:
            f.write(f'''return {{
  plugin_dir = "{pdir}",
  notifiers = {{
    plain = {{ type = "webhook", url = "{u}", timeout_ms = 3000 }},
    https = {{ type = "webhook", url = "{s}", ca_file = "{good['ca']}" }},
    wrongca = {{ type = "webhook", url = "{s}", ca_file = "{other['ca']}" }},
    skipverify = {{ type = "webhook", url = "{s}", insecure = true }},
    notls = {{ type = "webhook", url = "https://127.0.0.1:{plain.port}/hook", insecure = true }},
    down = {{ type = "webhook", url = "http://127.0.0.1:{random.randint(61000, 64000)}/hook" }},
    throws = {{ type = "thrower" }},
    loops = {{ type = "thrower", how = "loop" }},
  }},
}}
''')
        def test(name):
            r = subprocess.run([vigtest.VIGIL, "notifiers", "test", name, "--config", conf,
                                "--data-dir", self.data], capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout + r.stderr

        self.assertEqual(test("https"), (0, "https: accepted\n"))
        self.assertEqual(tls.got[-1]["body"]["alert"]["policy"]["name"], "vigil test notification")
        self.assertEqual(test("skipverify")[0], 0)
        rc, out = test("wrongca")
        self.assertEqual(rc, 1)
        self.assertIn("will retry", out)
        self.assertRegex(out, r"(?i)certificate")
        rc, out = test("notls")  # TLS handshake against a plain HTTP server
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"(?i)ssl|tls")
        rc, out = test("down")
        self.assertEqual(rc, 1)
        self.assertIn("Couldn't connect", out)
        for code in (400, 401, 403, 404, 413):  # refused: straight to the dead letters
            plain.statuses = [code]
            rc, out = test("plain")
            self.assertEqual(rc, 1, code)
            self.assertIn(f"refused: HTTP {code}", out)
        for code in (408, 429, 500, 503):  # retried with backoff
            plain.statuses = [code]
            rc, out = test("plain")
            self.assertEqual(rc, 1, code)
            self.assertIn(f"will retry: HTTP {code}", out)
        plain.statuses = [429]
        plain.extra_headers = {"Retry-After": "7"}
        rc, out = test("plain")
        self.assertIn("again in 7000 ms", out)  # Retry-After honoured
        plain.statuses = [503]  # Retry-After as an HTTP date, 30 s from now
        plain.extra_headers = {"Retry-After": formatdate(time.time() + 30, usegmt=True)}
        rc, out = test("plain")
        self.assertRegex(out, r"again in (29|30)\d\d\d ms")
        plain.extra_headers = {}
        plain.raw_body = b"<html>not json"  # a 2xx is accepted whatever its body
        self.assertEqual(test("plain")[0], 0)
        plain.raw_body = None
        plain.hang = True  # no answer within its timeout_ms
        rc, out = test("plain")
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"(?i)timed? ?out|timeout")
        plain.hang = False
        rc, out = test("throws")
        self.assertEqual(rc, 1)
        self.assertIn("boom from the plugin", out)
        self.assertIn("bad.lua:4", out)
        rc, out = test("loops")
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"(?i)budget|instruction")

    def test_bad_notifier_config(self):
        for body, msg in [
            ('notifiers = { x = { type = "carrier-pigeon" } }', "unknown notifier type 'carrier-pigeon'"),
            ('notifiers = { x = { type = "webhook" } }', "a webhook notifier needs 'url'"),
            ('notifiers = { x = { type = "webhook", url = 3 } }', "notifiers.x.url must be a string"),
            ('notifiers = { x = { type = "webhook", url = "http://x", colour = 1 } }',
             "unknown key 'colour'"),
            ('notifiers = { x = { type = "pagerduty", routing_key = { env = "NO_SUCH_VAR_42" } } }',
             "notifiers.x.routing_key"),
            ('notifiers = {}, default_notifiers = { "nobody" }', "'nobody' is not a configured notifier"),
            ('notifiers = { x = { type = "webhook", url = "http://x", max_age_s = 0 } }',
             "notifiers.x.max_age_s must be a number of seconds from 1 to 315360000"),
            ('notifiers = { x = { type = "webhook", url = "http://x", retry_ms = 4294967295 } }',
             "notifiers.x.retry_ms must be an integer from 1 to 100000000"),
            ('notifiers = { x = { type = "webhook", url = "http://x", queue_max = 3 } }',
             "notifiers.x.queue_max must be from 16 to 10000000"),
        ]:
            conf = os.path.join(self.data, "bad.conf.lua")
            with open(conf, "w") as f:
                f.write(f"return {{ {body} }}\n")
            self.assert_start_fails(conf, msg)

    def webhook_config(self, url, extra=""):
        """A configuration with one default webhook, ops, at url (extra: more of its settings)."""
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }},\n'
                    f'  notifiers = {{ ops = {{ type = "webhook", url = "{url}", retry_ms = 100{extra} }} }},\n'
                    f'  default_notifiers = {{ "ops" }} }}\n')
        return conf

    def test_secret_headers(self):
        """Webhook header values are secrets: {env = NAME} and {file = PATH} reach the
        receiver resolved, and every header value is *** in GET /v1/notifiers."""
        hook = Receiver()
        self.recv.append(hook)
        key = os.path.join(self.data, "hook-key")
        with open(key, "w") as f:
            f.write("K3Y-FROM-FILE\n")
        os.environ["VIGIL_TEST_HOOK_AUTH"] = "Bearer T0KEN-FROM-ENV"
        self.addCleanup(os.environ.pop, "VIGIL_TEST_HOOK_AUTH", None)
        conf = self.webhook_config(
            f"http://127.0.0.1:{hook.port}/hook",
            ', headers = { ["X-Team"] = "plain-team", Authorization = { env = "VIGIL_TEST_HOOK_AUTH" }, '
            f'["X-Key"] = {{ file = "{key}" }} }}')
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        h = hook.wait(1)[0]["headers"]
        self.assertEqual((h.get("Authorization"), h.get("X-Key"), h.get("X-Team")),
                         ("Bearer T0KEN-FROM-ENV", "K3Y-FROM-FILE", "plain-team"))
        _, nt = self.d.req("GET", "/v1/notifiers")
        ops = [x for x in nt["notifiers"] if x["name"] == "ops"][0]
        self.assertEqual(ops["settings"]["headers"],
                         {"X-Team": "***", "Authorization": "***", "X-Key": "***"})
        for secret in ("plain-team", "T0KEN", "K3Y-FROM-FILE"):
            self.assertNotIn(secret, json.dumps(nt))
            self.assertNotIn(secret, self.d.text())

    def test_secret_errors(self):
        """A secret vigil cannot read, or a value the schema cannot take, stops vigil at start
        with an error naming the instance, the field and the fix."""
        os.environ.pop("NO_SUCH_VAR_42", None)
        hook = 'x = { type = "webhook", url = "http://x"'
        for body, msg in [
            (hook + ', headers = { Authorization = { env = "NO_SUCH_VAR_42" } } }',
             "notifiers.x.headers.Authorization: the environment variable NO_SUCH_VAR_42 is not set "
             "(set it in vigil's environment"),
            (hook + ', headers = { ["X-N"] = 3 } }',
             'notifiers.x.headers.X-N must be a string, { env = "NAME" } or { file = "PATH" }'),
            (hook + ', password = { envv = "HOME" } }', "notifiers.x.password: 'envv' cannot be in a secret"),
            (hook + ', password = { env = "HOME", file = "/etc/hostname" } }', "(one of the two)"),
            (hook + ', username = { env = "HOME" } }', "notifiers.x.username must be a string"),
            ('x = { type = "pagerduty", routing_key = { env = "NO_SUCH_VAR_42" } }',
             "notifiers.x.routing_key: the environment variable NO_SUCH_VAR_42 is not set"),
            ('x = { type = "pagerduty", routing_key = { file = "/nonexistent/key" } }',
             "notifiers.x.routing_key: cannot read the secret file /nonexistent/key"),
        ]:
            conf = os.path.join(self.data, "bad.conf.lua")
            with open(conf, "w") as f:
                f.write(f"return {{ notifiers = {{ {body} }} }}\n")
            self.assert_start_fails(conf, msg)

    def test_counters_tell_the_truth(self):
        """An event the plugin has no function for is skipped, not sent, and `last` stays
        the last request's outcome; a dead letter carries the receiver's answer in full, its
        body on one line (in the log too) and capped; a TLS error names its cause."""
        hook = Receiver()
        self.recv.append(hook)
        hook.statuses = [400] * 5  # every request refused: nothing may count as sent
        hook.raw_body = b"bad\nrequest: field x\n"
        pdir = os.path.join(self.data, "plugins")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "createonly.lua"), "w") as f:
            f.write('return { name = "createonly", schema = { url = { type = "string" } },\n'
                    '  created = function(alert, conf, vigil)\n'
                    '    return vigil.http { url = conf.url, body = vigil.json_encode({ id = alert.id }) } end }\n')
        ss = os.path.join(self.data, "self-signed")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", ss + ".key", "-out", ss + ".pem"], check=True, capture_output=True)
        tls = Receiver(tls={"cert": ss + ".pem", "key": ss + ".key"})
        self.recv.append(tls)
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'''return {{
  api = {{ listen = "127.0.0.1:{self.port}" }},
  plugin_dir = "{pdir}",
  notifiers = {{
    one = {{ type = "createonly", url = "http://127.0.0.1:{hook.port}/x" }},
    selfsigned = {{ type = "webhook", url = "https://127.0.0.1:{tls.port}/x" }},
  }},
  default_notifiers = {{ "one" }},
}}
''')
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        hook.wait(1)

        def one():
            return [x for x in self.d.req("GET", "/v1/notifiers")[1]["notifiers"] if x["name"] == "one"][0]
        deadline = time.time() + 10
        while not one()["deadLetters"] and time.time() < deadline:
            time.sleep(0.05)
        answer = "HTTP 400 Bad Request: bad\\nrequest: field x"
        self.assertEqual(one()["deadLetters"][0]["reason"], answer)
        self.assertIn(answer + "\n", self.d.text())  # the log line: one line
        aid = one()["deadLetters"][0]["alert"]
        code, _ = self.d.req("PATCH", f"/v1/alerts/{aid}/resolve", raw=b"")
        self.assertEqual(code, 200)
        m = wait_metric(self.d, 'vigil_notifier_skipped_total{notifier="one"}', 1)
        self.assertEqual(metric(m, 'vigil_notifier_sent_total{notifier="one"}'), 0)
        o = one()
        self.assertEqual((o["counters"]["skipped"], o["counters"]["sent"]), (1, 0))
        self.assertEqual(o["last"], "refused: " + answer)  # not the skipped resolve
        # a long answer is capped; a self-signed certificate is named as the cause
        hook.statuses = [429]
        hook.raw_body = b"y" * 2000
        r = subprocess.run([vigtest.VIGIL, "notifiers", "test", "one", "--config", conf, "--data-dir",
                            self.data], capture_output=True, text=True, timeout=60)
        self.assertIn("will retry: HTTP 429 Too Many Requests: " + "y" * 300, r.stdout)
        self.assertIn("HTTP 429 Too Many Requests: " + "y" * 512 + "... (1488 bytes more)", r.stderr)
        r = subprocess.run([vigtest.VIGIL, "notifiers", "test", "selfsigned", "--config", conf,
                            "--data-dir", self.data], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("TLS certificate verify failed: self-signed certificate", r.stdout)

    def test_notifiers_list(self):
        """`vigil notifiers list` (and --json) shows each notifier's type, settings with every
        secret as ***, whether it is a default, and with a daemon its counters and last
        outcome; without one, the configuration's settings and no counters."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace('default_notifiers = { "ops", "pd" }', 'default_notifiers = { "ops" }'))
        run = lambda *a: subprocess.run([vigtest.VIGIL, "notifiers", "list", *a, "--config", conf,
                                         "--data-dir", self.data], capture_output=True, text=True,
                                        timeout=60)

        def check_masked(out):
            for secret in ("s3cret", "R0UT1NGKEY", '"sec"'):
                self.assertNotIn(secret, out)

        r = run()
        self.assertEqual(r.returncode, 0, r.stderr)
        check_masked(r.stdout)
        self.assertRegex(r.stdout, r"ops\s+webhook\s+yes\s+-\n")
        self.assertRegex(r.stdout, r"pd\s+pagerduty\s+no\s+-\n")
        self.assertIn('headers={"X-Team":"***"} password="***" retry_ms=100 '
                      f'url="http://127.0.0.1:{hook.port}/hook" username="vigil"', r.stdout)
        self.assertIn('routing_key="***"', r.stdout)
        self.assertNotIn("counters:", r.stdout)
        self.assertIn("no vigil daemon runs", r.stdout)
        r = run("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        check_masked(r.stdout)
        ops = {x["name"]: x for x in json.loads(r.stdout)["notifiers"]}["ops"]
        self.assertEqual((ops["type"], ops["default"]), ("webhook", True))
        self.assertEqual((ops["settings"]["headers"], ops["settings"]["password"]), ({"X-Team": "***"}, "***"))
        self.assertNotIn("counters", ops)
        # with the daemon: its counters and last outcome too
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        hook.wait(1)
        wait_metric(self.d, 'vigil_notifier_sent_total{notifier="ops"}', 1)
        r = run()
        self.assertEqual(r.returncode, 0, r.stderr)
        check_masked(r.stdout)
        self.assertRegex(r.stdout, r"ops\s+webhook\s+yes\s+accepted\n  settings: fields=.*password=\"\*\*\*\".*\n"
                                   r"  counters: sent 1, skipped 0, failed 0, retried 0, dead 0, queued 0 \(0 on disk\)")
        self.assertNotIn("no vigil daemon runs", r.stdout)
        r = run("--json")
        check_masked(r.stdout)
        ops = {x["name"]: x for x in json.loads(r.stdout)["notifiers"]}["ops"]
        self.assertEqual((ops["last"], ops["counters"]["sent"], ops["settings"]["password"]),
                         ("accepted", 1, "***"))
        # a configuration vigil would refuse at start is refused here too
        with open(conf, "w") as f:
            f.write('return { notifiers = { x = { type = "webhook", url = "http://x", colour = 1 } } }\n')
        self.d.stop(signal.SIGTERM)
        self.d = None
        r = run()
        self.assertEqual(r.returncode, 1)
        self.assertIn("notifiers.x: unknown key 'colour'", r.stderr)

    def ops_state(self, name="ops"):
        """The instance NAME as GET /v1/notifiers shows it."""
        _, nt = self.d.req("GET", "/v1/notifiers")
        return [x for x in nt["notifiers"] if x["name"] == name][0]

    def test_outage_does_not_dead_letter(self):
        """A receiver down (connection refused) for longer than max_attempts tries: the event
        stays pending (max_attempts counts only a plugin's own failures; max_age_s is the limit
        here) and is delivered once the receiver is back."""
        hook_port = vigtest.free_port()
        pd = Receiver()
        self.recv.append(pd)
        conf = self.config(hook_port, pd.port, extra=", max_attempts = 2")
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        pd.wait(1)
        deadline = time.time() + 15
        while self.ops_state()["counters"]["retried"] < 4 and time.time() < deadline:
            time.sleep(0.05)
        ops = self.ops_state()
        self.assertGreaterEqual(ops["counters"]["retried"], 4)  # more tries than max_attempts
        self.assertEqual(ops["deadLetters"], [])
        queued = ops["counters"]["queued"]
        self.assertGreaterEqual(queued, 1)
        hook = Receiver(hook_port)
        self.recv.append(hook)
        got = hook.wait(queued, timeout=20)
        self.assertIn(UBUNTU, [g["body"]["alert"]["policy"]["name"] for g in got])
        deadline = time.time() + 10
        while self.ops_state()["counters"]["queued"] and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.ops_state()["counters"]["queued"], 0)  # every one delivered
        self.assertEqual(self.ops_state()["deadLetters"], [])

    def test_tries_survive_kill_9(self):
        """An event's tries and its next try are in the outbox log: after kill -9 and a
        restart the count goes on, and an event that was backing off is not sent at once."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        hook.statuses = [500] * 1000
        conf = self.config(hook.port, pd.port, extra=", retry_ms = 2000")
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        pd.wait(1)

        def first():
            w = self.ops_state()["waiting"]
            return w[0] if w else {"attempts": 0}
        deadline = time.time() + 15
        while first()["attempts"] < 2 and time.time() < deadline:
            time.sleep(0.02)
        before = first()
        self.assertGreaterEqual(before["attempts"], 2)
        self.assertGreater(before["nextTryMs"], 0)
        time.sleep(0.3)  # its record written (group commit): one kill -9 lost is an early try
        self.d.stop(signal.SIGKILL)  # backing off: its next try is 2 s at least from its last
        self.d = None
        aid = before["alert"]
        with hook.lock:
            n = len(hook.got)
            last = [g["start"] for g in hook.got if g["body"]["alert"]["id"] == aid][-1]
        self.d = Daemon(self.data, self.port, "--config", conf)
        after = [w for w in self.ops_state()["waiting"] if w["id"] == before["id"]][0]
        self.assertGreaterEqual(after["attempts"], before["attempts"])  # not reset
        deadline = time.time() + 15
        while time.time() < deadline:
            with hook.lock:
                again = [g["start"] for g in hook.got[n:] if g["body"]["alert"]["id"] == aid]
            if again:
                break
            time.sleep(0.05)
        self.assertTrue(again)
        self.assertGreaterEqual(again[0] - last, 1.9)  # not sent at once
        # the count goes on from there
        deadline = time.time() + 5
        while first()["attempts"] <= before["attempts"] and time.time() < deadline:
            time.sleep(0.05)
        self.assertGreater(first()["attempts"], before["attempts"])

    def test_retry_keeps_event_order(self):
        """A trigger and its resolve, both dead letters: `vigil notifiers retry` sends them
        back oldest first, so the receiver sees the trigger before the resolve."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        pd.statuses = [400] * 1000  # every request refused
        conf = self.config(hook.port, pd.port)
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        aid = pd.wait(1)[0]["body"]["dedup_key"]
        code, _ = self.d.req("PATCH", f"/v1/alerts/{aid}/resolve", raw=b"")
        self.assertEqual(code, 200)

        def dead():  # this alert's (the sensor sees every container on the host)
            return [d["event"] for d in self.ops_state("pd")["deadLetters"] if d["alert"] == aid]
        deadline = time.time() + 10
        while len(dead()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(dead(), ["resolved", "created"])  # newest first
        with pd.lock:
            pd.statuses = []
            n = len(pd.got)
        r = subprocess.run([vigtest.VIGIL, "notifiers", "retry", "pd", "--config", conf,
                            "--data-dir", self.data], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 10
        while time.time() < deadline:
            with pd.lock:
                again = [g["body"]["event_action"] for g in pd.got[n:]
                         if g["body"]["dedup_key"] == aid]
            if len(again) >= 2:
                break
            time.sleep(0.05)
        self.assertEqual(again, ["trigger", "resolve"])

    def test_timeout_ms(self):
        """timeout_ms per instance: a PagerDuty request past it is retried with the same
        dedup_key (the alert id); the default is 10 s, so a webhook answering in 6 s is
        accepted at the first request."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        first = {"hook": True, "pd": True}

        def slow(name, secs):
            def delay(body):
                was, first[name] = first[name], False
                return secs if was else 0
            return delay
        hook.delay = slow("hook", 6)
        pd.delay = slow("pd", 2.5)
        conf = self.config(hook.port, pd.port)
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace('cluster = "lab", retry_ms = 100 }',
                                 'cluster = "lab", retry_ms = 100, timeout_ms = 1000 }'))
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        key = pd.wait(1)[0]["body"]["dedup_key"]  # the request that times out
        deadline = time.time() + 15
        while time.time() < deadline:
            with pd.lock:
                same = [g for g in pd.got if g["body"]["dedup_key"] == key]
            if len(same) >= 2:
                break
            time.sleep(0.05)
        self.assertEqual([g["body"]["event_action"] for g in same[:2]], ["trigger", "trigger"])
        self.assertLess(same[1]["start"] - same[0]["start"], 2.4)  # timed out after 1 s, not 5
        deadline = time.time() + 15
        while self.ops_state()["counters"]["queued"] and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn(key, [g["body"]["alert"]["id"] for g in hook.got])  # the alert id
        counters = self.ops_state()["counters"]
        self.assertEqual((counters["failed"], counters["retried"]), (0, 0))  # not timed out
        bad = os.path.join(self.data, "bad.conf.lua")
        with open(bad, "w") as f:
            f.write('return { notifiers = { x = { type = "syslog", address = "udp://127.0.0.1:514", '
                    'timeout_ms = 50 } } }\n')
        self.assert_start_fails(bad, "notifiers.x.timeout_ms must be from 100 to 600000")

    def notifiers_cli(self, conf, *args):
        return subprocess.run([vigtest.VIGIL, "notifiers", *args, "--config", conf,
                               "--data-dir", self.data], capture_output=True, text=True,
                              timeout=60)

    def test_outbox_json_and_tries(self):
        """`vigil notifiers outbox [NAME] --json` prints JSON: each instance's events
        waiting with their tries, and its dead letters; the text form shows the tries too."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        hook.statuses = [500] * 1000  # ops retries, slowly
        pd.statuses = [400] * 1000  # pd dead-letters
        conf = self.config(hook.port, pd.port, extra=", retry_ms = 5000")
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        aid = pd.wait(1)[0]["body"]["dedup_key"]
        hook.wait(1)
        deadline = time.time() + 10
        while time.time() < deadline and not (
                [w for w in self.ops_state()["waiting"] if w["alert"] == aid]
                and [x for x in self.ops_state("pd")["deadLetters"] if x["alert"] == aid]):
            time.sleep(0.05)
        r = self.notifiers_cli(conf, "outbox", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {x["name"]: x for x in json.loads(r.stdout)["notifiers"]}
        self.assertEqual(set(got), {"ops", "pd"})
        mine = [w for w in got["ops"]["waiting"] if w["alert"] == aid]
        self.assertEqual(len(mine), 1, got["ops"])
        self.assertGreaterEqual(mine[0]["attempts"], 1)
        self.assertIn("failures", mine[0])  # the plugin's own: max_attempts counts them
        self.assertIn("nextTryMs", mine[0])
        self.assertIn("inFlight", mine[0])
        self.assertIn(aid, [x["alert"] for x in got["pd"]["deadLetters"]])
        self.assertIn("queued", got["ops"]["counters"])
        r = self.notifiers_cli(conf, "outbox", "ops", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["name"] for x in json.loads(r.stdout)["notifiers"]], ["ops"])
        r = self.notifiers_cli(conf, "outbox", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, rf"waiting {mine[0]['id']}: alert {aid} created: "
                                   r"\d+ tries \(\d+ toward max_attempts\), (in flight, )?next try in \d+ ms")

    def test_retry_by_short_alert_id(self):
        """`vigil notifiers retry PREFIX` takes a unique prefix of an alert id, as
        `violations show` does; no match and a too short prefix are clear errors."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        pd.statuses = [400] * 1000  # every PagerDuty request refused: dead letters
        conf = self.config(hook.port, pd.port)
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version", check=False)
        aid = pd.wait(1)[0]["body"]["dedup_key"]
        deadline = time.time() + 10
        while time.time() < deadline and aid not in [
                x["alert"] for x in self.ops_state("pd")["deadLetters"]]:
            time.sleep(0.05)
        others = {x["alert"] for x in self.ops_state("pd")["deadLetters"]} - {aid}
        n = next(k for k in range(8, 37) if not any(o.startswith(aid[:k]) for o in others))
        r = self.notifiers_cli(conf, "retry", aid[:2])  # too short, though it matches
        self.assertEqual(r.returncode, 1)
        self.assertIn("at least 4", r.stderr)
        with pd.lock:
            pd.statuses = []
            before = len(pd.got)
        r = self.notifiers_cli(conf, "retry", aid[:n].upper())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{aid}: 1 dead letters queued again", r.stdout)
        deadline = time.time() + 10
        while time.time() < deadline and aid not in [
                g["body"]["dedup_key"] for g in pd.got[before:]]:
            time.sleep(0.05)
        self.assertIn(aid, [g["body"]["dedup_key"] for g in pd.got[before:]])
        r = self.notifiers_cli(conf, "retry", "zzzzzzzz")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"no notifier named 'zzzzzzzz' \(known: (ops, pd|pd, ops)\), "
                                   r"and no dead letter")

    def test_retry_without_notifiers(self):
        """With no notifiers configured, `vigil notifiers retry NAME` says so plainly, and
        the API's 404 says what is wrong rather than how to spell the path."""
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write("return { }\n")
        self.d = Daemon(self.data, self.port, "--config", conf)
        r = self.notifiers_cli(conf, "retry", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no notifier named 'nope': this vigil has no notifiers configured "
                      "(notifiers = { ... } in vigil.conf.lua)", r.stderr)
        self.assertNotIn("PATCH", r.stderr)
        code, body = self.d.req("PATCH", "/v1/notifiers/nope/retry", raw=b"")
        self.assertEqual(code, 404)
        self.assertIn("no notifiers configured", body["error"])

    def test_list_last_before_any_request(self):
        """With a daemon that has sent nothing yet, `notifiers list` shows "-" as LAST (as it
        does without a daemon), not an empty column."""
        hook, pd = Receiver(), Receiver()
        self.recv += [hook, pd]
        conf = self.config(hook.port, pd.port)
        self.d = Daemon(self.data, self.port, "--config", conf)
        r = self.notifiers_cli(conf, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"ops\s+webhook\s+yes\s+-\n")
        self.assertRegex(r.stdout, r"pd\s+pagerduty\s+yes\s+-\n")


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
