"""The progress display of a run, on stderr.

On a terminal one line is rewritten in place, once a second:

    [3/7] replay — replaying default pack (00:41 elapsed, about 01:10 left)

otherwise (a log, CI) each step is a plain line of its own. The time left starts from the
suites' own estimates (estimate(run)) and is corrected as suites finish: the estimates of
the suites still to run are scaled by how long the finished ones took against theirs.
"""
import shutil
import sys
import threading
import time


def clock(seconds):
    """mm:ss, or h:mm:ss past an hour."""
    s = max(0, int(seconds + 0.5))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60:02d}:{s % 60:02d}"


class Progress:
    def __init__(self, estimates, stream=None, tty=None):
        """estimates: [(suite name, seconds)] in the order the suites will run."""
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.names = [n for n, _ in estimates]
        self.est = dict(estimates)
        self.actual = {}
        self.t0 = time.monotonic()
        self.index, self.suite, self.text, self.suite_t0 = 0, None, "", self.t0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._width = 0
        self.over = False
        if self.tty:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def left(self):
        """Seconds the run should still take."""
        now = time.monotonic()
        done_est = sum(self.est[n] for n in self.actual)
        scale = sum(self.actual.values()) / done_est if done_est > 0 else 1.0
        scale = min(max(scale, 0.25), 4.0)
        rest = sum(self.est[n] for n in self.names
                   if n not in self.actual and n != self.suite)
        cur, self.over = 0.0, False
        if self.suite and self.suite not in self.actual:
            est, ran = self.est.get(self.suite, 0.0), now - self.suite_t0
            cur = est * scale - ran
            if cur <= 0 and est > 0:  # past its estimate: the machine is slower than thought
                self.over = True
                scale = min(max(scale, ran / est), 4.0)
                cur = 0.1 * ran
        return cur + rest * scale

    def line(self):
        now = time.monotonic()
        head = f"[{self.index}/{len(self.names)}] {self.suite or ''}"
        if self.text:
            head += f" \u2014 {self.text}"
        left = clock(self.left())
        more = ", longer than estimated" if self.over else ""
        return f"{head} ({clock(now - self.t0)} elapsed, about {left} left{more})"

    def _draw(self):
        text = self.line()
        cols = shutil.get_terminal_size((100, 24)).columns - 1
        if len(text) > cols:  # a wrapped line cannot be rewritten in place
            text = text[:max(cols - 1, 10)] + "…"
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def _tick(self):
        while not self._stop.wait(1.0):
            with self._lock:
                self._draw()

    def _say(self):
        with self._lock:
            if self.tty:
                self._draw()
            else:
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def start(self, name, title):
        self.index = self.names.index(name) + 1 if name in self.names else self.index + 1
        self.suite, self.text, self.suite_t0 = name, title, time.monotonic()
        self._say()

    def step(self, text):
        self.text = text
        self._say()

    def finish(self, name, status, seconds):
        self.actual[name] = seconds
        msg = f"[{self.index}/{len(self.names)}] {name}: {status} in {clock(seconds)}"
        with self._lock:
            if self.tty:
                self.stream.write("\r" + msg + " " * max(self._width - len(msg), 0) + "\n")
                self._width = 0
            else:
                self.stream.write(msg + "\n")
            self.stream.flush()

    def close(self):
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
