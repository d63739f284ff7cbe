#!/usr/bin/env python3
"""Installing vigil on a host without Kubernetes: `make install` lays out the binary, the
configuration, the systemd unit, bash completion and the man page; the unit passes
`systemd-analyze verify`; `make deb` builds a package that installs with apt into a fresh
Debian root (the test image) and runs from there, and as a service under a real systemd:
started, reloaded (SIGHUP through ExecReload), stopped."""
import gzip
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

SRC = vigtest.SRC
BUILD = os.path.dirname(os.path.abspath(vigtest.VIGIL))
CAPS = {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_RESOURCE", "CAP_KILL", "CAP_SYS_PTRACE",
        "CAP_DAC_READ_SEARCH"}


def run(*args, timeout=300, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


def make(*args):
    return run("make", "--no-print-directory", "-C", SRC, f"BUILD={BUILD}", *args)


def read(p):
    with open(p) as f:
        return f.read()


def commands():
    """The commands `vigil --help` lists."""
    out = run(vigtest.VIGIL, "--help")
    return re.findall(r"^  ([a-z]+) ", out, re.M)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-install-")
        cls.root = os.path.join(cls.tmp, "root")
        make("install", "PREFIX=/usr", f"DESTDIR={cls.root}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def test_layout(self):
        for p in ("/usr/bin/vigil", "/etc/vigil/vigil.conf.lua",
                  "/usr/lib/systemd/system/vigil.service",
                  "/usr/share/bash-completion/completions/vigil",
                  "/usr/share/man/man1/vigil.1.gz", "/usr/share/vigil/policies/netcat.lua",
                  "/usr/share/vigil/plugins/slack.lua"):
            self.assertTrue(os.path.isfile(self.path(p)), p)
        self.assertTrue(os.access(self.path("/usr/bin/vigil"), os.X_OK))
        # the data directory is the unit's StateDirectory, not something install makes
        self.assertFalse(os.path.exists(self.path("/var/lib/vigil")))
        out = run(self.path("/usr/bin/vigil"), "version")
        self.assertRegex(out, r"^vigil \d+\.\d+\.\d+")

    def test_reinstall_keeps_an_edited_config(self):
        root = os.path.join(self.tmp, "again")
        make("install", "PREFIX=/usr", f"DESTDIR={root}")
        conf = os.path.join(root, "etc/vigil/vigil.conf.lua")
        with open(conf, "a") as f:
            f.write("-- the operator's edit\n")
        make("install", "PREFIX=/usr", f"DESTDIR={root}")
        self.assertIn("-- the operator's edit", read(conf))
        self.assertEqual(read(conf + ".example"), read(os.path.join(SRC, "packaging",
                                                                     "vigil.conf.lua")))

    def test_config_is_valid(self):
        """The example configuration loads: every policy test passes under it."""
        out = run(self.path("/usr/bin/vigil"), "policy", "test",
                  "--config", self.path("/etc/vigil/vigil.conf.lua"))
        self.assertRegex(out, r" 0 failed")

    def test_unit(self):
        unit = read(self.path("/usr/lib/systemd/system/vigil.service"))
        self.assertIn("ExecStart=/usr/bin/vigil run --data-dir /var/lib/vigil "
                      "--config /etc/vigil/vigil.conf.lua\n", unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID\n", unit)
        self.assertIn("StateDirectory=vigil\n", unit)
        bounding = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1)
        self.assertEqual(set(bounding.split()), CAPS)
        for opt in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                    "ReadWritePaths=/var/lib/vigil"):
            self.assertIn(opt + "\n", unit)
        if not shutil.which("systemd-analyze"):
            vigtest.cannot_run("systemd-analyze is not installed (apt-get install systemd)")
        # verified with its paths: the binary where DESTDIR put it, the man page found there
        d = os.path.join(self.tmp, "unit")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "vigil.service"), "w") as f:
            f.write(unit.replace("ExecStart=/usr/bin/vigil",
                                 "ExecStart=" + self.path("/usr/bin/vigil")))
        env = dict(os.environ, MANPATH=self.path("/usr/share/man"))
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "vigil.service")],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("vigil.service", r.stderr)

    def run_capped(self, caps):
        """`vigil run` from the install with only CAPS (as the unit's bounding set leaves
        root): its first stderr lines, up to "ready" or the exit."""
        have = run("capsh", "--print")
        bounding = re.search(r"^Bounding set =(.*)$", have, re.M).group(1).split(",")
        drop = ",".join(c for c in bounding if c.upper() not in caps)
        data = tempfile.mkdtemp(prefix="data-", dir=self.tmp)
        cmd = (f'exec "{self.path("/usr/bin/vigil")}" run --data-dir "{data}/d" '
               f'--config "{self.path("/etc/vigil/vigil.conf.lua")}" '
               f'--listen 127.0.0.1:{vigtest.free_port()}')
        p = subprocess.Popen(["capsh", f"--drop={drop}", "--", "-c", cmd],
                             stderr=subprocess.PIPE, text=True)
        lines = []
        try:
            for line in p.stderr:
                lines.append(line)
                if "ready:" in line:
                    break
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
            p.stderr.close()
        return "".join(lines)

    def test_unit_capabilities_are_enough(self):
        """The daemon starts with only the unit's capabilities, and not without CAP_BPF."""
        vigtest.require_bpf()
        if not shutil.which("capsh"):
            vigtest.cannot_run("capsh is not installed (apt-get install libcap2-bin)")
        unit = read(self.path("/usr/lib/systemd/system/vigil.service"))
        caps = set(re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split())
        self.assertIn("ready:", self.run_capped(caps))
        out = self.run_capped(caps - {"CAP_BPF", "CAP_SYS_ADMIN"})
        self.assertNotIn("ready:", out)
        self.assertIn("CAP_BPF", out)

    def test_man_page(self):
        """Every command of --help has its section, with its own --help text."""
        with gzip.open(self.path("/usr/share/man/man1/vigil.1.gz"), "rt") as f:
            page = f.read()
        for cmd in commands():
            self.assertIn(f".SS {cmd}\n", page)
        self.assertIn("--dry-run", page)
        if shutil.which("man"):
            out = run("man", "-l", "-P", "cat", self.path("/usr/share/man/man1/vigil.1.gz"),
                      env=dict(os.environ, MANWIDTH="100"))
            self.assertIn("usage: vigil run [options]", out)

    def test_completion(self):
        """The completion offers every command and every option each command's --help names."""
        comp = self.path("/usr/share/bash-completion/completions/vigil")
        run("bash", "-n", comp)
        for cmd in commands():
            out = run("bash", "-c", f'. "{comp}"; COMP_WORDS=(vigil {cmd} --); COMP_CWORD=2; '
                      '_vigil; printf "%s\\n" "${COMPREPLY[@]}"')
            got = set(out.split())
            helptext = run(vigtest.VIGIL, cmd, "--help")
            want = set(re.findall(r"(--[a-z][a-z0-9-]*)", helptext)) - {"--help"}
            self.assertEqual(want - got, set(), f"vigil {cmd}: options not completed")
        out = run("bash", "-c", f'. "{comp}"; COMP_WORDS=(vigil ""); COMP_CWORD=1; '
                  '_vigil; printf "%s\\n" "${COMPREPLY[@]}"')
        self.assertEqual(set(commands()) - set(out.split()), set())


