#!/usr/bin/env python3
"""Configuration and files from an untrusted hand. Every number in vigil.conf.lua
has a range checked at start (the key, the value, the range named); URLs and the
API address are parsed at start; a plugin_dir that is not a readable directory
is an error. The data directory and what is in it must belong to vigil's user
and be writable by nobody else: a directory an unprivileged user made, a planted
vigil.lock symlink, a planted or loose api.token, a planted store segment or
outbox spill link are refused, and no file outside is ever written."""
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
            ("kubernetes = { pod_wait_ms = 120000 }",
             "kubernetes.pod_wait_ms = 120000 is out of range: use 0..60000 (milliseconds an "
             "exec of a pod not known yet waits for the pod's metadata; 0 evaluates it at once, "
             "without)"),
            ("kubernetes = { pod_wait_max = 0 }",
             "kubernetes.pod_wait_max = 0 is out of range: use 1..1000000"),
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
        conf = self.conf(f'return {{ policy_dir = "{pol}", builtin_policies = false, '
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
            f.write(f'return {{ policy_dir = "{pol}", builtin_policies = false, '
                    'store = { retention_days = 36500 } }\n')
        self.assert_refused(["--config", conf, "--data-dir", data],
                            "store.retention_days = 36500 is out of range: use 0..3650")
        r = subprocess.run([V, "violations", "list", "--json", "--state", "all", "--data-dir", data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual([a["state"] for a in json.loads(r.stdout)], ["RESOLVED"], r.stderr)


class DataDirTest(Base):
    def as_nobody(self, *cmd):
        subprocess.run([*NOBODY, *cmd], check=True)

    def test_dir_made_by_an_unprivileged_user_is_refused(self):
        data = f"/tmp/vigil-planted-{uuid.uuid4()}"  # /tmp: anyone may make it first
        self.as_nobody("mkdir", "-m", "777", data)
        try:
            self.as_nobody("ln", "-s", self.victim, os.path.join(data, "vigil.lock"))
            self.as_nobody("sh", "-c", f"echo planted-token-0123456789 > {data}/api.token")
            out = self.assert_refused(["--data-dir", data],
                                      f"the data directory {data} belongs to uid 65534")
            self.assertIn("chown", out)
            self.assert_victim_untouched()
            # the fix for the directory does not bless what was planted in it
            os.chown(data, 0, 0)
            os.chmod(data, 0o700)
            self.assert_refused(["--data-dir", data],
                                f"{data}/vigil.lock is a symbolic link")
            self.assert_victim_untouched()
            os.unlink(os.path.join(data, "vigil.lock"))
            self.assert_refused(["--data-dir", data],
                                f"{data}/api.token belongs to uid 65534, not to vigil's user (uid 0)")
        finally:
            shutil.rmtree(data, ignore_errors=True)

    def test_loose_dirs_are_refused(self):
        data = os.path.join(self.tmp, "data")
        os.mkdir(data)
        os.chmod(data, 0o770)
        self.assert_refused(["--data-dir", data],
                            f"the data directory {data} is writable by group or others (mode 0770)",
                            f"chmod 700 {data}")
        # a parent anyone may write (and not sticky like /tmp) could swap the directory
        os.chmod(data, 0o700)
        os.chmod(self.tmp, 0o777)
        self.assert_refused(["--data-dir", data], f"inside {self.tmp}, which is writable by group or others (mode 0777) and not sticky")
        os.chmod(self.tmp, 0o700)
        # or one another user owns: that user could rename the data directory away
        os.chown(self.tmp, 65534, 65534)
        self.assert_refused(["--data-dir", data], f"inside {self.tmp}, which belongs to uid 65534")
        os.chown(self.tmp, 0, 0)
        # a symlinked or foreign store directory
        os.symlink(self.tmp, os.path.join(data, "store"))
        self.assert_refused(["--data-dir", data], f"{data}/store is a symbolic link")
        os.unlink(os.path.join(data, "store"))
        os.mkdir(os.path.join(data, "store"))
        os.chown(os.path.join(data, "store"), 65534, 65534)
        self.assert_refused(["--data-dir", data], f"{data}/store belongs to uid 65534")

    def test_planted_link_in_own_dir_is_never_followed(self):
        # a root-owned 0700 directory with a link that was planted (a race, or a leftover)
        data = os.path.join(self.tmp, "data")
        os.mkdir(data, 0o700)
        os.symlink(self.victim, os.path.join(data, "vigil.lock"))
        self.assert_refused(["--data-dir", data], f"{data}/vigil.lock is a symbolic link")
        self.assert_victim_untouched()
        os.unlink(os.path.join(data, "vigil.lock"))
        os.symlink(self.victim, os.path.join(data, "api.token"))
        self.assert_refused(["--data-dir", data], f"{data}/api.token is a symbolic link")
        os.unlink(os.path.join(data, "api.token"))
        os.mkfifo(os.path.join(data, "api.token"), 0o600)  # reading it would wait forever
        self.assert_refused(["--data-dir", data], f"{data}/api.token is not a regular file")
        os.unlink(os.path.join(data, "api.token"))
        # a store segment someone else owns, or one linked elsewhere
        shutil.rmtree(os.path.join(data, "store"), ignore_errors=True)  # made by the run before
        os.makedirs(os.path.join(data, "store"), 0o700)
        seg = os.path.join(data, "store", "seg-00000001.log")
        os.symlink(self.victim, seg)
        self.assert_refused(["--data-dir", data], f"{data}/store/seg-00000001.log is a symbolic link")
        self.assert_victim_untouched()
        os.unlink(seg)
        with open(seg, "w") as f:
            f.write("VGSTORE1")
        os.chown(seg, 65534, 65534)
        self.assert_refused(["--data-dir", data], f"{seg} belongs to uid 65534")

    def test_planted_outbox_spill_link_is_not_truncated(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(os.path.join(data, "outbox"), 0o700)
        os.chmod(data, 0o700)
        os.symlink(self.victim, os.path.join(data, "outbox", "spill-0.jsonl"))
        conf = os.path.join(self.tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write('return { notifiers = { ops = { type = "webhook", url = "http://127.0.0.1:9/x" } } }\n')
        self.assert_refused(["--config", conf, "--data-dir", data],
                            f"{data}/outbox/spill-0.jsonl is a symbolic link")
        self.assert_victim_untouched()

    def test_token_open_to_others_is_refused(self):
        data = os.path.join(self.tmp, "fresh", "data")
        code, out = run_vigil(["--data-dir", data, "--listen", f"127.0.0.1:{self.port}"])
        self.assertIsNone(code, out)
        # a fresh start makes the directory 0700, its files 0600
        self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
        for name in ("api.token", "vigil.lock"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(data, name)).st_mode), 0o600, name)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(data, "store")).st_mode), 0o700)
        tok = os.path.join(data, "api.token")
        for mode in (0o666, 0o620, 0o640, 0o604):
            os.chmod(tok, mode)
            self.assert_refused(["--data-dir", data],
                                f"{tok} is open to group or others (mode {mode:04o})",
                                f"chmod 600 {tok}")
        os.chmod(tok, 0o600)
        code, out = run_vigil(["--data-dir", data, "--listen", f"127.0.0.1:{self.port}"])
        self.assertIsNone(code, out)

    def test_cli_does_not_follow_a_token_link(self):
        data = os.path.join(self.tmp, "data")
        conf = os.path.join(self.tmp, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'return {{ api = {{ listen = "127.0.0.1:{self.port}" }} }}\n')
        cli = [V, "violations", "list", "--data-dir", data, "--config", conf]
        p = subprocess.Popen([V, "run", "--config", conf, "--data-dir", data],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            tok = os.path.join(data, "api.token")
            deadline = time.time() + 30
            r = None
            while time.time() < deadline:
                r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    break
                time.sleep(0.1)
            self.assertEqual(r.returncode, 0, r.stderr)
            # the token moved aside, a link in its place (to the same token, even)
            shutil.copy(tok, self.victim)
            os.unlink(tok)
            os.symlink(self.victim, tok)
            r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(f"{tok} is a symbolic link", r.stderr)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)

if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
