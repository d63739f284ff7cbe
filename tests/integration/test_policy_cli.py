#!/usr/bin/env python3
"""`vigil policy lint|test|list|show` on good and malformed policy files: every
malformed class gets one clear message naming file:line, the good files still
load, and a wrong test expectation fails `vigil policy test`."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

V = vigtest.VIGIL

MALFORMED = {
    "syntax.lua": ("return policy {\n name = 'x', severity = 'low'\n match = { process_name = 'x' } }",
                   "syntax.lua:3:"),
    "unknown_field.lua": ("-- c\nreturn policy { name = 'x', severity = 'low',"
                          " match = { process_name = 'x' }, colour = 'red' }",
                          "unknown_field.lua:2: unknown policy field 'colour'"),
    "wrong_type.lua": ("return policy { name = 'x', severity = 3, match = { process_name = 'x' } }",
                       "wrong_type.lua:1: policy.severity must be one of"),
    "bad_uid.lua": ("return policy { name = 'x', severity = 'low', match = { process_uid = 'root' } }",
                    "bad_uid.lua:1: policy.match.process_uid must be a uid"),
    "bad_regex.lua": ("return policy { name = 'x', severity = 'low', match = { process_name = 'a(b' } }",
                      "bad_regex.lua:1: policy 'x': match section 1: bad regex 'a(b'"),
    "unknown_criterion.lua": ("return policy { name = 'x', severity = 'low', match = { process_nam = 'x' } }",
                              "unknown criterion 'process_nam'"),
    "only_negated.lua": ("return policy { name = 'x', severity = 'low', match = { not_process_args = 'x' } }",
                         "only negated criteria"),
    "no_return.lua": ("local p = policy { name = 'x', severity = 'low', match = { process_name = 'x' } }",
                      "must end with 'return policy"),
    "global.lua": ("y = 1\nreturn policy { name = 'x', severity = 'low', match = { process_name = 'x' } }",
                   "global.lua:1: globals are read-only"),
    "io.lua": ("io.open('/etc/passwd')", "io.lua:1: attempt to index a nil value (global 'io')"),
    "loop.lua": ("while true do end", "loop.lua:1: instruction budget exceeded"),
    "forged.lua": ("return { sections = {}, scope = {} }", "must end with 'return policy"),
    "forged_mt.lua": ("return setmetatable({ sections = {} }, { __index = function() while true do end end })",
                      "must end with 'return policy"),
    "too_many_values.lua": ("local v = {} for i = 1, 300 do v[i] = 'n' .. i end\n"
                            "return policy { name = 'x', severity = 'low', match = { process_name = v } }",
                            "at most 256"),
    "too_many_uids.lua": ("local v = {} for i = 1, 300 do v[i] = i end\n"
                          "return policy { name = 'x', severity = 'low',\n"
                          " match = { process_name = 'x', process_uid = v } }",
                          "too_many_uids.lua:3: policy.match.process_uid has 300 values:"
                          " at most 256"),
    "bad_test_ev.lua": ("return policy { name = 'x', severity = 'low', match = { process_name = 'x' },"
                        " tests = { { ev = { exe = '/x', uid = 'root' }, expect = true } } }",
                        "ev.uid must be an integer"),
    "gc.lua": ("setmetatable({}, { __gc = function() while true do end end })\n"
               "return policy { name = 'x', severity = 'low', match = { process_name = 'x' } }",
               "__gc are not allowed"),
    "empty_exclude.lua": ("return policy { name = 'x', severity = 'low', match = { process_name = 'x' },"
                          " exclude = { {} } }", "would exclude everything"),
}


def run(*args):
    return subprocess.run([V, *args], capture_output=True, text=True, timeout=60)


class PolicyCliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-policies-")

    def write(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(body + "\n")
        return path

    def test_each_malformed_class(self):
        for name, (body, msg) in MALFORMED.items():
            with self.subTest(name=name):
                path = self.write(name, body)
                r = run("policy", "lint", path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(msg, lines[0])
                self.assertTrue(lines[0].startswith(path), lines[0])

    def test_errors_name_the_line_of_the_key(self):
        """A format error names the line of the offending key, not the `policy {` line:
        nested keys (match, tests[i].ev), local tables and functions with commas included."""
        cases = {
            "crit.lua": ("-- a policy with a misspelt criterion\n"
                         "return policy {\n"
                         "\tname = 'Bad criterion',\n"
                         "\tseverity = 'low',\n"
                         "\tmatch = {\n"
                         "\t\tprocess_name = 'curl',\n"
                         "\t\tprocess_nam = 'wget',\n"
                         "\t},\n"
                         "}", 7, "unknown criterion 'process_nam'"),
            "sev.lua": ("-- severity typo\n"
                        "return policy {\n"
                        "\tname = 'Bad severity',\n"
                        "\tseverity = 'hgih',\n"
                        "\tmatch = { process_name = 'curl' },\n"
                        "}", 4, "policy.severity must be one of"),
            "test.lua": ("local check = function(ev)\n"
                         "\tlocal a, b = 1, 2\n"
                         "\treturn a < b\n"
                         "end\n"
                         "return policy {\n"
                         "\tname = 'Bad test', severity = 'low', --[[ a, { ]]\n"
                         "\tdescription = '}, x',\n"
                         "\tmatch = { process_name = 'curl' },"
                         " check = function(ev) local x, y = 1 end,\n"
                         "\ttests = {\n"
                         "\t\t{ ev = { exe = '/usr/bin/curl' }, expect = true },\n"
                         "\t\t{ ev = { exe = '/usr/bin/curl',\n"
                         "\t\t\tuid = 'root' }, expect = false },\n"
                         "\t},\n"
                         "}", 12, "policy.tests[2].ev.uid must be an integer"),
            "local.lua": ("local m = {\n"
                          "\t{ process_name = 'a' },\n"
                          "\t{ exe_path = '/x',\n"
                          "\t  process_uid = -1 },\n"
                          "}\n"
                          "return policy { name = 'L', severity = 'low', match = m }",
                          4, "policy.match[2].process_uid must be a uid"),
            "field.lua": ("return policy {\n"
                          "\tname = 'F',\n"
                          "\tseverity = 'low',\n"
                          "\tmatch = { process_name = 'x' },\n"
                          "\tcolour = 'red',\n"
                          "}", 5, "unknown policy field 'colour'"),
            "regex.lua": ("return policy {\n"
                          "\tname = 'R', severity = 'low',\n"
                          "\tmatch = {\n"
                          "\t\t{ process_name = 'ok' },\n"
                          "\t\t{ exe_path = '/x',\n"
                          "\t\t  not_process_args = 'a(b' },\n"
                          "\t},\n"
                          "}", 6, "policy 'R': match section 2: bad regex 'a(b'"),
            "scope_regex.lua": ("return policy {\n"
                                "\tname = 'S', severity = 'low',\n"
                                "\tmatch = { process_name = 'ok' },\n"
                                "\texclude = { { pod = 'x' },\n"
                                "\t\t{ namespace = 'n[' } },\n"
                                "}", 5, "policy 'S': bad regex"),
        }
        for name, (body, line, msg) in cases.items():
            with self.subTest(name=name):
                path = self.write(name, body)
                r = run("policy", "lint", path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(f"{path}:{line}: ", r.stderr)
                self.assertIn(msg, r.stderr)

    def test_policy_file_past_16_mib(self):
        path = self.write("huge.lua", "return policy { name = 'x', severity = 'low',"
                          " match = { process_name = 'x' } }\n" + "-" * (16 << 20))
        r = run("policy", "lint", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{path}: larger than 16 MiB, the most a policy file may be", r.stderr)

    def test_good_files_still_load(self):
        good = self.write("good.lua", "return policy { name = 'Good', severity = 'high',"
                          " match = { process_name = 'curl' },"
                          " tests = { { ev = { exe = '/usr/bin/curl' }, expect = true } } }")
        bad = self.write("bad.lua", MALFORMED["bad_regex.lua"][0])
        r = run("policy", "lint", good, bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("good.lua: ok: policy 'Good'", r.stdout)
        r = run("policy", "list", "--dir", self.dir)
        self.assertEqual(r.returncode, 1)  # a file failed, and says so
        self.assertIn("Good", r.stdout)
        self.assertIn("bad regex", r.stderr)

    def test_many_labels_and_long_categories(self):
        labels = ", ".join(f"l{i} = 'v'" for i in range(40))
        cats = ", ".join(f"'{c * 200}'" for c in "wxyz")
        path = self.write("big.lua", "return policy { name = 'Big', severity = 'low',"
                          f" categories = {{ {cats} }}, match = {{ process_name = 'curl' }},"
                          f" tests = {{ {{ ev = {{ exe = '/usr/bin/curl', labels = {{ {labels} }} }},"
                          " expect = true } } }")
        r = run("policy", "test", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("policy", "list", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Big", r.stdout)

    def test_failing_expectation_fails(self):
        path = self.write("wrong.lua", "return policy { name = 'Wrong', severity = 'low',"
                          " match = { process_name = 'curl' },"
                          " tests = { { ev = { exe = '/usr/bin/curl' }, expect = false } } }")
        r = run("policy", "test", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL Wrong", r.stdout)
        self.assertIn("0 passed, 1 failed", r.stdout)

    def test_throwing_check_fails_its_test(self):
        path = self.write("throws.lua", "return policy { name = 'Throws', severity = 'low',"
                          " match = { process_name = 'curl' },"
                          " check = function(ev) error('no such thing') end,"
                          " tests = { { ev = { exe = '/usr/bin/curl' }, expect = true } } }")
        r = run("policy", "test", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("FAIL Throws", r.stdout)
        self.assertIn("no such thing", r.stdout)
        self.assertIn("0 passed, 1 failed", r.stdout)

    def test_default_pack(self):
        r = run("policy", "test")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"32 policies, \d+ tests: \d+ passed, 0 failed")
        r = run("policy", "list", "--filter", "package")
        self.assertEqual(r.returncode, 0)
        names = [x for x in r.stdout.splitlines()[1:] if x.strip()]
        self.assertEqual(len(names), 3, r.stdout)
        r = run("policy", "show", "systemctl Execution")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Severity:     low", r.stdout)
        r = run("policy", "show", "No such policy")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no policy named 'No such policy'", r.stderr)
        r = run("policy", "list", "--dir", "/nonexistent/policies")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open the policy directory /nonexistent/policies", r.stderr)

    def test_help_on_every_command(self):
        """Every command and subcommand named in the usage texts answers --help and -h with
        its usage on stdout and exit status 0."""
        def names(usage):
            found = []
            for line in usage.splitlines():
                m = re.match(r"  ([a-z]+)\b(.*)", line)
                if m:
                    found.append(m.group(1))
                    found += re.findall(r"\| ([a-z]+)\b", m.group(2))
            return found

        top = run("--help")
        self.assertEqual(top.returncode, 0)
        commands = names(top.stdout)
        self.assertIn("notifiers", commands)
        for cmd in commands:
            usage = run(cmd, "--help")
            self.assertEqual(usage.returncode, 0, (cmd, usage.stderr))
            self.assertIn("usage", usage.stdout, cmd)
            subs = [s for s in names(usage.stdout) if s != cmd]
            for sub in subs:
                for flag in ("--help", "-h"):
                    r = run(cmd, sub, flag)
                    self.assertEqual(r.returncode, 0, (cmd, sub, flag, r.stderr))
                    self.assertIn("usage", r.stdout, (cmd, sub, flag))

    def test_labels_past_32_reach_the_scope(self):
        """A test event keeps all its labels: a scope on the 291st to the 300th matches."""
        labels = ", ".join(f"l{i} = 'v{i}'" for i in range(300))
        scope = ", ".join(f"l{i} = 'v{i}'" for i in range(290, 300))
        path = self.write("labels.lua", "return policy { name = 'Labels', severity = 'low',"
                          f" match = {{ process_name = 'curl' }}, scope = {{ labels = {{ {scope} }} }},"
                          f" tests = {{ {{ ev = {{ exe = '/usr/bin/curl', labels = {{ {labels} }} }},"
                          " expect = true },"
                          " { ev = { exe = '/usr/bin/curl', labels = { l299 = 'other' } }, expect = false } } }")
        r = run("policy", "test", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 passed, 0 failed", r.stdout)

    def test_every_fail_line_names_the_file(self):
        """A test event too big for a record, one without a fitting exec, a wrong expectation:
        each FAIL line names the policy and its file."""
        path = self.write("z4.lua", "return policy { name = 'z4', severity = 'low',"
                          " match = { process_name = 'curl' },"
                          f" tests = {{ {{ ev = {{ exe = '/usr/bin/{'c' * 300}' }}, expect = true }},"
                          " { ev = { exe = '/usr/bin/curl' }, expect = false } } }")
        r = run("policy", "test", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"FAIL z4 ({path}): test 1: test event does not fit in a record", r.stdout)
        self.assertIn(f"FAIL z4 ({path}): test 2: expected no match, got a match", r.stdout)
        fails = [x for x in r.stdout.splitlines() if x.startswith("FAIL")]
        self.assertEqual(len(fails), 2, r.stdout)

    def test_guides_say_what_the_flow_bindings_do(self):
        """Both guides say what core/pipeline/flow_bindings.c does: enforce() before store()
        stores the violation itself; notify() before it is stored returns false and stores
        nothing. (test_flow.py runs both against the daemon.)"""
        src = os.environ.get("VIGIL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
        for doc in ("policies/README.md", "lua/README.md"):
            with open(os.path.join(src, doc), encoding="utf-8") as f:
                text = re.sub(r"\s+", " ", f.read())
            for stale in ("so call `store()` first", "act on the alert `store()` returned"):
                self.assertFalse(stale in text, f"{doc} still says: {stale}")
            self.assertRegex(text, r"[Cc]alled before `store\(\)`, it stores the violation first", doc)
        with open(os.path.join(src, "policies/README.md"), encoding="utf-8") as f:
            text = re.sub(r"\s+", " ", f.read())
        self.assertIn("before the violation is stored (by `store()` or `enforce()`) it does nothing,"
                      " and does not store it", text)


if __name__ == "__main__":
    if not os.access(V, os.X_OK):
        vigtest.cannot_run(f"vigil binary not built at {V}")
    vigtest.run_tests()