class Deb(unittest.TestCase):
    """`make deb`, then the package as a user installs it: apt into a fresh Debian root,
    `systemctl start vigil` under a real systemd (PID 1 of a podman container)."""

    @classmethod
    def setUpClass(cls):
        for tool in ("cpack", "dpkg-deb", "podman"):
            if not shutil.which(tool):
                vigtest.cannot_run(f"{tool} is not installed (scripts/deps.sh installs it)")
        for old in os.listdir(BUILD):
            if old.startswith("vigil_") and old.endswith(".deb"):
                os.unlink(os.path.join(BUILD, old))
        make("deb")
        debs = [f for f in os.listdir(BUILD) if re.match(r"vigil_\d+\.\d+\.\d+_\w+\.deb$", f)]
        assert len(debs) == 1, os.listdir(BUILD)
        cls.deb = os.path.join(BUILD, debs[0])
        cls.tmp = tempfile.mkdtemp(prefix="vigil-deb-")
        shutil.copy(cls.deb, os.path.join(cls.tmp, "vigil.deb"))
        cls.name = f"vigil-deb-test-{os.getpid()}"
        cls.image = f"localhost/vigil-deb-test:{os.getpid()}"

    @classmethod
    def tearDownClass(cls):
        for c in (cls.name, cls.name + "-boot"):
            subprocess.run(["podman", "rm", "-f", "-t", "0", c], capture_output=True)
        subprocess.run(["podman", "rmi", "-f", cls.image], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_package_contents(self):
        control = run("dpkg-deb", "-f", self.deb, "Depends")
        for lib in ("libbpf1", "liblua5.4-0", "libcurl4", "libmsgpackc2", "libpcre2-8-0",
                    "libjansson4", "libssl3", "libevent-core", "procps"):
            self.assertIn(lib, control)
        listing = run("dpkg-deb", "-c", self.deb)
        self.assertIn("./usr/bin/vigil", listing)
        self.assertIn("./usr/lib/systemd/system/vigil.service", listing)
        run("dpkg-deb", "-e", self.deb, os.path.join(self.tmp, "ctl"))
        with open(os.path.join(self.tmp, "ctl", "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/vigil/vigil.conf.lua"])

    def test_deb_installs_and_runs_under_systemd(self):
        vigtest.require_bpf()
        vigtest.prepare_image()
        script = ("set -e; apt-get update -qq; "
                  "apt-get install -y -qq --no-install-recommends /pkg/vigil.deb >/dev/null; "
                  "test \"$(command -v vigil)\" = /usr/bin/vigil; vigil version; "
                  "vigil policy test --config /etc/vigil/vigil.conf.lua | tail -1; "
                  "test -f /usr/lib/systemd/system/vigil.service; "
                  "dpkg-query -W -f='${Conffiles}' vigil; echo; "
                  "apt-get install -y -qq --no-install-recommends systemd >/dev/null")
        out = vigtest.podman("run", "--name", self.name, "-v", f"{self.tmp}:/pkg:ro",
                             vigtest.IMAGE, "sh", "-c", script)
        self.assertRegex(out, r"vigil \d+\.\d+\.\d+")
        self.assertRegex(out, r"\d+ passed, 0 failed")
        self.assertIn("/etc/vigil/vigil.conf.lua", out)
        vigtest.podman("commit", "-q", self.name, self.image)
        # systemd as PID 1; privileged so that the unit's own capability set is what limits
        # vigil (and BPF is allowed)
        boot = self.name + "-boot"
        vigtest.podman("run", "-d", "--name", boot, "--privileged", "--systemd=always",
                       self.image, "/lib/systemd/systemd")

        def sh(cmd, check=True):
            r = subprocess.run(["podman", "exec", boot, "sh", "-c", cmd],
                               capture_output=True, text=True, timeout=120)
            if check and r.returncode:
                raise AssertionError(f"{cmd}: {r.returncode} {r.stdout}{r.stderr}\n" +
                                     sh("journalctl -u vigil --no-pager | tail -20", False))
            return r.stdout + r.stderr

        self.wait(lambda: sh("systemctl is-system-running", False).strip()
                  in ("running", "degraded"), "systemd to boot")
        sh("systemctl start vigil")
        self.wait(lambda: "ready:" in sh("journalctl -u vigil --no-pager", False),
                  "vigil.service ready")
        self.assertEqual(sh("systemctl is-active vigil").strip(), "active")
        self.assertIn("ID", sh("vigil violations list --data-dir /var/lib/vigil"))
        sh("systemctl reload vigil")
        self.wait(lambda: "reloaded" in sh("journalctl -u vigil --no-pager", False),
                  "the reload's log line")
        self.assertEqual(sh("systemctl is-active vigil").strip(), "active")
        pid = sh("systemctl show -p MainPID --value vigil").strip()
        caps = sh(f"grep CapEff /proc/{pid}/status")
        self.assertEqual(caps.split()[1], sh(f"grep CapBnd /proc/{pid}/status").split()[1])
        sh("systemctl stop vigil")
        self.assertEqual(sh("systemctl is-active vigil", False).strip(), "inactive")

    def wait(self, pred, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}")


if __name__ == "__main__":
    if not shutil.which("make") or not shutil.which("cmake"):
        vigtest.cannot_run("make and cmake are needed to install")
    if not os.access(vigtest.VIGIL, os.X_OK):
        vigtest.cannot_run(f"vigil binary not built at {vigtest.VIGIL}")
    vigtest.run_tests()
