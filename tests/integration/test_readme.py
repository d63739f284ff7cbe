#!/usr/bin/env python3
"""The docs a user follows, run as written, and no stale text in the tree.

README.md's "See your first violation in a minute" section and the policy
guide's worked example (policies/README.md): their fenced sh blocks run in
order by bash, in a scratch directory laid out like the checkout (build/ and
scripts/ point at the real ones). The newcomer section runs against a daemon
started the way `make run` starts it (the command read from the Makefile's run
target); in the guide, a block that is only `build/vigil run ...` starts the
daemon. Only the API port is the test's own (vigil.conf.lua in the scratch
directory, read by the daemon and the CLI alike), and podman gets the tests'
containers.conf (runc on this hybrid-cgroup host). `ID` is the newest alert's
id, once `violations list` shows every alert the blocks made. A block that
fails, or an alert or a recorded detail that does not show up, fails the test.
The guide's Lua snippets must load (whole policies must pass their tests).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from vigtest import SRC, VIGIL, free_port, require_bpf, run_tests  # noqa: E402

NEWCOMER = ("README.md", "## See your first violation in a minute")
WORKED = ("policies/README.md", "## Worked example: from zero to an enforced policy")
POLICY = "Ubuntu Package Manager Execution"
MY_POLICY = "Device Node Created in Container"
DPKG = "Binary '/usr/bin/dpkg' executed with arguments '--version'"
KILLED = "killed in kernel"
# Text that once promised work for later: the docs say what is true now.
# ("placeholder" as a word of prose; an HTML input's placeholder attribute is fine)
STALE = re.compile(r"issue #?[0-9]|arrives later|until issue|later issue|"
                   r"\bplaceholder\b(?!\s*[:=,)])|\btodo\b",
                   re.IGNORECASE)
# Documents that are not in the repository: a reader of the repo cannot follow these.
OUTSIDE = re.compile(r"\b(POLICIES|CONTAINERS|DESIGN|STYLE)\.md\b|\.\./shared\b|/work/")


def section(doc, heading):
    """The text of the section under heading (up to the next heading of its level)."""
    with open(os.path.join(SRC, doc), encoding="utf-8") as f:
        text = f.read()
    start = text.find(heading + "\n")
    if start < 0:
        raise AssertionError(f"{doc} has no '{heading}' section")
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def blocks(text, lang):
    """The fenced blocks of one language, in order."""
    return re.findall(r"^```" + lang + r"\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def make_run_command():
    """`make run`'s daemon command, its make variables filled in from their defaults."""
    with open(os.path.join(SRC, "Makefile"), encoding="utf-8") as f:
        text = f.read()
    defaults = dict(re.findall(r"^(\w+) \?= (.*)$", text, re.MULTILINE))
    recipe = re.search(r"^run:.*\n\t(.*)$", text, re.MULTILINE)
    if not recipe:
        raise AssertionError("the Makefile has no run target")
    return re.sub(r"\$\((\w+)\)", lambda m: defaults[m.group(1)], recipe.group(1))


