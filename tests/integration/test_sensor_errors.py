#!/usr/bin/env python3
"""Every way `vigil events` can fail to start gives one clear line naming the
cause and the fix, and a non-zero exit; never a libbpf log unless -v."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402

V = vigtest.VIGIL


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class ErrorsTest(unittest.TestCase):
    def assertOneLine(self, r, rc, *words):
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        self.assertEqual(r.returncode, rc, r.stderr)
        self.assertEqual(len(lines), 1, r.stderr)
        for w in words:
            self.assertIn(w, lines[0])
        self.assertNotIn("libbpf", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_not_root(self):
        r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", V, "events"])
        self.assertOneLine(r, 1, "must run as root", "sudo")

    def test_no_capabilities(self):
        # root, but with the BPF capabilities dropped: the kernel refuses the load
        r = run(["capsh", "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--",
                 "-c", f"exec {V} events"])
        self.assertOneLine(r, 1, "refused to load", "Operation not permitted", "CAP_BPF")

    def test_no_capabilities_verbose_shows_libbpf_log(self):
        r = run(["capsh", "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--",
                 "-c", f"exec {V} events -v"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("libbpf", r.stderr)
        self.assertIn("refused to load", r.stderr)

    def test_no_kernel_btf(self):
        # a private mount namespace in which /sys/kernel/btf is empty
        r = run(["unshare", "-m", "sh", "-c",
                 f"mount -t tmpfs none /sys/kernel/btf && exec {V} events"])
        self.assertOneLine(r, 1, "no BTF", "CONFIG_DEBUG_INFO_BTF", "--btf")

    def test_btf_file_missing(self):
        r = run([V, "events", "--btf", "/nonexistent/vmlinux"])
        self.assertOneLine(r, 1, "cannot read the BTF file /nonexistent/vmlinux", "--btf")

    def test_btf_file_not_btf(self):
        r = run([V, "events", "--btf", "/etc/hostname"])
        self.assertOneLine(r, 1, "/etc/hostname is not a BTF file")

    def test_ringbuf_too_small(self):
        r = run([V, "events", "--ringbuf-size", "4K"])
        self.assertOneLine(r, 1, "too small", "--ringbuf-size 16K")

    def test_ringbuf_not_power_of_two(self):
        r = run([V, "events", "--ringbuf-size", "100K"])
        self.assertOneLine(r, 1, "not a power of two")

    def test_ringbuf_too_large(self):
        r = run([V, "events", "--ringbuf-size", "2G"])
        self.assertOneLine(r, 1, "too large")

    def test_usage_errors(self):
        cases = [
            (["--bogus"], "unknown option '--bogus'"),
            (["--count"], "option '--count' needs a value"),
            (["--count", "abc"], "--count needs a positive number"),
            (["--count", "0"], "--count needs a positive number"),
            (["--json=1"], "takes no value"),
            (["--ringbuf-size", "lots"], "--ringbuf-size takes a size"),
            (["--drain-ms", "0"], "--drain-ms takes 1 to 10000"),
            (["--comm", "a-name-longer-than-15"], "--comm takes a process name"),
            (["stray"], "unexpected argument 'stray'"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                r = run([V, "events", *args])
                self.assertOneLine(r, 2, msg, "vigil events --help")

    def test_unknown_command(self):
        r = run([V, "frobnicate"])
        self.assertOneLine(r, 2, "unknown command 'frobnicate'")

    def test_help(self):
        r = run([V, "events", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("--containers-only", r.stdout)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
