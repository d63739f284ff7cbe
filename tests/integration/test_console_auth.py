#!/usr/bin/env python3
"""The web console's sign-in, against a real daemon: the link `vigil console` prints signs
in once (a session cookie: HttpOnly, SameSite=Strict, Path=/, Max-Age from the
configuration), an expired, used or wrong code and a wrong API token are refused with the
login page's message and no cookie, the API token form signs in, the cookie reaches /v1/
endpoints, a state-changing request with the cookie needs the session's X-CSRF-Token (else
403 and nothing changes), logout ends the session, every console answer carries the CSP and
the other headers, and a request with neither credential is 401."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402

V = vigtest.VIGIL
CODE_TTL = 3  # seconds: short, so that a code can be seen expiring
POLICY = "alpine-linux-package-manager-execution"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CODE_MSG = ("This sign-in link is not valid: it has expired or was used already. "
            "Run `vigil console` for a new one.")
CSRF_MSG = ("missing or wrong CSRF token: send the X-CSRF-Token header from GET "
            "/v1/console/session")
D = None
TMP = None
DATA = None


def start_all():
    global D, TMP, DATA
    TMP = tempfile.mkdtemp(prefix="vigil-console-")
    DATA = os.path.join(TMP, "data")
    conf = os.path.join(TMP, "vigil.conf.lua")
    with open(conf, "w") as f:
        f.write(f'return {{ api = {{ console_code_ttl = "{CODE_TTL}s", '
                'console_session_ttl = "1h", hosts = "vigil.test, Console.Lan" } }\n')
    D = Daemon(DATA, vigtest.free_port(), "--config", conf)


def stop_all():
    if D:
        D.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def call(method, path, headers=None, body=None):
    """One request, redirects not followed: (status, {lower-case name: [values]}, text)."""
    c = http.client.HTTPConnection("127.0.0.1", D.port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        hs = {}
        for k, v in r.getheaders():
            hs.setdefault(k.lower(), []).append(v)
        return r.status, hs, r.read().decode()
    finally:
        c.close()


def console(*args):
    return subprocess.run([V, "console", "--data-dir", DATA, *args], capture_output=True,
                          text=True, timeout=60)


def new_code():
    """The link `vigil console` prints: (its path and query, the whole output)."""
    r = console()
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"Open (http://\S+)\nThe link is valid for (.+), once\.\n", r.stdout)
    assert m, r.stdout
    u = urllib.parse.urlsplit(m.group(1))
    assert u.netloc == f"127.0.0.1:{D.port}", m.group(1)
    return f"{u.path}?{u.query}", r.stdout


def session_of(hs):
    """The session id a 303 sign-in set, after checking the cookie's attributes."""
    cookies = hs.get("set-cookie", [])
    assert len(cookies) == 1, cookies
    parts = [p.strip() for p in cookies[0].split(";")]
    name, _, sid = parts[0].partition("=")
    assert name == "vigil_session" and len(sid) == 43, cookies
    assert set(parts[1:]) == {"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=3600"}, cookies
    return sid


def sign_in():
    path, _ = new_code()
    code, hs, _ = call("GET", path)
    assert code == 303, code
    return session_of(hs)


def csrf_of(sid):
    code, _, text = call("GET", "/v1/console/session", {"Cookie": f"vigil_session={sid}"})
    assert code == 200, text
    return json.loads(text)["csrf"]


def metric(name):
    code, body = D.req("GET", "/metrics")
    m = re.search(rf"^{name} (\d+)$", body, re.M)
    assert m, body
    return int(m.group(1))


