#!/usr/bin/env python3
"""The CLI as one tool: every command that reads the configuration or the store, or
prints data, takes --config, --data-dir and --json (and its JSON parses); `policy list`
shows the live enforcement state (the daemon's, else the store's); alert ids may be
shortened to a unique prefix; --policy is a case-insensitive substring everywhere;
policy_dir adds to the built-in pack unless builtin_policies = false."""
import json
import os
import re
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

V = vigtest.VIGIL
MARK_A, MARK_B = "Vigil CLI Marker Alpha", "Vigil CLI Marker Beta"
UBUNTU = "Ubuntu Package Manager Execution"
POLICY = ('return policy {{ id = "{comm}", name = "{name}", severity = "low", '
          'match = {{ process_name = "{comm}" }}, scope = {{ host = true }} }}\n')


def vigil(*args, timeout=60):
    return subprocess.run([V, *args], capture_output=True, text=True, timeout=timeout)


def parse_json(text):
    """One JSON document, or JSON lines (replay, events, resolve): a list of objects."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vigtest.require_bpf()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-cli-")
        cls.pol = os.path.join(cls.tmp, "policies")
        os.mkdir(cls.pol)
        cls.marks = {}
        for name, comm in ((MARK_A, "vgclimarka"), (MARK_B, "vgclimarkb")):
            with open(os.path.join(cls.pol, comm + ".lua"), "w") as f:
                f.write(POLICY.format(name=name, comm=comm))
            cls.marks[name] = os.path.join(cls.tmp, comm)
            shutil.copy("/bin/true", cls.marks[name])
        cls.data = os.path.join(cls.tmp, "data")
        os.mkdir(cls.data)
        cls.port = vigtest.free_port()
        cls.conf = os.path.join(cls.tmp, "vigil.conf.lua")
        with open(cls.conf, "w") as f:
            f.write(f'return {{ policy_dir = "{cls.pol}", data_dir = "{cls.data}", '
                    f'api = {{ listen = "127.0.0.1:{cls.port}" }} }}\n')
        cls.trace = os.path.join(cls.tmp, "execs.trace")
        d = cls.daemon()
        try:
            rec = subprocess.Popen([V, "record", cls.trace], stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            cls.ids = {}
            deadline = time.time() + 20
            while len(cls.ids) < 2 and time.time() < deadline:
                for exe in cls.marks.values():
                    subprocess.run([exe], check=True)
                _, body = d.req("GET", "/v1/alerts")
                # only the markers': other tests' containers may run dpkg meanwhile
                cls.ids = {a["policy"]["name"]: a["id"] for a in body["alerts"]
                           if a["policy"]["name"] in cls.marks}
                time.sleep(0.1)
            for _ in range(5):
                for exe in cls.marks.values():
                    subprocess.run([exe], check=True)
            time.sleep(0.2)
            rec.send_signal(signal.SIGINT)  # the trace is written whole at the stop
            assert rec.wait(timeout=30) == 0
        finally:
            d.stop()
        assert set(cls.ids) == {MARK_A, MARK_B}, cls.ids

    @classmethod
    def daemon(cls):
        return Daemon(cls.data, cls.port, "--config", cls.conf)

    def with_daemon(self):
        d = self.daemon()
        self.addCleanup(d.stop, signal.SIGTERM)
        return d

    # ---- 1. the same options everywhere -------------------------------------------------

    def commands(self):
        """Each command that reads the config or the store or prints data, with the
        arguments it needs, and whether it takes --json."""
        a = self.ids[MARK_A]
        return [
            (["policy", "list"], True),
            (["policy", "show", UBUNTU], True),
            (["policy", "test"], True),
            (["policy", "lint", os.path.join(self.pol, "vgclimarka.lua")], True),
            (["policy", "enforce", UBUNTU], True),
            (["policy", "inform", UBUNTU], True),
            (["policy", "disable", UBUNTU], True),
            (["policy", "enable", UBUNTU], True),
            (["policy", "stats", self.trace], True),
            (["violations", "list", "--state", "all"], True),
            (["violations", "show", a], True),
            (["violations", "resolve", a], True),
            (["replay", self.trace], True),
            (["events", "--count", "1"], True),
            (["record", os.path.join(self.tmp, "one.trace"), "--count", "1"], True),
            # test, outbox and retry need a receiver or a daemon: test_notify.py
            (["notifiers", "list"], True),
            # the others change baselines: test_baselines_api.py
            (["baselines", "list"], True),
        ]

    def run_cmd(self, args):
        if args[0] not in ("events", "record"):
            return vigil(*args)
        p = subprocess.Popen([V, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        deadline = time.time() + 30
        while p.poll() is None and time.time() < deadline:
            subprocess.run(["/bin/true"])
            time.sleep(0.05)
        out, err = p.communicate(timeout=30)
        return subprocess.CompletedProcess(args, p.returncode, out, err)

    def test_every_command_is_in_the_table(self):
        top = vigil("--help").stdout
        commands = re.findall(r"^  ([a-z]+) ", top, re.M)
        covered = {c[0][0] for c in self.commands()}
        # run is the daemon (its --config and --data-dir are every other test's setUp);
        # version prints the version; console needs a running daemon: its options are
        # test_console_auth.py's; bench runs the source tree's harness, not the daemon's
        # configuration: its options are test_bench.py's
        self.assertEqual(set(commands) - covered, {"run", "version", "console", "bench"})
        usage = vigil("policy", "--help").stdout
        subs = set(re.findall(r"^  ([a-z]+)\b", usage, re.M)) | set(
            re.findall(r"\| ([a-z]+)", usage))
        self.assertEqual(subs - {c[0][1] for c in self.commands() if c[0][0] == "policy"},
                         set())

    def test_same_options_everywhere(self):
        for args, takes_json in self.commands():
            for extra in (["--config", self.conf], ["--data-dir", self.data],
                          ["--config", self.conf, "--data-dir", self.data, "--json"]):
                if "--json" in extra and not takes_json:
                    continue
                with self.subTest(cmd=args, options=extra):
                    r = self.run_cmd([*args, *extra])
                    self.assertNotIn("unknown option", r.stderr)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    if "--json" in extra:
                        self.assertTrue(r.stdout.strip(), r.stderr)
                        parse_json(r.stdout)

    # ---- 2. policy list shows the live state --------------------------------------------

    def listed(self, name, *extra):
        r = vigil("policy", "list", "--json", "--config", self.conf, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [p for p in json.loads(r.stdout) if p["name"] == name][0]

    def test_policy_list_shows_the_store_settings(self):
        self.addCleanup(vigil, "policy", "inform", UBUNTU, "--config", self.conf)
        r = vigil("policy", "enforce", UBUNTU, "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.listed(UBUNTU)["enforcement"], "kill_pod")  # the default action
        r = vigil("policy", "show", UBUNTU, "--json", "--config", self.conf)
        self.assertEqual(json.loads(r.stdout)["enforcement"], "kill_pod")
        vigil("policy", "disable", MARK_B, "--config", self.conf)
        self.addCleanup(vigil, "policy", "enable", MARK_B, "--config", self.conf)
        self.assertEqual(self.listed(MARK_B)["state"], "disabled")
        # --dir: the files' own state
        r = vigil("policy", "list", "--json", "--dir", self.pol)
        self.assertEqual({p["state"] for p in json.loads(r.stdout)}, {"enabled"})

    def test_policy_list_shows_the_daemons_state(self):
        # a marker, not a built-in: this daemon's kernel filter would kill other tests' execs
        d = self.with_daemon()
        # the daemon too: policy_dir's two markers besides the 32 built-ins
        self.assertEqual(len(d.req("GET", "/v1/policies")[1]["policies"]), 34)
        r = vigil("policy", "enforce", MARK_A, "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(vigil, "policy", "inform", MARK_A, "--config", self.conf)
        self.assertEqual(self.listed(MARK_A)["enforcement"], "kill_pod")  # the default action
        code, _ = d.req("PATCH", "/v1/policies/vgclimarka", {"enforcement": "kill_process"})
        self.assertEqual(code, 200)
        self.assertEqual(self.listed(MARK_A)["enforcement"], "kill_process")
        d.req("PATCH", "/v1/policies/vgclimarka", {"disabled": True})
        self.addCleanup(d.req, "PATCH", "/v1/policies/vgclimarka", {"disabled": False})
        self.assertEqual(self.listed(MARK_A)["state"], "disabled")

    # ---- 3. short alert ids -------------------------------------------------------------

    def check_short_ids(self):
        a, b = self.ids[MARK_A], self.ids[MARK_B]
        r = vigil("violations", "show", a[:8], "--json", "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["id"], a)
        r = vigil("violations", "show", b[:4].upper(), "--json", "--config", self.conf)
        if a[:4] != b[:4]:
            self.assertEqual(json.loads(r.stdout)["id"], b)
        r = vigil("violations", "show", "zzzzzz", "--config", self.conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no alert with id 'zzzzzz'", r.stderr)
        r = vigil("violations", "show", a[:3], "--config", self.conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("at least 4", r.stderr)
        r = vigil("violations", "resolve", b[:6], "--json", "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["id"], b)

    def test_short_ids_offline(self):
        self.check_short_ids()

    def test_short_ids_through_the_api(self):
        self.with_daemon()
        self.check_short_ids()

    # ---- 4. --policy: a case-insensitive substring --------------------------------------

    def check_policy_filter(self):
        r = vigil("violations", "list", "--state", "all", "--json", "--policy", "cli marker",
                  "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({x["policy"]["name"] for x in json.loads(r.stdout)}, {MARK_A, MARK_B})
        r = vigil("violations", "list", "--state", "all", "--json", "--policy", "MARKER beta",
                  "--config", self.conf)
        self.assertEqual([x["id"] for x in json.loads(r.stdout)], [self.ids[MARK_B]])

    def test_policy_filter_offline(self):
        self.check_policy_filter()

    def test_policy_filter_through_the_api(self):
        self.with_daemon()
        self.check_policy_filter()

    def test_policy_filter_in_replay_stats_and_list(self):
        r = vigil("replay", self.trace, "--policy", "marker BETA", "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = {json.loads(x)["policy"] for x in r.stdout.splitlines() if x.strip()}
        self.assertEqual(names, {MARK_B})
        r = vigil("policy", "stats", self.trace, "--json", "--policy", "cli marker",
                  "--config", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = json.loads(r.stdout)
        self.assertEqual({p["name"] for p in stats["policies"]}, {MARK_A, MARK_B})
        self.assertTrue(all(p["matches"] > 0 for p in stats["policies"]), stats)
        r = vigil("policy", "list", "--json", "--policy", "ubuntu", "--config", self.conf)
        self.assertEqual([p["name"] for p in json.loads(r.stdout)], [UBUNTU])

    # ---- 5. policy_dir adds to the built-in pack ----------------------------------------

    def test_policy_dir_adds_to_the_builtin_pack(self):
        one = os.path.join(self.tmp, "one")
        os.makedirs(one, exist_ok=True)
        shutil.copy(os.path.join(self.pol, "vgclimarka.lua"), one)
        conf = os.path.join(self.tmp, "one.conf.lua")
        for extra, count in (("", 33), ("builtin_policies = false, ", 1)):
            with open(conf, "w") as f:
                f.write(f'return {{ {extra}policy_dir = "{one}" }}\n')
            r = vigil("policy", "list", "--json", "--config", conf, "--data-dir", self.tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(json.loads(r.stdout)), count, extra)
        # a policy with a built-in's id replaces it, and says so
        with open(os.path.join(one, "ubuntu.lua"), "w") as f:
            f.write('return policy { id = "ubuntu-package-manager-execution", '
                    'name = "My apt", severity = "high", match = { process_name = "apt" } }\n')
        with open(conf, "w") as f:
            f.write(f'return {{ policy_dir = "{one}" }}\n')
        r = vigil("policy", "list", "--json", "--config", conf, "--data-dir", self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = [p["name"] for p in json.loads(r.stdout)]
        self.assertEqual(len(names), 33)
        self.assertIn("My apt", names)
        self.assertNotIn(UBUNTU, names)
        self.assertIn("replaces the built-in policy 'Ubuntu Package Manager Execution'",
                      r.stderr)

    # ---- 6. --data-dir alone reaches that data directory's daemon -----------------------

    def test_data_dir_reaches_its_own_daemon(self):
        """Two daemons on two data directories, each on its own port (neither the default
        one): `--data-dir D` alone reaches D's, and wins over a --config naming another
        address; the address file goes at a clean exit."""
        daemons = {}
        for name in ("one", "two"):
            data = os.path.join(self.tmp, "dd-" + name)
            shutil.copytree(self.data, data, symlinks=True)
            os.unlink(os.path.join(data, "api.token"))  # each its own
            daemons[name] = Daemon(data, vigtest.free_port())
            self.addCleanup(daemons[name].stop, signal.SIGTERM)
        one, two = daemons["one"], daemons["two"]
        code, _ = one.req("PATCH", f"/v1/alerts/{self.ids[MARK_A]}/resolve", raw=b"")
        self.assertEqual(code, 200)
        empty = tempfile.mkdtemp(dir=self.tmp)  # no ./vigil.conf.lua there

        def state(d, *extra):
            r = subprocess.run([V, "violations", "list", "--state", "all", "--json",
                                "--data-dir", d.data, *extra], capture_output=True, text=True,
                               timeout=60, cwd=empty)
            self.assertEqual(r.returncode, 0, r.stderr)
            return {a["id"]: a["state"] for a in json.loads(r.stdout)}[self.ids[MARK_A]]
        self.assertEqual(state(one), "RESOLVED")
        self.assertEqual(state(two), "ACTIVE")
        # the configuration names another address (no daemon there): the data dir's wins
        self.assertEqual(state(two, "--config", self.conf), "ACTIVE")
        self.assertEqual(state(one, "--config", self.conf), "RESOLVED")
        self.assertEqual(one.stop(signal.SIGTERM), 0)
        self.assertFalse(os.path.exists(os.path.join(one.data, "api.address")))

    # ---- 7. small ones ------------------------------------------------------------------

    def test_config_that_is_a_directory(self):
        for args in (["policy", "list"], ["violations", "list"], ["notifiers", "list"]):
            r = vigil(*args, "--config", self.tmp)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(f"the configuration {self.tmp} is a directory", r.stderr)
            self.assertNotIn("must return a table", r.stderr)

    def test_version_json(self):
        r = vigil("version", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["version"], vigil("version").stdout.split()[1])

    def test_show_prints_the_enforcement(self):
        """`violations show ID` text shows the enforcement outcome (action, time, message)
        that --json has, and "none" before any."""
        data = os.path.join(self.tmp, "enforced")
        shutil.copytree(self.data, data, symlinks=True)
        aid = self.ids[MARK_A]
        r = vigil("violations", "show", aid, "--config", self.conf, "--data-dir", data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Enforcement:  none\n", r.stdout)
        self.assertRegex(r.stdout, r"\n  matched by: comm \(\S+\)\n  executable: \S+.*; "
                                   r"decided in userspace\n")
        d = Daemon(data, vigtest.free_port(), "--config", self.conf)
        self.addCleanup(d.stop, signal.SIGTERM)
        code, _ = d.req("PATCH", "/v1/policies/vgclimarka", {"enforcement": "kill_process"})
        self.assertEqual(code, 200)
        deadline = time.time() + 15
        enforced = []  # the alert may be a new one: another test may have resolved aid
        while time.time() < deadline and not enforced:
            subprocess.run([self.marks[MARK_A]])
            enforced = [a for a in d.req("GET", "/v1/alerts?query=State:ALL")[1]["alerts"]
                        if a["policy"]["name"] == MARK_A and a["enforcement"]]
            time.sleep(0.1)
        self.assertTrue(enforced, d.text()[-2000:])
        enf = enforced[0]["enforcement"]
        r = vigil("violations", "show", enforced[0]["id"], "--config", self.conf,
                  "--data-dir", data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Enforcement:  {enf['action']} at {enf['time']}: {enf['message']}",
                      r.stdout)


if __name__ == "__main__":
    if not os.access(V, os.X_OK):
        vigtest.cannot_run(f"vigil binary not built at {V}")
    vigtest.run_tests()
