"""api: the REST API's query latency over a large store.

A store of N alerts is written directly (build/bench/store_bench: N violations over N
pods, so N alerts of one policy), `vigil run` serves it, and a few alerts are resolved
through the API (a bulk resolve of a free-text query), so that there is a small set to
select. Then, sequentially over one keep-alive connection, each query R times:

    selective   GET /v1/alerts?query=State:RESOLVED&pagination.limit=50
                (an indexed key: a handful of the N alerts; costs the page)
    matchall    GET /v1/alerts?pagination.limit=50
                (the console's first page: every alert matches, the newest 50)
    freetext    GET /v1/alerts?query=pkg1234&pagination.limit=50
                (a word, no key: every alert is looked at to count the matches)

Latency is from sending the request to the end of the body, in ms; every sample is
kept (the report draws them as a CDF). A request that fails (not 200, a closed
connection, a timeout) is counted as api.failed_requests and not timed.
"""
import http.client
import json
import os
import subprocess
import time

from . import _common

NAME = "api"
TITLE = "API query latency"
NEEDS_ROOT = True  # vigil run loads its BPF programs

SELECT_WORD = "pkg1234"  # store_bench's arguments are "install pkgI": a few alerts hold it
QUERIES = [
    ("selective", "/v1/alerts?query=State:RESOLVED&pagination.limit=50",
     "an indexed key matching a few alerts (State:RESOLVED), a page of 50"),
    ("matchall", "/v1/alerts?pagination.limit=50",
     "no query: every alert matches, the newest page of 50"),
    ("freetext", f"/v1/alerts?query={SELECT_WORD}&pagination.limit=50",
     "a free-text word: every alert is looked at to count the matches, a page of 50"),
]
LABELS = {"selective": "selective (State:RESOLVED)", "matchall": "match-all, newest 50",
          "freetext": "free text (walks every alert)"}


def sizes(run):
    """(alerts in the store, requests per query)."""
    return run.n(100000, 20000, 2000), run.n(500, 200, 40)


def estimate(run):
    return run.n(20, 5, 2)


class Client:
    """One keep-alive HTTP connection with the token; reconnects after a failure."""

    def __init__(self, port, token):
        self.port, self.token, self.conn = port, token, None

    def request(self, method, path, body=None):
        """(status, body bytes); raises OSError / http.client.HTTPException on failure."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def fill(ctx, data, n):
    """A store of n alerts in data (store_bench); raises with its output on failure."""
    exe = _common.need_tool(ctx, "store_bench")
    os.makedirs(data, exist_ok=True)
    r = subprocess.run([exe, data, str(n), str(n)], capture_output=True, text=True,
                       timeout=600)
    if r.returncode:
        raise _common.SuiteError(f"store_bench could not fill a store of {n} alerts: "
                                 f"{(r.stderr or r.stdout).strip()[-500:]}")


def prepare(client):
    """Resolve the alerts holding SELECT_WORD; how many were resolved."""
    status, body = client.request("PATCH", "/v1/alerts/resolve", {"query": SELECT_WORD})
    if status != 200:
        raise _common.SuiteError(f"PATCH /v1/alerts/resolve answered {status}: "
                                 f"{body[:300].decode(errors='replace')}")
    return json.loads(body)["resolved"]


def time_query(client, path, reps):
    """(latencies in ms of the requests answered 200, failures, total of the last answer)."""
    out, failed, total = [], 0, None
    for _ in range(reps):
        t0 = time.perf_counter()
        try:
            status, body = client.request("GET", path)
        except (OSError, http.client.HTTPException):
            failed += 1
            continue
        dt = (time.perf_counter() - t0) * 1000
        if status != 200:
            failed += 1
            continue
        out.append(dt)
        total = json.loads(body).get("total")
    return out, failed, total


def measure(run, ctx):
    n, reps = sizes(run)
    data = os.path.join(ctx.tmp, "api-store")
    ctx.step(f"filling a store of {n:,} alerts")
    fill(ctx, data, n)
    ctx.step("starting vigil run on it")
    with _common.Daemon(ctx, data) as d:
        client = Client(d.port, d.token)
        try:
            resolved = prepare(client)
            for i in range(3):  # warm: the first requests pay for the connection and caches
                time_query(client, QUERIES[i][1], 3)
            for key, path, what in QUERIES:
                ctx.step(f"{key} query, {reps} requests")
                lat, failed, total = time_query(client, path, reps)
                if failed:
                    run.count("api.failed_requests", failed)
                if not lat:
                    raise _common.SuiteError(f"every GET {path} failed ({failed} requests); "
                                             f"vigil run's log: {d.log()[-800:].strip()}")
                run.figure(f"api.{key}.latency_ms", f"API query latency, {LABELS[key]}",
                           unit="ms", better="lower", samples=lat,
                           how=(f"GET {path} over {n:,} alerts ({total} match; "
                                f"{resolved} resolved), {reps} sequential requests on one "
                                f"keep-alive connection, request sent to body read"),
                           plot="api_latency", label=LABELS[key],
                           extra={"chart": "cdf", "alerts": n, "matches": total,
                                  "query": path, "what": what})
        finally:
            client.close()
        if not d.alive():
            raise _common.SuiteError(f"vigil run died during the queries: {d.log()[-800:]}")
