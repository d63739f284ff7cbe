"""Charts as SVG, written by hand (no plotting library): what report.py embeds.

    bars(title, figures)  grouped horizontal bars: each figure's median, a min..max
                          whisker and its value; grouped by extra["workload"] when set
    cdf(title, figures)   one line per figure: the fraction of samples at or below a value

Both have axis ticks, the unit, a legend and a title; every text is escaped, and the
result is a whole SVG document that parses as XML.
"""
import math
from xml.sax.saxutils import escape

PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096", "#b7791f",
           "#319795", "#e53e3e", "#4c51bf"]
WIDTH = 760
FONT = 'font-family="sans-serif"'


def fmt(v):
    """A value as a label: about 3 significant figures, k / M / G past 100,000."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g} G"
    if a >= 1e6:
        return f"{v / 1e6:.3g} M"
    if a >= 1e5:
        return f"{v / 1e3:.0f} k"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return "0" if v == 0 else f"{v:.3g}"


def ticks(lo, hi, n=5):
    """Round tick values covering lo..hi, and the (possibly widened) range."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    last = math.ceil(hi / step) * step
    vals, v = [], first
    while v <= last + step / 2:
        vals.append(round(v, 12))
        v += step
    return vals, first, last


def _t(x, y, text, extra="", size=12):
    return (f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size}" {extra}>'
            f'{escape(str(text))}</text>')


def _doc(height, body, title):
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}">\n<title>{escape(title)}</title>\n'
            f'<rect width="100%" height="100%" fill="white"/>\n')
    return head + "\n".join(body) + "\n</svg>\n"


def _axis(body, x0, x1, y, lo, hi, vals, unit, grid_top):
    scale = (x1 - x0) / (hi - lo)
    body.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#333"/>')
    for v in vals:
        x = x0 + (v - lo) * scale
        body.append(f'<line x1="{x:.1f}" y1="{grid_top}" x2="{x:.1f}" y2="{y}" '
                    f'stroke="#e2e8f0"/>')
        body.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#333"/>')
        body.append(_t(x, y + 16, fmt(v), 'text-anchor="middle"'))
    body.append(_t((x0 + x1) / 2, y + 32, unit, 'text-anchor="middle" font-style="italic"'))


def _legend(body, labels, colors, y):
    x = 20
    for lab in labels:
        body.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colors[lab]}"/>')
        body.append(_t(x + 14, y, lab))
        x += 24 + 7 * len(lab)
        if x > WIDTH - 120:
            x, y = 20, y + 16
    return y


def _colors(labels):
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labels)}


def _uniq(xs):
    return list(dict.fromkeys(xs))


def bars(title, figures):
    """Grouped horizontal bars with min..max whiskers; an SVG document."""
    labels = _uniq(f.label or f.id for f in figures)
    colors = _colors(labels)
    groups = _uniq(str(f.extra.get("workload", "")) for f in figures)
    unit = figures[0].unit
    lo = min([0.0] + [min(f.samples) for f in figures])
    hi = max([0.0] + [max(f.samples) for f in figures])
    vals, lo, hi = ticks(lo, hi)
    x0, x1 = 200, WIDTH - 150
    scale = (x1 - x0) / (hi - lo)
    body = [_t(WIDTH / 2, 22, title, 'text-anchor="middle" font-weight="bold"', 15)]
    y = _legend(body, labels, colors, 44) + 14 if len(groups) > 1 else 40
    top, head, body = y, body, []
    for g in groups:
        if len(groups) > 1:
            body.append(_t(10, y + 12, g or "(other)", 'font-weight="bold"'))
            y += 18
        for f in (f for f in figures if str(f.extra.get("workload", "")) == g):
            lab = f.label or f.id
            xa, xm = x0 + (0 - lo) * scale, x0 + (f.median - lo) * scale
            body.append(f'<rect x="{min(xa, xm):.1f}" y="{y}" width="{abs(xm - xa):.1f}" '
                        f'height="18" fill="{colors[lab]}" fill-opacity="0.85"/>')
            wa, wb = x0 + (min(f.samples) - lo) * scale, x0 + (max(f.samples) - lo) * scale
            cy = y + 9
            body.append(f'<path d="M{wa:.1f} {cy}H{wb:.1f}M{wa:.1f} {cy - 5}V{cy + 5}'
                        f'M{wb:.1f} {cy - 5}V{cy + 5}" stroke="#1a202c" fill="none"/>')
            body.append(_t(x0 - 6, y + 13, lab, 'text-anchor="end"'))
            noise = " (noise)" if f.within_noise else ""
            body.append(_t(max(xm, wb, xa) + 5, y + 13, f"{fmt(f.median)} {unit}{noise}"))
            y += 24
        y += 8
    _axis(head, x0, x1, y, lo, hi, vals, f"{unit} (median; whisker: min..max; "
          f"{figures[0].better} is better)", top)
    return _doc(y + 44, head + body, title)  # the grid under the bars


def _pct(samples, p):
    """The p-th percentile (nearest rank)."""
    xs = sorted(samples)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def cdf(title, figures):
    """One step line per figure: fraction of samples <= value; an SVG document."""
    unit = figures[0].unit
    shown = {f.id: f"{f.label or f.id} (p50 {fmt(_pct(f.samples, 50))}, "
             f"p99 {fmt(_pct(f.samples, 99))} {unit})" for f in figures}
    labels = _uniq(shown[f.id] for f in figures)
    colors = _colors(labels)
    lo = min(min(f.samples) for f in figures)
    hi = max(max(f.samples) for f in figures)
    vals, lo, hi = ticks(lo, hi)
    body = [_t(WIDTH / 2, 22, title, 'text-anchor="middle" font-weight="bold"', 15)]
    for i, lab in enumerate(labels):  # one a line: the labels are long, the plot below them
        _legend(body, [lab], colors, 46 + 16 * i)
    y0 = 46 + 16 * len(labels) + 14
    x0, x1, y1 = 70, WIDTH - 30, y0 + 260  # y0 top (fraction 1), y1 bottom (0)
    sx = (x1 - x0) / (hi - lo)
    for q in (0, 0.25, 0.5, 0.75, 1.0):
        y = y1 - q * (y1 - y0)
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        body.append(_t(x0 - 6, y + 4, f"{q:g}", 'text-anchor="end"'))
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>')
    body.append(_t(18, (y0 + y1) / 2, "fraction of samples \u2264 x",
                   f'text-anchor="middle" transform="rotate(-90 18 {(y0 + y1) / 2})"'))
    _axis(body, x0, x1, y1, lo, hi, vals, f"{unit} ({figures[0].better} is better)", y0)
    for f in figures:
        xs = sorted(f.samples)
        pts, prev = [f"{x0 + (xs[0] - lo) * sx:.1f},{y1}"], 0.0
        for i, v in enumerate(xs):
            x = x0 + (v - lo) * sx
            frac = (i + 1) / len(xs)
            pts.append(f"{x:.1f},{y1 - prev * (y1 - y0):.1f}")
            pts.append(f"{x:.1f},{y1 - frac * (y1 - y0):.1f}")
            prev = frac
        body.append(f'<polyline points="{" ".join(pts)}" fill="none" '
                    f'stroke="{colors[shown[f.id]]}" stroke-width="2"/>')
    return _doc(y1 + 46, body, title)


def chart(title, figures):
    """The chart a plot's figures call for: a CDF when they say extra["chart"] == "cdf"."""
    if all(f.extra.get("chart") == "cdf" for f in figures):
        return cdf(title, figures)
    return bars(title, figures)
