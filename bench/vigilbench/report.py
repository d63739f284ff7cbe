"""summary.md and plots/*.svg for a run: what a reader looks at first.

write(d, out) takes a run as model.load returns it (figures as model.Figure) and writes
out/summary.md (machine, versions, how to read it, a table per suite, the exec
side-by-side table of vigil and its peers, errors, counts and notes) and one SVG per
plot name into out/plots/. Sections with something in them are never left out.
"""
import importlib
import os
import re

from . import stats, suites, svg

HOW_TO_READ = """\
How to read it:
- A figure is the median of its samples; min..max is their spread, n their number.
- The band [lo..hi] is a 95 % bootstrap interval of the median (of the on/off ratio for an
  overhead). *within noise*: the band covers no change (or, for an overhead, the least
  disturbed on-phase beat the least disturbed off-phase), so it shows no real cost.
- Overheads are % of exec wall time against interleaved off-phases (min-to-min: the least
  disturbed phases); BPF ns and CPU µs per exec are the tool's own cost.
"""


def _num(v, unit=""):
    s = svg.fmt(v)
    return f"{s} {unit}".strip()


def suite_title(d, name):
    for s in d.get("suites", []):
        if s.get("name") == name and s.get("title"):
            return s["title"]
    try:
        return importlib.import_module(f"{suites.__name__}.{name}").TITLE
    except Exception:  # noqa: BLE001 - a suite that does not load still has a name
        return name


def _band(f):
    """(lo, hi) of a figure's median: an overhead's own band, else a bootstrap."""
    if "lo" in f.extra and "hi" in f.extra:
        return float(f.extra["lo"]), float(f.extra["hi"])
    _med, lo, hi = stats.band(f.samples)
    return lo, hi


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def suite_table(figs):
    rows = ["| figure | median | band | min..max | n | noise | how |",
            "|---|---|---|---|---|---|---|"]
    for f in figs:
        lo, hi = _band(f)
        better = "higher" if f.better == "higher" else "lower"
        rows.append("| " + " | ".join(_cell(x) for x in (
            f"{f.title} (`{f.id}`, {better} is better)", f"**{_num(f.median, f.unit)}**",
            f"[{svg.fmt(lo)}..{svg.fmt(hi)}]",
            f"{svg.fmt(min(f.samples))}..{svg.fmt(max(f.samples))}", len(f.samples),
            "*within noise*" if f.within_noise else "", f.how)) + " |")
    return rows


def exec_table(figs):
    """vigil's tools and the peers side by side, per workload, from exec.WL.TOOL.Q ids."""
    cells, tools, wls, off = {}, [], [], {}
    for f in figs:
        parts = f.id.split(".")
        if len(parts) != 4 or parts[0] != "exec":
            continue
        _, wl, tool, q = parts
        if wl not in wls:
            wls.append(wl)
        if tool == "off":
            off[wl] = f
            continue
        if tool not in [t for t, _, _ in tools]:
            tools.append((tool, f.extra.get("tool", tool), bool(f.extra.get("peer"))))
        cells[(wl, tool, q)] = f
    if not tools:
        return []
    tools.sort(key=lambda t: (t[2], not t[0].startswith("vigil")))
    head = "| tool |" + "".join(f" {wl}: overhead median [band] (min-to-min) | {wl}: BPF "
                                f"ns/exec | {wl}: CPU µs/exec |" for wl in wls)
    rows = [head, "|---|" + "---|---|---|" * len(wls)]
    for slug, name, peer in tools:
        row = f"| {_cell(name)}{' (peer)' if peer else ''} |"
        for wl in wls:
            o = cells.get((wl, slug, "overhead"))
            if o:
                lo, hi = _band(o)
                m2m = o.extra.get("min_to_min")
                txt = f"{o.median:+.1f} % [{lo:+.1f}..{hi:+.1f}]"
                txt += f" ({float(m2m):+.1f} %)" if m2m is not None else ""
                txt += " *within noise*" if o.within_noise else ""
            else:
                txt = "—"
            row += f" {txt} |"
            for q in ("bpf_ns", "cpu_us"):
                c = cells.get((wl, slug, q))
                row += f" {svg.fmt(c.median) if c else '—'} |"
        rows.append(row)
    if off:
        rows.append("")
        rows.append("Off phases (no tool): " + ", ".join(
            f"{wl} {svg.fmt(f.median)} µs/exec" for wl, f in off.items()) + ".")
    return rows


