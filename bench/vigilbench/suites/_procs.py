"""What the exec and memory suites share: the processes they start and what they read of them.

Not a suite (no NAME): the storm (build/bench/execstorm), a tool started with its output
in files and stopped for sure, the `vigil run` daemon on a private data directory and
port, and the kernel's figures of a process: its BPF programs (found through its own
open files, /proc/PID/fdinfo, never by name: another vigil may be running), their run
time (kernel.bpf_stats_enabled), its on-CPU time (schedstat) and its memory (VmRSS).
"""
import glob
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

from ._common import free_port  # noqa: F401 (the suites use it from here too)

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
TRACEFS = "/sys/kernel/tracing"


def storm(ctx, n, workers, binary="/bin/true"):
    """n spawn+exec+wait of binary from `workers` processes: (µs per exec, seconds)."""
    argv = [ctx.tool("execstorm"), "-p", str(workers), str(n), binary]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=max(60, n * 0.05))
    if r.returncode:
        raise RuntimeError(f"execstorm failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-300:]}")
    try:
        kv = dict(x.split("=", 1) for x in r.stdout.split())
        return float(kv["us_per_exec"]), float(kv["seconds"])
    except (KeyError, ValueError) as e:
        raise RuntimeError(f"execstorm printed no figures ({e}): {r.stdout.strip()[-200:]}")


def tree(pid):
    """pid and its descendants alive now."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        for f in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                with open(f) as fh:
                    pending.extend(int(x) for x in fh.read().split())
            except (OSError, ValueError):
                pass
    return out


def cpu_ns(pids):
    """On-CPU ns of every thread of pids (schedstat: finer than stat's clock ticks)."""
    t = 0
    for pid in pids:
        for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            try:
                with open(f) as fh:
                    t += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return t


def prog_ids(pids):
    """The BPF programs the processes hold open (prog and link fds name a prog_id)."""
    ids = set()
    for pid in pids:
        for f in glob.glob(f"/proc/{pid}/fdinfo/*"):
            try:
                with open(f) as fh:
                    for line in fh:
                        if line.startswith("prog_id:"):
                            ids.add(int(line.split()[1]))
            except (OSError, ValueError, IndexError):
                pass
    return ids


def bpf_progs():
    """{prog id: {"name", "run_time_ns", "run_cnt"}} of every loaded program (bpftool)."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode:
        raise RuntimeError(f"bpftool prog show failed: {r.stderr.strip()[-200:]}")
    return {p["id"]: {"name": p.get("name", str(p["id"])),
                      "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0)}
            for p in json.loads(r.stdout or "[]")}


class BpfStats:
    """kernel.bpf_stats_enabled on for the block (the programs' run time), then as it was."""

    def __enter__(self):
        with open(STATS_SYSCTL) as f:
            self.old = f.read().strip()
        with open(STATS_SYSCTL, "w") as f:
            f.write("1")
        return self

    def __exit__(self, *exc):
        try:
            with open(STATS_SYSCTL, "w") as f:
                f.write(self.old)
        except OSError:
            pass


class Tracefs:
    """tracefs mounted at /sys/kernel/tracing for the block (the peers' tracepoints need it),
    unmounted after when this mounted it."""

    def __enter__(self):
        self.mounted, self.error = False, None
        if not os.path.exists(os.path.join(TRACEFS, "events")):
            r = subprocess.run(["mount", "-t", "tracefs", "tracefs", TRACEFS],
                               capture_output=True, text=True)
            self.mounted = r.returncode == 0
            self.error = None if self.mounted else r.stderr.strip()
        return self

    def __exit__(self, *exc):
        if self.mounted:
            subprocess.run(["umount", TRACEFS], capture_output=True)


def status_mib(pid, key):
    """A size from /proc/PID/status (VmRSS, VmHWM) in MiB; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def lost_events(text):
    """Events a tool says it lost ("Lost 12 events ...", libbpf-tools and bpftrace)."""
    return sum(int(m) for m in re.findall(r"\b[Ll]ost (\d+) (?:events?|samples?)", text))


class Proc:
    """A tool started with its stdout and stderr in files under a directory."""

    def __init__(self, argv, outdir, stem, cwd=None):
        self.argv = list(argv)
        self.out = os.path.join(outdir, stem + ".out")
        self.err = os.path.join(outdir, stem + ".err")
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen(self.argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                         cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid
        self.killed = False

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_text(self, text, timeout):
        """Waits for text on stderr; '' when it came, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return ""
            if not self.alive():
                return f"exited ({self.proc.returncode}): {self.tail()}"
            time.sleep(0.02)
        return f"not ready after {timeout:.0f} s: {self.tail()}"

    def tail(self, n=300):
        t = " ".join(self.stderr().split())
        return t[-n:] if t else "(nothing on stderr)"

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Stops it (sig, then SIGKILL to its whole session after timeout); its exit code."""
        if self.alive():
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
        if self.killed or self.alive():
            self.killed = True
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        else:  # what it started in its session goes with it
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        return self.proc.returncode


class VigilRun(Proc):
    """`vigil run` with the default pack, a fresh data directory and a free loopback port,
    run from a directory of its own (so no ./vigil.conf.lua is picked up)."""

    def __init__(self, vigil, outdir, stem):
        self.data = tempfile.mkdtemp(prefix=stem + "-data-", dir=outdir)
        self.port = free_port()
        super().__init__([vigil, "run", "--data-dir", self.data, "--listen",
                          f"127.0.0.1:{self.port}"], outdir, stem, cwd=self.data)

    def ready(self, timeout=30):
        """'' when it printed its ready line, else why not."""
        return self.wait_text("ready:", timeout)

    def metrics(self):
        """{name: value} of GET /metrics; {} when it cannot be read."""
        try:
            with open(os.path.join(self.data, "api.token")) as f:
                token = f.read().strip()
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics")
            req.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(req, timeout=10) as r:
                text = r.read().decode()
        except (OSError, ValueError):
            return {}
        out = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        return super().stop(sig, timeout)
