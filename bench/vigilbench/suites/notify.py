"""notify: notifier throughput, alerts through the durable outbox to a real webhook receiver.

build/bench/notify_bench ok N raises N alert events (64 alerts in rotation, in bursts of
1,000 as alerts arrive) through a `webhook` notifier instance (the Lua plugin, curl on the
event loop), each logged to the outbox before it is sent and its delivery logged after,
to a local keep-alive receiver (a forked libevent sink answering 200), and reports the
deliveries per second and the sender's CPU per delivery. One run is one sample; the
webhook's concurrency (requests in flight, NOTIFY_BENCH_CONC) is varied, the variants
measured in rounds, interleaved.

Events given up (dead letters), still pending at the end, or a run that failed or did not
finish in time are counted (notify.webhook.failed, notify.webhook.failed_runs), never
dropped silently.
"""
import os
import re
import signal
import subprocess

from . import _common

NAME = "notify"
TITLE = "notifier throughput"
NEEDS_ROOT = False

CONCURRENCY = [1, 4, 16]  # 4 is the default of a webhook instance

RATE = re.compile(r"^ok: (\d+) notifications in ([\d.]+) s: (\d+)/s, "
                  r"sender CPU ([\d.]+) us each$", re.M)
LOST = re.compile(r"^ok: (\d+) given up \(dead letters\), (-?\d+) still pending$", re.M)


def sizes(run):
    """(events per run, rounds)."""
    return run.n(50000, 8000, 1000), run.n(5, 2, 2)


def estimate(run):
    n, rounds = sizes(run)
    return len(CONCURRENCY) * rounds * (0.8 + n / 8000)


def one(exe, conc, n):
    """One notify_bench ok run: (per_s, cpu_us, given_up, pending), or SuiteError."""
    env = dict(os.environ, NOTIFY_BENCH_CONC=str(conc))
    env.pop("NOTIFY_BENCH_COPY", None)
    limit = 20 + n / 1000
    # its own process group: on a timeout the receiver it forked goes too
    p = subprocess.Popen([exe, "ok", str(n)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise _common.SuiteError(f"notify_bench ok {n} (concurrency {conc}) did not finish "
                                 f"within {limit:.0f} s: {(err + out).strip()[-400:]}")
    m, lost = RATE.search(out), LOST.search(out)
    if p.returncode or not m or not lost:
        raise _common.SuiteError(f"notify_bench ok {n} (concurrency {conc}) failed "
                                 f"({p.returncode}): {(err + out).strip()[-500:]}")
    return float(m.group(3)), float(m.group(4)), int(lost.group(1)), int(lost.group(2))


def measure(run, ctx):
    exe = _common.need_tool(ctx, "notify_bench")
    n, rounds = sizes(run)
    got = {c: {"per_s": [], "cpu_us": []} for c in CONCURRENCY}
    for r in range(rounds):
        for c in CONCURRENCY:
            ctx.step(f"round {r + 1}/{rounds}: webhook, concurrency {c}, {n:,} alerts")
            try:
                per_s, cpu_us, given_up, pending = one(exe, c, n)
            except _common.SuiteError as e:
                run.count("notify.webhook.failed_runs", 1)
                run.error(NAME, str(e))
                continue
            if given_up or pending:
                run.count("notify.webhook.failed", given_up + max(0, pending))
            got[c]["per_s"].append(per_s)
            got[c]["cpu_us"].append(cpu_us)
    if not any(g["per_s"] for g in got.values()):
        raise _common.SuiteError("every notify_bench run failed (see the errors above)")
    how = (f"notify_bench ok {n}: {n:,} alert events through the outbox to a webhook "
           f"instance, a local keep-alive receiver answering 200; one sample a run, "
           f"{rounds} round(s), concurrencies interleaved")
    for c in CONCURRENCY:
        g = got[c]
        if not g["per_s"]:
            continue
        label = f"webhook, concurrency {c}" + (" (default)" if c == 4 else "")
        extra = {"concurrency": c, "events": n}
        run.figure(f"notify.webhook.c{c}.per_s", f"webhook deliveries per second, {label}",
                   unit="alerts/s", better="higher", samples=g["per_s"],
                   how=f"{how}; deliveries over the time from the first event to the last "
                       f"delivery logged", plot="notify", label=label, extra=extra)
        run.figure(f"notify.webhook.c{c}.cpu_us", f"sender CPU per delivery, {label}",
                   unit="µs", better="lower", samples=g["cpu_us"],
                   how=f"{how}; the sender's user + system CPU (loop, outbox writer, curl) "
                       f"over the deliveries", plot="notify_cpu", label=label, extra=extra)
