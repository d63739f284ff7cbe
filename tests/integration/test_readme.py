#!/usr/bin/env python3
"""README.md's newcomer section, run as written, and no stale text in the tree.

The "See your first violation in a minute" section's fenced sh blocks are
taken from README.md and run in order by bash, in a scratch directory laid
out like the checkout (build/ and scripts/ point at the real ones), against a
daemon started the way `make run` starts it (the command is read from the
Makefile's run target). Only the API port is this test's own (vigil.conf.lua
in the scratch directory, read by the daemon and the CLI alike), and podman
gets the tests' containers.conf (runc on this hybrid-cgroup host). `ID` is the
first id `violations list` prints. The test fails when a block fails, or when
the alert or the recorded process does not show up.
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

SECTION = "## See your first violation in a minute"
POLICY = "Ubuntu Package Manager Execution"
# Text that once promised work for later (see README's newcomer rule: the docs say what is true).
STALE = re.compile(r"issue #?[0-9]|arrives later|until issue|later issue|placeholder|\btodo\b",
                   re.IGNORECASE)


def section_blocks():
    """The fenced sh blocks of the newcomer section, in order."""
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find(SECTION + "\n")
    if start < 0:
        raise AssertionError(f"README.md has no '{SECTION}' section")
    end = text.find("\n## ", start + len(SECTION))
    body = text[start:end if end >= 0 else len(text)]
    return re.findall(r"^```sh\n(.*?)^```$", body, re.MULTILINE | re.DOTALL)


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
    return [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.split("#", 1)[0].strip()]


class ReadmeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-readme-")
        os.symlink(os.path.dirname(os.path.abspath(VIGIL)), os.path.join(self.tmp, "build"))
        os.symlink(os.path.join(SRC, "scripts"), os.path.join(self.tmp, "scripts"))
        with open(os.path.join(self.tmp, "vigil.conf.lua"), "w") as f:
            f.write('return { api = { listen = "127.0.0.1:%d" } }\n' % free_port())
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_daemon(self):
        self.log = open(os.path.join(self.tmp, "daemon.log"), "w+")
        self.daemon = subprocess.Popen(shlex.split(make_run_command()), cwd=self.tmp,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            self.log.seek(0)
            if "vigil: ready" in self.log.read():
                return
            if self.daemon.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        self.fail(f"`make run`'s daemon did not start: {self.log.read()[-2000:]}")

    def bash(self, script):
        r = subprocess.run(["bash", "-e", "-c", script], cwd=self.tmp, capture_output=True,
                           text=True, timeout=600)
        self.assertEqual(r.returncode, 0, f"README block failed:\n{script}\n{r.stdout}{r.stderr}")
        return r.stdout

    def alert_ids(self, list_cmd, want):
        """The ids `violations list` shows for the policy, once it shows `want` of them."""
        deadline, out = time.time() + 15, ""
        while time.time() < deadline:
            out = self.bash(list_cmd)
            ids = [ln.split()[0] for ln in out.splitlines()
                   if POLICY in ln and "ACTIVE" in ln]
            if len(ids) >= want:
                return ids
            time.sleep(0.3)
        self.fail(f"`{list_cmd}` never showed {want} '{POLICY}' alerts:\n{out}")

    def test_newcomer_section(self):
        blocks = section_blocks()
        self.assertGreaterEqual(len(blocks), 2, "the section has lost its command blocks")
        self.start_daemon()
        runs = 0
        for block in blocks:
            lines = code_lines(block)
            listing = [ln for ln in lines if re.search(r"violations list\b", ln)]
            if not listing:
                out = self.bash(block)
                runs += sum(1 for ln in lines if "dpkg" in ln)
                if any("policy test" in ln for ln in lines):
                    self.assertIn(" 0 failed", out)
                continue
            self.assertGreater(runs, 0, "no block before the listing runs anything to alert on")
            ids = self.alert_ids(listing[0], runs)
            self.assertEqual(len(ids), runs, "one alert per container the section runs")
            out = self.bash(re.sub(r"\bID\b", ids[0], block))
            self.assertIn("Binary '/usr/bin/dpkg' executed with arguments '--version'", out)
            self.assertIn("lineage:", out)
            return
        self.fail("the section never lists the violations")

    def test_no_stale_text(self):
        """No code, comment or doc promises work for later or names an issue number."""
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
                if STALE.search(line):
                    hits.append(f"{rel}:{n}: {line.strip()[:120]}")
        self.assertEqual(hits, [], "stale text (say what is true now):\n" + "\n".join(hits))


if __name__ == "__main__":
    require_bpf()
    run_tests()