class ConsoleAuthTest(unittest.TestCase):
    def assert_console_headers(self, hs):
        self.assertEqual(hs.get("content-security-policy"), [CSP])
        self.assertEqual(hs.get("x-content-type-options"), ["nosniff"])
        self.assertEqual(hs.get("referrer-policy"), ["no-referrer"])
        self.assertEqual(hs.get("x-frame-options"), ["DENY"])
        self.assertEqual(hs.get("cache-control"), ["no-store"])

    def assert_refused_page(self, code, hs, text, want_code, message):
        self.assertEqual(code, want_code, text)
        self.assertNotIn("set-cookie", hs)
        self.assertEqual(hs["content-type"], ["text/html; charset=utf-8"])
        self.assert_console_headers(hs)
        m = re.search(r'<p id="login-error"[^>]*>([^<]*)</p>', text)
        self.assertTrue(m, text)
        self.assertIn(message, m.group(1))

    def enforcement(self):
        code, body = D.req("GET", f"/v1/policies/{POLICY}")
        self.assertEqual(code, 200, body)
        return body["enforcement"]

    def test_link_signs_in_once(self):
        path, out = new_code()
        self.assertIn(f"valid for {CODE_TTL} seconds, once", out)
        code, hs, _ = call("GET", path)
        self.assertEqual(code, 303)
        self.assertEqual(hs["location"], ["/"])
        self.assert_console_headers(hs)
        sid = session_of(hs)
        code, _, text = call("GET", "/v1/alerts", {"Cookie": f"vigil_session={sid}"})
        self.assertEqual(code, 200, text)
        self.assertIn("alerts", json.loads(text))
        # the same link again: refused, no cookie
        code, hs, text = call("GET", path)
        self.assert_refused_page(code, hs, text, 401, CODE_MSG)

    def test_expired_and_wrong_codes(self):
        before = metric("vigil_api_console_signin_refused_total")
        path, _ = new_code()
        time.sleep(CODE_TTL + 0.5)
        code, hs, text = call("GET", path)
        self.assert_refused_page(code, hs, text, 401, CODE_MSG)
        wrong = "A" * 43
        code, hs, text = call("GET", f"/login?code={wrong}")
        self.assert_refused_page(code, hs, text, 401, CODE_MSG)
        self.assertNotIn(wrong, text)  # no request data echoed
        for bad in ("", "x" * 8000, "%00%ff", "<script>"):
            code, hs, text = call("GET", "/login?code=" + urllib.parse.quote(bad))
            self.assert_refused_page(code, hs, text, 401, CODE_MSG)
        self.assertEqual(metric("vigil_api_console_signin_refused_total"), before + 6)

    def test_json_answer(self):
        r = console("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(len(j["code"]), 43)
        self.assertRegex(j["code"], r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(j["url"], f"http://127.0.0.1:{D.port}/login?code={j['code']}")
        self.assertRegex(j["expiresAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # a code is for the bearer token only
        sid = sign_in()
        code, _, text = call("POST", "/v1/console/codes",
                             {"Cookie": f"vigil_session={sid}", "X-CSRF-Token": csrf_of(sid)})
        self.assertEqual(code, 403, text)

    def test_token_form(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode({"token": D.token})
        code, hs, _ = call("POST", "/login", form, body)
        self.assertEqual(code, 303)
        sid = session_of(hs)
        self.assertTrue(csrf_of(sid))
        code, hs, text = call("POST", "/login", form, "token=" + "0" * len(D.token))
        self.assert_refused_page(code, hs, text, 401, "Wrong API token")
        code, hs, text = call("POST", "/login", form, "other=1")
        self.assert_refused_page(code, hs, text, 400, "Paste the API token")
        code, hs, text = call("POST", "/login", form, "token=" + "a" * 9000)
        self.assert_refused_page(code, hs, text, 400, "too large")
        code, hs, text = call("POST", "/login", dict(form, Origin="http://evil.example"), body)
        self.assertEqual(code, 403)
        self.assertNotIn("set-cookie", hs)

    def test_csrf(self):
        sid = sign_in()
        csrf = csrf_of(sid)
        cookie = {"Cookie": f"theme=dark;vigil_session={sid}; other=1",
                  "Content-Type": "application/json"}
        body = json.dumps({"enforcement": "kill_process"})
        self.assertEqual(self.enforcement(), "inform")
        before = metric("vigil_api_csrf_refused_total")
        for extra in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf[:-1]},
                      {"X-CSRF-Token": sid}):
            code, _, text = call("PATCH", f"/v1/policies/{POLICY}", dict(cookie, **extra), body)
            self.assertEqual(code, 403, text)
            self.assertEqual(json.loads(text), {"error": CSRF_MSG, "code": 403})
            self.assertEqual(self.enforcement(), "inform")
        self.assertEqual(metric("vigil_api_csrf_refused_total"), before + 4)
        code, _, text = call("PATCH", f"/v1/policies/{POLICY}",
                             dict(cookie, **{"X-CSRF-Token": csrf}), body)
        self.assertEqual(code, 200, text)
        self.assertEqual(self.enforcement(), "kill_process")
        code, _ = D.req("PATCH", f"/v1/policies/{POLICY}", {"enforcement": "inform"})
        self.assertEqual(code, 200)

    def test_logout(self):
        sid = sign_in()
        csrf = csrf_of(sid)
        cookie = {"Cookie": f"vigil_session={sid}"}
        code, _, text = call("POST", "/v1/console/logout", cookie)
        self.assertEqual(code, 403, text)  # CSRF token needed
        code, hs, _ = call("POST", "/v1/console/logout", dict(cookie, **{"X-CSRF-Token": csrf}))
        self.assertEqual(code, 204)
        self.assertIn("Max-Age=0", hs["set-cookie"][0])
        self.assertTrue(hs["set-cookie"][0].startswith("vigil_session=;"))
        for path in ("/v1/console/session", "/v1/alerts"):
            code, _, text = call("GET", path, cookie)
            self.assertEqual(code, 401, text)
            self.assertEqual(json.loads(text)["code"], 401)

    def test_no_credentials(self):
        for path in ("/v1/alerts", "/v1/policies", "/v1/console/session", "/metrics"):
            code, _, text = call("GET", path)
            self.assertEqual(code, 401, text)
            self.assertEqual(json.loads(text)["code"], 401)
        code, _, _ = call("GET", "/v1/alerts", {"Cookie": "vigil_session=" + "B" * 43})
        self.assertEqual(code, 401)
        code, _, _ = call("GET", "/v1/alerts", {"Cookie": "vigil_session="})
        self.assertEqual(code, 401)
        code, _, _ = call("POST", "/v1/console/codes")
        self.assertEqual(code, 401)
        # a wrong bearer token decides, whatever the cookie
        sid = sign_in()
        code, _, _ = call("GET", "/v1/alerts",
                          {"Cookie": f"vigil_session={sid}", "Authorization": "Bearer nope"})
        self.assertEqual(code, 401)

    def test_headers_on_pages(self):
        for path, ctype in (("/login", "text/html; charset=utf-8"),
                            ("/console/login.html", "text/html; charset=utf-8"),
                            ("/console/login.css", "text/css; charset=utf-8")):
            code, hs, text = call("GET", path)
            self.assertEqual(code, 200, (path, text))
            self.assertEqual(hs["content-type"], [ctype])
            self.assert_console_headers(hs)
        self.assertIn('name="token"', call("GET", "/login")[2])
        self.assertIn('id="login-error"', call("GET", "/login")[2])
        # / is index.html (written alongside): whatever the build carries, the headers hold
        code, hs, _ = call("GET", "/")
        self.assertIn(code, (200, 404))
        self.assert_console_headers(hs)
        for path in ("/console/nope.js", "/console/.hidden.js", "/console/login.lua",
                     "/console/a%2Fb.js", "/console/"):
            code, hs, text = call("GET", path)
            self.assertEqual(code, 404, (path, text))
            self.assert_console_headers(hs)
        code, hs, text = call("HEAD", "/console/login.css")
        self.assertEqual((code, text), (200, ""))
        self.assertEqual(hs["content-length"], [str(len(call("GET", "/console/login.css")[2]))])
        self.assert_console_headers(hs)
        code, hs, _ = call("DELETE", "/login")
        self.assertEqual(code, 405)
        self.assertEqual(hs["allow"], ["GET, HEAD, POST"])

    def test_host_header(self):
        """A Host naming another site (a page of that site whose name was made to resolve to
        this address, DNS rebinding) is refused before any page or endpoint answers; loopback
        names, IP addresses, the names of api.hosts and no Host at all are answered."""
        bearer = {"Authorization": f"Bearer {D.token}"}
        before = metric("vigil_api_host_refused_total")
        sid = sign_in()
        refused = 0
        for host in (f"evil.example:{D.port}", "evil.example", f"127.0.0.1.evil.example:{D.port}",
                     f"localhost.evil.example:{D.port}", f"vigil.test.evil:{D.port}",
                     f"127.0.0.1:{D.port}x", "[::1", f"[::1]x:{D.port}", ""):
            for method, path, hs, body in (
                    ("GET", "/", {}, None), ("GET", "/console/login.css", {}, None),
                    ("GET", "/login", {}, None), ("GET", "/v1/alerts", bearer, None),
                    ("GET", "/v1/alerts", {"Cookie": f"vigil_session={sid}"}, None),
                    ("GET", "/v1/console/session", {"Cookie": f"vigil_session={sid}"}, None),
                    ("POST", "/login", {"Origin": f"http://{host}",
                                        "Content-Type": "application/x-www-form-urlencoded"},
                     f"token={D.token}")):
                code, out, text = call(method, path, {"Host": host, **hs}, body)
                refused += 1
                self.assertEqual(code, 421, (host, path, text))
                self.assertNotIn("set-cookie", out)
                err = json.loads(text)
                self.assertEqual(err["code"], 421)
                self.assertIn("api.hosts", err["error"])
                self.assertNotIn("evil", err["error"])
                self.assertNotIn(D.token, text)
        self.assertEqual(metric("vigil_api_host_refused_total"), before + refused)
        # /healthz answers whatever the name (probes name the pod or the service)
        self.assertEqual(call("GET", "/healthz", {"Host": "evil.example"})[0], 200)
        for host in (f"127.0.0.1:{D.port}", f"localhost:{D.port}", "LocalHost", f"[::1]:{D.port}",
                     "[::1]", f"10.1.2.3:{D.port}", f"vigil.test:{D.port}", "console.lan",
                     f"127.0.0.1:9999"):
            code, _, text = call("GET", "/v1/alerts", {"Host": host, **bearer})
            self.assertEqual(code, 200, (host, text))
            self.assertEqual(call("GET", "/login", {"Host": host})[0], 200, host)
        # HTTP/1.0 without Host (not a browser): answered
        with socket.create_connection(("127.0.0.1", D.port), timeout=10) as s:
            s.sendall(f"GET /v1/alerts HTTP/1.0\r\nAuthorization: Bearer {D.token}\r\n\r\n"
                      .encode())
            self.assertTrue(s.recv(64).startswith(b"HTTP/1.0 200"))

    def test_refusals_counted(self):
        """Every 401 (no credential, a wrong bearer token, an unknown session cookie) is
        counted, so that someone guessing shows in /metrics; neither the token nor a session
        id nor a CSRF token ever does."""
        sid = sign_in()
        csrf = csrf_of(sid)
        before = metric("vigil_api_unauthorized_total")
        tries = (({}, "/v1/alerts"), ({"Authorization": "Bearer " + "0" * 48}, "/v1/alerts"),
                 ({"Authorization": "Bearer"}, "/metrics"),
                 ({"Cookie": "vigil_session=" + "B" * 43}, "/v1/policies"),
                 ({"Cookie": "vigil_session=" + "B" * 43}, "/v1/console/session"),
                 ({}, "/v1/console/session"))
        for hs, path in tries:
            code, _, text = call("GET", path, hs)
            self.assertEqual(code, 401, (hs, path, text))
        self.assertEqual(metric("vigil_api_unauthorized_total"), before + len(tries))
        _, body = D.req("GET", "/metrics")
        for secret in (D.token, sid, csrf):
            self.assertNotIn(secret, body)
            self.assertNotIn(secret, D.text())

    def test_stream_ends_with_session(self):
        """An alert stream opened with a console session ends when the session is signed
        out: the reader gets nothing more (counted); a stream of the bearer token goes on."""
        sid = sign_in()
        csrf = csrf_of(sid)
        before = metric("vigil_api_streams_signed_out_total")
        socks = []
        for cred in (f"Cookie: vigil_session={sid}", f"Authorization: Bearer {D.token}"):
            so = socket.create_connection(("127.0.0.1", D.port), timeout=10)
            so.sendall(f"GET /v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n{cred}\r\n\r\n"
                       .encode())
            got = b""
            while b"stream open" not in got:
                got += so.recv(4096)
            self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
            socks.append(so)
        code, _, _ = call("POST", "/v1/console/logout",
                          {"Cookie": f"vigil_session={sid}", "X-CSRF-Token": csrf})
        self.assertEqual(code, 204)
        cookie_stream, bearer_stream = socks
        cookie_stream.settimeout(5)
        self.assertEqual(cookie_stream.recv(4096), b"")  # closed, nothing sent after sign-out
        self.assertEqual(metric("vigil_api_streams_signed_out_total"), before + 1)
        bearer_stream.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            bearer_stream.recv(4096)  # still open: nothing to send, not closed
        for so in socks:
            so.close()

    def test_cookie_edge_cases(self):
        """Odd Cookie headers neither crash the daemon nor sign anyone in: only a live
        session id, as vigil set it, in any position of any Cookie header, is taken."""
        sid = sign_in()
        ok = (f"{'; '.join(f'c{i}=v' for i in range(400))}; vigil_session={sid}",
              f"vigil_session=AAAA; vigil_session={sid}",
              f"vigil_session={'B' * 43}; vigil_session={sid}; vigil_session=",
              f"=; ;;; vigil_session={sid}")
        for cookie in ok:
            self.assertEqual(call("GET", "/v1/alerts", {"Cookie": cookie})[0], 200, cookie[-80:])
        refused = ("vigil_session", "vigil_session=", '=vigil_session', f'vigil_session="{sid}"',
                   f"xvigil_session={sid}", f"vigil_session={sid}x", f"vigil_session={sid[:-1]}",
                   f"vigil_session={'A' * 15000}", ";" * 8000, f"VIGIL_SESSION={sid}")
        for cookie in refused:
            code, _, text = call("GET", "/v1/alerts", {"Cookie": cookie})
            self.assertEqual(code, 401, (cookie[:80], text))
        # two Cookie headers: the second one's session counts
        c = http.client.HTTPConnection("127.0.0.1", D.port, timeout=10)
        c.putrequest("GET", "/v1/alerts")
        c.putheader("Cookie", "a=b")
        c.putheader("Cookie", f"vigil_session={sid}")
        c.endheaders()
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        # past the 16 KiB header limit: 400, and the daemon goes on
        self.assertEqual(call("GET", "/v1/alerts", {"Cookie": "x" * (17 << 10)})[0], 400)
        self.assertEqual(call("GET", "/healthz")[0], 200)

    def test_hosts_config(self):
        bad = os.path.join(TMP, "bad-hosts.conf.lua")
        with open(bad, "w") as f:
            f.write('return { api = { hosts = "a/b" } }\n')
        r = console("--config", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("api.hosts", r.stderr)
        self.assertIn("not a list of host names", r.stderr)

    def test_config_ranges(self):
        bad = os.path.join(TMP, "bad.conf.lua")
        with open(bad, "w") as f:
            f.write('return { api = { console_code_ttl = "2h" } }\n')
        r = console("--config", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("api.console_code_ttl", r.stderr)

    def test_no_daemon(self):
        empty = tempfile.mkdtemp(prefix="vigil-console-none-")
        try:
            r = subprocess.run([V, "console", "--data-dir", empty], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("no vigil daemon runs on", r.stderr)
        finally:
            shutil.rmtree(empty, ignore_errors=True)


if __name__ == "__main__":
    vigtest.require_bpf()
    start_all()
    try:
        vigtest.run_tests()
    finally:
        stop_all()
