"""Noise bands from samples: what a figure's spread allows one to say.

The machine these benchmarks run on is shared and noisy, so a single number is not a
result: every figure keeps its samples, and a change (on vs off, new build vs old) is
reported with a band from a bootstrap of the samples, as hyperfine and criterion do.
A change whose band covers "no change" is within noise and is reported as such.

    overhead(off, on)      the cost a sensor adds: median ratio, min-to-min ratio, band
    change(old, new)       one figure between two runs (compare): ratio and band
    change_points(old, new)  the same for a figure that is itself a % (an overhead): points
    band(samples)          the median with its own bootstrap interval

Deterministic: the resampling uses a fixed seed, so the same samples give the same band.
"""
import random
import statistics

RESAMPLES = 2000
CONFIDENCE = 0.95


def _quantiles(values, conf):
    values = sorted(values)
    lo_i = int((1 - conf) / 2 * (len(values) - 1))
    hi_i = int((1 + conf) / 2 * (len(values) - 1) + 0.5)
    return values[lo_i], values[hi_i]


def band(samples, conf=CONFIDENCE, resamples=RESAMPLES, seed=1):
    """(median, lo, hi): the median of samples and a bootstrap interval around it."""
    xs = [float(x) for x in samples]
    if not xs:
        raise ValueError("no samples")
    med = statistics.median(xs)
    if len(xs) == 1:
        return med, med, med
    rng = random.Random(seed)
    meds = [statistics.median(rng.choices(xs, k=len(xs))) for _ in range(resamples)]
    lo, hi = _quantiles(meds, conf)
    return med, lo, hi


def _paired_band(old, new, combine, conf, resamples, seed):
    """(combine(median(old), median(new)), lo, hi), resampling both sides; combine may
    return None for a resample it cannot use."""
    a = [float(x) for x in old]
    b = [float(x) for x in new]
    if not a or not b:
        raise ValueError("no samples")
    value = combine(statistics.median(a), statistics.median(b))
    if value is None:
        raise ValueError("the old median is 0: a ratio is undefined")
    if len(a) == 1 and len(b) == 1:
        return value, value, value
    rng = random.Random(seed)
    vs = []
    for _ in range(resamples):
        v = combine(statistics.median(rng.choices(a, k=len(a))),
                    statistics.median(rng.choices(b, k=len(b))))
        if v is not None:
            vs.append(v)
    lo, hi = _quantiles(vs, conf)
    return value, lo, hi


def ratio_band(old, new, conf=CONFIDENCE, resamples=RESAMPLES, seed=1):
    """(ratio, lo, hi) of median(new) / median(old), resampling both sides."""
    return _paired_band(old, new, lambda ma, mb: mb / ma if ma != 0 else None, conf,
                        resamples, seed)


def overhead(off, on):
    """What turning a tool on costs, from interleaved off and on phase times.

    Returns a dict of percentages: median (median on / median off - 1), min_to_min
    (min on / min off - 1: the least-disturbed phases), lo and hi (the band of the
    median), and within_noise (the band covers 0 or the min-to-min ratio is at or
    below 0: the machine's noise is as large as the cost).
    """
    ratio, lo, hi = ratio_band(off, on)
    m2m = min(float(x) for x in on) / min(float(x) for x in off)
    return {"median": (ratio - 1) * 100, "min_to_min": (m2m - 1) * 100,
            "lo": (lo - 1) * 100, "hi": (hi - 1) * 100,
            "within_noise": lo <= 1.0 <= hi or m2m <= 1.0}


def change(old, new, better="lower", threshold=0.0):
    """One figure between two runs: a dict with ratio, lo, hi (new/old), pct (the median
    change in %), noise (the band covers no change, or the change is below threshold %),
    and verdict: 'noise', 'better' or 'worse'."""
    ratio, lo, hi = ratio_band(old, new)
    pct = (ratio - 1) * 100
    noise = lo <= 1.0 <= hi or abs(pct) < threshold
    if noise:
        verdict = "noise"
    elif (ratio > 1) == (better == "lower"):
        verdict = "worse"
    else:
        verdict = "better"
    return {"ratio": ratio, "lo": lo, "hi": hi, "pct": pct, "noise": noise,
            "verdict": verdict}


def diff_band(old, new, conf=CONFIDENCE, resamples=RESAMPLES, seed=1):
    """(diff, lo, hi) of median(new) - median(old), resampling both sides."""
    return _paired_band(old, new, lambda ma, mb: mb - ma, conf, resamples, seed)


def change_points(old, new, better="lower", threshold=0.0):
    """change() for a figure in % (an overhead): the change in percentage points, since a
    ratio of two small percentages says nothing (+2 % -> +4 % is not "+100 %"). A dict with
    diff, lo, hi (points), noise (the band covers 0, or |diff| < threshold) and verdict."""
    diff, lo, hi = diff_band(old, new)
    noise = lo <= 0.0 <= hi or abs(diff) < threshold
    if noise:
        verdict = "noise"
    elif (diff > 0) == (better == "lower"):
        verdict = "worse"
    else:
        verdict = "better"
    return {"diff": diff, "lo": lo, "hi": hi, "noise": noise, "verdict": verdict}
