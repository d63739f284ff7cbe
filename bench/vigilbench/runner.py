"""Runs the suites in order, each in its own guard, and saves the run after each one.

A suite module missing from this tree, a suite that needs root run without it, or one
whose measure() raises is recorded (run.error, and its status in run.suites) and the
run goes on with the next. results.json is rewritten after every suite, so a crash or a
Ctrl-C loses only the suite that was running.
"""
import importlib
import os
import shutil
import subprocess
import time
import traceback

from . import suites as suites_pkg


def selected(only=(), skip=()):
    """The suite names to run, in suites.ORDER; unknown names raise ValueError."""
    known = suites_pkg.ORDER
    for name in list(only) + list(skip):
        if name not in known:
            raise ValueError(f"unknown suite '{name}' (the suites: {', '.join(known)})")
    names = [n for n in known if not only or n in only]
    return [n for n in names if n not in skip]


def load_suite(name):
    """(the suite's module, None), or (None, why it cannot be run)."""
    try:
        return importlib.import_module(f"{suites_pkg.__name__}.{name}"), None
    except ModuleNotFoundError as e:
        if e.name == f"{suites_pkg.__name__}.{name}":
            return None, (f"suite {name} is not in this tree "
                          f"(bench/vigilbench/suites/{name}.py)")
        return None, f"suite {name} does not load: {e}"
    except Exception as e:  # noqa: BLE001 - a broken suite must not stop the others
        return None, f"suite {name} does not load: {type(e).__name__}: {e}"


def _out(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (r.stdout or r.stderr).strip()
    return text.splitlines()[0].strip() if r.returncode == 0 and text else None


def _strip(text, prefix):
    return text[len(prefix):].strip() if text and text.startswith(prefix) else text


def versions(ctx):
    """What the figures depend on: vigil's version, the kernel, the BPF tools present."""
    v = {"vigil": _strip(_out([ctx.vigil, "version"]), "vigil "),
         "kernel": os.uname().release}
    v["libbpf"] = _out(["pkg-config", "--modversion", "libbpf"]) or \
        _out(["dpkg-query", "-W", "-f=${Version}", "libbpf1"])
    if shutil.which("bpftrace"):
        v["bpftrace"] = _strip(_out(["bpftrace", "--version"]), "bpftrace ")
    if os.path.exists("/usr/sbin/execsnoop") or shutil.which("execsnoop"):
        v["execsnoop"] = _out(["dpkg-query", "-W", "-f=libbpf-tools ${Version}",
                               "libbpf-tools"]) or "installed"
    return {k: x for k, x in v.items() if x}


def save(run, path):
    """results.json, replaced whole (written beside it, then renamed)."""
    tmp = path + ".tmp"
    run.save(tmp)
    os.replace(tmp, path)


def estimates(run, names):
    """[(name, seconds)] for the progress display; a missing suite counts as 0."""
    out = []
    for name in names:
        mod, _why = load_suite(name)
        try:
            est = float(mod.estimate(run)) if mod else 0.0
        except Exception:  # noqa: BLE001 - an estimate must not stop a run
            est = 30.0
        out.append((name, est))
    return out


def _guarded(run, ctx, name, mod, why):
    """Runs one suite; (status, message or None)."""
    if mod is None:
        return "error", why
    if getattr(mod, "NEEDS_ROOT", False) and os.geteuid() != 0:
        return "skipped", (f"suite {name} needs root (it loads BPF programs): "
                           f"run `sudo vigil bench` or skip it with --skip {name}")
    try:
        mod.measure(run, ctx)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - any failure is recorded, the run goes on
        where = traceback.extract_tb(e.__traceback__)[-1]
        msg = str(e) or type(e).__name__
        if not isinstance(e, (RuntimeError, OSError, subprocess.SubprocessError)):
            msg = f"{type(e).__name__}: {msg} ({os.path.basename(where.filename)}:" \
                  f"{where.lineno})"
        return "error", msg
    return "ok", None


def run_all(run, ctx, names, progress, results):
    """Runs names in order; True when every suite ran. Saves results after each."""
    run.versions = versions(ctx)
    save(run, results)
    all_ok = True
    for name in names:
        mod, why = load_suite(name)
        title = getattr(mod, "TITLE", name)
        progress.start(name, title)
        t0 = time.monotonic()
        status, msg = _guarded(run, ctx, name, mod, why)
        seconds = time.monotonic() - t0
        if msg:
            run.error(name, msg)
        entry = {"name": name, "title": title, "status": status, "seconds": round(seconds, 2)}
        if msg:
            entry["message"] = msg
        run.suites.append(entry)
        all_ok = all_ok and status == "ok"
        progress.finish(name, status if not msg else f"{status} ({msg})", seconds)
        save(run, results)
    return all_ok
