#!/usr/bin/env python3
"""Process identity beyond comm, tried as an attacker would, in real
podman + runc containers: a policy naming `dpkg` ("Ubuntu Package Manager
Execution") catches dpkg reached any way — its comm, `exec -a`, a symlink, a
`#!` script whose interpreter is dpkg, a hard link, a renamed copy, the dynamic
loader, its bytes run from a memfd, busybox's dpkg applet — and the alert says
how (`matchedBy`, `matchedName`); it does not match dpkg-query, files merely
named like dpkg, the loader running dpkg-query, or a host process. A fileless
exec raises "Fileless Execution"; a binary written after the container started
(writable layer, tmpfs, volume) raises "Binary Not In Image Executed", the
image's own binaries do not. Enforced (kill_process), every way dies: in the
kernel where the kernel can tell (comm, the executable's name, a file already
identified by content), else from user space while it runs.

One daemon and a few long-running containers serve the whole module; each test
makes its own files (fresh names, fresh inodes), so tests do not depend on
their order. `test_identity.py --measure` instead prints which ways the current
build catches (an attacker's tally), and asserts nothing."""
import calendar
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402

UBUNTU = "Ubuntu Package Manager Execution"
FILELESS = "Fileless Execution"
DRIFT = "Binary Not In Image Executed"
V = vigtest.VIGIL
LD_SO = "/lib64/ld-linux-x86-64.so.2"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
DPKG_SAYS = "Debian 'dpkg' package management program"
KERNEL = ("kernel",)
USER = ("user", "userspace", "user space")
HOLD = 3.0  # seconds a long-lived attack keeps its stdin open (its natural end)

# The ways, as the shell command run in the container ({n}: a fresh suffix, {args}: dpkg's
# arguments), what its output shows when dpkg's code ran, and how the alert must say it
# matched. `exec` makes the attack the process podman exec waits for (its status is ours).
WAYS = {
    "comm": ("exec /usr/bin/dpkg {args}", DPKG_SAYS, {"comm"}),
    # argv[0] changes, comm (from the file name) stays dpkg
    "exec_a": ("exec -a foo /usr/bin/dpkg {args}", DPKG_SAYS, {"comm"}),
    # comm is pkgtool; the mapped executable is /usr/bin/dpkg
    "symlink": ("ln -sf /usr/bin/dpkg /tmp/pkgtool{n} && exec /tmp/pkgtool{n} {args}",
                DPKG_SAYS, {"exe"}),
    # the kernel runs `dpkg /tmp/s{n} --version`: dpkg complains of the script path
    "script": ("printf '#!/usr/bin/dpkg\\n' >/tmp/s{n} && chmod +x /tmp/s{n} && "
               "exec /tmp/s{n} {args}", "dpkg: error", {"exe"}),
    # a hard link to an image file copies it up into the writable layer first (overlayfs);
    # both names then share that inode, whose dentry is the name run (pkgh): content,
    # unless the kernel's name resolution shows dpkg's dentry (exe)
    "hardlink": ("ln -f /usr/bin/dpkg /usr/bin/pkgh{n} && exec /usr/bin/pkgh{n} {args}",
                 DPKG_SAYS, {"exe", "content"}),
    "copy": ("cp /usr/bin/dpkg /tmp/pk{n} && exec /tmp/pk{n} {args}", DPKG_SAYS, {"content"}),
    # a copy on a tmpfs, stat()ed before it runs: reading its ctime marks it queried, a flag
    # the kernel keeps in bit 31 of the ctime's nanoseconds (multigrain timestamps, 6.13+);
    # the identity the sensor reports must still be the one stat() gives, or it is not hashed
    "copy_stat": ("cp /usr/bin/dpkg /scratch/pk{n} && stat /scratch/pk{n} >/dev/null && "
                  "exec /scratch/pk{n} {args}", DPKG_SAYS, {"content"}),
    # the same files run again, unchanged (making them again would change their ctime,
    # and a changed file is another file: it is hashed again)
    "hardlink_again": ("exec /usr/bin/pkgh{n} {args}", DPKG_SAYS, {"exe", "content"}),
    "copy_again": ("exec /tmp/pk{n} {args}", DPKG_SAYS, {"content"}),
    "loader": (f"exec {LD_SO} /usr/bin/dpkg {{args}}", DPKG_SAYS, {"loader"}),
    # dpkg's bytes in a memfd named "x", fexecve'd (comm "memfd:x", no path on any fs)
    "memfd": ("exec /tmp/memrun /usr/bin/dpkg x {args}", DPKG_SAYS, {"content"}),
    "applet": ("exec /tmp/busybox dpkg", "Usage: dpkg", {"applet"}),
    # a multi-call binary's argv[0] names the applet; comm and exe stay busybox
    "applet_argv0": ("exec -a dpkg /tmp/busybox", "Usage: dpkg", {"applet"}),
}
# must not match: (command, why)
NEGATIVES = {
    "dpkg_query": ("exec /usr/bin/dpkg-query -W", "another program of the dpkg package"),
    "named_like": ("cp /bin/true /tmp/dpkg.old{n} && exec /tmp/dpkg.old{n}",
                   "a file named like dpkg with other content"),
    "contains_name": ("cp /bin/true /tmp/mydpkg{n} && exec /tmp/mydpkg{n}",
                      "a name that contains dpkg, other content"),
    "loader_other": (f"exec {LD_SO} /usr/bin/dpkg-query -W", "the loader running dpkg-query"),
}

