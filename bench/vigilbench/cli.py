"""The command line of `vigil bench` (bench/vigil-bench; `vigil bench` execs it).

    run [--quick|--full|--tiny] [--build DIR] [--out DIR] [--only a,b] [--skip a,b]
        [--peer NAME=CMD]... [--no-peers]
    compare OLD.json NEW.json [--fail-above PCT] [--json]
    report RESULTS.json [--out DIR]

Exit status: 0 every suite ran (compare: nothing worse beyond --fail-above), 1 some suite
failed or was skipped (compare: a figure got worse by more than PCT), 2 bad input.
"""
import argparse
import os
import re
import shlex
import sys
import time

from . import compare, context, model, progress, report, runner, suites

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Usage(Exception):
    """Bad input: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(f"{message} (see '{self.prog} --help')")


def _parser():
    p = Parser(prog="vigil bench", description="vigil's benchmarks: run, report, compare.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=Parser)
    r = sub.add_parser("run", help="run the suites; write results.json, summary.md, plots",
                       description="Run the suites in order: " + ", ".join(suites.ORDER))
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes: the whole run in about 2 minutes")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the default: sizes for figures to publish (each suite <= 4 min)")
    mode.add_argument("--tiny", dest="mode", action="store_const", const="tiny",
                      help="a few seconds a suite: checks the harness, not the code")
    r.add_argument("--build", metavar="DIR", help="the build directory (default: build/)")
    r.add_argument("--out", metavar="DIR",
                   help="where results go (default: bench/out/<UTC time>)")
    r.add_argument("--only", metavar="A,B", default="", help="run only these suites")
    r.add_argument("--skip", metavar="A,B", default="", help="do not run these suites")
    r.add_argument("--peer", metavar="NAME=CMD", action="append", default=[],
                   help="another tool to measure beside vigil in the exec suite (repeatable)")
    r.add_argument("--no-peers", action="store_true",
                   help="do not run execsnoop or bpftrace even when installed")
    c = sub.add_parser("compare", help="compare two runs' results.json, figure by figure")
    c.add_argument("old", metavar="OLD.json")
    c.add_argument("new", metavar="NEW.json")
    c.add_argument("--fail-above", metavar="PCT",
                   help="exit 1 when a figure is worse by more than PCT %% beyond noise")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    o = sub.add_parser("report", help="write summary.md and plots again from a results.json")
    o.add_argument("results", metavar="RESULTS.json")
    o.add_argument("--out", metavar="DIR", help="where (default: beside RESULTS.json)")
    return p


def _names(text):
    return [x.strip() for x in text.split(",") if x.strip()] if text else []


def parse_peer(text):
    """'NAME=CMD' as (name, argv); Usage for anything else."""
    name, sep, cmd = text.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or not cmd.strip():
        raise Usage(f"--peer '{text}': give NAME=CMD, e.g. --peer 'snoop=/usr/sbin/execsnoop'"
                    " (NAME of letters, digits, . _ -)")
    try:
        argv = shlex.split(cmd)
    except ValueError as e:
        raise Usage(f"--peer '{text}': the command does not parse: {e}")
    return name, argv


def parse_pct(text):
    try:
        v = float(text.strip().rstrip("%").strip())
    except ValueError:
        raise Usage(f"--fail-above '{text}': give a percentage, e.g. 10 or 10%")
    if v < 0:
        raise Usage(f"--fail-above '{text}': give a percentage of 0 or more")
    return v


def load(path):
    try:
        return model.load(path)
    except SystemExit as e:
        raise Usage(str(e).removeprefix("vigil bench: "))


def cmd_run(a):
    mode = a.mode or "full"
    build = os.path.abspath(a.build or os.path.join(SRC, "build"))
    if not os.access(os.path.join(build, "vigil"), os.X_OK):
        raise Usage(f"no vigil binary in {build}: build first (make build) or pass "
                    f"--build DIR")
    try:
        names = runner.selected(_names(a.only), _names(a.skip))
    except ValueError as e:
        raise Usage(str(e))
    if not names:
        raise Usage("--only and --skip leave no suite to run")
    peers = [parse_peer(p) for p in a.peer]
    if len({n for n, _ in peers}) < len(peers):
        raise Usage("--peer: two peers have the same NAME")
    out = os.path.abspath(a.out or os.path.join(
        SRC, "bench", "out", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise Usage(f"--out {out}: {e.strerror}")
    results = os.path.join(out, "results.json")
    run = model.Run(mode, build, peers=[{"name": n, "cmd": shlex.join(v)} for n, v in peers])
    prog = progress.Progress(runner.estimates(run, names))
    run.progress = prog
    ctx = context.Context(build, SRC, peers=peers, progress=prog, auto_peers=not a.no_peers)
    print(f"vigil bench: {mode} run of {', '.join(names)}; results in {out}", file=sys.stderr)
    try:
        ok = runner.run_all(run, ctx, names, prog, results)
    except KeyboardInterrupt:
        run.note("interrupted (Ctrl-C): the suites after the one running were not run")
        runner.save(run, results)
        ok = None
    finally:
        prog.close()
        ctx.close()
    d = run.to_json()
    d["figures"] = list(run.figures)
    plots = _render(d, out)
    if plots is None:
        return 1
    print(f"results: {results}\nsummary: {os.path.join(out, 'summary.md')}\n"
          f"plots:   {os.path.join(out, 'plots')}/ ({len(plots)} SVG)")
    if ok is None:
        return 130
    if not ok:
        bad = [s["name"] for s in run.suites if s["status"] != "ok"]
        print(f"vigil bench: not every suite ran: {', '.join(bad)} (see the errors in "
              f"summary.md)", file=sys.stderr)
    return 0 if ok else 1


def _render(d, out):
    """report.write, or None with the reason printed (results.json is kept either way)."""
    try:
        return report.write(d, out)
    except Exception as e:  # noqa: BLE001 - the measured results are safe in results.json
        print(f"vigil bench: the report could not be written into {out}: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return None


def cmd_report(a):
    d = load(a.results)
    out = os.path.abspath(a.out or os.path.dirname(os.path.abspath(a.results)))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise Usage(f"--out {out}: {e.strerror}")
    plots = _render(d, out)
    if plots is None:
        return 1
    print(f"summary: {os.path.join(out, 'summary.md')}\n"
          f"plots:   {os.path.join(out, 'plots')}/ ({len(plots)} SVG)")
    return 0


def cmd_compare(a):
    pct = parse_pct(a.fail_above) if a.fail_above is not None else None
    old, new = load(a.old), load(a.new)
    return compare.main(old, new, a.old, a.new, pct, a.json)


def main(argv):
    p = _parser()
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")  # `vigil bench`, `vigil bench --quick`: run is what people mean
    try:
        a = p.parse_args(argv)
        return {"run": cmd_run, "report": cmd_report, "compare": cmd_compare}[a.cmd](a)
    except Usage as e:
        print(f"vigil bench: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
