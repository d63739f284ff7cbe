#!/usr/bin/env python3
"""GET /v1/alerts/stream (Server-Sent Events) and POST /v1/notifiers/{name}/test against a
real daemon: a host process matching a policy makes an alert, streamed as `new`; the same
process again merges into it (`violation`); resolving it through the API streams `resolved`;
a keepalive comes every api.stream_keepalive_s; the stream outlives api.request_timeout_s;
the 33rd stream is refused (503); a reader that leaves is cleaned up (the gauge in /metrics
falls back to 0); a slow reader is cut at 1 MiB behind; what a reader sends is dropped; the
console's session cookie opens a stream. The notifier test endpoint sends through a real local webhook receiver
(200), reports a receiver that is down (502) and an unknown name (404); GET /v1/notifiers
masks the password of a URL's user:password."""
import http.client
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_notify import Receiver, metric  # noqa: E402

V = vigtest.VIGIL
HOST_NAME = "vg-sthost"
POLICY = "Stream test host"
D = None
TMP = None
DATA = None
HOOK = None
DOWN_PORT = None


def start_all():
    global D, TMP, DATA, HOOK, DOWN_PORT
    TMP = tempfile.mkdtemp(prefix="vigil-stream-")
    os.chmod(TMP, 0o755)
    pdir = os.path.join(TMP, "policies")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "host.lua"), "w") as f:
        f.write(f"return policy {{ name = '{POLICY}', severity = 'low', "
                f"scope = {{ host = true }}, match = {{ process_name = '{HOST_NAME}' }} }}\n")
    DATA = os.path.join(TMP, "data")
    os.makedirs(DATA)
    HOOK = Receiver()
    DOWN_PORT = vigtest.free_port()  # nobody listens there
    conf = os.path.join(DATA, "vigil.conf.lua")
    with open(conf, "w") as f:
        f.write(f'''return {{ policy_dir = "{pdir}",
  api = {{ request_timeout_s = 1, stream_keepalive_s = 2 }},
  volume = {{ burst = 0 }},  -- every exec of the test process is a violation
  notifiers = {{
    hook = {{ type = "webhook", url = "http://vigil:s3cret-pw@127.0.0.1:{HOOK.port}/hook" }},
    down = {{ type = "webhook", url = "http://127.0.0.1:{DOWN_PORT}/hook", timeout_ms = 2000 }},
  }},
  default_notifiers = {{ }},
}}
''')
    D = Daemon(DATA, vigtest.free_port(), "--config", conf)


def stop_all():
    if D:
        D.stop()
    if HOOK:
        HOOK.stop()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


