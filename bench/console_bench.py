#!/usr/bin/python3
"""console_bench.py - the web console's first page over a large store, in a real browser.

Fills a store with N alerts (bench/store_bench: N violations over N pods, so N alerts),
starts `vigil run` on it, signs in headless Chromium with the link `vigil console` prints,
and loads the Violations page R times: the time from navigation to the table's first row
on screen (the page's own clock, performance.now(), read when the row is there), and the
API's answer to the page's query (the newest 50, everything matching), to a selective
one, to the first page sorted by severity and to the timeline with and without a query
(free text every alert matches), measured from this script, sequentially.

    sudo bench/console_bench.py [-n 100000] [-r 7]

Needs root (the daemon loads its BPF programs), Debian's chromium, chromium-driver and
python3-selenium (make deps). Prints a table to paste into bench/RESULTS.md.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("VIGIL_BUILD", os.path.join(HERE, "..", "build"))
VIGIL = os.path.join(BUILD, "vigil")
STORE_BENCH = os.path.join(BUILD, "bench", "store_bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_ms(base, token, path, n):
    out = []
    for _ in range(n):
        r = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(r, timeout=30) as resp:
            resp.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-r", type=int, default=7)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vigil-console-bench-")
    proc = drv = None
    try:
        t0 = time.time()
        subprocess.run([STORE_BENCH, tmp, str(a.n), str(a.n)], check=True,
                       capture_output=True)
        print(f"store: {a.n} alerts in {time.time() - t0:.1f} s", file=sys.stderr)
        port = free_port()
        log = open(os.path.join(tmp, "vigil.log"), "w+")
        proc = subprocess.Popen([VIGIL, "run", "--data-dir", tmp, "--listen",
                                 f"127.0.0.1:{port}"], stdout=log, stderr=log)
        for _ in range(600):
            log.flush()
            if "ready:" in open(log.name).read():
                break
            time.sleep(0.1)
        else:
            sys.exit("vigil run did not start: " + open(log.name).read()[-2000:])
        base = f"http://127.0.0.1:{port}"
        token = open(os.path.join(tmp, "api.token")).read().strip()
        link = [w for w in subprocess.run([VIGIL, "console", "--data-dir", tmp],
                                          capture_output=True, text=True,
                                          check=True).stdout.split() if "code=" in w][0]
        o = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--window-size=1280,720"):
            o.add_argument(arg)
        drv = webdriver.Chrome(options=o)
        drv.get(link)
        WebDriverWait(drv, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "table#violations tbody tr[data-id]"))
        page = []
        for _ in range(a.r):
            drv.get("about:blank")
            drv.get(base + "/#/violations")
            WebDriverWait(drv, 60, poll_frequency=0.005).until(
                lambda d: d.find_elements(By.CSS_SELECTOR,
                                          "table#violations tbody tr[data-id]"))
            page.append(drv.execute_script("return performance.now()"))
        everything = api_ms(base, token, "/v1/alerts?pagination.limit=50", 50)
        selective = api_ms(base, token, "/v1/alerts?query=Pod:web-1%2BState:ACTIVE", 50)
        by_sev = api_ms(base, token, "/v1/alerts?pagination.limit=50&sort=severity", 20)
        tl_all = api_ms(base, token, "/v1/alerts/timeline", 20)
        tl_text = api_ms(base, token, "/v1/alerts/timeline?query=apt-get", 20)
        print(f"| figure ({a.n:,} alerts) | p50 | p90 | runs |")
        print("|---|---|---|---|")
        print(f"| Violations page: navigation to the first row shown | "
              f"{statistics.median(page):.0f} ms | {pct(page, 90):.0f} ms | {a.r} |")
        print(f"| `GET /v1/alerts?pagination.limit=50` (the page's query: all match) | "
              f"{statistics.median(everything):.1f} ms | {pct(everything, 90):.1f} ms | 50 |")
        print(f"| `GET /v1/alerts?query=Pod:web-1+State:ACTIVE` (selective) | "
              f"{statistics.median(selective):.1f} ms | {pct(selective, 90):.1f} ms | 50 |")
        for what, v in (("`GET /v1/alerts?pagination.limit=50&sort=severity` (all sorted)", by_sev),
                        ("`GET /v1/alerts/timeline` (the exact per-minute counts)", tl_all),
                        ("`GET /v1/alerts/timeline?query=apt-get` (free text: all match)",
                         tl_text)):
            print(f"| {what} | {statistics.median(v):.1f} ms | {pct(v, 90):.1f} ms | {len(v)} |")
    finally:
        if drv:
            drv.quit()
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
