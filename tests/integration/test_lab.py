#!/usr/bin/env python3
"""The seed lab end to end (scripts/lab.sh), enforcing as a user types it (`vigil policy
enforce NAME`, no --action): apt-get typed into a shell in a pod
dies at exec with nothing printed, the pod is deleted through the (stand-in)
API server with an Event, the violation is complete and resolvable; with
--action kill_process the command dies and the pod lives; on inform the pod
lives and the alert is recorded."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402


class LabTest(unittest.TestCase):
    def test_lab(self):
        r = subprocess.run([os.path.join(vigtest.SRC, "scripts", "lab.sh")], capture_output=True,
                           text=True, timeout=600, env={**os.environ, "VIGIL_BIN": vigtest.VIGIL})
        print(r.stdout[-3000:])
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
        self.assertIn("LAB PASSED", r.stdout)
        self.assertNotIn("FAILED:", r.stdout)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
