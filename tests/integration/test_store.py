#!/usr/bin/env python3
"""The store keeps what it acknowledged, with the real daemon: compaction keeps
policy settings and true counts; a damaged segment header loses no record; a
deleted segment is reported (a compacted store is not); on a full disk with
the memory bound reached, vigil_violations_durable_total counts exactly the
violations a restart finds."""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon  # noqa: E402

# A policy other tests running on the host at the same time are unlikely to enforce (the daemon
# under test sees every exec on the host, and theirs see this test's)
CRON = "crontab Execution"
CRON_ID = "crontab-execution"


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _crc_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mp(o):
    """msgpack of the few types the store's records use."""
    if o is None:
        return b"\xc0"
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        return b"\xcf" + struct.pack(">Q", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    assert isinstance(o, dict) and len(o) < 16
    return bytes([0x80 | len(o)]) + b"".join(mp(k) + mp(v) for k, v in o.items())


def frame(rec):
    p = mp(rec)
    return struct.pack("<III", 0x52474C56, len(p), crc32c(p)) + p


def alert_records(aid, t_ns, resolved_ns=None):
    """An alert of the crontab policy with one violation (and its resolution), as the log holds it."""
    recs = [{"t": "ac", "id": aid, "policy_id": CRON_ID, "policy": CRON, "severity": "low",
             "time": t_ns},
            {"t": "v", "id": aid, "time": t_ns, "pid": 4242, "uid": 0, "comm": "crontab",
             "exe": "/usr/bin/crontab", "args": "-l"}]
    if resolved_ns is not None:
        recs.append({"t": "ar", "id": aid, "time": resolved_ns})
    return b"".join(frame(r) for r in recs)


V1_HEADER = b"VGSEG\x00\x01\x00"  # segments as stores made by earlier versions hold them


class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.prepare_image()
        cls.pod = str(uuid.uuid4())
        cls.cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                         f"/kubepods/besteffort/pod{cls.pod}", IMAGE, "sleep", "infinity")
        podman("exec", cls.cid, "cp", "/bin/true", "/tmp/crontab")
        podman("exec", cls.cid, "cp", "/bin/true", "/tmp/nc")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["podman", "rm", "-f", "-t", "0", cls.cid], capture_output=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-store-")
        self.port = vigtest.free_port()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)

    def start(self, data=None, *extra):
        self.d = Daemon(data or self.data, self.port, *extra)
        return self.d

    def restart(self, data=None, *extra):
        self.assertEqual(self.d.stop(), 0)
        return self.start(data, *extra)

    def metric(self, name):
        _, m = self.d.req("GET", "/metrics")
        lines = [x for x in m.splitlines() if x.startswith(name + " ")]
        self.assertTrue(lines, f"no metric {name}")
        return int(lines[0].split()[1])

    def alerts(self, mine=True):
        """The alerts of this test's pod (the daemon sees every exec on the host: other
        tests' too), or all of them."""
        code, body = self.d.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
        self.assertEqual(code, 200, body)
        return [a for a in body["alerts"] if not mine or a["podUid"] == self.pod]

    def execs(self, exe, n, prefix, pad=""):
        podman("exec", self.cid, "sh", "-c",
               f'i=0; while [ $i -lt {n} ]; do {exe} {prefix}$i {pad}; i=$((i+1)); done')

    def wait_violations(self, policy, n, timeout=20):
        deadline = time.time() + timeout
        got = 0
        while time.time() < deadline:
            got = sum(a["violations"] for a in self.alerts() if a["policy"]["name"] == policy)
            if got >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{got} violations of {policy}, not {n}: {self.d.text()[-2000:]}")

    def segments(self, data=None):
        store = os.path.join(data or self.data, "store")
        return sorted(f for f in os.listdir(store) if f.startswith("seg-") and f.endswith(".log"))

    def test_compaction_keeps_settings_and_counts(self):
        self.start()
        code, pol = self.d.req("PATCH", "/v1/policies/chkconfig-execution",
                               {"enforcement": "kill_process"})
        self.assertEqual((code, pol["enforcement"]), (200, "kill_process"))
        code, pol = self.d.req("PATCH", "/v1/policies/systemd-execution", {"disabled": True})
        self.assertEqual((code, pol["disabled"]), (200, True))
        self.execs("/tmp/crontab", 45, "c")
        self.assertEqual(self.wait_violations(CRON, 45), 45)
        self.d.stop()
        # an alert resolved long ago, for retention to compact away at the next start
        old = str(uuid.uuid4())
        store = os.path.join(self.data, "store")
        with open(os.path.join(store, self.segments()[-1]), "ab") as f:
            f.write(alert_records(old, 10**9, 2 * 10**9))
        self.start()
        self.assertIn("retention: removed 1 alerts", self.d.text())
        self.restart()  # from the compacted log alone
        code, pol = self.d.req("GET", "/v1/policies/chkconfig-execution")
        self.assertEqual(pol["enforcement"], "kill_process")
        code, pol = self.d.req("GET", "/v1/policies/systemd-execution")
        self.assertTrue(pol["disabled"])
        alerts = [a for a in self.alerts() if a["policy"]["name"] == CRON]
        self.assertNotIn(old, [a["id"] for a in self.alerts(mine=False)])
        self.assertEqual([a["violations"] for a in alerts], [45])
        code, full = self.d.req("GET", f"/v1/alerts/{alerts[0]['id']}")
        self.assertEqual(len(full["processes"]), 40)  # the 40 latest, and the count of all
        # compaction removed segments: no gap
        self.assertEqual(self.metric("vigil_store_missing_segments"), 0)
        self.assertNotIn("missing", self.d.text())

    def test_damaged_segment_header_loses_no_record(self):
        self.start()
        self.execs("/tmp/crontab", 30, "h")
        self.wait_violations(CRON, 30)
        self.d.stop()
        self.d = None
        seg = os.path.join(self.data, "store", "seg-00000001.log")
        size = os.path.getsize(seg)
        with open(seg, "r+b") as f:
            f.write(b"\xde\xad\xbe\xef")  # its first 4 bytes
        self.start()
        self.assertEqual([a["violations"] for a in self.alerts()
                          if a["policy"]["name"] == CRON], [30])
        self.assertIn("seg-00000001.log: ", self.d.text())
        self.assertIn("(a damaged segment header) at offset 0 skipped", self.d.text())
        self.assertNotIn("torn tail", self.d.text())
        self.assertEqual(os.path.getsize(seg), size)  # nothing cut
        self.assertEqual(self.metric("vigil_store_damaged_regions_total"), 1)
        self.assertGreater(self.metric("vigil_store_damaged_bytes_total"), 0)
        # new records go to a new segment, and all survive the next start
        self.execs("/tmp/crontab", 5, "h2-")
        self.wait_violations(CRON, 35)
        self.restart()
        self.assertEqual([a["violations"] for a in self.alerts()
                          if a["policy"]["name"] == CRON], [35])
        self.assertEqual(os.path.getsize(seg), size)

    def test_torn_tail_is_kept_aside(self):
        self.start()
        self.execs("/tmp/crontab", 3, "t")
        self.wait_violations(CRON, 3)
        self.d.stop()
        self.d = None
        seg = os.path.join(self.data, "store", "seg-00000001.log")
        good = os.path.getsize(seg)
        with open(seg, "ab") as f:
            f.write(b"VLGR\x99\x00\x00\x00torn")
        self.start()
        self.assertIn(f"torn tail: truncated to the last good record at offset {good}", self.d.text())
        kept = f"{seg}.{good}.damaged"
        self.assertIn(os.path.basename(kept), self.d.text())
        with open(kept, "rb") as f:
            self.assertEqual(f.read(), b"VLGR\x99\x00\x00\x00torn")
        with open(seg, "rb") as f:  # cut (records the daemon wrote since may follow)
            f.seek(good)
            self.assertNotEqual(f.read(12), b"VLGR\x99\x00\x00\x00torn")
        self.assertEqual(self.metric("vigil_store_damaged_bytes_total"), 12)

    def test_missing_segment_is_reported(self):
        store = os.path.join(self.data, "store")
        os.makedirs(store)
        now = time.time_ns()
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for no, aid in enumerate(ids, 1):
            with open(os.path.join(store, f"seg-{no:08d}.log"), "wb") as f:
                f.write(V1_HEADER + alert_records(aid, now + no))
        os.unlink(os.path.join(store, "seg-00000002.log"))
        r = subprocess.run([vigtest.VIGIL, "violations", "list", "--data-dir", self.data],
                           capture_output=True, text=True, timeout=60)  # offline, no daemon
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("segment(s) 2 missing", r.stderr)
        self.start()
        self.assertIn("segment(s) 2 missing", self.d.text())
        self.assertEqual(self.metric("vigil_store_missing_segments"), 1)
        found = [a["id"] for a in self.alerts(mine=False)]
        self.assertIn(ids[0], found)
        self.assertIn(ids[2], found)
        self.assertNotIn(ids[1], found)
        self.d.stop()
        # a store an earlier version compacted: its first segments are gone, legitimately
        data = tempfile.mkdtemp(prefix="vigil-store-")
        store = os.path.join(data, "store")
        os.makedirs(store)
        for no, aid in ((4, ids[0]), (5, ids[1])):
            with open(os.path.join(store, f"seg-{no:08d}.log"), "wb") as f:
                f.write(V1_HEADER + alert_records(aid, now + no))
        self.start(data)
        self.assertNotIn("missing", self.d.text())
        self.assertEqual(self.metric("vigil_store_missing_segments"), 0)
        found = [a["id"] for a in self.alerts(mine=False)]
        self.assertIn(ids[0], found)
        self.assertIn(ids[1], found)

    def test_full_disk_durable_means_in_the_log(self):
        mnt = tempfile.mkdtemp(prefix="vigil-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
        try:
            data = os.path.join(mnt, "data")
            os.makedirs(data)
            conf = os.path.join(self.data, "small.conf.lua")
            with open(conf, "w") as f:
                f.write("return { store = { memory_mb = 1 } }\n")
            self.start(data, "--config", conf)
            fill = os.path.join(mnt, "fill")
            subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=4k"], capture_output=True)
            # big records until the memory bound refuses one, then small ones to fill it up
            pad = "p" * 1500
            for i in range(20):
                self.execs("/tmp/crontab", 100, f"big{i}-", pad)
                if self.metric("vigil_store_dropped_total"):
                    break
            self.assertGreater(self.metric("vigil_store_dropped_total"), 0, self.d.text()[-2000:])
            self.execs("/tmp/crontab", 300, "small")
            self.assertGreater(self.metric("vigil_store_write_errors_total"), 0)
            # a violation that opens an alert, refused: neither it nor its alert is kept
            errors = self.metric("vigil_store_errors_total")
            self.execs("/tmp/nc", 1, "refused")
            deadline = time.time() + 10
            while time.time() < deadline and self.metric("vigil_store_errors_total") == errors:
                time.sleep(0.05)
            self.assertGreater(self.metric("vigil_store_errors_total"), errors)
            os.unlink(fill)  # space returns
            deadline = time.time() + 20
            while time.time() < deadline and self.metric("vigil_store_pending_bytes"):
                time.sleep(0.05)
            self.assertEqual(self.metric("vigil_store_pending_bytes"), 0)
            # the same alert's next violations, durable
            self.execs("/tmp/nc", 3, "later")
            deadline = time.time() + 20
            while time.time() < deadline and not (
                    self.metric("vigil_violations_durable_total") ==
                    self.metric("vigil_violations_stored_total") and
                    self.metric("vigil_store_pending_bytes") == 0):
                time.sleep(0.05)
            time.sleep(0.5)  # nothing else arrives
            durable = self.metric("vigil_violations_durable_total")
            self.assertEqual(durable, self.metric("vigil_violations_stored_total"))
            self.restart(data, "--config", conf)
            every = self.alerts(mine=False)
            # durable means in the log (more may be: execs elsewhere on the host after the count)
            self.assertGreaterEqual(sum(a["violations"] for a in every), durable)
            if all(a["podUid"] == self.pod for a in every):
                self.assertEqual(sum(a["violations"] for a in every), durable)
            self.assertEqual([a["violations"] for a in self.alerts()
                              if a["policy"]["name"] == "Netcat Execution Detected"], [3])
            self.d.stop()
            self.d = None
        finally:
            if self.d:
                self.d.stop(signal.SIGKILL)
                self.d = None
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
