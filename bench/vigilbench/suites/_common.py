"""What several suites share: finding a tool of the build, and a `vigil run` to measure.

    exe = need_tool(ctx, "store_bench")     # build/bench/store_bench, or a clear error
    with Daemon(ctx, data_dir, policies=...) as d:
        d.port, d.token, d.base             # the API it serves, ready
    pct(samples, 99)                        # a percentile, for how-strings and notes

A module whose name starts with "_" is not a suite (the runner skips it).
"""
import os
import signal
import socket
import subprocess
import time

READY_TIMEOUT = 60  # s: a daemon loading its BPF programs and a large store on a busy machine
STOP_TIMEOUT = 20  # s: then SIGKILL


class SuiteError(RuntimeError):
    """A suite cannot measure: the message names the problem and the fix."""


def need_tool(ctx, name):
    """The path of build/bench/NAME, or SuiteError saying how to build it."""
    path = ctx.tool(name)
    if not os.access(path, os.X_OK):
        raise SuiteError(f"{name} is not built ({path} is missing): build the bench tools "
                         f"with `make build` (or `cmake --build {ctx.build}`)")
    return path


def need_vigil(ctx):
    """The vigil binary of the build, or SuiteError saying how to build it."""
    if not os.access(ctx.vigil, os.X_OK):
        raise SuiteError(f"vigil is not built ({ctx.vigil} is missing): build it with "
                         f"`make build` (or `cmake --build {ctx.build}`)")
    return ctx.vigil


def free_port():
    """A TCP port nothing listens on now, chosen by the kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(samples, p):
    """The p-th percentile (nearest rank) of samples."""
    v = sorted(samples)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


class Daemon:
    """A `vigil run` on data_dir, from ready to stopped, as a context manager.

    It listens on a free port of 127.0.0.1; entering waits for its "ready:" line (or
    raises SuiteError with the end of its log); leaving stops it with SIGINT and kills it
    if it has not stopped within STOP_TIMEOUT. d.token is the API token it wrote.
    """

    def __init__(self, ctx, data_dir, policies=None, extra=()):
        self.vigil = need_vigil(ctx)
        self.data = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.argv = [self.vigil, "run", "--data-dir", data_dir, "--listen",
                     f"127.0.0.1:{self.port}"]
        if policies:
            self.argv += ["--policies", policies]
        self.argv += list(extra)
        self.log_path = data_dir.rstrip("/") + ".vigil.log"
        self.proc, self.token = None, None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        os.makedirs(self.data, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            while "ready:" not in self.log():
                if self.proc.poll() is not None:
                    raise SuiteError(f"vigil run exited ({self.proc.returncode}) before it "
                                     f"was ready: {self.log()[-1500:].strip()}")
                if time.monotonic() > deadline:
                    raise SuiteError(f"vigil run was not ready within {READY_TIMEOUT} s: "
                                     f"{self.log()[-1500:].strip()}")
                time.sleep(0.05)
            with open(os.path.join(self.data, "api.token")) as f:
                self.token = f.read().strip()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGINT, then SIGKILL after STOP_TIMEOUT; the exit code (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
