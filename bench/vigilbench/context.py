"""What a suite is given besides the Run: where things are, and how to say what it does."""
import os
import shutil
import tempfile


class Context:
    def __init__(self, build, src, peers=(), progress=None, auto_peers=True):
        self.build = os.path.abspath(build)
        self.src = os.path.abspath(src)
        self.vigil = os.path.join(self.build, "vigil")
        self.peers = list(peers)  # [(name, argv list)] from --peer 'NAME=CMD'
        self.auto_peers = auto_peers  # False with --no-peers: no execsnoop / bpftrace from PATH
        self._progress = progress
        self.tmp = tempfile.mkdtemp(prefix="vigil-bench-")

    def tool(self, name):
        """A bench tool this build made (build/bench/NAME)."""
        return os.path.join(self.build, "bench", name)

    def step(self, text):
        """A progress line inside the running suite."""
        if self._progress:
            self._progress.step(text)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