class Stream:
    """One GET /v1/alerts/stream, read on a thread: its events (and comments) in a queue."""

    def __init__(self, token=True, cookie=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", D.port, timeout=30)
        headers = {"Accept": "text/event-stream"}
        if cookie:
            headers["Cookie"] = f"vigil_session={cookie}"
        if token:
            headers["Authorization"] = f"Bearer {D.token}"
        self.conn.request("GET", "/v1/alerts/stream", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.q = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = json.loads(self.resp.read().decode())
            self.conn.close()

    def _read(self):
        event, data = None, []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith(":"):
                    self.q.put(("comment", line[1:].strip()))
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and (event or data):
                    self.q.put((event, json.loads("\n".join(data))))
                    event, data = None, []
        except Exception:  # noqa: BLE001 (closed under it by close())
            pass
        self.q.put(("end", None))

    def next_event(self, timeout=10):
        """The next `event: alert` message's data (comments skipped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                kind, data = self.q.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            if kind == "alert":
                return data
            if kind == "end":
                raise AssertionError("the stream ended")
        raise AssertionError(f"no alert event within {timeout} s: {D.text()[-2000:]}")

    def next_comment(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                kind, data = self.q.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            if kind == "comment" and data == "keepalive":
                return data
        raise AssertionError("no keepalive")

    def close(self):
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def metrics():
    _, text = D.req("GET", "/metrics")
    return text


def wait_gauge(name, value, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metric(metrics(), name) == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} is {metric(metrics(), name)}, not {value}")


def run_host_process():
    exe = os.path.join(TMP, HOST_NAME)
    if not os.path.exists(exe):
        shutil.copy("/bin/true", exe)
    subprocess.run([exe], check=True)


class AlertStreamTest(unittest.TestCase):
    def test_1_new_violation_resolved(self):
        s = Stream()
        self.assertEqual(s.status, 200)
        self.assertEqual(s.resp.getheader("Content-Type"), "text/event-stream")
        wait_gauge("vigil_api_streams", 1)
        run_host_process()
        ev = s.next_event()
        self.assertEqual(ev["change"], "new", ev)
        alert = ev["alert"]
        self.assertEqual(alert["policy"]["name"], POLICY)
        # the summary is exactly what GET /v1/alerts lists for it
        _, listed = D.req("GET", "/v1/alerts")
        same = [a for a in listed["alerts"] if a["id"] == alert["id"]]
        self.assertEqual(len(same), 1)
        self.assertEqual(set(same[0]), set(alert))
        self.assertEqual(same[0]["policy"], alert["policy"])
        # past api.request_timeout_s (1 s) and a keepalive (2 s): the stream is not cut
        time.sleep(2.5)
        run_host_process()
        ev = s.next_event()
        self.assertEqual((ev["change"], ev["alert"]["id"]), ("violation", alert["id"]), ev)
        code, ans = D.req("PATCH", f"/v1/alerts/{alert['id']}/resolve")
        self.assertEqual(code, 200, ans)
        ev = s.next_event()
        self.assertEqual((ev["change"], ev["alert"]["id"]), ("resolved", alert["id"]), ev)
        self.assertEqual(ev["alert"]["state"], "RESOLVED")
        s.close()
        wait_gauge("vigil_api_streams", 0)

    def test_2_keepalive(self):
        s = Stream()
        self.assertEqual(s.next_comment(timeout=5), "keepalive")
        s.close()
        wait_gauge("vigil_api_streams", 0)

    def test_3_cap_and_cleanup(self):
        streams = [Stream() for _ in range(32)]
        self.assertTrue(all(s.status == 200 for s in streams))
        wait_gauge("vigil_api_streams", 32)
        refused = Stream()
        self.assertEqual(refused.status, 503)
        self.assertIn("32 alert streams", refused.body["error"])
        self.assertGreaterEqual(metric(metrics(), "vigil_api_streams_refused_total"), 1)
        # other requests still go through while 32 streams are open
        code, _ = D.req("GET", "/v1/alerts")
        self.assertEqual(code, 200)
        for s in streams:
            s.close()
        wait_gauge("vigil_api_streams", 0)
        s = Stream()
        self.assertEqual(s.status, 200)
        s.close()
        wait_gauge("vigil_api_streams", 0)

    def test_7_slow_reader_is_cut(self):
        """A reader that takes nothing is cut once 1 MiB waits for it; the daemon goes on."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", D.port))
        sock.sendall(f"GET /v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Bearer {D.token}\r\n\r\n".encode())
        wait_gauge("vigil_api_streams", 1)
        before = metric(metrics(), "vigil_api_streams_cut_slow_total")
        exe = os.path.join(TMP, HOST_NAME)
        run_host_process()
        for _ in range(60):
            subprocess.run(["sh", "-c", f"for i in $(seq 200); do {exe}; done"], check=True)
            if metric(metrics(), "vigil_api_streams_cut_slow_total") > before:
                break
        self.assertEqual(metric(metrics(), "vigil_api_streams_cut_slow_total"), before + 1)
        wait_gauge("vigil_api_streams", 0)
        self.assertIn("cut", D.text())
        code, _ = D.req("GET", "/v1/alerts")
        self.assertEqual(code, 200)
        sock.close()

    def test_8_what_a_reader_sends_is_dropped(self):
        """Bytes a client sends on its stream are dropped, not kept: 32 MiB of them leave
        the daemon's memory as it was, and the stream goes on."""
        def rss_kib():
            with open(f"/proc/{D.proc.pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

        sock = socket.create_connection(("127.0.0.1", D.port))
        sock.sendall(f"GET /v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Bearer {D.token}\r\n\r\n".encode())
        wait_gauge("vigil_api_streams", 1)
        before = rss_kib()
        junk = b"x" * (1 << 20)
        for _ in range(32):
            sock.sendall(junk)
        time.sleep(0.5)
        self.assertLess(rss_kib() - before, 8 << 10)
        sock.settimeout(10)
        got = b""
        while b": keepalive" not in got:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "the stream ended")
            got += chunk
        sock.close()
        wait_gauge("vigil_api_streams", 0)

    def test_9_console_session(self):
        """The console's way in: the session cookie opens the stream (as EventSource sends
        it), and with its CSRF token runs a notifier test."""
        c = http.client.HTTPConnection("127.0.0.1", D.port, timeout=10)
        c.request("POST", "/login", body=urllib.parse.urlencode({"token": D.token}),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 303)
        sid = r.getheader("Set-Cookie").split(";")[0].partition("=")[2]
        c.close()
        s = Stream(token=False, cookie=sid)
        self.assertEqual(s.status, 200)
        self.assertEqual(s.next_comment(timeout=5), "keepalive")
        s.close()
        cookie = {"Cookie": f"vigil_session={sid}"}
        code, ans = D.req("GET", "/v1/console/session", token=False, headers=cookie)
        self.assertEqual(code, 200, ans)
        code, ans = D.req("POST", "/v1/notifiers/hook/test", token=False, headers=cookie)
        self.assertEqual(code, 403, ans)
        code, ans = D.req("POST", "/v1/notifiers/hook/test", token=False,
                          headers=dict(cookie, **{"X-CSRF-Token": "A" * 43}))
        self.assertEqual(code, 403, ans)
        _, sess = D.req("GET", "/v1/console/session", token=False, headers=cookie)
        code, ans = D.req("POST", "/v1/notifiers/hook/test", token=False,
                          headers=dict(cookie, **{"X-CSRF-Token": sess["csrf"]}))
        self.assertEqual((code, ans), (200, {"sent": True}))
        wait_gauge("vigil_api_streams", 0)

    def test_4_needs_the_token(self):
        s = Stream(token=False)
        self.assertEqual(s.status, 401)

    def test_5_notifier_test(self):
        n = len(HOOK.got)
        code, ans = D.req("POST", "/v1/notifiers/hook/test")
        self.assertEqual((code, ans), (200, {"sent": True}))
        got = HOOK.wait(n + 1)[-1]
        self.assertEqual(got["body"]["alert"]["policy"]["name"], "vigil test notification")
        code, ans = D.req("POST", "/v1/notifiers/down/test")
        self.assertEqual(code, 502, ans)
        self.assertIn("notifier 'down' did not deliver the test message: ", ans["error"])
        self.assertIn("connect", ans["error"])
        # a receiver that refuses (4xx) is reported with its answer
        HOOK.statuses.append(400)
        code, ans = D.req("POST", "/v1/notifiers/hook/test")
        self.assertEqual(code, 502, ans)
        self.assertIn("HTTP 400", ans["error"])
        # a receiver slower than api.request_timeout_s (1 s): the answer still comes
        HOOK.delay = lambda body: 2
        try:
            t0 = time.time()
            code, ans = D.req("POST", "/v1/notifiers/hook/test")
            self.assertEqual((code, ans), (200, {"sent": True}))
            self.assertGreaterEqual(time.time() - t0, 1.9)
        finally:
            HOOK.delay = None
        code, ans = D.req("POST", "/v1/notifiers/nosuch/test")
        self.assertEqual(code, 404, ans)
        code, ans = D.req("GET", "/v1/notifiers/hook/test")
        self.assertEqual(code, 405, ans)
        # a test is no alert: nothing queued, nothing in the store
        _, listed = D.req("GET", "/v1/notifiers")
        for inst in listed["notifiers"]:
            self.assertEqual(inst["counters"]["queued"], 0, inst)

    def test_6_notifiers_mask_url_credentials(self):
        _, listed = D.req("GET", "/v1/notifiers")
        text = json.dumps(listed)
        self.assertNotIn("s3cret-pw", text)
        hook = [i for i in listed["notifiers"] if i["name"] == "hook"][0]
        self.assertTrue(re.match(r"http://vigil:\*\*\*@127\.0\.0\.1:\d+/hook$",
                                 hook["settings"]["url"]), hook["settings"])


def setUpModule():
    try:
        start_all()
    except BaseException:
        stop_all()  # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    stop_all()


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
