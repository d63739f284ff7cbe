#!/usr/bin/env python3
"""Policies on live execs: a package manager run in a real container is a
violation, the same binary on the host is not (containers only by default);
exact-name policies program the kernel filter, case-insensitively; a recorded
trace replays to the same match, and a damaged trace stops at its byte offset."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import Events, IMAGE, podman  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"




class MatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.cid = podman("run", "-d", "--network", "none", IMAGE, "sleep", "infinity")
        cls.tmp = tempfile.mkdtemp(prefix="vigil-match-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["podman", "rm", "-f", "-t", "0", cls.cid], capture_output=True)

    def test_container_matches_host_does_not(self):
        ev = Events("--match")
        try:
            subprocess.run(["/usr/bin/dpkg", "--version"], capture_output=True, check=True)
            podman("exec", self.cid, "/usr/bin/dpkg", "--version")
            got = ev.wait_for(lambda e: e["policy"] == UBUNTU)[0]
            time.sleep(0.3)
        finally:
            stats = ev.stop()
        self.assertEqual(got["container_id"], self.cid)
        self.assertEqual(got["args"], "--version")
        self.assertEqual(got["severity"], "low")
        self.assertEqual((got["matched_by"], got["matched_name"]), ("comm", "dpkg"))
        self.assertEqual(got["exe_name"], "dpkg")
        self.assertEqual(len(ev.find(lambda e: True)), 1, ev.events)  # not the host's dpkg
        eng = stats["engine"]
        self.assertEqual(eng["violations"], 1)
        self.assertEqual(eng["kernel_filter"], "all")  # the pack has regex names
        self.assertGreater(eng["rejected"], 0)

    def test_other_names_match_and_say_how(self):
        """dpkg exec'd through a symlink matches by the mapped exe's name, through the
        dynamic loader by the loader's program; the violation says which."""
        ev = Events("--match")
        try:
            podman("exec", self.cid, "sh", "-c",
                   "ln -sf /usr/bin/dpkg /tmp/x && /tmp/x --version >/dev/null && "
                   "/lib64/ld-linux-x86-64.so.2 /usr/bin/dpkg --version >/dev/null")
            ev.wait_for(lambda e: e["policy"] == UBUNTU and e["matched_by"] == "loader")
        finally:
            ev.stop()
        hits = [(e["exe"], e["matched_by"], e["matched_name"])
                for e in ev.find(lambda e: e["policy"] == UBUNTU)]
        self.assertIn(("/tmp/x", "exe", "dpkg"), hits)
        self.assertIn(("/lib64/ld-linux-x86-64.so.2", "loader", "dpkg"), hits)

    def test_exact_names_program_the_kernel(self):
        pdir = os.path.join(self.tmp, "policies")
        os.makedirs(pdir, exist_ok=True)
        with open(os.path.join(pdir, "p.lua"), "w") as f:
            f.write("return policy { name = 'Package tool', severity = 'high',"
                    " match = { process_name = { 'DPKG', 'apt-get' } } }\n")
        ev = Events("--match", "--dir", pdir)
        try:
            for _ in range(5):
                subprocess.run(["/bin/true"], check=True)
            podman("exec", self.cid, "cp", "/bin/true", "/tmp/Dpkg")
            podman("exec", self.cid, "/tmp/Dpkg", "mixed-case")
            got = ev.wait_for(lambda e: e["args"] == "mixed-case")[0]
        finally:
            stats = ev.stop()
        self.assertEqual(got["policy"], "Package tool")
        self.assertEqual(got["comm"], "Dpkg")
        self.assertEqual(stats["filter_mode"], "map")
        self.assertEqual(stats["engine"]["kernel_filter"], "names")
        self.assertEqual(stats["engine"]["kernel_names"], 2)
        k = stats["kernel"]
        self.assertGreaterEqual(k["exec_filtered"], 5)  # /bin/true never left the kernel
        self.assertEqual(k["exec_sent"], stats["received"])
        self.assertLessEqual(k["exec_sent"], 2)

    def test_sighup_reloads_whole_set_or_keeps_old(self):
        pdir = os.path.join(self.tmp, "reload")
        os.makedirs(pdir, exist_ok=True)
        for f in os.listdir(pdir):
            os.unlink(os.path.join(pdir, f))

        def write(name, body):
            with open(os.path.join(pdir, name), "w") as f:
                f.write(body + "\n")

        write("a.lua", "return policy { name = 'A', severity = 'low', match = { process_name = 'dpkg' } }")
        ev = Events("--match", "--dir", pdir)
        try:
            podman("exec", self.cid, "/usr/bin/dpkg", "--version")
            ev.wait_for(lambda e: e["policy"] == "A")
            # a set with a broken file is refused whole: A still matches, B does not exist
            write("b.lua", "return policy { name = 'B', severity = 'low', match = { process_name = 'apt-get' } }")
            write("c.lua", "return policy { name = 'C', severity = 'low', match = { process_name = 'x(' } }")
            ev.proc.send_signal(1)
            deadline = time.time() + 10
            while not any("kept the 1 policies" in x for x in ev.stderr) and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(any("c.lua:1: policy 'C'" in x for x in ev.stderr), ev.stderr)
            podman("exec", self.cid, "/usr/bin/apt-get", "--version")
            podman("exec", self.cid, "/usr/bin/dpkg", "--version")
            ev.wait_for(lambda e: e["policy"] == "A", n=2)
            self.assertEqual(ev.find(lambda e: e["policy"] == "B"), [])
            # fixed: the new set is swapped in, and the kernel filter follows it
            os.unlink(os.path.join(pdir, "c.lua"))
            ev.proc.send_signal(1)
            deadline = time.time() + 10
            while not any("reloaded 2 policies" in x for x in ev.stderr) and time.time() < deadline:
                time.sleep(0.05)
            podman("exec", self.cid, "/usr/bin/apt-get", "--version")
            ev.wait_for(lambda e: e["policy"] == "B")
        finally:
            stats = ev.stop()
        self.assertEqual(stats["engine"]["kernel_names"], 2)

    def assert_adds_up(self, summary, nviolations):
        """Every replayed event is in exactly one class of the summary."""
        m = re.search(r"^(\d+) events = (\d+) rejected by the fast path \+ (\d+) passed every "
                      r"policy that looked at them \+ (\d+) with a violation$", summary, re.M)
        self.assertIsNotNone(m, summary)
        total, rejected, passed, violating = map(int, m.groups())
        self.assertEqual(total, rejected + passed + violating, summary)
        self.assertEqual(int(re.search(r"replayed (\d+) events", summary).group(1)), total)
        self.assertTrue(1 <= violating <= nviolations, summary)

    def test_record_then_replay(self):
        trace = os.path.join(self.tmp, "t.trace")
        rec = subprocess.Popen([vigtest.VIGIL, "record", trace], stderr=subprocess.PIPE,
                               text=True)
        # a failed assertion must not leave it running (ctest would wait for its pipe)
        self.addCleanup(lambda: rec.poll() is None and (rec.kill(), rec.wait()))
        line = rec.stderr.readline()
        self.assertIn("recording", line)
        subprocess.run(["/usr/bin/dpkg", "--version"], capture_output=True, check=True)
        podman("exec", self.cid, "/usr/bin/apt-get", "--version")
        for _ in range(20):
            subprocess.run(["/bin/true"], check=True)
        time.sleep(0.3)
        rec.send_signal(2)
        _, err = rec.communicate(timeout=15)
        self.assertEqual(rec.returncode, 0, err)
        r = subprocess.run([vigtest.VIGIL, "replay", trace, "--stats"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        matches = [json.loads(x) for x in r.stdout.splitlines()]
        apt = [m for m in matches if m["comm"] == "apt-get"]
        self.assertEqual(len(apt), 1, matches)
        self.assertEqual(apt[0]["policy"], UBUNTU)
        self.assertEqual(apt[0]["container_id"], self.cid)
        self.assertTrue(apt[0]["lineage"] and apt[0]["lineage"][0]["exe"], apt[0])
        self.assertEqual([m for m in matches if m["comm"] == "dpkg" and not m["container_id"]], [])
        self.assertIn("replayed", r.stderr)
        self.assertIn(UBUNTU, r.stderr)
        self.assert_adds_up(r.stderr, len(matches))
        # the same counters through `vigil policy stats`
        r = subprocess.run([vigtest.VIGIL, "policy", "stats", trace], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        row = [x for x in r.stderr.splitlines() if x.startswith(UBUNTU)]
        self.assertEqual(len(row), 1, r.stderr)
        self.assertEqual(row[0].split()[-7:-5], ["1", "1"])  # candidates, matches
        self.assert_adds_up(r.stderr, len(matches))

        with open(trace, "rb") as f:
            data = f.read()
        # cut in the middle of the last record: everything before it is replayed
        cut = os.path.join(self.tmp, "cut.trace")
        with open(cut, "wb") as f:
            f.write(data[:-10])
        r = subprocess.run([vigtest.VIGIL, "replay", cut], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        m = re.search(r"truncated trace at byte offset (\d+): the record needs", r.stderr)
        self.assertTrue(m, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), len(matches))
        # a foreign byte where that last record starts
        pos = int(m.group(1))
        self.assertEqual(data[pos], 0xc6)
        bad = os.path.join(self.tmp, "bad.trace")
        with open(bad, "wb") as f:
            f.write(data[:pos] + b"\x01" + data[pos + 1:])
        r = subprocess.run([vigtest.VIGIL, "replay", bad], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"corrupt trace at byte offset {pos}", r.stderr)
        # not a trace at all
        r = subprocess.run([vigtest.VIGIL, "replay", "/etc/hostname"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not a vigil trace", r.stderr)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
