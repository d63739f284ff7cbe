"""`vigil bench compare OLD.json NEW.json`: each figure of two runs, joined on its id.

For every id in both runs: the old and new medians, the change in %, the band of the
new/old ratio (a bootstrap of both runs' samples, stats.change) and a verdict: better,
worse, or within noise (the band covers no change). A figure that is itself a percentage
(an overhead) changes in percentage points instead (stats.change_points): +2 % -> +4 % is
+2 points, not +100 %. Figures in one run only are listed.
Runs on different machines or in different modes are compared, with a warning.

--fail-above P: exit status 1 when a figure is worse by more than P % (an overhead: by
more than P points) and not within noise (a CI gate); otherwise 0. --json prints the same as one JSON object.
"""
import json
import sys

from . import stats, svg

VERDICT = {"noise": "within noise", "better": "better", "worse": "worse"}


def warnings(old, new):
    out = []
    mo, mn = old.get("machine", {}), new.get("machine", {})
    for k in ("hostname", "cpu", "cpus", "kernel"):
        if mo.get(k) != mn.get(k):
            out.append(f"different machines: {k} {mo.get(k)!r} -> {mn.get(k)!r}")
    if old.get("mode") != new.get("mode"):
        out.append(f"different modes: {old.get('mode')} -> {new.get('mode')} "
                   f"(sizes differ: the figures may not be comparable)")
    return out


def rows(old, new, fail_above=None):
    """One dict per joined figure, in the new run's order."""
    by_old = {f.id: f for f in old["figures"]}
    out = []
    for f in new["figures"]:
        o = by_old.get(f.id)
        if o is None:
            continue
        r = {"id": f.id, "unit": f.unit, "better": f.better, "old": o.median,
             "new": f.median}
        points = f.unit == "%"
        r["change_unit"] = "points" if points else "%"
        try:
            if points:
                c = stats.change_points(o.samples, f.samples, f.better)
                r.update(pct=c["diff"], lo=c["lo"], hi=c["hi"])
            else:
                c = stats.change(o.samples, f.samples, f.better)
                r.update(pct=c["pct"], lo=(c["lo"] - 1) * 100, hi=(c["hi"] - 1) * 100)
        except ValueError as e:
            r.update(verdict="n/a", why=str(e), pct=None, lo=None, hi=None, fails=False)
        else:
            r["verdict"] = VERDICT[c["verdict"]]
            r["fails"] = bool(fail_above is not None and c["verdict"] == "worse"
                              and abs(r["pct"]) > fail_above)
        out.append(r)
    return out


def _table(rs):
    lines = ["| figure | old median | new median | change | band | verdict |",
             "|---|---|---|---|---|---|"]
    for r in rs:
        if r["pct"] is None:
            ch, band = "—", "—"
        else:
            u = " points" if r["change_unit"] == "points" else " %"
            ch, band = f"{r['pct']:+.1f}{u}", f"[{r['lo']:+.1f}..{r['hi']:+.1f}]{u}"
        verdict = r["verdict"] + (" **(fails the gate)**" if r["fails"] else "")
        lines.append(f"| {r['id']} | {svg.fmt(r['old'])} {r['unit']} | "
                     f"{svg.fmt(r['new'])} {r['unit']} | {ch} | {band} | {verdict} |")
    return lines


def main(old, new, old_path, new_path, fail_above=None, as_json=False):
    rs = rows(old, new, fail_above)
    ids_old = {f.id for f in old["figures"]}
    ids_new = {f.id for f in new["figures"]}
    only_old = sorted(ids_old - ids_new)
    only_new = sorted(ids_new - ids_old)
    warn = warnings(old, new)
    failing = [r["id"] for r in rs if r["fails"]]
    if as_json:
        json.dump({"old": old_path, "new": new_path, "warnings": warn, "figures": rs,
                   "only_old": only_old, "only_new": only_new, "fail_above": fail_above,
                   "failing": failing}, sys.stdout, indent=1)
        print()
    else:
        for w in warn:
            print(f"warning: {w}", file=sys.stderr)
        print(f"vigil bench compare: {old_path} ({old.get('started')}) -> {new_path} "
              f"({new.get('started')})\n")
        print("\n".join(_table(rs)) if rs else "No figure is in both runs.")
        if only_old:
            print(f"\nonly in {old_path}: " + ", ".join(only_old))
        if only_new:
            print(f"\nonly in {new_path}: " + ", ".join(only_new))
        counts = {v: sum(r["verdict"] == v for r in rs) for v in VERDICT.values()}
        print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items()))
        if fail_above is not None:
            if failing:
                print(f"FAIL: worse by more than {fail_above:g} % beyond noise: "
                      + ", ".join(failing))
            else:
                print(f"ok: nothing worse by more than {fail_above:g} % beyond noise")
    return 1 if failing else 0
