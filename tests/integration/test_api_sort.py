#!/usr/bin/env python3
"""GET /v1/alerts?sort=... and GET /v1/alerts/timeline?query=... against a real daemon.

Twelve host policies (three of each severity) each match their own program; running each
program a different number of times makes twelve alerts with different severities, policies,
counts and times. A sorted list is ordered across pages, not within one: page 2 never holds
a higher severity than page 1's last row, and the pages joined are the one long page. Every
sort field answers; an unknown one is a 400 naming the fields. The timeline with Policy:,
Namespace: or free words counts only the violations of the alerts the query matches."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402

SEVS = ("low", "medium", "high", "critical")
RANK = {s: i for i, s in enumerate(SEVS)}
FIELDS = ("time", "severity", "policy", "state", "count", "namespace", "entity", "enforcement")


def key_of(field, a):
    """The value a sorted page orders by, as the API documents it."""
    if field == "severity":
        return RANK[a["policy"]["severity"].lower()]
    if field == "policy":
        return a["policy"]["name"].lower()
    if field == "count":
        return a["violations"]
    if field == "time":
        return a["time"]
    if field == "state":
        return a["state"]
    return ""  # namespace, entity, enforcement: the same for every host alert here


class SortTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-sort-")
        os.chmod(cls.tmp, 0o755)
        cls.data = os.path.join(cls.tmp, "data")
        pdir = os.path.join(cls.tmp, "policies")
        os.makedirs(pdir)
        cls.runs = {}  # program -> (policy name, severity, violations)
        for i in range(12):
            sev, prog = SEVS[i % 4], f"vgsort{i:02d}"
            name = f"Sort {sev.title()} {i:02d}"
            with open(os.path.join(pdir, f"p{i}.lua"), "w") as f:
                f.write(f"return policy {{ name = '{name}', severity = '{sev}',"
                        f" scope = {{ host = true }}, match = {{ process_name = '{prog}' }} }}\n")
            shutil.copy("/bin/true", os.path.join(cls.tmp, prog))
            cls.runs[prog] = (name, sev, 1 + (i * 7) % 5)  # 1 to 5: under volume control's 10
        cls.d = Daemon(cls.data, vigtest.free_port(), "--policies", pdir)
        try:
            for prog, (_, _, n) in reversed(list(cls.runs.items())):  # a low one last
                for k in range(n):
                    subprocess.run([os.path.join(cls.tmp, prog), str(k)], check=True)
            want = sum(n for _, _, n in cls.runs.values())
            vigtest.wait_until(lambda: cls.violations() == want,
                               lambda: f"{cls.violations()} of {want} violations stored")
        except BaseException:
            cls.d.stop(signal.SIGKILL)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def violations(cls):
        _, body = cls.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        return sum(a["violations"] for a in body["alerts"])

    def get(self, qs):
        code, body = self.d.req("GET", "/v1/alerts?query=State:ALL&" + qs)
        self.assertEqual(code, 200, (qs, body))
        return body

    def pages(self, sort, limit=5):
        """Every page of the sorted list, joined, and the one long page."""
        joined, off = [], 0
        while True:
            body = self.get(f"sort={sort}&pagination.limit={limit}&pagination.offset={off}")
            self.assertEqual(body["total"], 12)
            if not body["alerts"]:
                break
            joined += body["alerts"]
            off += limit
        return joined, self.get(f"sort={sort}&pagination.limit=1000")["alerts"]

    def test_severity_is_ordered_across_pages(self):
        first = self.get("sort=severity&pagination.limit=5")
        second = self.get("sort=severity&pagination.limit=5&pagination.offset=5")
        self.assertEqual(first["sort"], "severity:desc")
        self.assertGreaterEqual(key_of("severity", first["alerts"][-1]),
                                max(key_of("severity", a) for a in second["alerts"]))
        self.assertEqual(key_of("severity", first["alerts"][0]), 3)
        # newest first puts the last program run (a low one) first
        newest = self.get("pagination.limit=1")["alerts"][0]
        self.assertNotEqual(key_of("severity", newest), 3)

    def test_each_field_in_both_directions(self):
        for field in FIELDS:
            for way in ("asc", "desc"):
                with self.subTest(field=field, way=way):
                    joined, whole = self.pages(f"{field}:{way}")
                    self.assertEqual([a["id"] for a in joined], [a["id"] for a in whole])
                    self.assertEqual(len({a["id"] for a in whole}), 12)
                    keys = [key_of(field, a) for a in whole]
                    self.assertEqual(keys, sorted(keys, reverse=way == "desc"))
                    if field != "time":  # ties: the newest first
                        for a, b in zip(whole, whole[1:]):
                            if key_of(field, a) == key_of(field, b):
                                self.assertGreaterEqual(a["time"], b["time"])
        counts = [a["violations"] for a in self.get("sort=count&pagination.limit=12")["alerts"]]
        self.assertEqual(counts, sorted((n for _, _, n in self.runs.values()), reverse=True))
        names = [a["policy"]["name"] for a in self.get("sort=policy&pagination.limit=12")["alerts"]]
        self.assertEqual(names, sorted(n for n, _, _ in self.runs.values()))

    def test_stackrox_sort_option(self):
        body = self.get("pagination.sortOption.field=Severity&pagination.sortOption.reversed=true"
                        "&pagination.limit=12")
        self.assertEqual(body["sort"], "severity:desc")
        self.assertEqual([a["id"] for a in body["alerts"]],
                         [a["id"] for a in self.get("sort=severity&pagination.limit=12")["alerts"]])
        body = self.get("pagination.sortOption.field=severity&pagination.limit=1")
        self.assertEqual((body["sort"], key_of("severity", body["alerts"][0])), ("severity:asc", 0))

    def test_bad_sort_is_400_naming_the_fields(self):
        for qs, msg in (("sort=colour", "give one of time, severity, policy, state, count, "
                                        "namespace, entity or enforcement"),
                        ("sort=severity:up", "asc or desc"),
                        ("sort=time&pagination.sortOption.field=time", "not both"),
                        ("pagination.sortOption.field=x", "no field 'x' to sort by")):
            with self.subTest(qs=qs):
                code, body = self.d.req("GET", "/v1/alerts?" + qs)
                self.assertEqual(code, 400, body)
                self.assertIn(msg, body["error"])
        code, body = self.d.req("GET", "/v1/processbaselines?sort=time")
        self.assertEqual(code, 400, body)

    def timeline(self, query=None):
        qs = "step=300&since=" + str(int(time.time()) - 3600)
        if query is not None:
            qs += "&query=" + query
        code, tl = self.d.req("GET", "/v1/alerts/timeline?" + qs)
        self.assertEqual(code, 200, (query, tl))
        return {s: sum(b[s] for b in tl["buckets"]) for s in SEVS}, tl["uncounted"]

    def test_timeline_counts_only_what_the_query_matches(self):
        every = sum(n for _, _, n in self.runs.values())
        self.assertEqual(sum(self.timeline()[0].values()), every)
        name, sev, n = self.runs["vgsort06"]
        counts, uncounted = self.timeline("Policy:" + name.replace(" ", "%20"))
        self.assertEqual(counts, {s: (n if s == sev else 0) for s in SEVS})
        self.assertEqual(uncounted, 0)
        # free words: the program's name (its newest process) and part of a policy name
        counts, _ = self.timeline("vgsort07")
        name, sev, n = self.runs["vgsort07"]
        self.assertEqual(counts, {s: (n if s == sev else 0) for s in SEVS})
        counts, _ = self.timeline("Critical")
        self.assertEqual(counts["critical"], sum(n for _, s, n in self.runs.values()
                                                 if s == "critical"))
        self.assertEqual(sum(counts.values()), counts["critical"])
        self.assertEqual(sum(self.timeline("Namespace:shop")[0].values()), 0)
        counts, _ = self.timeline("Policy:Sort%20High+State:ACTIVE")
        self.assertEqual(counts["high"], sum(n for _, s, n in self.runs.values() if s == "high"))
        self.assertEqual(sum(counts.values()), counts["high"])


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
