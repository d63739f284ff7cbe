#!/usr/bin/env python3
"""Configuration from an untrusted hand. Every number in vigil.conf.lua has a
range checked at start (the key, the value, the range named); URLs and the API
address are parsed at start; a plugin_dir that is not a readable directory is
an error."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

V = vigtest.VIGIL
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def run_vigil(args, timeout=30):
    """`vigil run ARGS`: (exit code, stderr); a daemon that starts is stopped, code None."""
    log = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([V, "run", *args], stdout=log, stderr=log)
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        log.seek(0)
        if "ready:" in log.read():
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            log.seek(0)
            return None, log.read()
        time.sleep(0.05)
    if p.poll() is None:
        p.kill()
    p.wait()
    log.seek(0)
    return p.returncode, log.read()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-untrusted-")  # root, 0700
        self.port = vigtest.free_port()
        self.victim = os.path.join(self.tmp, "victim")  # a root-owned file vigil must not touch
        with open(self.victim, "w") as f:
            f.write("precious\n")
        os.chmod(self.victim, 0o644)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_refused(self, args, *msgs):
        code, out = run_vigil([*args, "--listen", f"127.0.0.1:{self.port}"])
        self.assertEqual(code, 1, f"vigil run {args} was not refused: {out}")
        for m in msgs:
            self.assertIn(m, out)
        self.assertEqual(len([x for x in out.splitlines() if "error" in x]), 1, out)
        return out

    def assert_victim_untouched(self):
        with open(self.victim) as f:
            self.assertEqual(f.read(), "precious\n")


class ConfigTest(Base):
    def conf(self, body):
        path = os.path.join(self.tmp, "vigil.conf.lua")
        with open(path, "w") as f:
            f.write(body + "\n")
        return path

    def assert_conf_refused(self, body, *msgs):
        return self.assert_refused(["--config", self.conf(body), "--data-dir",
                                    os.path.join(self.tmp, "data")], *msgs)

    def test_numbers_have_ranges(self):
        for body, msg in [
            ("store = { retention_days = 36500 }",
             "store.retention_days = 36500 is out of range: use 0..3650"),
            ("store = { commit_ms = 4294967295 }",
             "store.commit_ms = 4294967295 is out of range: use 1..1000"),
            ("store = { commit_ms = 0 }", "store.commit_ms = 0 is out of range: use 1..1000"),
            ("store = { commit_ms = -1 }", "store.commit_ms = -1 is out of range: use 1..1000"),
            ("store = { commit_ms = 2.5 }", "store.commit_ms must be an integer (1..1000"),
            ("store = { commit_ms = \"fast\" }", "store.commit_ms must be an integer (1..1000"),
            ("store = { memory_mb = 0 }", "store.memory_mb = 0 is out of range: use 1..65536"),
            ("lua = { memory_mb = 4294967295 }",  # 4 PiB
             "lua.memory_mb = 4294967295 is out of range: use 1..4096"),
            ("lua = { budget = 10 }", "lua.budget = 10 is out of range: use 1000..1000000000"),
            ("sensor = { drain_ms = 0 }", "sensor.drain_ms = 0 is out of range: use 1..1000"),
            ("sensor = { ringbuf_size = \"4G\" }",
             "sensor.ringbuf_size = 4294967296 is out of range: use 16384..1073741824"),
            ("sensor = { ringbuf_size = \"8K\" }",
             "sensor.ringbuf_size = 8192 is out of range: use 16384..1073741824"),
            ("volume = { window_s = 0 }", "volume.window_s = 0 is out of range: use 1..604800"),
            ("volume = { burst = 99999999999 }",
             "volume.burst = 99999999999 is out of range: use 0..1000000"),
            ("kubernetes = { refresh_s = 0 }",
             "kubernetes.refresh_s = 0 is out of range: use 1..86400"),
        ]:
            with self.subTest(body=body):
                self.assert_conf_refused(f"return {{ {body} }}", msg)

    def test_urls_and_addresses_are_parsed(self):
        hook = 'notifiers = {{ ops = {{ type = "webhook", url = "{}" }} }}'
        for body, msgs in [
            (hook.format("not a url"), ["notifiers.ops.url: 'not a url' is not a URL"]),
            (hook.format("hooks.example/vigil"),
             ["notifiers.ops.url: 'hooks.example/vigil' has no scheme: use http:// or https://"]),
            (hook.format("ftp://hooks.example/x"),
             ["notifiers.ops.url: 'ftp://hooks.example/x' is not an http:// or https:// URL"]),
            (hook.format("http://"), ["notifiers.ops.url: 'http://' is not a URL"]),
            ('notifiers = { pd = { type = "pagerduty", routing_key = "k", url = "x y" } }',
             ["notifiers.pd.url: 'x y' is not a URL"]),
            ('kubernetes = { server = "not a url" }',
             ["kubernetes.server: 'not a url' is not a URL"]),
            ('kubernetes = { server = "file:///etc/passwd" }',
             ["kubernetes.server: 'file:///etc/passwd' is not an http:// or https:// URL"]),
            ('api = { listen = "localhost" }',
             ["api.listen: 'localhost' is not HOST:PORT"]),
            ('api = { listen = "127.0.0.1:80abc" }',
             ["api.listen: '127.0.0.1:80abc' is not HOST:PORT"]),
            ('api = { listen = "127.0.0.1:70000" }',
             ["api.listen: '127.0.0.1:70000' is not HOST:PORT"]),
        ]:
            with self.subTest(body=body):
                self.assert_conf_refused(f"return {{ {body} }}", *msgs)
        # a secret URL (Slack's webhook) is named, never shown
        out = self.assert_conf_refused(
            'return { notifiers = { s = { type = "slack", url = "T0KEN not a url" } } }',
            "notifiers.s.url (a secret) is not a URL")
        self.assertNotIn("T0KEN", out)
        # --listen is held to the same rule
        code, out = run_vigil(["--data-dir", os.path.join(self.tmp, "data"), "--listen", "8077"])
        self.assertEqual(code, 1, out)
        self.assertIn("--listen: '8077' is not HOST:PORT", out)

    def test_plugin_dir_must_be_a_readable_directory(self):
        missing = os.path.join(self.tmp, "no-such-dir")
        self.assert_conf_refused(f'return {{ plugin_dir = "{missing}" }}',
                                 f"plugin_dir {missing}: No such file or directory")
        self.assert_conf_refused(f'return {{ plugin_dir = "{self.victim}" }}',
                                 f"plugin_dir {self.victim}: Not a directory")

    def test_retention_keeps_a_fresh_resolution_and_refuses_overflow(self):
        vigtest.require_bpf()
        pol = os.path.join(self.tmp, "policies")
        os.mkdir(pol)
        with open(os.path.join(pol, "mark.lua"), "w") as f:
            f.write('return policy { name = "Retention Mark", severity = "low", '
                    'match = { process_name = { "vgretmark" } }, scope = { host = true } }\n')
        mark = os.path.join(self.tmp, "vgretmark")
        shutil.copy("/bin/true", mark)
        data = os.path.join(self.tmp, "data")
        conf = self.conf(f'return {{ policy_dir = "{pol}", '
                         f'api = {{ listen = "127.0.0.1:{self.port}" }}, '
                         'store = { retention_days = 3650 } }')
        p = subprocess.Popen([V, "run", "--config", conf, "--data-dir", data],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while not os.path.exists(os.path.join(data, "api.token")) and time.time() < deadline:
                time.sleep(0.05)
            with open(os.path.join(data, "api.token")) as f:
                token = f.read().strip()

            def api(method, path):
                r = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
                r.add_header("Authorization", f"Bearer {token}")
                with urllib.request.urlopen(r, timeout=10) as resp:
                    return json.loads(resp.read())

            alerts = []
            while not alerts and time.time() < deadline:
                try:
                    subprocess.run([mark], check=True)
                    alerts = api("GET", "/v1/alerts")["alerts"]
                except OSError:
                    pass
                time.sleep(0.1)
            self.assertEqual(len(alerts), 1)
            api("PATCH", f"/v1/alerts/{alerts[0]['id']}/resolve")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        # 3650 days: the alert resolved a moment ago stays
        code, out = run_vigil(["--config", conf, "--data-dir", data])
        self.assertIsNone(code, out)
        r = subprocess.run([V, "violations", "list", "--json", "--state", "all", "--data-dir", data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual([a["state"] for a in json.loads(r.stdout)], ["RESOLVED"], r.stderr)
        # 36500 days would have wrapped around to "older than the future": refused, nothing lost
        with open(conf, "w") as f:
            f.write(f'return {{ policy_dir = "{pol}", store = {{ retention_days = 36500 }} }}\n')
        self.assert_refused(["--config", conf, "--data-dir", data],
                            "store.retention_days = 36500 is out of range: use 0..3650")
        r = subprocess.run([V, "violations", "list", "--json", "--state", "all", "--data-dir", data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual([a["state"] for a in json.loads(r.stdout)], ["RESOLVED"], r.stderr)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