def _plot_file(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".svg"


def _plots(d):
    """{plot name: [figures]} in the order figures came."""
    out = {}
    for f in d["figures"]:
        if f.plot:
            out.setdefault(f.plot, []).append(f)
    return out


PLOT_TITLES = {
    "overhead_seq": "exec overhead, sequential storm (% of exec wall time)",
    "overhead_par": "exec overhead, parallel storm (% of exec wall time)",
    "bpf_ns": "BPF run time per exec", "cpu_us": "tool CPU per exec",
    "us_per_exec_seq": "exec wall time, sequential storm",
    "us_per_exec_par": "exec wall time, parallel storm",
    "kill_latency": "exec to death: how long a killed binary lives",
    "api_latency": "API query latency", "notify": "webhook deliveries per second",
    "notify_cpu": "CPU per webhook delivery",
}


def _plot_title(d, name, figs):
    if name in PLOT_TITLES:
        return PLOT_TITLES[name]
    titles = {f.title for f in figs}
    if len(titles) == 1:
        return titles.pop()
    return f"{suite_title(d, figs[0].id.split('.')[0])}: {name.replace('_', ' ')}"


def _head(d):
    m, v = d.get("machine", {}), d.get("versions", {})
    mem = m.get("mem_bytes", 0) / 2 ** 30
    lines = [f"# vigil bench: {d.get('mode')} run, {d.get('started')}", "",
             f"- Machine: {m.get('hostname', '?')}, {m.get('cpu', '?')} ({m.get('cpus', '?')} "
             f"CPUs, {mem:.1f} GiB), kernel {m.get('kernel', '?')}, {m.get('arch', '?')}.",
             "- Versions: " + (", ".join(f"{k} {x}" for k, x in v.items()) or "not recorded")
             + ".",
             f"- Mode: {d.get('mode')} (sizes per mode: bench/README.md)."]
    if d.get("peers"):
        lines.append("- Peers given: " + ", ".join(
            f"{p.get('name')} = `{p.get('cmd')}`" if isinstance(p, dict) else str(p)
            for p in d["peers"]) + ".")
    return lines + ["", HOW_TO_READ]


def _sections(d):
    by_suite = {}
    for f in d["figures"]:
        by_suite.setdefault(f.id.split(".")[0], []).append(f)
    order = [s for s in suites.ORDER if s in by_suite] + \
        [s for s in by_suite if s not in suites.ORDER]
    plots = _plots(d)
    lines = []
    for s in order:
        lines += [f"## {suite_title(d, s)}", ""] + suite_table(by_suite[s]) + [""]
        if s == "exec":
            side = exec_table(by_suite[s])
            if side:
                lines += ["### vigil beside its peers", ""] + side + [""]
        for name, figs in plots.items():
            if figs[0].id.split(".")[0] == s:
                lines += [f"![{name}](plots/{_plot_file(name)})", ""]
    return lines


def _lists(d):
    lines = []
    if d.get("suites"):
        lines += ["## Suites", "", "| suite | status | seconds |", "|---|---|---|"]
        lines += [f"| {s.get('name')} | {s.get('status')} | {s.get('seconds', 0):.1f} |"
                  for s in d["suites"]] + [""]
    if d.get("errors"):
        lines += ["## Errors", ""]
        lines += [f"- **{e.get('suite')}**: {_cell(e.get('message'))}" for e in d["errors"]]
        lines.append("")
    if d.get("counts"):
        lines += ["## Counts (drops, losses, failures)", "", "| what | count |", "|---|---|"]
        lines += [f"| {k} | {n:,} |" for k, n in sorted(d["counts"].items())] + [""]
    if d.get("notes"):
        lines += ["## Notes", ""] + [f"- {_cell(n)}" for n in d["notes"]] + [""]
    return lines


def markdown(d):
    if not d["figures"]:
        body = ["No figures were measured: see the errors below.", ""]
    else:
        body = _sections(d)
    return "\n".join(_head(d) + _lists(d) + body).rstrip() + "\n"


def write(d, out):
    """summary.md and plots/*.svg into out; the plot paths written."""
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)
    written = []
    for name, figs in _plots(d).items():
        path = os.path.join(pdir, _plot_file(name))
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg.chart(_plot_title(d, name, figs), figs))
        written.append(path)
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(markdown(d))
    return written
