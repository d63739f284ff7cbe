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

    k8s_standin.py --port P --token T --dir DIR
Control (no auth): POST /_standin/pods (a Pod to serve; its namespace is created
if missing), POST /_standin/namespaces (a Namespace, e.g. with annotations), POST /_standin/faults
({"delete": [500, 500], "all": 403, "namespaces": 403, "retry_after": 1}), GET /_standin/log.
Every request is appended to DIR/requests.jsonl.
"""
import argparse
import json
import os
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE = {"pods": {}, "namespaces": {}, "events": [], "faults": {"delete": [], "all": None, "retry_after": None},
         "log": []}
POD_FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


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


class Handler(BaseHTTPRequestHandler):
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
        with LOCK:
            STATE["log"].append(entry)
            with open(os.path.join(ARGS.dir, "requests.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        if self.headers.get("Authorization") != f"Bearer {ARGS.token}":
            return self.send(*status(401, "Unauthorized", "Unauthorized"))
        fault = STATE["faults"]["all"]
        if fault:
            return self.send(*status(fault, "Forbidden" if fault == 403 else "InternalError",
                                     f"stand-in fault {fault}"))
        code, obj, hdr = self.route(method, url, raw)
        self.send(code, obj, hdr)

    def control(self, method, path, raw):
        with LOCK:
            if path == "/_standin/pods" and method == "POST":
                pod = json.loads(raw)
                pod.setdefault("kind", "Pod")
                pod.setdefault("apiVersion", "v1")
                STATE["pods"][(pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod
                STATE["namespaces"].setdefault(pod["metadata"]["namespace"], namespace(
                    {"metadata": {"name": pod["metadata"]["namespace"]}}))
                return self.send(201, pod)
            if path == "/_standin/namespaces" and method == "POST":
                ns = namespace(json.loads(raw))
                STATE["namespaces"][ns["metadata"]["name"]] = ns
                return self.send(201, ns)
            if path == "/_standin/faults" and method == "POST":
                STATE["faults"].update(json.loads(raw))
                return self.send(200, STATE["faults"])
            if path == "/_standin/log":
                return self.send(200, {"log": STATE["log"], "events": STATE["events"]})
        return self.send(404, {})

    def route(self, method, url, raw):
        p = url.path.rstrip("/").split("/")
        q = parse_qs(url.query)
        if url.path == "/version":
            return 200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2"}, None
        if url.path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}, None
        if url.path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}, None
        if url.path == "/api/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "", "namespaced": True, "kind": "Pod",
                 "verbs": ["delete", "get", "list"], "shortNames": ["po"]},
                {"name": "events", "singularName": "", "namespaced": True, "kind": "Event",
                 "verbs": ["create", "get", "list"], "shortNames": ["ev"]},
                {"name": "namespaces", "singularName": "", "namespaced": False, "kind": "Namespace",
                 "verbs": ["get", "list"], "shortNames": ["ns"]}]}, None
        if method == "GET" and url.path == "/api/v1/pods":
            return self.list_pods(q, None)
        if url.path.startswith("/api/v1/namespaces") and len(p) <= 5 and STATE["faults"].get("namespaces"):
            return (*status(403, "Forbidden", 'namespaces is forbidden: User "system:serviceaccount:vigil:vigil" '
                            'cannot list resource "namespaces" in API group "" at the cluster scope'), None)
        if method == "GET" and url.path.rstrip("/") == "/api/v1/namespaces":
            with LOCK:
                items = list(STATE["namespaces"].values())
            return 200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                         "items": items}, None
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
        return (*status(404, "NotFound", f"the server could not find the requested resource"), None)

    def list_pods(self, q, ns):
        pods = [v for (pns, _), v in STATE["pods"].items() if ns is None or pns == ns]
        for sel in ",".join(q.get("fieldSelector", [])).split(","):
            if not sel:
                continue
            k, _, v = sel.partition("=")
            if k not in POD_FIELDS:
                return (*status(400, "BadRequest", f"field label not supported: {k}"), None)
            pods = [x for x in pods if field(x, k) == v]
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods}, None

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
        del STATE["pods"][(ns, name)]
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
    ARGS = ap.parse_args()
    cert, key = os.path.join(ARGS.dir, "cert.pem"), os.path.join(ARGS.dir, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
