#!/usr/bin/env python3
"""The exec sensor on the real kernel: every field of real execs.

Loads vigil's BPF programs through `vigil events --json` and spawns real
processes with known names, args, uid, gid and cwd, then checks what the
sensor reported field by field.
"""
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import Events  # noqa: E402


def probe_name():
    return "vgp" + "".join(random.choices(string.ascii_lowercase, k=8))


class SensorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-sensor-")
        os.chmod(cls.tmp, 0o755)
        cls.name = probe_name()
        cls.probe = os.path.join(cls.tmp, cls.name)
        shutil.copy("/bin/true", cls.probe)
        os.chmod(cls.probe, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_field(self):
        """A known exec under a known uid, gid and cwd: every field checked."""
        ev = Events("--comm", "setpriv", "--comm", self.name)
        try:
            workdir = os.path.join(self.tmp, "work dir", "deeper")
            os.makedirs(workdir, exist_ok=True)
            t0 = time.time_ns()
            p = subprocess.Popen(
                ["setpriv", "--reuid=4242", "--regid=4343", "--clear-groups",
                 self.probe, "first", "second arg", "", "--flag=x"],
                cwd=workdir)
            p.wait()
            t1 = time.time_ns()
            got = ev.wait_for(lambda e: e["comm"] == self.name)[0]
        finally:
            stats = ev.stop()
        self.assertEqual(got["pid"], p.pid)
        self.assertEqual(got["tid"], p.pid)
        self.assertEqual(got["ppid"], os.getpid())
        self.assertEqual(got["uid"], 4242)
        self.assertEqual(got["euid"], 4242)
        self.assertEqual(got["gid"], 4343)
        self.assertEqual(got["egid"], 4343)
        self.assertEqual(got["exe"], self.probe)
        self.assertEqual(got["name"], self.name)
        self.assertEqual(got["argv"], [self.probe, "first", "second arg", "", "--flag=x"])
        self.assertEqual(got["args"], "first second arg  --flag=x")
        self.assertEqual(got["argc"], 5)
        self.assertFalse(got["args_truncated"])
        self.assertEqual(got["cwd"], os.path.realpath(workdir))
        self.assertTrue(t0 <= got["time_ns"] <= t1, (t0, got["time_ns"], t1))
        self.assertTrue(got["time"].endswith("Z"))
        self.assertEqual(got["pidns"], os.stat("/proc/self/ns/pid").st_ino)
        self.assertEqual(got["ns_pid"], p.pid)  # the host pid namespace
        # cgroup: the v2 path of this test process, whatever it is here
        with open("/proc/self/cgroup") as f:
            v2 = [line.split(":", 2)[2].strip() for line in f if line.startswith("0::")]
        if v2:
            self.assertEqual(got["cgroup"], v2[0])
        self.assertEqual(got["cgroup_id"],
                         os.stat("/sys/fs/cgroup/unified" + got["cgroup"]).st_ino
                         if os.path.isdir("/sys/fs/cgroup/unified")
                         else os.stat("/sys/fs/cgroup" + got["cgroup"]).st_ino)
        self.assertIsNone(got["container_id"])
        self.assertIsNone(got["pod_uid"])
        # lineage: this python process first, then its own parents
        lin = got["lineage"]
        self.assertGreaterEqual(len(lin), 2)
        self.assertEqual(lin[0]["pid"], os.getpid())
        self.assertEqual(lin[0]["uid"], os.getuid())
        self.assertEqual(os.path.realpath(lin[0]["exe"]), os.path.realpath(sys.executable))
        self.assertEqual(lin[1]["pid"], os.getppid())
        # setpriv's own exec was sent too (same pid, earlier)
        self.assertTrue(stats and stats["kernel"]["exec_sent"] >= 2, stats)

    def test_filtered_middle_keeps_lineage(self):
        """sh -> dash -> probe, with only the probe sent: lineage names all three."""
        ev = Events("--comm", self.name)
        try:
            outer = subprocess.Popen(
                ["/bin/sh", "-c", f"/bin/dash -c '{self.probe} leaf; :'; :"])
            outer.wait()
            got = ev.wait_for(lambda e: e["comm"] == self.name and e["args"] == "leaf")[0]
            time.sleep(0.2)
            dash = ev.find(lambda e: e["comm"] == "dash")
        finally:
            stats = ev.stop()
        self.assertEqual(dash, [], "the middle exec should have been filtered in the kernel")
        lin = got["lineage"]
        self.assertEqual(lin[0]["exe"], "/bin/dash")
        self.assertEqual(lin[0]["name"], "dash")
        self.assertEqual(lin[1]["pid"], outer.pid)
        self.assertEqual(lin[1]["exe"], "/bin/sh")
        self.assertEqual(lin[2]["pid"], os.getpid())
        self.assertEqual(got["ppid"], lin[0]["pid"])
        self.assertGreater(stats["kernel"]["exec_filtered"], 0)
        self.assertEqual(stats["filter_mode"], "map")

    def test_parent_older_than_vigil(self):
        """A parent that exec'd before vigil started, and is gone by the time the
        event is read, is named from the process map seeded from /proc."""
        go = os.path.join(self.tmp, "go")
        if os.path.exists(go):
            os.unlink(go)
        parent = subprocess.Popen(
            ["/bin/sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; {self.probe} old & sleep 0.3; exit 0"])
        time.sleep(0.3)
        # the first drain comes 3 s after start: by then the parent is gone
        ev = Events("--comm", self.name, "--drain-ms", "3000", "--wakeup-bytes", "1G")
        try:
            open(go, "w").close()
            parent.wait()
            self.assertFalse(os.path.exists(f"/proc/{parent.pid}"))
            got = ev.wait_for(lambda e: e["comm"] == self.name and e["args"] == "old")[0]
        finally:
            stats = ev.stop()
        self.assertEqual(got["lineage"][0]["pid"], parent.pid)
        self.assertEqual(os.path.realpath(got["lineage"][0]["exe"]), os.path.realpath("/bin/sh"))
        self.assertEqual(got["lineage"][1]["pid"], os.getpid())
        self.assertGreater(stats["procs_seeded"], 0)

    def test_args_truncated(self):
        """argv over the 4 KiB bound is cut and flagged; 200 short args are all kept."""
        ev = Events("--comm", self.name)
        try:
            long_args = [f"{i:03d}" + "x" * 96 for i in range(100)]  # 10 KB
            subprocess.run([self.probe, *long_args], check=True)
            many = [str(i) for i in range(200)]
            subprocess.run([self.probe, "many", *many], check=True)
            cut = ev.wait_for(lambda e: e["comm"] == self.name and e["argc"] == 101)[0]
            full = ev.wait_for(lambda e: e["comm"] == self.name and e["argc"] == 202)[0]
        finally:
            stats = ev.stop()
        self.assertTrue(cut["args_truncated"])
        self.assertLess(len(cut["argv"]), 101)
        self.assertEqual(cut["argv"][0], self.probe)
        kept = cut["argv"][1:]
        self.assertEqual(kept[:-1], long_args[:len(kept) - 1])
        self.assertTrue(long_args[len(kept) - 1].startswith(kept[-1]))  # partial last arg
        total = sum(len(a) + 1 for a in cut["argv"])
        self.assertGreaterEqual(total, 4096)
        self.assertLessEqual(total, 4097)
        self.assertGreaterEqual(stats["kernel"]["args_truncated"], 1)
        self.assertFalse(full["args_truncated"])
        self.assertEqual(full["argv"][2:], many)
        self.assertEqual(full["args"], "many " + " ".join(many))

    def test_ringbuf_full_is_counted(self):
        """A 16 KiB ring buffer drained once a second under an exec flood: drops are
        counted, and every exec is accounted for as sent, filtered or dropped."""
        ev = Events("--ringbuf-size", "16K", "--drain-ms", "2000", "--wakeup-bytes", "1G",
                    "--comm", self.name)
        try:
            script = f"i=0; while [ $i -lt 400 ]; do {self.probe} flood; i=$((i+1)); done"
            subprocess.run(["/bin/sh", "-c", script], check=True)
            time.sleep(2.5)
        finally:
            stats = ev.stop()
        k = stats["kernel"]
        self.assertGreater(k["ringbuf_dropped"], 0, stats)
        self.assertGreater(k["exec_sent"], 0, stats)
        self.assertEqual(k["exec_seen"], k["exec_sent"] + k["exec_filtered"] + k["ringbuf_dropped"],
                         stats)
        self.assertEqual(stats["received"], k["exec_sent"], stats)
        flood = ev.find(lambda e: e["args"] == "flood")
        self.assertEqual(len(flood), stats["printed"])
        self.assertLess(len(flood), 400)

    def test_containers_only_skips_host(self):
        ev = Events("--containers-only", "--comm", self.name)
        try:
            subprocess.run([self.probe, "host"], check=True)
            time.sleep(0.5)
        finally:
            stats = ev.stop()
        self.assertEqual(ev.find(lambda e: True), [])
        self.assertGreaterEqual(stats["not_in_container"], 1)

    def test_text_output_and_ctrl_c_counters(self):
        """Without --json: a header and one line per exec; Ctrl-C prints the counters."""
        p = subprocess.Popen([vigtest.VIGIL, "events", "--comm", self.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            line = p.stderr.readline()
            while "watching" not in line and time.time() < deadline:
                line = p.stderr.readline()
            subprocess.run([self.probe, "text", "mode"], check=True)
            time.sleep(0.5)
        finally:
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 0)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("TIME"), lines)
        mine = [x for x in lines if self.name in x]
        self.assertEqual(len(mine), 1, lines)
        self.assertIn(f"{self.probe} text mode", mine[0])
        self.assertIn("exec_seen", err)
        self.assertIn("ringbuf_dropped", err)

    def test_count_exits(self):
        p = subprocess.Popen([vigtest.VIGIL, "events", "--json", "--count", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(100):
                if p.poll() is not None:
                    break
                subprocess.run([self.probe], check=True)
                time.sleep(0.05)
            out, _ = p.communicate(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
        self.assertEqual(p.returncode, 0)
        self.assertEqual(len(out.splitlines()), 2)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