def code_lines(block):
    """The block's commands without their comments."""
    lines = (ln.split(" #", 1)[0].strip() for ln in block.splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def checked(script):
    """The script with each command line followed by a check of its status (a here-document
    is one command with its body)."""
    out, lines = [], iter(script.splitlines())
    for n, line in enumerate(lines, 1):
        cmd = [line]
        end = re.search(r"<<-?'?(\w+)'?", line)
        while end:
            cmd.append(next(lines, end.group(1)))
            if cmd[-1] == end.group(1):
                break
        out.append("\n".join(cmd))
        if line.strip() and not line.strip().startswith("#"):
            out.append('rc=$?; [ $rc = 0 ] || { echo "command %d failed ($rc)" >&2; exit $rc; }'
                       % n)
    return "\n".join(out) + "\n"


class DocRun(unittest.TestCase):
    """A scratch directory laid out like the checkout, where a doc's blocks run."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-readme-")
        os.symlink(os.path.dirname(os.path.abspath(VIGIL)), os.path.join(self.tmp, "build"))
        os.symlink(os.path.join(SRC, "scripts"), os.path.join(self.tmp, "scripts"))
        os.symlink(os.path.join(SRC, "tests"), os.path.join(self.tmp, "tests"))
        # the blocks run with the environment a user has: the podman settings come from
        # the README's own CONTAINERS_CONF line, exported in the shell that runs the blocks
        self.env = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}
        with open(os.path.join(self.tmp, "vigil.conf.lua"), "w") as f:
            f.write('return { api = { listen = "127.0.0.1:%d" } }\n' % free_port())
        self.daemon = None
        self.alerting = 0  # commands run while the daemon ran that each make one alert

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_daemon(self, command):
        self.log = open(os.path.join(self.tmp, "daemon.log"), "w+")
        self.daemon = subprocess.Popen(shlex.split(command), cwd=self.tmp, stdout=self.log,
                                       stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            self.log.seek(0)
            if "vigil: ready" in self.log.read():
                return
            if self.daemon.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        self.fail(f"the daemon ({command}) did not start: {self.log.read()[-2000:]}")

    def bash(self, script):
        """Runs the script as a terminal would (a failing command does not stop the next one on
        its line, `cmd; echo $?`), but any command line that fails stops it with its status."""
        r = subprocess.run(["bash", "-c", checked(script)], cwd=self.tmp, capture_output=True,
                           text=True, timeout=600, env=self.env)
        self.assertEqual(r.returncode, 0, f"doc block failed:\n{script}\n{r.stdout}{r.stderr}")
        return r.stdout + r.stderr  # what the terminal shows

    def alert_ids(self, list_cmd, policy, want):
        """The ids `violations list` shows for the policy, once it shows `want` of them."""
        deadline, out = time.time() + 15, ""
        while time.time() < deadline:
            out = self.bash(list_cmd)
            ids = [ln.split()[0] for ln in out.splitlines() if policy in ln and "ACTIVE" in ln]
            if len(ids) >= want:
                return ids
            time.sleep(0.3)
        self.fail(f"`{list_cmd}` never showed {want} '{policy}' alerts:\n{out}")

    def run_block(self, block, policy, alerting, expect):
        """Runs one block as written: a lone `vigil run` starts the daemon; `ID` is the newest
        alert whose output shows `expect`, once every alerting command so far has its alert.
        Returns its output."""
        lines = code_lines(block)
        if len(lines) == 1 and re.match(r"build/vigil run\b", lines[0]):
            self.start_daemon(lines[0])
            return ""
        at = [i for i, ln in enumerate(lines) if re.search(r"violations list\b", ln)]
        if not re.search(r"\bID\b", "\n".join(lines)):
            return self.run_lines(block, lines, alerting)
        self.assertTrue(at, "a block that shows ID must list the alerts first")
        out = self.run_lines("\n".join(lines[:at[0]]), lines[:at[0]], alerting)
        # at least one alert per alerting command: more when other tests on this host run the
        # same command in containers of their own; the newest alert showing `expect` is ours
        rest = "\n".join(lines[at[0]:])
        shown = [self.bash(re.sub(r"\bID\b", i, rest))
                 for i in self.alert_ids(lines[at[0]], policy, self.alerting)]
        return out + next((o for o in shown if expect in o), shown[0])

    def run_lines(self, script, lines, alerting):
        out = self.bash(script) if lines else ""
        if self.daemon:
            self.alerting += sum(1 for ln in lines if re.search(alerting, ln))
        return out


class ReadmeTest(DocRun):
    def test_newcomer_section(self):
        """README's first-violation section, against the daemon `make run` starts."""
        steps = blocks(section(*NEWCOMER), "sh")
        self.assertGreaterEqual(len(steps), 2, "the section has lost its command blocks")
        self.start_daemon(make_run_command())
        out = "".join(self.run_block(b, POLICY, r"dpkg", DPKG) for b in steps)
        self.assertIn(" 0 failed", out)  # vigil policy test
        self.assertGreater(self.alerting, 0, "the section runs nothing to alert on")
        self.assertIn(DPKG, out)
        self.assertIn("lineage:", out)

    def test_worked_example(self):
        """The policy guide's worked example: written, linted, tested, replayed, run, enforced."""
        steps = blocks(section(*WORKED), "sh")
        # the guide's reader has CONTAINERS_CONF exported from the README's section
        self.env["CONTAINERS_CONF"] = os.path.join(SRC, "tests", "podman", "containers.conf")
        self.assertGreaterEqual(len(steps), 5, "the worked example has lost its steps")
        out = "".join(self.run_block(b, MY_POLICY, r"^podman run", KILLED)
                      for b in steps)
        self.assertIsNotNone(self.daemon, "the example never starts the daemon")
        self.assertIn(f"ok: policy '{MY_POLICY}'", out)
        self.assertIn("3 tests: 3 passed, 0 failed", out)
        self.assertIn(f'"policy":"{MY_POLICY}"', out)  # the replay's violation
        self.assertIn("+ 1 with a violation", out)
        self.assertEqual(re.findall(r"^exit \d+$", out, re.MULTILINE), ["exit 0", "exit 137"])
        self.assertIn(KILLED, out)

    def test_guide_snippets_load(self):
        """Every Lua snippet of the policy guide loads; the whole policies pass their tests."""
        with open(os.path.join(SRC, "policies", "README.md"), encoding="utf-8") as f:
            snippets = blocks(f.read(), "lua")
        self.assertGreater(len(snippets), 3)
        for i, lua in enumerate(snippets):
            whole = lua.startswith("return policy")
            if not whole:  # a fragment: keys of a policy table, inside a minimal one
                keys = lua.rstrip().rstrip(",")
                base = 'match = { process_name = "x" },'
                if lua.lstrip().startswith("match"):
                    base = ""
                lua = (f'return policy {{ name = "snippet {i}", severity = "low", {base}\n'
                       f'{keys},\n}}\n')
            path = os.path.join(self.tmp, f"snippet{i}.lua")
            with open(path, "w") as f:
                f.write(lua)
            for cmd in (["lint", path], ["test", path]) if whole else (["lint", path],):
                r = subprocess.run([VIGIL, "policy", *cmd], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0,
                                 f"guide snippet {i}:\n{lua}\n{r.stdout}{r.stderr}")

    def test_no_stale_text(self):
        """No code, comment or doc promises work for later, names an issue number or points
        at a document outside the repository."""
        me = os.path.abspath(__file__)
        r = subprocess.run(["git", "-C", SRC, "ls-files"], capture_output=True, text=True)
        if r.returncode:
            self.skipTest(f"not a git checkout: {r.stderr.strip()}")
        hits = []
        for rel in r.stdout.splitlines():
            path = os.path.join(SRC, rel)
            if os.path.abspath(path) == me or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            if b"\0" in data:
                continue
            for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if STALE.search(line) or OUTSIDE.search(line):
                    hits.append(f"{rel}:{n}: {line.strip()[:120]}")
        self.assertEqual(hits, [], "stale text (say what is true now):\n" + "\n".join(hits))


if __name__ == "__main__":
    require_bpf()
    run_tests()
