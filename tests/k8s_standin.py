#!/usr/bin/env python3
"""A local HTTPS stand-in for the Kubernetes API server, for tests only.

No API server can run on these machines, so this implements just what vigil
calls (and what kubectl needs to talk to it), refusing what a real API server
refuses (as the Kubernetes API documents it): pod field selectors other than metadata.name,
metadata.namespace, spec.nodeName and status.phase (400); an Event whose
involvedObject.namespace is not the namespace it is posted in, or that has
no name nor generateName (422); non-JSON bodies (415); malformed JSON (400);
a DELETE whose uid precondition does not match (409). Every error is a
Status object. The test suite checks this stand-in with the real kubectl.

Changes are versioned as the API documents it ("Efficient detection of changes"): one
resourceVersion counter, bumped by every change and written into the object; lists carry
metadata.resourceVersion; ?watch=1 streams {"type", "object"} lines (chunked) of the changes
after the given resourceVersion (none or "0": the current objects as ADDED first), filtered
by fieldSelector, for timeoutSeconds; allowWatchBookmarks lets BOOKMARK events (an object
with only metadata.resourceVersion) through; a resourceVersion older than the history kept
gets an ERROR event whose object is a Status with code 410 (reason Expired), or an HTTP 410.
A restarted stand-in (the same --dir) has its objects and counter back, and no history.

With --rbac FILE, requests are authorized by the ClusterRole rules in FILE (as the
RBAC authorizer does: method, ?watch and the path give verb, API group and resource; GET
on a collection is list, with watch=1 watch, on an object get; DELETE delete; POST create);
a request they do not allow gets 403 Forbidden and is logged with "rbac": "forbidden".
Discovery paths (/version, /api, /apis...) are open, as system:discovery makes them.
Requests with --admin-token (the tester's kubectl) are not checked.

    k8s_standin.py --port P --token T --dir DIR [--rbac FILE --admin-token A]
Control (no auth): POST /_standin/pods (a Pod to serve, added or replaced; its namespace is
created if missing), DELETE /_standin/pods/NS/NAME, POST /_standin/namespaces (a Namespace,
e.g. with annotations), POST /_standin/objects (a ReplicaSet, Job, Deployment, CronJob or
StatefulSet, served under /apis), POST /_standin/faults ({"delete": [500, 500], "all": 403,
"namespaces": 403, "retry_after": 1}), POST /_standin/watches ({"close": true} ends every
watch now, {"close": true, "abrupt": true} drops their connections, {"bookmark": true} sends
a bookmark now, {"error": 504} ends every watch with an ERROR event of that code (as after an
etcd restore: "Too large resource version"), {"expire": true} forgets the history: a watch from an older resourceVersion
gets 410, as an HTTP status with "http": true), GET /_standin/log. Every request is appended
to DIR/requests.jsonl.
"""
import argparse
import copy
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import yaml

LOCK = threading.Lock()
CHANGED = threading.Condition(LOCK)
STATE = {"pods": {}, "namespaces": {}, "objects": {}, "events": [],
         "faults": {"delete": [], "all": None, "retry_after": None}, "log": [],
         "rv": 1, "history": [], "oldest": 1, "close": 0, "abrupt": False, "bookmark": 0,
         "gone_http": False}
HISTORY = 1000  # changes kept for watches
POD_FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}
GROUPS = {"ReplicaSet": ("apps", "replicasets"), "Deployment": ("apps", "deployments"),
          "StatefulSet": ("apps", "statefulsets"), "DaemonSet": ("apps", "daemonsets"),
          "Job": ("batch", "jobs"), "CronJob": ("batch", "cronjobs")}
RULES = None  # the ClusterRole rules, with --rbac


