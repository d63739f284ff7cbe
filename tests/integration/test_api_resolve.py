#!/usr/bin/env python3
"""PATCH /v1/alerts/resolve {"ids": [...]} against a real daemon.

Six host policies each match their own program; running each once makes six alerts. Named by
id, exactly those alerts are resolved and no other; an id no alert has is listed in
"unknown" and the others are resolved all the same; one resolved before (or named twice)
counts in "alreadyResolved". The answer comes once the resolutions are on disk: the daemon
killed (SIGKILL) right after it and started again on the same data still has them
resolved. A body with both ids and a query, with ids and confirm, an empty list, more than
1,000 ids, or an id that is not a string is a 400 saying so, and resolves nothing; 1,000
unknown ids are answered, each listed."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402

N = 6
NOID = "00000000-0000-4000-8000-000000000000"  # an id's shape; no alert has it


class ResolveIdsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-resolve-")
        os.chmod(cls.tmp, 0o755)
        cls.data = os.path.join(cls.tmp, "data")
        cls.pdir = os.path.join(cls.tmp, "policies")
        os.makedirs(cls.pdir)
        for i in range(N):
            with open(os.path.join(cls.pdir, f"p{i}.lua"), "w") as f:
                f.write(f"return policy {{ name = 'Resolve Probe {i}', severity = 'low',"
                        f" scope = {{ host = true }}, match = {{ process_name = 'vgres{i}' }} }}\n")
            shutil.copy("/bin/true", os.path.join(cls.tmp, f"vgres{i}"))
        cls.port = vigtest.free_port()
        cls.d = Daemon(cls.data, cls.port, "--policies", cls.pdir)
        try:
            for i in range(N):
                subprocess.run([os.path.join(cls.tmp, f"vgres{i}")], check=True)
            vigtest.wait_until(lambda: len(cls.ids()) == N,
                               lambda: f"{len(cls.ids())} of {N} alerts stored")
        except BaseException:
            cls.d.stop(signal.SIGKILL)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop(signal.SIGKILL)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def states(cls):
        """Each probe's alert: name -> (id, state)."""
        _, body = cls.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        return {a["policy"]["name"]: (a["id"], a["state"]) for a in body["alerts"]
                if a["policy"]["name"].startswith("Resolve Probe")}

    @classmethod
    def ids(cls):
        return {n: i for n, (i, _) in cls.states().items()}

    def resolved(self):
        return {n for n, (_, s) in self.states().items() if s == "RESOLVED"}

    def resolve(self, body):
        return self.d.req("PATCH", "/v1/alerts/resolve", body)

    def test_1_bad_bodies_resolve_nothing(self):
        some = list(self.ids().values())[:2]
        for body, said in (
                ({"ids": some, "query": "State:ACTIVE"}, "not both"),
                ({"ids": some, "query": ""}, "not both"),
                ({"ids": some, "confirm": True}, "not both"),
                ({"ids": []}, "is empty"),
                ({"ids": [some[0], 7]}, "item 1 is not a string"),
                ({"ids": [None]}, "item 0 is not a string"),
                ({"ids": [[some[0]]]}, "item 0 is not a string"),
                ({"ids": some[0]}, '{"ids": ["..."]}'),
                ({"ids": ["x"] * 1001}, "at most 1000"),
                ({}, '"confirm": true')):
            with self.subTest(body=str(body)[:80]):
                code, ans = self.resolve(body)
                self.assertEqual(code, 400, ans)
                self.assertIn(said, ans["error"])
        self.assertEqual(self.resolved(), set())

    def test_2_named_ones_only(self):
        ids = self.ids()
        two = [ids["Resolve Probe 1"], ids["Resolve Probe 3"]]
        self.assertEqual(self.resolve({"ids": two}),
                         (200, {"resolved": 2, "alreadyResolved": 0, "unknown": []}))
        self.assertEqual(self.resolved(), {"Resolve Probe 1", "Resolve Probe 3"})

    def test_3_unknown_and_already_are_reported(self):
        ids = self.ids()
        body = {"ids": [ids["Resolve Probe 1"], NOID, ids["Resolve Probe 4"],
                        ids["Resolve Probe 4"], "not-an-id"]}
        self.assertEqual(self.resolve(body), (200, {"resolved": 1, "alreadyResolved": 2,
                                                    "unknown": [NOID, "not-an-id"]}))
        self.assertEqual(self.resolved(), {"Resolve Probe 1", "Resolve Probe 3",
                                           "Resolve Probe 4"})
        code, ans = self.resolve({"ids": [f"{NOID[:-4]}{i:04d}" for i in range(1000)]})
        self.assertEqual(code, 200, ans)
        self.assertEqual((ans["resolved"], len(ans["unknown"])), (0, 1000))

    def test_4_on_disk_before_the_answer(self):
        cls = type(self)
        ids = self.ids()
        code, ans = self.resolve({"ids": [ids["Resolve Probe 0"], ids["Resolve Probe 5"]]})
        self.assertEqual((code, ans["resolved"]), (200, 2), ans)
        cls.d.stop(signal.SIGKILL)  # at once: nothing more is written
        cls.d = Daemon(cls.data, cls.port, "--policies", cls.pdir)
        self.assertEqual(self.resolved(), {f"Resolve Probe {i}" for i in (0, 1, 3, 4, 5)})
        self.assertEqual(self.states()["Resolve Probe 2"][1], "ACTIVE")


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