D = None          # the daemon
CTR = {}          # role -> container id
TMP = None        # host temp dir (memrun, the volume)
COUNTER = itertools.count(1)


def fresh():
    """A suffix no file of this run has had: a new name and a new inode."""
    return f"{os.getpid()}x{next(COUNTER)}"


def build_memrun(tmp):
    out = os.path.join(tmp, "memrun")
    r = subprocess.run(["cc", "-O2", "-static", "-o", out,
                        os.path.join(os.path.dirname(__file__), "memrun.c")],
                       capture_output=True, text=True)
    if r.returncode:
        raise AssertionError(f"cannot build memrun with `cc -static`: {r.stderr}")
    return out


def start_all():
    """The daemon (default pack, inform) and the module's containers."""
    global D, TMP
    vigtest.prepare_image()
    TMP = tempfile.mkdtemp(prefix="vigil-identity-")
    memrun = build_memrun(TMP)
    if not os.access(BUSYBOX, os.X_OK):
        raise AssertionError(f"no busybox at {BUSYBOX}: install busybox-static "
                             "(scripts/packages.txt, scripts/deps.sh)")
    os.makedirs(os.path.join(TMP, "vol"))
    # main: every way but the hard link; a tmpfs that allows exec and a volume for drift
    CTR["main"] = podman("run", "-d", "--network", "none", "--tmpfs", "/scratch:exec",
                         "-v", f"{TMP}/vol:/vol", IMAGE, "sleep", "infinity")
    # the hard link copies /usr/bin/dpkg up into the writable layer: its own container,
    # so that main's /usr/bin/dpkg stays the image's (no drift)
    CTR["hardlink"] = podman("run", "-d", "--network", "none", IMAGE, "sleep", "infinity")
    podman("cp", memrun, f"{CTR['main']}:/tmp/memrun")
    podman("cp", BUSYBOX, f"{CTR['main']}:/tmp/busybox")
    data = os.path.join(TMP, "data")
    os.makedirs(data)
    D = Daemon(data, vigtest.free_port())


def stop_all():
    if D:
        D.stop()
    for cid in CTR.values():
        subprocess.run(["podman", "rm", "-f", "-t", "0", cid], capture_output=True)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def setUpModule():
    try:
        start_all()
    except BaseException:
        stop_all()  # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    stop_all()