def status(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if details:
        st["details"] = details
    return code, st


def namespace(ns):
    ns.setdefault("kind", "Namespace")
    ns.setdefault("apiVersion", "v1")
    md = ns.setdefault("metadata", {})
    md.setdefault("uid", str(uuid.uuid4()))
    md.setdefault("labels", {"kubernetes.io/metadata.name": md["name"]})
    ns.setdefault("spec", {"finalizers": ["kubernetes"]})
    ns.setdefault("status", {"phase": "Active"})
    return ns


def field(pod, name):
    cur = pod
    for part in name.split("."):
        cur = cur.get(part, {}) if isinstance(cur, dict) else {}
    return cur if isinstance(cur, str) else ""


def save():
    """The objects and the counter, for a stand-in restarted on the same --dir (LOCK held)."""
    keep = {"pods": list(STATE["pods"].values()), "namespaces": list(STATE["namespaces"].values()),
            "objects": list(STATE["objects"].values()), "rv": STATE["rv"]}
    with open(os.path.join(ARGS.dir, "state.json.tmp"), "w") as f:
        json.dump(keep, f)
    os.replace(os.path.join(ARGS.dir, "state.json.tmp"), os.path.join(ARGS.dir, "state.json"))


def load():
    path = os.path.join(ARGS.dir, "state.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        st = json.load(f)
    for p in st["pods"]:
        STATE["pods"][(p["metadata"]["namespace"], p["metadata"]["name"])] = p
    for n in st["namespaces"]:
        STATE["namespaces"][n["metadata"]["name"]] = n
    for o in st["objects"]:
        STATE["objects"][object_key(o)] = o
    STATE["rv"] = STATE["oldest"] = st["rv"]  # no history survives a restart


def object_key(o):
    group, res = GROUPS[o["kind"]]
    return group, res, o["metadata"]["namespace"], o["metadata"]["name"]


def change(resource, kind, key, obj):
    """One change (LOCK held): kind ADDED, MODIFIED or DELETED; the store, the counter, the
    history watches read, and the watches woken."""
    table = STATE[resource]
    if kind == "DELETED":
        obj = table.pop(key)
    else:
        table[key] = obj
    STATE["rv"] += 1
    obj["metadata"]["resourceVersion"] = str(STATE["rv"])
    STATE["history"].append((STATE["rv"], resource, kind, copy.deepcopy(obj)))
    if len(STATE["history"]) > HISTORY:
        STATE["history"].pop(0)
        STATE["oldest"] = STATE["history"][0][0] - 1
    save()
    CHANGED.notify_all()
    return obj


def put(resource, key, obj):
    return change(resource, "MODIFIED" if key in STATE[resource] else "ADDED", key, obj)


def attributes(method, url):
    """(verb, group, resource, namespace) as the RBAC authorizer sees the request; None for a
    non-resource path (discovery)."""
    p = [x for x in url.path.split("/") if x]
    if p[:2] == ["api", "v1"]:
        group, rest = "", p[2:]
    elif len(p) >= 3 and p[0] == "apis":
        group, rest = p[1], p[3:]
    else:
        return None
    if not rest:
        return None
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource += "/" + rest[2]
    watch = parse_qs(url.query).get("watch", [""])[0] in ("1", "true")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
    if method == "GET":
        verb = "get" if name else "watch" if watch else "list"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    return verb, group, resource, ns


def allowed(verb, group, resource):
    return any((group in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
               and (resource in r.get("resources", []) or "*" in r.get("resources", []))
               and (verb in r.get("verbs", []) or "*" in r.get("verbs", [])) for r in RULES)


def load_rules(path):
    with open(path) as f:
        return [r for d in yaml.safe_load_all(f) if d and d.get("kind") == "ClusterRole"
                for r in d.get("rules", [])]


class Handler(BaseHTTPRequestHandler):
    def setup(self):
        self.request.settimeout(10)
        self.request.do_handshake()
        self.request.settimeout(None)
        super().setup()

    protocol_version = "HTTP/1.1"
    server_version = "k8s-standin"

    def log_message(self, *args):
        pass

    def send(self, code, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        url = urlparse(self.path)
        raw = self.body()
        entry = {"method": method, "path": url.path, "query": url.query,
                 "auth": self.headers.get("Authorization"),
                 "content_type": self.headers.get("Content-Type"),
                 "body": raw.decode(errors="replace"), "time": time.time()}
        if url.path.startswith("/_standin/"):
            return self.control(method, url.path, raw)
        refused = self.authorize(method, url, entry)
        with LOCK:
            STATE["log"].append(entry)
            with open(os.path.join(ARGS.dir, "requests.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        if self.headers.get("Authorization") not in (f"Bearer {ARGS.token}",
                                                      f"Bearer {ARGS.admin_token}"):
            return self.send(*status(401, "Unauthorized", "Unauthorized"))
        if refused:
            print(f"k8s-standin: RBAC refused {method} {self.path}: {refused[1]['message']}",
                  file=sys.stderr, flush=True)
            return self.send(*refused)
        fault = STATE["faults"]["all"]
        if fault:
            return self.send(*status(fault, "Forbidden" if fault == 403 else "InternalError",
                                     f"stand-in fault {fault}"))
        q = parse_qs(url.query)
        if method == "GET" and q.get("watch", [""])[0] in ("1", "true"):
            return self.watch(url, q)
        code, obj, hdr = self.route(method, url, raw)
        self.send(code, obj, hdr)

    def authorize(self, method, url, entry):
        """None when allowed, else the 403 to answer; entry gets what was decided."""
        attrs = attributes(method, url)
        if attrs:
            entry["verb"], entry["group"], entry["resource"], _ = attrs
        if RULES is None or not attrs or self.headers.get("Authorization") == \
                f"Bearer {ARGS.admin_token}":
            return None
        verb, group, resource, ns = attrs
        if allowed(verb, group, resource):
            entry["rbac"] = "allowed"
            return None
        entry["rbac"] = "forbidden"
        where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        return status(403, "Forbidden", f'{resource} is forbidden: User '
                      f'"system:serviceaccount:vigil:vigil" cannot {verb} resource "{resource}" '
                      f'in API group "{group}" {where}', {"kind": resource.split("/")[0]})

    def control(self, method, path, raw):
        with LOCK:
            if path == "/_standin/pods" and method == "POST":
                pod = json.loads(raw)
                pod.setdefault("kind", "Pod")
                pod.setdefault("apiVersion", "v1")
                ns = pod["metadata"]["namespace"]
                if ns not in STATE["namespaces"]:
                    change("namespaces", "ADDED", ns, namespace({"metadata": {"name": ns}}))
                return self.send(201, put("pods", (ns, pod["metadata"]["name"]), pod))
            if path.startswith("/_standin/pods/") and method == "DELETE":
                key = tuple(path.split("/")[3:5])
                if key not in STATE["pods"]:
                    return self.send(404, {})
                return self.send(200, change("pods", "DELETED", key, None))
            if path == "/_standin/namespaces" and method == "POST":
                ns = namespace(json.loads(raw))
                return self.send(201, put("namespaces", ns["metadata"]["name"], ns))
            if path == "/_standin/objects" and method == "POST":
                o = json.loads(raw)
                o["metadata"].setdefault("uid", str(uuid.uuid4()))
                return self.send(201, put("objects", object_key(o), o))
            if path == "/_standin/watches" and method == "POST":
                w = json.loads(raw)
                if w.get("close") or w.get("error"):
                    STATE["close"] += 1
                    STATE["abrupt"] = bool(w.get("abrupt"))
                    STATE["close_error"] = int(w.get("error") or 0)
                if w.get("bookmark"):
                    STATE["bookmark"] += 1
                if w.get("expire"):
                    STATE["history"].clear()
                    STATE["oldest"] = STATE["rv"]
                    STATE["gone_http"] = bool(w.get("http"))
                CHANGED.notify_all()
                return self.send(200, {"rv": STATE["rv"]})
            if path == "/_standin/faults" and method == "POST":
                STATE["faults"].update(json.loads(raw))
                return self.send(200, STATE["faults"])
            if path == "/_standin/log":
                return self.send(200, {"log": STATE["log"], "events": STATE["events"],
                                       "rv": STATE["rv"]})
        return self.send(404, {})

    def chunk(self, events):
        data = b"".join(json.dumps(ev).encode() + b"\n" for ev in events)
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def watch(self, url, q):
        """A watch of pods (all, or a namespace's) or namespaces, as the API streams it."""
        p = [x for x in url.path.split("/") if x]
        if p in (["api", "v1", "pods"], ["api", "v1", "namespaces"]):
            resource, ns = p[2], None
        elif len(p) == 5 and p[:3] == ["api", "v1", "namespaces"] and p[4] == "pods":
            resource, ns = "pods", p[3]
        else:
            return self.send(*status(404, "NotFound", "the server could not find the requested resource"))
        if resource == "namespaces" and STATE["faults"].get("namespaces"):
            return self.send(*status(403, "Forbidden", 'namespaces is forbidden: User '
                                     '"system:serviceaccount:vigil:vigil" cannot watch resource '
                                     '"namespaces" in API group "" at the cluster scope'))
        sels = []
        for sel in ",".join(q.get("fieldSelector", [])).split(","):
            if sel:
                k, _, v = sel.partition("=")
                if resource == "pods" and k not in POD_FIELDS:
                    return self.send(*status(400, "BadRequest", f"field label not supported: {k}"))
                sels.append((k, v))
        kind = {"pods": "Pod", "namespaces": "Namespace"}[resource]

        def match(o):
            return (ns is None or o["metadata"].get("namespace") == ns) and \
                all(field(o, k) == v for k, v in sels)
        rv = q.get("resourceVersion", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", [""])[0] in ("1", "true")
        deadline = time.time() + int(q.get("timeoutSeconds", ["1800"])[0])
        with LOCK:
            if rv not in ("", "0") and int(rv) < STATE["oldest"]:
                gone = status(410, "Expired", f"too old resource version: {rv} ({STATE['oldest']})")
                if STATE["gone_http"]:
                    return self.send(*gone)
                first, pos = [{"type": "ERROR", "object": gone[1]}], None
            elif rv in ("", "0"):  # "Start at most recent": the current objects first
                first = [{"type": "ADDED", "object": o} for o in STATE[resource].values() if match(o)]
                pos = STATE["rv"]
            else:
                first, pos = [], int(rv)
            marks = (STATE["close"], STATE["bookmark"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.chunk(first)
            while pos is not None:
                with LOCK:
                    while True:
                        out = [{"type": t, "object": o} for v, r, t, o in STATE["history"]
                               if v > pos and r == resource and match(o)]
                        left = deadline - time.time()
                        if out or (STATE["close"], STATE["bookmark"]) != marks or left <= 0:
                            break
                        CHANGED.wait(left)
                    pos = STATE["rv"]
                    if STATE["bookmark"] != marks[1] and bookmarks:
                        out.append({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": "v1",
                            "metadata": {"resourceVersion": str(pos)}}})
                    closed, abrupt = STATE["close"] != marks[0], STATE["abrupt"]
                    if closed and STATE.get("close_error"):  # e.g. 504: a version too large
                        out.append({"type": "ERROR", "object": status(
                            STATE["close_error"], "Timeout",
                            "Too large resource version")[1]})
                    marks = (STATE["close"], STATE["bookmark"])
                self.chunk(out)
                if closed and abrupt:  # the connection dropped: no end of the stream
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if closed or time.time() >= deadline:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def route(self, method, url, raw):
        p = url.path.rstrip("/").split("/")
        q = parse_qs(url.query)
        if url.path == "/version":
            return 200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2"}, None
        if url.path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}, None
        if url.path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
                for g in ("apps", "batch")]}, None
        if url.path == "/api/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "", "namespaced": True, "kind": "Pod",
                 "verbs": ["delete", "get", "list", "watch"], "shortNames": ["po"]},
                {"name": "events", "singularName": "", "namespaced": True, "kind": "Event",
                 "verbs": ["create", "get", "list"], "shortNames": ["ev"]},
                {"name": "namespaces", "singularName": "", "namespaced": False, "kind": "Namespace",
                 "verbs": ["get", "list", "watch"], "shortNames": ["ns"]}]}, None
        if url.path in ("/apis/apps/v1", "/apis/batch/v1"):
            g = p[2]
            return 200, {"kind": "APIResourceList", "groupVersion": f"{g}/v1", "resources": [
                {"name": res, "singularName": "", "namespaced": True, "kind": kind,
                 "verbs": ["get", "list"]} for kind, (gg, res) in GROUPS.items() if gg == g]}, None
        if method == "GET" and url.path == "/api/v1/pods":
            return self.list_pods(q, None)
        if url.path.startswith("/api/v1/namespaces") and len(p) <= 5 and STATE["faults"].get("namespaces"):
            return (*status(403, "Forbidden", 'namespaces is forbidden: User "system:serviceaccount:vigil:vigil" '
                            'cannot list resource "namespaces" in API group "" at the cluster scope'), None)
        if method == "GET" and url.path.rstrip("/") == "/api/v1/namespaces":
            with LOCK:
                items = list(STATE["namespaces"].values())
                rv = str(STATE["rv"])
            return 200, {"kind": "NamespaceList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": rv}, "items": items}, None
        if method == "GET" and len(p) == 8 and p[1] == "apis" and p[4] == "namespaces":
            o = STATE["objects"].get((p[2], p[6], p[5], p[7]))
            return (200, o, None) if o else \
                (*status(404, "NotFound", f'{p[6]}.{p[2]} "{p[7]}" not found'), None)
        if method == "GET" and len(p) == 5 and p[1:4] == ["api", "v1", "namespaces"]:
            ns = STATE["namespaces"].get(p[4])
            return (200, ns, None) if ns else (*status(404, "NotFound", f'namespaces "{p[4]}" not found'), None)
        if len(p) >= 6 and p[1:4] == ["api", "v1", "namespaces"]:
            ns, kind = p[4], p[5]
            name = p[6] if len(p) > 6 else None
            if kind == "pods":
                if method == "GET" and not name:
                    return self.list_pods(q, ns)
                if method == "GET":
                    pod = STATE["pods"].get((ns, name))
                    return (200, pod, None) if pod else (*status(404, "NotFound", f'pods "{name}" not found'), None)
                if method == "DELETE":
                    return self.delete_pod(ns, name, raw)
            if kind == "events":
                if method == "POST":
                    return self.post_event(ns, raw)
                if method == "GET":
                    items = [e for e in STATE["events"] if e["metadata"]["namespace"] == ns]
                    return 200, {"kind": "EventList", "apiVersion": "v1", "metadata": {},
                                 "items": items}, None
        return (*status(404, "NotFound", "the server could not find the requested resource"), None)

    def list_pods(self, q, ns):
        with LOCK:
            pods = [v for (pns, _), v in STATE["pods"].items() if ns is None or pns == ns]
            rv = str(STATE["rv"])
        for sel in ",".join(q.get("fieldSelector", [])).split(","):
            if not sel:
                continue
            k, _, v = sel.partition("=")
            if k not in POD_FIELDS:
                return (*status(400, "BadRequest", f"field label not supported: {k}"), None)
            pods = [x for x in pods if field(x, k) == v]
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv},
                     "items": pods}, None

    def delete_pod(self, ns, name, raw):
        with LOCK:
            faults = STATE["faults"]["delete"]
            if faults:
                code = faults.pop(0)
                hdr = {"Retry-After": str(STATE["faults"]["retry_after"])} \
                    if STATE["faults"]["retry_after"] else None
                return (*status(code, "TooManyRequests" if code == 429 else "InternalError",
                                f"stand-in fault {code}"), hdr)
        try:
            opts = json.loads(raw) if raw else {}
        except ValueError:
            return (*status(400, "BadRequest", "malformed DeleteOptions"), None)
        pod = STATE["pods"].get((ns, name))
        if not pod:
            return (*status(404, "NotFound", f'pods "{name}" not found'), None)
        want = (opts.get("preconditions") or {}).get("uid")
        if want and want != pod["metadata"]["uid"]:
            return (*status(409, "Conflict", "Precondition failed: UID in precondition: "
                            f"{want}, UID in object meta: {pod['metadata']['uid']}"), None)
        with LOCK:
            change("pods", "DELETED", (ns, name), None)
        return 200, pod, None

    def post_event(self, ns, raw):
        if "json" not in (self.headers.get("Content-Type") or ""):
            return (*status(415, "UnsupportedMediaType", "the body of the request was in an "
                            "unknown format"), None)
        try:
            ev = json.loads(raw)
        except ValueError as e:
            return (*status(400, "BadRequest", f"malformed JSON: {e}"), None)
        md = ev.setdefault("metadata", {})
        if (ev.get("involvedObject") or {}).get("namespace") != ns:
            return (*status(422, "Invalid", "involvedObject.namespace: Invalid value: does not "
                            "match event.namespace"), None)
        if not md.get("name") and not md.get("generateName"):
            return (*status(422, "Invalid", "metadata.name: Required value"), None)
        md.setdefault("name", md.get("generateName", "") + uuid.uuid4().hex[:5])
        md["namespace"] = ns
        with LOCK:
            STATE["events"].append(ev)
        return 201, ev, None

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PATCH(self):
        self.handle_any("PATCH")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rbac", help="authorize requests by the ClusterRole rules in this YAML")
    ap.add_argument("--admin-token", default=None, help="a token RBAC does not restrict")
    ARGS = ap.parse_args()
    if ARGS.rbac:
        global RULES
        RULES = load_rules(ARGS.rbac)
    load()
    cert, key = os.path.join(ARGS.dir, "cert.pem"), os.path.join(ARGS.dir, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
    ThreadingHTTPServer.allow_reuse_address = True  # restarted on the same port
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.handle_error = lambda *a: None  # a client gone mid-watch
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    # as an API server, each connection's TLS handshake in its own thread: one client that
    # stalls its handshake must not stop the others (accept() would do it in the server's)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
