"""Shared helpers for vigil's integration tests.

The tests load vigil's BPF programs into the running kernel and spawn real
processes and containers. They need root and BTF: without them a test prints
why and exits 77 (CTest: skipped), except under CI=true, where that is a
failure, since CI machines must run them.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest

VIGIL = os.environ.get("VIGIL_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "vigil")
SRC = os.environ.get("VIGIL_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
IMAGE = os.environ.get("VIGIL_TEST_IMAGE", "localhost/debmin:bookworm")
os.environ.setdefault("CONTAINERS_CONF", os.path.join(SRC, "tests", "podman", "containers.conf"))


def free_port():
    """A TCP port nothing listens on now, from the kernel (a random pick from 20000-60000
    could land on a port a client holds: the ephemeral range is 32768-60999)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(done, what, timeout=30):
    """Polls done() every 50 ms until it is true; AssertionError naming what (from what()
    if callable) after timeout s."""
    deadline = time.time() + timeout
    while not done():
        if time.time() > deadline:
            raise AssertionError(what() if callable(what) else what)
        time.sleep(0.05)


def podman(*args, check=True):
    """podman with the project's config; stdout, or an AssertionError with its stderr."""
    r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode:
        raise AssertionError(f"podman {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


def prepare_image():
    """The Debian minbase image the container tests run (built once, then cached)."""
    r = subprocess.run([os.path.join(SRC, "scripts", "test-image.sh")],
                       capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise AssertionError(f"cannot prepare the test image {IMAGE}: {r.stderr}")


def cannot_run(why):
    """Skip loudly, or fail under CI."""
    if os.environ.get("CI") == "true":
        print(f"FAILED: {why} (CI=true: integration tests must run here)", flush=True)
        sys.exit(1)
    print(f"SKIPPED: {why}", flush=True)
    sys.exit(SKIP)


def require_bpf():
    if os.geteuid() != 0:
        cannot_run("needs root to load BPF programs")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        cannot_run("kernel has no BTF (/sys/kernel/btf/vmlinux)")
    if not os.access(VIGIL, os.X_OK):
        cannot_run(f"vigil binary not built at {VIGIL}")


class Events:
    """A running `vigil events --json ...` with its output collected."""

    def __init__(self, *args, ready_timeout=30):
        self.args = [VIGIL, "events", "--json", *args]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = []
        self.stderr = []
        self._q = queue.Queue()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._readers = [threading.Thread(target=f, daemon=True)
                         for f in (self._read_out, self._read_err)]
        for t in self._readers:
            t.start()
        if not self._ready.wait(ready_timeout):
            self.stop()
            raise AssertionError(f"vigil events did not start: {''.join(self.stderr)}")

    def _read_out(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            with self._lock:
                self.events.append(ev)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)
            if "watching execs" in line:
                self._ready.set()
        self._ready.set()

    def find(self, pred):
        with self._lock:
            return [e for e in self.events if pred(e)]

    def wait_for(self, pred, timeout=10, n=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.find(pred)
            if len(got) >= n:
                return got
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no matching event within {timeout}s; saw {len(self.events)} events; "
            f"stderr: {''.join(self.stderr)[-2000:]}")

    def stop(self, sig=signal.SIGINT):
        """Stops vigil; returns the stats object it printed (or None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:  # to the end of what it wrote (a sleep lost the last lines)
            t.join(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        for line in reversed(self.stderr):
            if line.startswith("{"):
                return json.loads(line)["stats"]
        return None


def run_tests():
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    print(f"{r.testsRun - len(r.failures) - len(r.errors)} passed, "
          f"{len(r.failures) + len(r.errors)} failed", flush=True)
    sys.exit(0 if r.wasSuccessful() else 1)
