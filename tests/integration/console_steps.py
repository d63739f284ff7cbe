"""The later steps of test_console.py (a mixin of its ConsoleTest: the same daemon, browser
and shared state S, run after its numbered steps). Each is what a user does in the console,
checked through the API:

- Violations: 55 host policies, each run once, make 55 alerts: Older / Newer page through
  them; every active alert of a filter selected, and then two ticked by hand, each time
  resolved with one request naming them (PATCH /v1/alerts/resolve {"ids": [...]}, seen
  in the browser's network log); a row's "Resolve + baseline" puts the alert's executable
  into the locked baseline.
- Policy Management: a policy disabled from its page raises nothing, enabled again it does.
- Process Baselines: unlock from the row, add an executable, remove it.
- Notifiers: a receiver that fails once makes a dead letter, listed on the page; "Retry
  dead letters" delivers it once the receiver answers.
- The keyboard only: `/` to the filter bar, a filter, Tab to a row, Enter opens it, Escape
  closes it and gives the focus back to the row.
- A narrow window (480 x 800): the page never scrolls sideways, the detail fits it.
- The table's columns at 1280 x 720 beside an open detail: policy, severity, entity,
  namespace, count, enforcement, state, time, every one shown, none scrolled off; the
  cells say the pod's names, cut cells hold the whole value in their title; the
  Namespace and Entity headers ask the API for that order.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains

from vigtest import IMAGE, podman

POD2 = "tmp-shell-2"  # a second pod, for the baseline steps
PROBES = 55  # more than the Violations page's 50 rows
NPROC = "/usr/bin/nproc"  # never run in the lab container before the baseline test
ADDED = "/usr/local/bin/vg-added-by-hand"


def probe_name(i):
    return f"Paging probe {i:02d}"


class ConsoleSteps:
    S = None  # test_console.py's shared state

    # ---- helpers ----

    def until(self, what, fn, timeout=15):
        """fn() until it is true; its last value is the answer (assert on it)."""
        deadline = time.time() + timeout
        got = fn()
        while not got and time.time() < deadline:
            time.sleep(0.1)
            got = fn()
        self.assertTrue(got, what)
        return got

    def all_alerts(self):
        _, body = self.api("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        return body["alerts"]

    def probe_alerts(self):
        return {a["policy"]["name"]: a for a in self.all_alerts()
                if a["policy"]["name"].startswith("Paging probe")}

    def run_probe(self, i, arg):
        subprocess.run([os.path.join(self.S["tmp"], f"vg-pg-{i:02d}"), arg], check=True)

    def violations_of(self, i):
        return sum(a["violations"] for a in self.all_alerts()
                   if a["policy"]["name"] == probe_name(i))

    def requests_sent(self, full=False):
        """The page's requests since the last call (Chromium's network log): (method, path),
        or with full (method, path, query, body: decoded when JSON, else as sent, or None)."""
        out = []
        for e in self.drv.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m.get("method") == "Network.requestWillBeSent":
                r = m["params"]["request"]
                u = urllib.parse.urlsplit(r["url"])
                body = r.get("postData")
                if body and r.get("headers", {}).get("Content-Type") == "application/json":
                    body = json.loads(body)
                out.append((r["method"], u.path, urllib.parse.unquote(u.query), body)
                           if full else (r["method"], u.path))
        return out

    def patches(self):
        """The PATCH requests sent since the last call: (path, body)."""
        return [(p, b) for m, p, _, b in self.requests_sent(full=True) if m == "PATCH"]

    def rows(self):
        return self.drv.find_elements(By.CSS_SELECTOR, "table#violations tbody tr[data-id]")

    def shown_ids(self, n):
        """The ids of the table's rows once there are n of them."""
        return self.until(f"{n} rows", lambda: (lambda r: len(r) == n and [
            x.get_attribute("data-id") for x in r])(self.rows()))

    def pod2_baseline(self):
        _, body = self.api("GET", "/v1/processbaselines?pagination.limit=1000")
        bl = [b for b in body["baselines"]
              if (b.get("key") or {}).get("deploymentName") == POD2]
        return bl[0] if bl else None

    def elements(self, bid):
        _, b = self.api("GET", f"/v1/processbaselines/key?id={bid}")
        return b, {e["element"]["processName"] for e in b.get("elements") or []}

    def panel_shot(self, panel, name):
        """The whole of a detail panel as its own picture: a window tall enough for it."""
        self.drv.set_window_size(1280, 2400)
        try:
            self.until("the whole panel shown", lambda: panel.size["height"] >= (
                self.drv.execute_script("return arguments[0].scrollHeight", panel)))
            panel.screenshot(os.path.join(self.SHOTS, f"{name}.png"))
        finally:
            self.drv.set_window_size(1280, 720)

    def keys(self, *k):
        ActionChains(self.drv).send_keys(*k).perform()

    def active(self):
        return self.drv.switch_to.active_element

    # ---- the steps ----

    def test_a1_paging(self):
        """55 alerts: 50 on the first page, the 5 older ones on the next; Newer goes back."""
        S = self.S
        for i in range(PROBES):
            with open(os.path.join(S["tmp"], "policies", f"probe{i:02d}.lua"), "w") as f:
                f.write(f'return policy {{ id = "paging-probe-{i:02d}", '
                        f'name = "{probe_name(i)}", severity = "{("low", "high")[i % 2]}",\n'
                        '  description = "A probe of the console test", scope = { host = true },'
                        f'\n  match = {{ process_name = "vg-pg-{i:02d}" }},\n'
                        f'  tests = {{ {{ ev = {{ exe = "/x/vg-pg-{i:02d}" }}, expect = true }} }},'
                        '\n}\n')
            shutil.copy("/bin/true", os.path.join(S["tmp"], f"vg-pg-{i:02d}"))
        S["d"].proc.send_signal(signal.SIGHUP)
        self.until("the probes load", lambda: sum(
            p["name"].startswith("Paging probe") for p in self.api("GET", "/v1/policies")[1]
            ["policies"]) == PROBES)
        for i in range(PROBES):
            self.run_probe(i, "first")
        self.until("55 probe alerts", lambda: len(self.probe_alerts()) == PROBES)
        self.drv.get(S["base"] + "/#/violations")
        self.filter('Policy: "Paging probe"')
        first = self.shown_ids(50)
        info = self.css("#page-info")
        self.until("page 1 of 55", lambda: info.text == "1\u201350 of 55")
        self.assertFalse(self.css("#prev-page").is_enabled())
        self.css("#next-page").click()
        older = self.shown_ids(5)
        self.until("page 2 of 55", lambda: info.text == "51\u201355 of 55")
        self.assertFalse(self.css("#next-page").is_enabled())
        self.assertEqual(set(first) & set(older), set())
        self.assertEqual(set(first) | set(older), {a["id"] for a in self.probe_alerts().values()})
        self.css("#prev-page").click()
        self.assertEqual(self.shown_ids(50), first)
        self.filter("")
        chart = self.css("figure.chart-wrap")
        self.until("the chart's bars", lambda: self.drv.find_elements(
            By.CSS_SELECTOR, "svg#chart rect > title"))
        chart.screenshot(os.path.join(self.SHOTS, "violations-chart.png"))

    def test_a2_bulk_resolve(self):
        """Every active alert of a filter selected: one PATCH /v1/alerts/resolve naming
        them resolves them, and nothing else. Two ticked by hand: one request naming those
        two."""
        self.drv.get(self.S["base"] + "/#/violations")
        self.filter('Policy: "Paging probe 0"')
        ten = self.shown_ids(10)
        self.css("#violations thead input.select-all").click()
        button = self.css("button#resolve-selected")
        self.until("10 selected", lambda: button.text == "Resolve selected (10)")
        self.patches()
        button.click()
        self.until("resolved", lambda: "Resolved 10 violations" in self.css("#status").text)
        sent = self.patches()
        self.assertEqual([p for p, _ in sent], ["/v1/alerts/resolve"], sent)
        self.assertEqual(sorted(sent[0][1]["ids"]), sorted(ten), sent)
        self.assertEqual(set(sent[0][1]), {"ids"}, sent)
        states = {n: a["state"] for n, a in self.probe_alerts().items()}
        self.assertEqual({n for n, s in states.items() if s == "RESOLVED"},
                         {probe_name(i) for i in range(10)})
        # a part of a filter: one request naming those two, only those resolved
        self.filter('Policy: "Paging probe 1"')
        ids = self.shown_ids(10)
        by_id = {a["id"]: n for n, a in self.probe_alerts().items()}
        for r in self.rows()[:2]:
            r.find_element(By.CSS_SELECTOR, "input.select").click()
        self.patches()
        self.css("button#resolve-selected").click()
        self.until("two resolved", lambda: "Resolved 2 violations" in self.css("#status").text)
        sent = self.patches()
        self.assertEqual([(p, sorted(b["ids"])) for p, b in sent],
                         [("/v1/alerts/resolve", sorted(ids[:2]))], sent)
        states = {n: a["state"] for n, a in self.probe_alerts().items()}
        self.assertEqual({n for n, s in states.items() if s == "RESOLVED"},
                         {probe_name(i) for i in range(10)} | {by_id[i] for i in ids[:2]})

    def test_a3_policy_enable(self):
        """Disabled from its page: its process raises nothing (a later probe's violation is
        in, this one's is not); enabled again: it does."""
        S = self.S
        self.drv.get(S["base"] + "/#/policies/paging-probe-54")
        box = self.css("#policy-detail input#enabled")
        self.assertTrue(box.is_selected())
        box.click()
        self.css("button#save").click()
        self.until("saved disabled", lambda: self.api(
            "GET", "/v1/policies/paging-probe-54")[1].get("disabled"))
        was54, was53 = self.violations_of(54), self.violations_of(53)
        self.run_probe(54, "while-disabled")
        self.run_probe(53, "marker")  # seen after the one before it
        self.until("the marker", lambda: self.violations_of(53) > was53)
        self.assertEqual(self.violations_of(54), was54)
        self.drv.get(S["base"] + "/#/policies")
        self.filter('Policy: "Paging probe 54"')
        row = self.css("table#policies tbody tr[data-id='paging-probe-54']")
        self.assertIn("disabled", row.text)
        row.click()
        self.css("#policy-detail input#enabled").click()
        self.css("button#save").click()
        self.until("saved enabled", lambda: not self.api(
            "GET", "/v1/policies/paging-probe-54")[1].get("disabled"))
        self.run_probe(54, "enabled-again")
        self.until("raised again", lambda: self.violations_of(54) > was54)

    def test_a4_resolve_add_to_baseline(self):
        """A second pod's baseline, locked; an executable it lacks: Unauthorized Process
        Execution; the row's "Resolve + baseline" resolves it and the executable is in the
        baseline. (The first pod is gone: kill_pod took it.)"""
        S = self.S
        uid = str(uuid.uuid4())
        S["cid2"] = podman("run", "-d", "--network", "none", "--cgroup-parent",
                           f"/kubepods/besteffort/pod{uid}", IMAGE, "sleep", "infinity")
        self.k8s_pod(S["kport"], S["ktoken"], POD2, uid, S["cid2"])

        def learned():
            podman("exec", S["cid2"], "/bin/true")
            return self.pod2_baseline()
        b = self.until("a baseline of the second pod", learned)
        self.api("PUT", "/v1/processbaselines/lock", {"keys": [{"id": b["id"]}], "locked": True})
        self.assertNotIn(NPROC, self.elements(b["id"])[1])
        podman("exec", S["cid2"], NPROC)
        alert = self.until("the alert", lambda: [
            a for a in self.all_alerts() if a["policy"]["name"] == self.UPE
            and a["state"] == "ACTIVE" and a.get("pod") == POD2])[0]
        self.drv.get(S["base"] + "/#/violations")
        self.filter("Policy: Unauthorized")
        row = self.css(f"table#violations tbody tr[data-id='{alert['id']}']")
        ActionChains(self.drv).move_to_element(row).perform()
        row.find_element(By.CSS_SELECTOR, "button[data-action='resolve-baseline']").click()
        self.until("in the baseline", lambda: NPROC in self.elements(b["id"])[1])
        _, a = self.api("GET", f"/v1/alerts/{alert['id']}")
        self.assertEqual(a["state"], "RESOLVED")

    def test_a5_baseline_edit(self):
        """Unlocked from its row; an executable added by typing it; removed again."""
        bid = self.pod2_baseline()["id"]
        self.drv.get(self.S["base"] + "/#/baselines")
        row = self.css(f"table#baselines tbody tr[data-id='{bid}']")
        row.find_element(By.CSS_SELECTOR, "button[data-action='unlock']").click()
        self.until("unlocked", lambda: not self.elements(bid)[0].get("locked"))
        self.css(f"table#baselines tbody tr[data-id='{bid}'] td.key a").click()
        self.css("#add-path").send_keys(ADDED, Keys.ENTER)
        self.until("added", lambda: ADDED in self.elements(bid)[1])
        li = self.css(f"ul.elements li[data-path='{ADDED}']")
        self.assertIn("added", li.text)
        self.panel_shot(self.css("#baseline-detail"), "baseline-elements")
        li.find_element(By.CSS_SELECTOR, "button[data-action='remove']").click()
        self.until("removed", lambda: ADDED not in self.elements(bid)[1])
        self.until("gone from the page", lambda: not self.drv.find_elements(
            By.CSS_SELECTOR, f"ul.elements li[data-path='{ADDED}']"))

    def test_a6_dead_letters(self):
        """The receiver refuses one event (400): a dead letter on the page; retried from the
        page once it answers again: delivered, none left."""
        S = self.S
        self.Hook.fail = 1
        probe = self.probe_alerts()[probe_name(50)]["id"]
        self.api("PATCH", f"/v1/alerts/{probe}/resolve")  # notifies: refused
        self.until("a dead letter", lambda: [
            n for n in self.api("GET", "/v1/notifiers")[1]["notifiers"]
            if n["name"] == "hook" and n.get("deadLetters")])
        self.drv.get(S["base"] + "/#/notifiers")
        row = self.css("table#notifiers tbody tr[data-name='hook']")
        self.assertNotEqual(row.find_element(By.CSS_SELECTOR, "td.dead").text, "0")
        self.assertTrue(self.drv.find_elements(By.CSS_SELECTOR,
                                               ".dead-box[data-name='hook'] li[data-dead-id]"))
        self.shot("notifiers-dead-letters")
        n = len(self.Hook.got)
        row.find_element(By.CSS_SELECTOR, "button[data-action='retry']").click()
        self.until("queued again", lambda: "queued again" in self.css("#status").text)
        self.until("delivered", lambda: len(self.Hook.got) > n)
        self.until("none left", lambda: not [
            n for n in self.api("GET", "/v1/notifiers")[1]["notifiers"]
            if n["name"] == "hook" and n.get("deadLetters")])

    def test_a7_keyboard_only(self):
        """No mouse: / to the filter bar, type a filter, Tab to the first row, Enter opens
        it, Escape closes it with the focus back on the row."""
        self.drv.get(self.S["base"] + "/#/violations")
        self.css("table#violations")
        self.keys("/")
        self.until("the filter focused", lambda: self.active().get_attribute("id") == "filter")
        self.keys('Policy: "Paging probe 2"', Keys.ENTER)
        ids = self.shown_ids(10)
        for _ in range(40):
            if self.active().get_attribute("data-id"):
                break
            self.keys(Keys.TAB)
        self.assertEqual(self.active().get_attribute("data-id"), ids[0])
        self.keys(Keys.ENTER)
        self.until("the detail", lambda: self.drv.current_url.endswith(
            "#/violations/" + urllib.parse.quote(ids[0])))
        name = self.probe_alerts()
        self.until("its detail", lambda: self.css("#detail h2").text in name)
        self.keys(Keys.ESCAPE)
        self.until("closed", lambda: not self.drv.find_element(By.ID, "detail").is_displayed())
        self.assertTrue(self.drv.current_url.endswith("#/violations"))
        self.assertEqual(self.active().get_attribute("data-id"), ids[0])
        self.no_js_errors()

    def test_a8_narrow_window(self):
        """480 x 800: no page scrolls sideways; the violation's detail fits the window."""
        S = self.S
        self.drv.set_window_size(480, 800)
        try:
            wide = ("return document.scrollingElement.scrollWidth - "
                    "document.scrollingElement.clientWidth")
            for page, sel in (("#/violations", "table#violations tbody tr[data-id]"),
                              ("#/policies", "table#policies tbody tr[data-id]"),
                              ("#/baselines", "table#baselines tbody tr[data-id]"),
                              ("#/notifiers", "table#notifiers tbody tr[data-name]"),
                              (f"#/violations/{S['alert']}", "#detail .process .ancestors")):
                self.drv.get(S["base"] + "/" + page)
                self.css(sel)
                self.assertLessEqual(self.drv.execute_script(wide), 0, page)
            d = self.css("#detail")
            self.css("#detail [data-field='enforcement']")
            box = self.drv.execute_script(
                "const r = arguments[0].getBoundingClientRect();"
                "return [r.left, r.right, window.innerWidth, arguments[0].scrollWidth,"
                " arguments[0].clientWidth]", d)
            left, right, width, sw, cw = box
            self.assertGreaterEqual(left, 0, box)
            self.assertLessEqual(right, width, box)
            self.assertGreater(right - left, width * 0.8, box)
            self.assertLessEqual(sw, cw, box)
            self.drv.execute_script("arguments[0].scrollIntoView()", d)
            self.shot("violation-detail-narrow")
        finally:
            self.drv.set_window_size(1280, 720)
        self.no_js_errors()

    def test_a9_columns_beside_the_detail(self):
        """1280 x 720, a violation's detail open: every column of the spec shown in its
        order, none scrolled off; the pod's cells hold its names (whole in their title);
        the Namespace and Entity headers sort by those fields (the API's sort=)."""
        S = self.S
        _, a = self.api("GET", f"/v1/alerts/{S['alert']}")
        self.drv.get(S["base"] + "/#/violations")
        self.filter("Namespace: lab")
        row = self.css(f"table#violations tbody tr[data-id='{S['alert']}']")
        wide = ("const w = document.querySelector('#violations').parentElement;"
                "return [w.scrollWidth, w.clientWidth]")
        self.assertLessEqual(*self.drv.execute_script(wide))  # the whole table, detail closed
        row.click()
        self.css("#detail h2")
        heads = self.drv.find_elements(By.CSS_SELECTOR, "table#violations thead th")
        self.assertEqual([h.text for h in heads],
                         ["", "Policy", "Severity", "Entity", "Namespace", "Count", "Enforcement",
                          "State", "Last seen", "Actions"])
        for h in heads[1:]:
            self.assertTrue(h.is_displayed(), h.text)
            self.assertGreaterEqual(h.size["width"], 30, h.text)
        self.assertGreaterEqual(heads[1].size["width"], 100)  # the policy's name is read
        wrap = self.drv.execute_script(
            "const w = document.querySelector('#violations').parentElement,"
            " d = document.getElementById('detail').getBoundingClientRect();"
            "return [w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right, d.left]")
        self.assertLessEqual(wrap[0], wrap[1], wrap)  # nothing scrolled off to the right
        self.assertLessEqual(wrap[2], wrap[3], wrap)  # the table beside the detail
        row = self.css(f"table#violations tbody tr[data-id='{S['alert']}']")
        cell = {c: row.find_element(By.CSS_SELECTOR, "td." + c)
                for c in ("entity", "namespace", "count", "enforcement", "state")}
        owner = (a.get("deployment") or {}).get("name") or a["pod"]
        ctr = a.get("containerName") or a["containerId"][:12]
        self.assertEqual(cell["namespace"].get_attribute("title"), "lab")
        self.assertEqual(cell["namespace"].text, "lab")
        self.assertEqual(cell["entity"].get_attribute("textContent"),
                         f"{owner} / {ctr}")
        self.assertIn(f"Pod: {a['pod']}", cell["entity"].get_attribute("title"))
        self.assertEqual(cell["count"].text, str(a["violations"]))
        self.assertIn(a["enforcement"]["action"], cell["enforcement"].get_attribute("title"))
        self.assertEqual(cell["state"].text, a["state"])
        for c in cell.values():
            self.assertTrue(c.is_displayed())
        name = row.find_element(By.CSS_SELECTOR, "td.policy a")
        self.assertEqual(name.get_attribute("title"), name.get_attribute("textContent"))
        self.shot("violations-detail-open")
        for key in ("namespace", "entity"):
            self.requests_sent()
            self.css(f"#violations th[data-sort='{key}'] button").click()
            self.until(f"sorted by {key}", lambda: self.css(
                f"#violations th[data-sort='{key}']").get_attribute("aria-sort") == "ascending")
            self.until(f"asked for sort={key}:asc", lambda: [
                q for m, p, q, _ in self.requests_sent(full=True)
                if p == "/v1/alerts" and f"sort={key}:asc" in q])
        self.no_js_errors()
