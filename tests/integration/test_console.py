#!/usr/bin/env python3
"""The web console in a real browser (Debian's headless Chromium driven by Selenium):
sign in with the link `vigil console` prints; the seed lab through the console (find
"Ubuntu Package Manager Execution" by typing `Policy: Ubuntu`, switch it to inform and
enforce, save; `apt-get update` in a podman container run as the pod tmp-shell; the
violation appears without a reload; filter `tmp-shell`; open it and read args, uid,
ancestors and the enforcement; resolve it from the row); lock a baseline from its page;
the notifiers page. Attacks and bad input: a wrong and an expired sign-in link, a
state-changing request without the CSRF token and one from another site (refused, nothing
changes), a process argument that is markup (shown as text, no script runs), an unknown
alert id in the URL (a clear message). Then the steps of console_steps.py: paging, bulk
resolve, resolve and add to baseline, a policy disabled and enabled, a baseline unlocked
and edited, dead letters retried, the keyboard only, a narrow window. Screenshots of each
page go to VIGIL_SCREENSHOTS (default: the build's console-screenshots directory)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    # Debian's python3-selenium is for Debian's python3; another python3 first on PATH
    # (pyenv) does not see it: run this file again with Debian's.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    webdriver = None

from test_daemon import Daemon  # noqa: E402
from console_steps import ConsoleSteps  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402

V = vigtest.VIGIL
UBUNTU = "Ubuntu Package Manager Execution"
UPE = "Unauthorized Process Execution"
XSS = "<img src=x onerror=alert(1)>"
SHOTS = os.environ.get("VIGIL_SCREENSHOTS",
                       os.path.join(os.path.dirname(V), "console-screenshots"))
S = {}  # what the ordered steps share


def k8s_pod(port, token, name, uid, cid):
    body = {"metadata": {"uid": uid, "name": name, "namespace": "lab",
                         "labels": {"app": "tmp-shell"}},
            "spec": {"nodeName": "lab-node", "containers": [{"name": "shell"}]},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": "shell", "containerID": f"cri-o://{cid}"}]}}
    subprocess.run(["curl", "-sk", "-X", "POST", f"https://127.0.0.1:{port}/_standin/pods",
                    "-d", json.dumps(body)], check=True, capture_output=True)


class OtherSite(BaseHTTPRequestHandler):
    """A page of another origin whose form posts to vigil (a cross-site request)."""
    target = ""

    def do_GET(self):
        page = (f"<html><body><form id=f method=POST action='{self.target}'>"
                "<input name=x value=1></form><script>document.getElementById('f').submit()"
                "</script></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *a):
        pass


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver: keeps what it is sent; refuses (400) the next `fail` events."""
    got = []
    fail = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = 200
        if Hook.fail > 0:
            Hook.fail -= 1
            code = 400
        else:
            Hook.got.append(body.decode(errors="replace"))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class ConsoleTest(ConsoleSteps, unittest.TestCase):
    # for the later steps (console_steps.py)
    S, SHOTS, UPE, Hook, k8s_pod = S, SHOTS, UPE, Hook, staticmethod(k8s_pod)

    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        os.makedirs(SHOTS, exist_ok=True)
        S["tmp"] = tmp = tempfile.mkdtemp(prefix="vigil-console-")
        os.chmod(tmp, 0o755)
        S["kport"] = vigtest.free_port()
        S["ktoken"] = uuid.uuid4().hex
        with open(os.path.join(tmp, "ktoken"), "w") as f:
            f.write(S["ktoken"])
        os.makedirs(os.path.join(tmp, "k8s"))
        S["k8s"] = subprocess.Popen(
            [sys.executable, os.path.join(vigtest.SRC, "tests", "k8s_standin.py"), "--port",
             str(S["kport"]), "--token", S["ktoken"], "--dir", os.path.join(tmp, "k8s")],
            stdout=open(os.path.join(tmp, "k8s.out"), "w"), stderr=subprocess.STDOUT)
        for _ in range(100):
            if "ready" in open(os.path.join(tmp, "k8s.out")).read():
                break
            time.sleep(0.1)
        S["pod_uid"] = str(uuid.uuid4())
        S["cid"] = podman("run", "-d", "--network", "none", "--cgroup-parent",
                          f"/kubepods/besteffort/pod{S['pod_uid']}", IMAGE, "sleep", "infinity")
        k8s_pod(S["kport"], S["ktoken"], "tmp-shell", S["pod_uid"], S["cid"])
        S["hook"] = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=S["hook"].serve_forever, daemon=True).start()
        S["port"] = vigtest.free_port()
        conf = os.path.join(tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write("return {\n"
                    f"  api = {{ listen = '127.0.0.1:{S['port']}', console_code_ttl = '3s' }},\n"
                    f"  kubernetes = {{ server = 'https://127.0.0.1:{S['kport']}',\n"
                    f"    token_file = '{tmp}/ktoken', insecure = true, node = 'lab-node',\n"
                    "    refresh_s = 1 },\n"
                    "  baselines = { observe = '1h' },\n"
                    "  notifiers = { hook = { type = 'webhook', url = 'http://vigil:s3cret-pw@"
                    f"127.0.0.1:{S['hook'].server_address[1]}/hook' }} }},\n"
                    "  default_notifiers = { 'hook' },\n"
                    f"  policy_dir = '{tmp}/policies',\n"
                    "}\n")
        os.makedirs(os.path.join(tmp, "policies"))  # test_9z puts a policy there
        S["conf"] = conf
        S["data"] = os.path.join(tmp, "data")
        os.makedirs(S["data"])
        S["d"] = Daemon(S["data"], S["port"], "--config", conf)
        S["base"] = f"http://127.0.0.1:{S['port']}"
        o = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,720"):
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        S["drv"] = webdriver.Chrome(options=o)
        S["drv"].set_page_load_timeout(30)

    @classmethod
    def tearDownClass(cls):
        if S.get("drv"):
            S["drv"].quit()
        if S.get("d"):
            S["d"].stop(signal.SIGKILL)
        if S.get("k8s"):
            S["k8s"].kill()
        if S.get("hook"):
            S["hook"].shutdown()
        for c in ("cid", "cid2"):
            if S.get(c):
                subprocess.run(["podman", "rm", "-f", "-t", "0", S[c]], capture_output=True)

    # ---- helpers ----

    @property
    def drv(self):
        return S["drv"]

    def api(self, method, path, body=None):
        return S["d"].req(method, path, body)

    def console_link(self):
        r = subprocess.run([V, "console", "--data-dir", S["data"], "--config", S["conf"]],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        links = [w for w in r.stdout.split() if "/login?code=" in w]
        self.assertEqual(len(links), 1, r.stdout)
        return links[0]

    def wait(self, cond, timeout=15):
        return WebDriverWait(self.drv, timeout).until(cond)

    def css(self, sel, timeout=15):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, sel)), timeout)

    def shot(self, name):
        self.drv.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def filter(self, text):
        f = self.css("input#filter")
        f.clear()
        f.send_keys(text, Keys.ENTER)

    def no_js_errors(self):
        # script errors and CSP refusals; a refused request (the 401s asked for above) is
        # the network's, not a script's
        logs = [e for e in self.drv.get_log("browser") if e["level"] == "SEVERE"
                and e.get("source") != "network"]
        self.assertEqual(logs, [], logs)

    def policy_id(self, name):
        _, body = self.api("GET", "/v1/policies")
        return [p["id"] for p in body["policies"] if p["name"] == name][0]

    def alerts_of(self, policy):
        _, body = self.api("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        return [a for a in body["alerts"] if a["policy"]["name"] == policy]

    # ---- the steps, in order ----

    def test_1_bad_links(self):
        """A wrong link and an expired one: 401, the message, no session."""
        self.drv.get(S["base"] + "/login?code=" + "A" * 43)
        self.assertIn("not valid", self.css("#login-error").text)
        self.assertIsNone(self.drv.get_cookie("vigil_session"))
        link = self.console_link()
        time.sleep(4)  # the test config's code lifetime is 3 s
        self.drv.get(link)
        self.assertIn("expired", self.css("#login-error").text)
        self.assertIsNone(self.drv.get_cookie("vigil_session"))
        self.drv.get(S["base"] + "/#/violations")
        self.css("#signed-out")

    def test_2_sign_in(self):
        """The printed link signs in once: an HttpOnly, SameSite=Strict session cookie."""
        link = self.console_link()
        self.drv.get(link)
        self.css("nav a[data-nav='violations']")
        c = self.drv.get_cookie("vigil_session")
        self.assertIsNotNone(c)
        self.assertTrue(c["httpOnly"], c)
        self.assertEqual(c.get("sameSite"), "Strict", c)
        self.assertIsNone(self.drv.execute_script("return document.cookie.match(/vigil_session/)"))
        # the link is spent
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", link],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout, "401")
        self.shot("violations-empty")
        self.no_js_errors()

    def test_3_policy_enforce(self):
        """Policy Management: `Policy: Ubuntu`, inform and enforce (kill pod), save."""
        pid = self.policy_id(UBUNTU)
        self.drv.get(S["base"] + "/#/policies")
        self.filter("Policy: Ubuntu")
        rows = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "table#policies tbody tr"))
        names = [r.find_element(By.CSS_SELECTOR, "td.name").text for r in rows]
        self.assertEqual(names, [UBUNTU], names)
        rows[0].click()
        self.css("#policy-detail")
        # its definition: what it matches, and its embedded tests as a table
        crit = self.wait(lambda d: [e for e in d.find_elements(
            By.CSS_SELECTOR, '#policy-detail [data-section="criteria"]') if "apt-get" in e.text])
        self.assertIn("Process name", crit[0].text)
        self.assertEqual([c.text for c in crit[0].find_elements(By.CSS_SELECTOR, "ul.values code")],
                         ["apt-get", "apt", "dpkg"])
        tests = self.drv.find_elements(By.CSS_SELECTOR,
                                       '#policy-detail [data-section="tests"] tbody tr')
        self.assertEqual(len(tests), 15)
        first = tests[0].find_elements(By.CSS_SELECTOR, "td")
        self.assertEqual(first[0].text, "violation")
        self.assertEqual(first[1].find_element(By.CSS_SELECTOR, '[data-field="exe"] code').text,
                         "/usr/bin/apt")
        self.assertEqual(tests[4].find_element(By.CSS_SELECTOR, "td.expect").text, "no violation")
        for sec in ("scope", "exclusions", "check"):
            self.css(f'#policy-detail [data-section="{sec}"]')
        self.drv.execute_script("arguments[0].scrollIntoView()", crit[0])
        self.shot("policy-definition")
        Select(self.css("select#enforcement")).select_by_value("kill_pod")
        self.shot("policy-management")
        self.css("button#save").click()
        self.wait(lambda d: "Saved" in d.find_element(By.CSS_SELECTOR, "#status").text)
        _, p = self.api("GET", f"/v1/policies/{urllib.parse.quote(pid)}")
        self.assertEqual(p["enforcement"], "kill_pod", p)

    def test_4_violation_live(self):
        """apt-get update in the pod: killed; the violation appears without a reload."""
        self.drv.get(S["base"] + "/#/violations")
        self.css("table#violations")
        # the daemon streams changes (no polling): the row comes from the stream
        self.wait(lambda d: "Live" in d.find_element(By.CSS_SELECTOR, "#live").text)
        time.sleep(1.5)  # the pod list reaches vigil
        r = subprocess.run(["podman", "exec", S["cid"], "apt-get", "update"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 137, r.stdout + r.stderr)
        deadline = time.time() + 15
        while time.time() < deadline and not self.alerts_of(UBUNTU):
            time.sleep(0.1)
        alert = self.alerts_of(UBUNTU)[0]
        S["alert"] = alert["id"]
        self.css(f"table#violations tbody tr[data-id='{alert['id']}']")  # no reload
        self.filter("tmp-shell")
        row = self.css(f"table#violations tbody tr[data-id='{alert['id']}']")
        self.assertIn(UBUNTU, row.text)
        self.shot("violations")

    def test_5_detail(self):
        """The detail: args, uid, ancestors, the enforcement."""
        row = self.css(f"table#violations tbody tr[data-id='{S['alert']}']")
        row.click()
        d = self.css("#detail")
        proc = d.find_elements(By.CSS_SELECTOR, ".process")[-1]
        self.assertEqual(proc.find_element(By.CSS_SELECTOR, "[data-field='args']").text, "update")
        self.assertEqual(proc.find_element(By.CSS_SELECTOR, "[data-field='uid']").text, "0")
        self.assertTrue(proc.find_element(By.CSS_SELECTOR,
                                          "[data-field='exe']").text.endswith("apt-get"))
        anc = proc.find_elements(By.CSS_SELECTOR, ".ancestors li")
        self.assertGreaterEqual(len(anc), 1)
        self.assertIn("kill", d.find_element(By.CSS_SELECTOR,
                                             "[data-field='enforcement']").text.lower())
        self.panel_shot(d, "violation-detail")  # processes, ancestors, enforcement

    def test_5b_labels(self):
        """The detail shows the pod's labels (the stand-in's {"app": "tmp-shell"}) as
        key=value items, from the alert's document."""
        _, a = self.api("GET", f"/v1/alerts/{S['alert']}")
        self.assertEqual(a.get("labels"), {"app": "tmp-shell"}, a)
        self.drv.get(S["base"] + f"/#/violations/{urllib.parse.quote(S['alert'])}")
        sel = "#detail [data-field='labels'] li"
        self.css(sel)
        items = [li.text for li in self.drv.find_elements(By.CSS_SELECTOR, sel)]
        self.assertEqual(items, ["app=tmp-shell"])
        self.assertNotIn("none", self.css("#detail [data-field='labels']").text)
        self.no_js_errors()

    def test_6_resolve_from_row(self):
        """Resolved from the row's hover action."""
        self.drv.get(S["base"] + "/#/violations")
        row = self.css(f"table#violations tbody tr[data-id='{S['alert']}']")
        ActionChains(self.drv).move_to_element(row).perform()
        row.find_element(By.CSS_SELECTOR, "button[data-action='resolve']").click()
        deadline = time.time() + 10
        state = None
        while time.time() < deadline:
            _, a = self.api("GET", f"/v1/alerts/{S['alert']}")
            state = a["state"]
            if state == "RESOLVED":
                break
            time.sleep(0.1)
        self.assertEqual(state, "RESOLVED")

    def test_7_csrf(self):
        """Without the CSRF token, or from another site: refused, nothing changes."""
        pid = self.policy_id(UBUNTU)
        path = f"/v1/policies/{urllib.parse.quote(pid)}"
        self.drv.get(S["base"] + "/#/violations")
        self.css("table#violations")
        code = self.drv.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: 'PATCH', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({enforcement: 'inform'})}).then(r => done(r.status));", path)
        self.assertEqual(code, 403)
        # another origin's form posting to vigil (log out): the cookie stays home
        # (SameSite=Strict), the request is refused, and the session lives on
        OtherSite.target = S["base"] + "/v1/console/logout"
        srv = ThreadingHTTPServer(("127.0.0.1", 0), OtherSite)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            self.drv.get(f"http://localhost:{srv.server_address[1]}/")
            self.wait(lambda d: d.current_url.startswith(S["base"]))
            self.assertIn("error", self.drv.find_element(By.TAG_NAME, "body").text)
        finally:
            srv.shutdown()
        _, p = self.api("GET", path)
        self.assertEqual(p["enforcement"], "kill_pod", p)
        self.drv.get(S["base"] + "/#/violations")
        self.css("table#violations")
        status = self.drv.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/v1/console/session', {credentials: 'same-origin'})"
            ".then(r => done(r.status));")
        self.assertEqual(status, 200)

    def test_8_markup_is_text(self):
        """A process argument that is markup is shown as text; no script runs."""
        self.api("PATCH", f"/v1/policies/{urllib.parse.quote(self.policy_id(UBUNTU))}",
                 {"enforcement": "inform"})
        subprocess.run(["podman", "start", S["cid"]], capture_output=True)  # kill_pod took it
        subprocess.run(["podman", "exec", S["cid"], "apt-get", XSS], capture_output=True)
        deadline = time.time() + 15
        hit = None
        while time.time() < deadline and not hit:
            for a in self.alerts_of(UBUNTU):
                _, full = self.api("GET", f"/v1/alerts/{a['id']}")
                if any(p.get("args") == XSS for p in full["processes"]):
                    hit = a["id"]
            time.sleep(0.2)
        self.assertIsNotNone(hit)
        self.drv.get(S["base"] + f"/#/violations/{hit}")
        d = self.css("#detail")
        self.wait(lambda _: any(e.text == XSS for e in
                                d.find_elements(By.CSS_SELECTOR, "[data-field='args']")))
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "img"), [])
        with self.assertRaises(NoAlertPresentException):
            self.drv.switch_to.alert.text

    def test_9_unknown_id_and_pages(self):
        """An unknown alert id in the URL: a clear message. Baselines: lock from the page.
        Notifiers: the page."""
        self.drv.get(S["base"] + "/#/violations/no-such-alert")
        err = self.css("#detail .error")
        self.assertIn("No violation with id no-such-alert", err.text)
        self.drv.get(S["base"] + "/#/baselines")
        row = self.css("table#baselines tbody tr[data-id]")
        bid = row.get_attribute("data-id")
        self.shot("process-baselines")
        row.find_element(By.CSS_SELECTOR, "button[data-action='lock']").click()
        deadline = time.time() + 10
        locked = False
        while time.time() < deadline and not locked:
            _, b = self.api("GET", f"/v1/processbaselines/key?id={bid}")
            locked = bool(b.get("userLockedTimestamp") or b.get("locked"))
            time.sleep(0.1)
        self.assertTrue(locked, b)
        self.drv.get(S["base"] + "/#/notifiers")
        row = self.css("table#notifiers tbody tr[data-name='hook']")
        self.assertNotIn("s3cret-pw", row.text)  # a URL's password is masked
        self.assertIn("***", row.text)
        n = len(Hook.got)
        row.find_element(By.CSS_SELECTOR, "button[data-action='test']").click()
        self.wait(lambda d: "accepted" in d.find_element(By.CSS_SELECTOR, "#status").text)
        self.assertGreater(len(Hook.got), n)
        self.shot("notifiers")
        self.drv.set_window_size(480, 800)
        self.drv.get(S["base"] + "/#/violations")
        self.css("table#violations")
        self.shot("violations-narrow")
        self.drv.set_window_size(1280, 720)
        self.no_js_errors()

    def test_9b_chart(self):
        """The chart draws violations (every one, from GET /v1/alerts/timeline), not alerts:
        bars once there are violations, their counts adding up to the store's, and a caption
        that says so."""
        _, tl = self.api("GET", "/v1/alerts/timeline")
        made = sum(b[k] for b in tl["buckets"] for k in ("low", "medium", "high", "critical"))
        _, body = self.api("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        self.assertEqual(made, sum(a["violations"] for a in body["alerts"]))
        self.assertGreater(made, 0)
        self.drv.get(S["base"] + "/#/violations")
        self.filter("")
        cap = self.css("figure.chart-wrap figcaption#chart-caption")
        self.wait(lambda d: cap.text.startswith("Violations"))
        self.assertIn("not alerts", cap.text)
        # the caption's window is the axis': 24 hours, in bars of 30 minutes
        self.assertIn("per 30 minutes, per severity, over the last 24 hours", cap.text)
        span = self.drv.execute_script(
            "const c = document.getElementById('chart');"
            "return [+c.getAttribute('data-start'), +c.getAttribute('data-end')]")
        self.assertEqual(span[1] - span[0], 24 * 3600 * 1000, span)

        # each bar names its count and severity in its title (the legend's squares have
        # none); read at once: a live refresh may draw the chart again meanwhile
        got = self.wait(lambda d: d.execute_script(
            "return [...document.querySelectorAll('svg#chart rect > title')]"
            ".map((t) => t.textContent)"))
        self.assertGreaterEqual(len(got), 1)
        self.assertEqual(sum(int(t.split()[0]) for t in got), made, got)
        self.no_js_errors()

    def test_9z_policy_markup(self):
        """A custom policy whose name, categories, description, rationale, remediation and
        tests are markup (a policy file is trusted less than the console): every page that
        shows it shows the text; no element is injected, no script runs, no javascript:
        link is made."""
        exe = os.path.join(S["tmp"], "vg-markup<i>")
        shutil.copy("/bin/true", exe)
        with open(os.path.join(S["tmp"], "policies", "markup.lua"), "w") as f:
            f.write('return policy {\n'
                    '  id = "markup-probe",\n'
                    f'  name = "{XSS}",\n'
                    '  severity = "high",\n'
                    '  categories = { "<script>alert(2)</script>", "javascript:alert(3)" },\n'
                    '  description = "<b class=injected>bold</b><img src=x onerror=alert(4)>",\n'
                    '  rationale = "<a class=injected href=\'javascript:alert(5)\'>click</a>",\n'
                    '  remediation = "</style><style>body{display:none}</style>'
                    '<svg onload=alert(6)>",\n'
                    '  scope = { host = true },\n'
                    '  match = { process_name = "vg-markup<i>" },\n'
                    '  tests = { { ev = { exe = "/x/<svg onload=alert(7)>", '
                    'args = "<img src=x onerror=alert(8)>" }, expect = false } },\n'
                    '}\n')
        S["d"].proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline:
            _, body = self.api("GET", "/v1/policies")
            if any(p["id"] == "markup-probe" for p in body["policies"]):
                break
            time.sleep(0.2)
        subprocess.run([exe, XSS, '"><svg onload=alert(9)>'], check=True)
        deadline = time.time() + 15
        while time.time() < deadline and not self.alerts_of(XSS):
            time.sleep(0.2)
        alert = self.alerts_of(XSS)[0]["id"]
        injected = ("img, script:not([src^='/console/']), svg:not(#chart), "
                    "style, .injected, i, [onerror], [onload], a[href^='javascript']")
        for page, sel in (("#/policies", "table#policies"),
                          ("#/policies/markup-probe", "#policy-detail"),
                          ("#/violations", "table#violations"),
                          (f"#/violations/{alert}", "#detail")):
            self.drv.get(S["base"] + "/" + page)
            root = self.css(sel)
            self.wait(lambda _: XSS in root.text)
            self.assertEqual(self.drv.find_elements(By.CSS_SELECTOR, injected), [], page)
            with self.assertRaises(NoAlertPresentException):
                self.drv.switch_to.alert.text
            self.assertEqual(self.drv.execute_script(
                "return getComputedStyle(document.body).display"), "block")
        text = self.css("#detail").text
        for shown in ("<b class=injected>bold</b>", "javascript:alert(5)", "<svg onload=alert(6)>",
                      '"><svg onload=alert(9)>'):
            self.assertIn(shown, text)
        self.drv.get(S["base"] + "/#/policies/markup-probe")
        for shown in ("<script>alert(2)</script>", "<svg onload=alert(7)>",
                      "<img src=x onerror=alert(8)>"):
            self.wait(lambda _: shown in self.css("#policy-detail").text)
        self.no_js_errors()

if __name__ == "__main__":
    if webdriver is None:
        vigtest.cannot_run("python3-selenium is not installed (make deps installs it)")
    vigtest.require_bpf()
    vigtest.run_tests()
