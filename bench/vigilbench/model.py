"""The harness's data model: a Run collects Figures; suites add them.

A Figure is one measured quantity with every sample kept, so that a report can
show its spread and `compare` can tell a change from noise:

    run.figure("exec.seq.vigil-events.overhead", "exec overhead, vigil events --json",
               unit="%", better="lower", samples=[3.1, 4.0, 2.2],
               how="interleaved off/on storm of /bin/true, 5000 execs a phase",
               plot="overhead", label="vigil events")

ids are dotted: SUITE.WORKLOAD.TOOL.QUANTITY; they are the keys compare joins on,
so keep them stable. `plot` names the chart a figure goes in (figures of one plot
share a unit); `label` is its bar or curve there. `within_noise` is set by the suite
when the figure is a ratio whose spread covers zero change (see stats.py).

Errors and drops are never hidden: run.error(suite, message) records a suite that
failed (the run goes on with the next suite), run.count(name, n) records drops,
lost events, failed requests and the like; the report prints both.
"""
import json
import platform
import statistics
import time


class Figure:
    def __init__(self, fid, title, unit, better, samples, how, plot=None, label=None,
                 within_noise=None, extra=None):
        if better not in ("lower", "higher"):
            raise ValueError(f"figure {fid}: better is 'lower' or 'higher', not {better!r}")
        if not samples:
            raise ValueError(f"figure {fid}: no samples")
        self.id, self.title, self.unit, self.better = fid, title, unit, better
        self.samples = [float(x) for x in samples]
        self.how, self.plot, self.label = how, plot, label
        self.within_noise, self.extra = within_noise, extra or {}

    @property
    def median(self):
        return statistics.median(self.samples)

    def to_json(self):
        d = {"id": self.id, "title": self.title, "unit": self.unit, "better": self.better,
             "samples": self.samples, "n": len(self.samples), "median": self.median,
             "min": min(self.samples), "max": max(self.samples), "how": self.how}
        for k in ("plot", "label", "within_noise"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.extra:
            d["extra"] = self.extra
        return d

    @classmethod
    def from_json(cls, d):
        return cls(d["id"], d["title"], d["unit"], d["better"], d["samples"], d["how"],
                   d.get("plot"), d.get("label"), d.get("within_noise"), d.get("extra"))


class Run:
    """What one `vigil bench` run measured. mode is 'full', 'quick' or 'tiny'."""

    SCHEMA = "vigil-bench/1"

    def __init__(self, mode, build, peers=(), progress=None):
        self.mode, self.build, self.peers = mode, build, list(peers)
        self.progress = progress
        self.figures, self.errors, self.counts, self.notes = [], [], {}, []
        self.suites = []  # [{"name", "title", "status": ok|error|skipped, "seconds"}]
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.machine, self.versions = machine(), {}

    def n(self, full, quick, tiny):
        """The count for this mode: a suite's sizes in one place."""
        return {"full": full, "quick": quick, "tiny": tiny}[self.mode]

    def figure(self, *a, **kw):
        f = Figure(*a, **kw)
        if any(x.id == f.id for x in self.figures):
            raise ValueError(f"figure {f.id} measured twice")
        self.figures.append(f)
        return f

    def error(self, suite, message):
        self.errors.append({"suite": suite, "message": message})

    def count(self, name, n):
        self.counts[name] = self.counts.get(name, 0) + n

    def note(self, text):
        self.notes.append(text)

    def to_json(self):
        return {"schema": self.SCHEMA, "started": self.started, "mode": self.mode,
                "machine": self.machine, "versions": self.versions,
                "peers": self.peers, "figures": [f.to_json() for f in self.figures],
                "errors": self.errors, "counts": self.counts, "notes": self.notes,
                "suites": self.suites}

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")


def load(path):
    """A saved run's JSON, checked: a clear error for what is not one."""
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError as e:
        raise SystemExit(f"vigil bench: cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise SystemExit(f"vigil bench: {path} is not JSON ({e}): give the results.json "
                         f"a run wrote")
    if not isinstance(d, dict) or d.get("schema") != Run.SCHEMA:
        raise SystemExit(f"vigil bench: {path} is not a vigil bench result "
                         f"(no \"schema\": \"{Run.SCHEMA}\"); give the results.json a run wrote")
    # files of older runs may lack the fields added since: read them as empty
    for key, empty in (("machine", {}), ("versions", {}), ("peers", []), ("errors", []),
                       ("counts", {}), ("notes", []), ("suites", []), ("mode", "?"),
                       ("started", "?"), ("figures", [])):
        if d.get(key) is None:
            d[key] = empty
    try:
        d["figures"] = [Figure.from_json(x) for x in d["figures"]]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SystemExit(f"vigil bench: {path}: a figure is malformed: {e}")
    return d


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import os
    return {"hostname": platform.node(), "kernel": platform.release(),
            "arch": platform.machine(), "cpu": cpu, "cpus": os.cpu_count(),
            "mem_bytes": mem, "python": platform.python_version()}
