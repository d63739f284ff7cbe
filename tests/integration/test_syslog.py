#!/usr/bin/env python3
"""The syslog notifier against a real Debian rsyslog started by the test on
private ports: RFC 5424 with octet-counting framing over TCP, over TLS
(rsyslog's gnutls driver, a test CA) and over UDP, with a CEF body. rsyslog
parses each message into pri, app-name, msgid, structured data and msg; the
test checks each field. Also: a violation in a real container reaches rsyslog
through the daemon, a receiver that is down is retried and then delivered, a
certificate from the wrong CA is refused, a bad address is an error at start."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import vigtest  # noqa: E402
from vigtest import IMAGE, podman  # noqa: E402
from test_daemon import Daemon  # noqa: E402

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_port():
    return vigtest.free_port()


class Rsyslog:
    """rsyslogd -n with a private config: imtcp (plain), imtcp over gtls, imudp."""

    def __init__(self, d, tls):
        self.dir = d
        self.tcp, self.tls, self.udp = free_port(), free_port() + 1, free_port() + 2
        self.log = os.path.join(d, "got.log")
        tmpl = ('template(name="f" type="string" string="pri=%pri% app=%app-name% host=%hostname% '
                'msgid=%msgid% sd=%structured-data% msg=%msg%\\n")')
        conf = f'''global(workDirectory="{d}" DefaultNetstreamDriverCAFile="{tls['ca']}"
       DefaultNetstreamDriverCertFile="{tls['cert']}" DefaultNetstreamDriverKeyFile="{tls['key']}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
module(load="imudp")
{tmpl}
input(type="imtcp" port="{self.tls}" ruleset="r")
input(type="imtcp" port="{self.tcp}" ruleset="r" StreamDriver.Name="ptcp" StreamDriver.Mode="0")
input(type="imudp" port="{self.udp}" ruleset="r")
ruleset(name="r") {{ action(type="omfile" file="{self.log}" template="f") }}
'''
        self.conf = os.path.join(d, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        r = subprocess.run([RSYSLOGD, "-N1", "-f", self.conf], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("rsyslog config: " + r.stderr + r.stdout)
        self.start()

    def start(self):
        self.p = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.dir, "pid")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):  # listening?
            ss = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            if f":{self.tcp} " in ss and f":{self.tls} " in ss:
                return
            time.sleep(0.05)
        raise RuntimeError("rsyslogd did not start listening")

    def stop(self):
        self.p.terminate()
        self.p.wait(10)

    def lines(self, n, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                with open(self.log) as f:
                    got = f.read().splitlines()
                if len(got) >= n:
                    return got
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"rsyslog got fewer than {n} messages in {timeout}s")


def make_ca(d, name):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    ca, cakey = os.path.join(d, name + "-ca.pem"), os.path.join(d, name + "-ca.key")
    cert, key = os.path.join(d, name + "-srv.pem"), os.path.join(d, name + "-srv.key")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vigil test CA",
        "-keyout", cakey, "-out", ca)
    csr = os.path.join(d, name + ".csr")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial", "-days", "2",
        "-extfile", ext, "-out", cert)
    return {"ca": ca, "cert": cert, "key": key}


def fields(line):
    """'pri=134 app=vigil ... msg=CEF:0|...' -> dict of the template's fields, msg last."""
    head, msg = line.split(" msg=", 1)
    out = {"msg": msg}
    head, sd = head.split(" sd=", 1)
    out["sd"] = sd
    for kv in head.split(" "):
        k, v = kv.split("=", 1)
        out[k] = v
    return out


def cef(msg):
    assert msg.startswith("CEF:0|"), msg
    parts = msg.split("|", 7)
    ext = {}
    key = None
    for tok in parts[7].split(" "):  # values here contain no '=' followed by space issues
        if "=" in tok and not tok.split("=", 1)[0].endswith("\\"):
            key, v = tok.split("=", 1)
            ext[key] = v
        elif key:
            ext[key] += " " + tok
    return parts[:7], ext


class SyslogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(RSYSLOGD):
            raise unittest.SkipTest("SKIPPED: rsyslogd is not installed (scripts/deps.sh installs rsyslog)")
        vigtest.prepare_image()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-syslog-")
        cls.tls = make_ca(cls.tmp, "good")
        cls.other = make_ca(cls.tmp, "other")

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="vigil-syslog-")
        self.rs = Rsyslog(self.data, self.tls)
        self.port = vigtest.free_port()
        self.d = None
        self.cid = None

    def tearDown(self):
        if self.d:
            self.d.stop(signal.SIGKILL)
        self.rs.stop()
        if self.cid:
            subprocess.run(["podman", "rm", "-f", "-t", "0", self.cid], capture_output=True)

    def config(self, extra=""):
        conf = os.path.join(self.data, "vigil.conf.lua")
        with open(conf, "w") as f:
            f.write(f'''return {{
  api = {{ listen = "127.0.0.1:{self.port}" }},
  notifiers = {{
    siem = {{ type = "syslog", address = "tcp://127.0.0.1:{self.rs.tcp}", hostname = "node-1",
              cluster = "lab", retry_ms = 100 }},
    siem_tls = {{ type = "syslog", address = "tls://127.0.0.1:{self.rs.tls}", ca_file = "{self.tls['ca']}",
                  facility = "auth", retry_ms = 100 }},
    siem_udp = {{ type = "syslog", address = "udp://127.0.0.1:{self.rs.udp}", hostname = "node-1" }},
    wrong_ca = {{ type = "syslog", address = "tls://127.0.0.1:{self.rs.tls}", ca_file = "{self.other['ca']}",
                  max_attempts = 1 }},
    {extra}
  }},
  default_notifiers = {{ "siem", "siem_tls" }},
}}
''')
        return conf

    def cli(self, conf, *a):
        return subprocess.run([vigtest.VIGIL, "notifiers", *a, "--config", conf, "--data-dir", self.data],
                              capture_output=True, text=True, timeout=60)

    def test_tcp_tls_udp_fields(self):
        conf = self.config()
        for i, name in enumerate(["siem", "siem_tls", "siem_udp"]):
            r = self.cli(conf, "test", name)
            self.assertEqual(r.returncode, 0, name + ": " + r.stdout + r.stderr)
            self.assertIn(f"{name}: accepted", r.stdout)
            got = self.rs.lines(i + 1)
        msgs = [fields(x) for x in got]
        tcp, tls, udp = msgs
        # RFC 5424 header: local0 (16) * 8 + severity; the test alert is low -> notice (5)
        self.assertEqual((tcp["pri"], tcp["app"], tcp["host"], tcp["msgid"]), ("133", "vigil", "node-1", "created"))
        self.assertEqual(tls["pri"], str(4 * 8 + 5))  # facility auth
        self.assertEqual(udp["pri"], "133")
        self.assertRegex(tcp["sd"], r'^\[vigil@32473 alertId="[^"]+" policy="vigil test notification" '
                                    r'severity="low" state="[A-Z]+"\]$')
        head, ext = cef(tcp["msg"])
        self.assertEqual(head[:3], ["CEF:0", "vigil", "vigil"])
        self.assertEqual(head[5], "vigil test notification")
        self.assertEqual(head[6], "3")  # CEF severity for low
        self.assertEqual(ext["cs6Label"], "cluster")
        self.assertEqual(ext["cs6"], "lab")
        self.assertEqual(ext["dvchost"], "node-1")
        self.assertRegex(ext["rt"], r"^\d{13}$")
        self.assertLess(abs(int(ext["rt"]) / 1000 - time.time()), 600)
        self.assertIn("externalId", ext)

    def test_wrong_ca_and_down_receiver(self):
        conf = self.config()
        r = self.cli(conf, "test", "wrong_ca")
        self.assertEqual(r.returncode, 1)
        self.assertIn("TLS", r.stdout)
        self.assertIn("certificate verify failed", r.stdout)
        self.rs.stop()
        r = self.cli(conf, "test", "siem")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Connection refused", r.stdout)
        self.rs.start()

    def test_bad_address(self):
        for extra, msg in [
            ('x = { type = "syslog", address = "127.0.0.1:514" }', "use tcp://HOST:PORT"),
            ('x = { type = "syslog", address = "tcp://127.0.0.1:99999" }', "port must be from 1 to 65535"),
            ('x = { type = "syslog", address = "tcp://h:1", facility = "bogus" }', "not a syslog facility"),
        ]:
            conf = self.config(extra)
            r = subprocess.run([vigtest.VIGIL, "run", "--config", conf, "--data-dir", self.data + "-b"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, extra)
            self.assertIn("notifiers.x: address" if "address" in msg or "port" in msg else "notifiers.x:",
                          r.stderr)
            self.assertIn(msg, r.stderr)

    def test_daemon_container_violation_and_outage(self):
        pod = str(uuid.uuid4())
        self.cid = podman("run", "-d", "--network", "none", "--cgroup-parent",
                          f"/kubepods/besteffort/pod{pod}", IMAGE, "sleep", "infinity")
        conf = self.config()
        self.d = Daemon(self.data, self.port, "--config", conf)
        podman("exec", self.cid, "/usr/bin/dpkg", "--version")
        got = [fields(x) for x in self.rs.lines(2)]
        self.assertEqual({g["msgid"] for g in got}, {"created"})
        for g in got:
            _, ext = cef(g["msg"])
            self.assertEqual(ext["sproc"], "/usr/bin/dpkg")
            self.assertEqual(ext["cs5"], "--version")
            self.assertEqual(ext["cs4Label"], "containerId")
            self.assertTrue(self.cid.startswith(ext["cs4"]) or ext["cs4"].startswith(self.cid[:12]))
            self.assertIn("Ubuntu Package Manager Execution", g["msg"])
        # rsyslog goes down: the next alert waits in the outbox and arrives when it is back
        self.rs.stop()
        os.unlink(self.rs.log)
        podman("exec", self.cid, "/usr/bin/apt-get", "--version")
        time.sleep(1.0)
        self.rs.start()
        got = self.rs.lines(2, timeout=20)
        self.assertTrue(all("apt-get" in g for g in got), got)

    def test_tls_errors_in_words(self):
        """A TLS failure says what failed, the cause and the fix, in the webhook's words."""
        import socket
        import ssl
        import threading

        def serve(tls_cert):
            """A listener that answers one connection: a TLS server with tls_cert, or plain text."""
            lsock = socket.socket()
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)

            def run():
                conn, _ = lsock.accept()
                try:
                    if tls_cert:
                        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                        ctx.load_cert_chain(*tls_cert)
                        ctx.wrap_socket(conn, server_side=True)
                    else:
                        conn.recv(4096)
                        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS\n" * 4)
                        time.sleep(1)
                except (OSError, ssl.SSLError):
                    pass
                conn.close()
                lsock.close()

            threading.Thread(target=run, daemon=True).start()
            return lsock.getsockname()[1]

        # the other CA's own certificate is self-signed: a receiver with it is not trusted
        selfsigned = (self.other["ca"], self.other["ca"][:-len("-ca.pem")] + "-ca.key")
        cases = [
            (f"tls://127.0.0.1:{serve(selfsigned)}",
             "TLS certificate verify failed: self-signed certificate (trust the receiver's CA "
             "with ca_file, or set insecure = true)"),
            (f"tls://127.0.0.1:{serve(None)}",
             "TLS handshake failed: wrong version number (does the receiver speak TLS on this port?)"),
        ]
        for addr, words in cases:
            conf = self.config(f'x = {{ type = "syslog", address = "{addr}", max_attempts = 1 }},')
            r = self.cli(conf, "test", "x")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(words, r.stdout)
            self.assertNotIn("error:0A", r.stdout)
        r = self.cli(self.config(), "test", "wrong_ca")
        self.assertIn("TLS certificate verify failed: unable to get local issuer certificate (trust "
                      "the receiver's CA with ca_file, or set insecure = true)", r.stdout)


if __name__ == "__main__":
    vigtest.require_bpf()
    vigtest.run_tests()