def attack(cid, cmd, hold=0.0):
    """Runs cmd with bash in the container; its stdin stays open `hold` seconds (dpkg
    --set-selections reads it: the process lives that long unless killed).
    Returns (exit status, stdout + stderr, seconds it lived)."""
    p = subprocess.Popen(["podman", "exec", "-i", cid, "bash", "-c", cmd],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    lived = None
    if hold:
        try:
            p.wait(timeout=hold)
            lived = time.time() - t0
        except subprocess.TimeoutExpired:
            pass  # still running: its natural end is the EOF below
    out, err = p.communicate(timeout=60)
    if lived is None:
        lived = time.time() - t0
    return p.returncode, out + err, lived


def way_cmd(way, args="--version", n=None):
    return WAYS[way][0].format(n=n or fresh(), args=args)


def iso_ns(ts):
    """The alert's RFC 3339 time with nanoseconds, as integer ns since the epoch."""
    sec, frac = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(sec, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(frac)


def procs(policy, since_ns, cid=None, host=False, until_ns=None):
    """(alert, process) pairs of `policy` whose exec came at or after since_ns, in the
    container cid (or on the host)."""
    _, body = D.req("GET", "/v1/alerts?query=State:ALL&pagination.limit=1000")
    found = []
    for a in body["alerts"]:
        if a["policy"]["name"] != policy:
            continue
        full = D.req("GET", f"/v1/alerts/{a['id']}")[1]
        for p in full.get("processes", []):
            t = iso_ns(p["time"])
            if t < since_ns or (until_ns and t >= until_ns):
                continue
            if host and p["containerId"] is None:
                found.append((full, p))
            elif cid and p["containerId"] and cid.startswith(p["containerId"]):
                found.append((full, p))
    return found


def fact(alert, proc, key):
    """A fact about the exec: on its process entry, else on the alert."""
    if key in proc:
        return proc[key]
    return alert.get(key)


def wait_procs(policy, since_ns, cid, pred=lambda a, p: True, timeout=5):
    deadline = time.time() + timeout
    got = []
    while time.time() < deadline:
        got = procs(policy, since_ns, cid)
        hits = [(a, p) for a, p in got if pred(a, p)]
        if hits:
            return hits
        time.sleep(0.1)
    raise AssertionError(f"no '{policy}' process as wanted since {since_ns} in {cid[:12]}; "
                         f"saw {[p for _, p in got]}; daemon: {D.text()[-1500:]}")


def now_ns():
    return time.time_ns() - 10_000_000  # slack: the exec's clock and ours


def policy_cmd(*args):
    path = os.path.join(D.data, "cli.conf.lua")
    with open(path, "w") as f:
        f.write(f'return {{ api = {{ listen = "127.0.0.1:{D.port}" }} }}\n')
    r = subprocess.run([V, "policy", *args, "--data-dir", D.data, "--config", path],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise AssertionError(f"vigil policy {' '.join(args)}: {r.stderr}")
    return r.stdout


def host_cgroup_dir(cid):
    """The container's cgroup directory on the host, in the v2 hierarchy."""
    pid = podman("inspect", "-f", "{{.State.Pid}}", cid)
    with open(f"/proc/{pid}/cgroup") as f:
        path = next(line[3:].strip() for line in f if line.startswith("0::"))
    root = "/sys/fs/cgroup/unified"
    if not os.path.ismount(root):
        root = "/sys/fs/cgroup"
    return root + path


def sync(cid):
    """Everything exec'd in cid before now has been evaluated: a plain dpkg after it
    alerted, and hashing (a worker) had a moment more."""
    t0 = now_ns()
    attack(cid, way_cmd("comm"))
    wait_procs(UBUNTU, t0, cid)
    time.sleep(1.0)
    return t0


class InformTest(unittest.TestCase):
    """The policy informs: each way runs to its end, and is recorded with how it matched."""

    @classmethod
    def setUpClass(cls):
        policy_cmd("inform", UBUNTU)

    def caught(self, way, hold=0.0, args="--version"):
        cid = CTR["hardlink" if way == "hardlink" else "main"]
        _, says, ways = WAYS[way]
        t0 = now_ns()
        _, out, lived = attack(cid, way_cmd(way, args), hold)
        if hold:
            self.assertGreater(lived, 0.2, f"{way}: it must live to be hashed: {out}")
        else:
            self.assertIn(says, out, f"{way}: the set-up did not run dpkg's code")
        hits = wait_procs(UBUNTU, t0, cid, lambda a, p: fact(a, p, "matchedBy") in ways)
        self.assertEqual(fact(*hits[0], "matchedName"), "dpkg", hits[0][1])
        return hits[0]

    def test_comm(self):
        self.caught("comm")

    def test_exec_a(self):
        self.caught("exec_a")

    def test_symlink(self):
        self.caught("symlink")

    def test_script_interpreter(self):
        self.caught("script")

    def test_stated_copy(self):
        self.caught("copy_stat")

    def test_hard_link(self):
        """In the container's writable layer a hard link to an image file copies it up
        (overlayfs); both names then share the upper inode, nlink 2."""
        n = fresh()
        out = podman("exec", CTR["hardlink"], "sh", "-c",
                     f"ln -f /usr/bin/dpkg /usr/bin/pkgh{n} && "
                     f"stat -c '%i %h' /usr/bin/dpkg /usr/bin/pkgh{n}").split("\n")
        self.assertEqual(out[0], out[1])
        self.assertNotEqual(out[0].split()[1], "1")
        self.caught("hardlink")

    def test_renamed_copy(self):
        self.caught("copy")

    def test_loader(self):
        self.caught("loader")

    def test_memfd(self):
        """The bytes of dpkg in a memfd: its content names it dpkg (it lives HOLD seconds,
        reading stdin), and it is a fileless execution."""
        _, out, _ = attack(CTR["main"], way_cmd("memfd"))
        self.assertIn(DPKG_SAYS, out, "memrun did not run dpkg's code")
        t0 = now_ns()
        self.caught("memfd", hold=HOLD / 2, args="--set-selections")
        hits = wait_procs(FILELESS, t0, CTR["main"])
        self.assertIs(fact(*hits[0], "exeFileless"), True, hits[0][1])

    def test_busybox_applet(self):
        self.caught("applet")

    def test_busybox_argv0(self):
        self.caught("applet_argv0")

    def assert_not_caught(self, cmd, why):
        t0 = now_ns()
        attack(CTR["main"], cmd.format(n=fresh()))
        t_sync = sync(CTR["main"])
        hits = procs(UBUNTU, t0, CTR["main"], until_ns=t_sync)
        self.assertEqual(hits, [], f"{why}: {cmd}")

    def test_not_dpkg_query(self):
        self.assert_not_caught(*NEGATIVES["dpkg_query"])

    def test_not_a_file_named_like_dpkg(self):
        self.assert_not_caught(*NEGATIVES["named_like"])

    def test_not_a_name_containing_dpkg(self):
        self.assert_not_caught(*NEGATIVES["contains_name"])

    def test_not_the_loader_running_dpkg_query(self):
        self.assert_not_caught(*NEGATIVES["loader_other"])

    def test_not_a_host_process(self):
        """The renamed-copy trick on the host: the policy is for containers only."""
        pk = os.path.join(TMP, f"pk{fresh()}")
        shutil.copy("/usr/bin/dpkg", pk)
        t0 = now_ns()
        r = subprocess.run([pk, "--version"], capture_output=True, text=True)
        self.assertIn(DPKG_SAYS, r.stdout)
        sync(CTR["main"])
        self.assertEqual(procs(UBUNTU, t0, host=True), [])

    def drifted(self, cmd, path, decided, cid=None):
        t0 = now_ns()
        code, out, _ = attack(cid or CTR["main"], cmd)
        self.assertEqual(code, 0, out)
        hits = wait_procs(DRIFT, t0, cid or CTR["main"],
                          lambda a, p: p["execFilePath"] == path)
        self.assertIs(fact(*hits[0], "exeNotInImage"), True, hits[0][1])
        self.assertIn(fact(*hits[0], "decidedIn"), decided, hits[0][1])

    def test_drift_writable_layer_tmp(self):
        n = fresh()
        self.drifted(f"cp /bin/true /tmp/newbin{n} && /tmp/newbin{n}", f"/tmp/newbin{n}",
                     KERNEL)

    def test_drift_writable_layer_usr_local(self):
        n = fresh()
        self.drifted(f"cp /bin/true /usr/local/bin/newtool{n} && /usr/local/bin/newtool{n}",
                     f"/usr/local/bin/newtool{n}", KERNEL)

    def test_drift_tmpfs(self):
        n = fresh()
        self.drifted(f"cp /bin/true /scratch/newbin{n} && /scratch/newbin{n}",
                     f"/scratch/newbin{n}", KERNEL)

    def test_drift_volume(self):
        """A binary put into a volume (from the host) after the container started."""
        n = fresh()
        shutil.copy("/bin/true", os.path.join(TMP, "vol", f"newbin{n}"))
        self.drifted(f"/vol/newbin{n}", f"/vol/newbin{n}", USER)

    def test_drift_volume_then_cgroup_touched(self):
        """A binary put into a volume (made before the container) after the container
        started; then the container, privileged enough to mount its cgroup hierarchy, makes
        a child cgroup and chmods its own cgroup directory, which moves that directory's
        change time past the binary's; then vigil restarts (an upgrade) and reads the
        container's start afresh. Taken from that directory (as it once was), the start
        would call the binary older than the container: the start is the container's
        oldest process's, which nothing in the container can move."""
        global D
        vol = os.path.join(TMP, f"vol{fresh()}")
        os.makedirs(vol)
        touch = ("while [ ! -e /vol/go ]; do sleep 0.05; done; mkdir -p /mnt/cg && "
                 "mount -t cgroup2 none /mnt/cg && lvl=$(sed -n 's/^0:://p' /proc/self/cgroup)"
                 " && mkdir /mnt/cg$lvl/x && chmod 755 /mnt/cg$lvl; echo $? >/vol/done; "
                 "exec sleep infinity")
        cid = podman("run", "-d", "--privileged", "--network", "none", "-v", f"{vol}:/vol",
                     IMAGE, "bash", "-c", touch)
        CTR[f"cgroup_touched{cid}"] = cid  # removed with the module's containers
        n = fresh()
        binary = os.path.join(vol, f"newbin{n}")
        shutil.copy("/bin/true", binary)
        time.sleep(0.05)  # the directory's new change time comes after the binary's
        open(os.path.join(vol, "go"), "w").close()
        done = os.path.join(vol, "done")
        for _ in range(100):
            if os.path.exists(done) and os.path.getsize(done):
                break
            time.sleep(0.05)
        with open(done) as f:
            self.assertEqual(f.read().strip(), "0", "the container could not touch its cgroup")
        level = host_cgroup_dir(cid)
        self.addCleanup(os.rmdir, os.path.join(level, "x"))  # podman rm leaves it
        D.stop()
        D = Daemon(D.data, D.port)
        self.drifted(f"/vol/newbin{n}", f"/vol/newbin{n}", USER, cid)
        # stat()ed only now: reading a file's ctime may mark it queried, which the kernel
        # keeps in its ctime's nanoseconds on some filesystems (multigrain timestamps)
        self.assertGreater(os.stat(level).st_ctime_ns, os.stat(binary).st_ctime_ns,
                           "the container could not move its cgroup directory's ctime")

    def test_no_drift_for_image_binaries(self):
        """/usr/bin/dpkg and /bin/true as the image has them: no drift."""
        t0 = now_ns()
        attack(CTR["main"], "/bin/true && /usr/bin/dpkg --version")
        t_sync = sync(CTR["main"])
        hits = [p for _, p in procs(DRIFT, t0, CTR["main"], until_ns=t_sync)
                if p["execFilePath"] in ("/bin/true", "/usr/bin/true", "/usr/bin/dpkg")]
        self.assertEqual(hits, [])


class EnforceTest(unittest.TestCase):
    """The policy enforced with kill_process: every way dies, the container lives."""

    @classmethod
    def setUpClass(cls):
        out = policy_cmd("enforce", UBUNTU, "--action", "kill_process")
        assert "kill_process" in out, out

    @classmethod
    def tearDownClass(cls):
        policy_cmd("inform", UBUNTU)

    @staticmethod
    def said_how(way):
        return lambda a, p: (fact(a, p, "matchedBy") in WAYS[way][2]
                             and fact(a, p, "matchedName") == "dpkg")

    def killed_in_kernel(self, way, n=None):
        """Killed at exec: not one line of dpkg's output; the alert says in the kernel."""
        cid = CTR["hardlink" if way.startswith("hardlink") else "main"]
        t0 = now_ns()
        code, out, _ = attack(cid, way_cmd(way, n=n))
        self.assertEqual(code, 137, out)
        self.assertNotIn(WAYS[way][1], out)
        hits = wait_procs(UBUNTU, t0, cid, self.said_how(way))
        self.assertTrue(all(p["killedInKernel"] for _, p in hits), [p for _, p in hits])
        self.assertEqual(podman("inspect", "-f", "{{.State.Status}}", cid), "running")

    def killed_from_user_space(self, way, n=None, kernel_ok=False):
        """Killed while it runs (it would have read stdin for HOLD seconds)."""
        cid = CTR["hardlink" if way == "hardlink" else "main"]
        t0 = now_ns()
        code, out, lived = attack(cid, way_cmd(way, "--set-selections", n), HOLD)
        self.assertEqual(code, 137, out)
        self.assertLess(lived, HOLD, f"{way}: it ran to its end")
        hits = wait_procs(UBUNTU, t0, cid, self.said_how(way))
        if not kernel_ok:
            self.assertFalse(any(p["killedInKernel"] for _, p in hits), [p for _, p in hits])

    def test_comm(self):
        self.killed_in_kernel("comm")

    def test_exec_a(self):
        self.killed_in_kernel("exec_a")

    def test_symlink(self):
        self.killed_in_kernel("symlink")

    def test_script_interpreter(self):
        self.killed_in_kernel("script")

    def test_hard_link(self):
        """First run: the kernel may already know the inode (shared with the copied-up
        dpkg) or user space hashes it; a second run is known to the kernel."""
        n = fresh()
        self.killed_from_user_space("hardlink", n, kernel_ok=True)
        self.killed_in_kernel("hardlink_again", n)

    def test_renamed_copy(self):
        """The first run of a new file is identified by its hash in user space; the hash
        then reaches the kernel, which kills the second run at exec."""
        n = fresh()
        self.killed_from_user_space("copy", n)
        self.killed_in_kernel("copy_again", n)

    def test_loader(self):
        self.killed_from_user_space("loader")

    def test_memfd(self):
        self.killed_from_user_space("memfd")


def measure():
    """An attacker's tally for the current build: each way once, in inform."""
    start_all()
    try:
        policy_cmd("inform", UBUNTU)
        print("| way | caught | matchedBy | comm, exe, args |\n|---|---|---|---|")
        for way in (w for w in WAYS if not w.endswith("_again")):
            cid = CTR["hardlink" if way == "hardlink" else "main"]
            t0 = now_ns()
            hold = HOLD / 2 if way == "memfd" else 0
            _, out, _ = attack(cid, way_cmd(way, "--set-selections" if hold else "--version"),
                               hold)
            try:
                hits = wait_procs(UBUNTU, t0, cid, timeout=4)
                a, p = hits[0]
                print(f"| {way} | yes | {fact(a, p, 'matchedBy')} | {p['name']} {p['execFilePath']}"
                      f" {p['args']} |", flush=True)
            except AssertionError:
                print(f"| {way} | no | | |", flush=True)
    finally:
        stop_all()


if __name__ == "__main__":
    vigtest.require_bpf()
    if not shutil.which("podman"):
        vigtest.cannot_run("needs podman")
    if "--measure" in sys.argv:
        measure()
        sys.exit(0)
    vigtest.run_tests()
