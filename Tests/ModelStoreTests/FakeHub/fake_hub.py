#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub on 127.0.0.1, for the pull tests (standard library only).

Serves one model folder the way huggingface.co does:
  HEAD/GET /{repo}/resolve/{main|commit}/{file}
    small files: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length
    LFS files (*.safetensors, *.bin): 302 to /cdn/<sha256> with X-Linked-Etag "<sha256>", X-Linked-Size, X-Repo-Commit
    missing files: 404 with X-Error-Code: EntryNotFound
  /{old-repo}/resolve/...  307 with a relative Location to the new name (--rename OLD)
  GET /cdn/<sha256> with Range: bytes=N-  ->  206 + Content-Range (the CDN needs no token)
Faults for the tests: --token T (401 without "Authorization: Bearer T"), --interrupt FILE:N (the first download of
FILE stops after N bytes and the connection is closed), --corrupt FILE (FILE is served, by the CDN or the hub, with one byte flipped).

Prints the port on the first line of stdout; logs one JSON line per request to --log. Bounded: it exits after
--lifetime seconds, or as soon as its standard input is closed (the test that started it is gone).
"""
import argparse, hashlib, http.server, json, os, sys, threading

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--repo", required=True)
parser.add_argument("--commit", default="0123456789abcdef0123456789abcdef01234567")
parser.add_argument("--token")
parser.add_argument("--rename")
parser.add_argument("--interrupt")
parser.add_argument("--corrupt")
parser.add_argument("--cdn-host", default="127.0.0.1", help="host name used in CDN redirects (localhost tests token stripping)")
parser.add_argument("--log", required=True)
parser.add_argument("--lifetime", type=float, default=120)
args = parser.parse_args()

files = {}
for name in sorted(os.listdir(args.model)):
    path = os.path.join(args.model, name)
    if os.path.isfile(path):
        data = open(path, "rb").read()
        lfs = name.endswith(".safetensors") or name.endswith(".bin")
        files[name] = {
            "data": data,
            "lfs": lfs,
            "sha256": hashlib.sha256(data).hexdigest(),
            "etag": hashlib.sha256(data).hexdigest() if lfs else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
        }
by_sha = {f["sha256"]: (name, f) for name, f in files.items() if f["lfs"]}
interrupt_file, interrupt_at = (args.interrupt.split(":")[0], int(args.interrupt.split(":")[1])) if args.interrupt else (None, 0)
interrupted = set()
log_lock = threading.Lock()


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, status):
        with log_lock, open(args.log, "a") as log:
            log.write(json.dumps({"method": self.command, "path": self.path, "status": status,
                                  "range": self.headers.get("Range"), "auth": self.headers.get("Authorization"),
                                  "host": self.headers.get("Host")}) + "\n")

    def reply(self, status, headers, body=b""):
        self.record(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        path = self.path.split("?")[0]
        if path.startswith("/cdn/"):
            return self.cdn(path[len("/cdn/"):])
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self.reply(404, {"X-Error-Code": "RepoNotFound"})
        repo, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if args.rename and repo == args.rename:
            return self.reply(307, {"Location": "/%s/resolve/%s/%s" % (args.repo, revision, name)})
        if repo != args.repo:
            return self.reply(401, {"X-Error-Code": "RepoNotFound"})
        if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
            return self.reply(401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Invalid credentials"})
        if revision not in ("main", args.commit):
            return self.reply(404, {"X-Error-Code": "RevisionNotFound"})
        f = files.get(name)
        if f is None:
            return self.reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": args.commit})
        common = {"X-Repo-Commit": args.commit, "Accept-Ranges": "bytes"}
        if f["lfs"]:
            host = "%s:%d" % (args.cdn_host, self.server.server_port)
            return self.reply(302, dict(common, **{
                "Location": "http://%s/cdn/%s?signature=xyz" % (host, f["sha256"]),
                "X-Linked-Etag": '"%s"' % f["etag"], "X-Linked-Size": str(len(f["data"])), "ETag": '"%s"' % f["etag"][:20]}))
        data = f["data"]
        if args.corrupt == name:
            data = data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]
        return self.reply(200, dict(common, **{"ETag": '"%s"' % f["etag"], "Content-Type": "text/plain"}), data)

    def cdn(self, sha):
        if sha not in by_sha:
            return self.reply(404, {})
        name, f = by_sha[sha]
        data = f["data"]
        if args.corrupt == name:
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        header = self.headers.get("Range")
        if header:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(data):
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)})
        if self.command == "GET" and name == interrupt_file and name not in interrupted and start == 0:
            interrupted.add(name)
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:interrupt_at])
            self.wfile.flush()
            self.close_connection = True
            return
        if header:
            return self.reply(206, {"Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data))}, data[start:])
        return self.reply(200, {"ETag": '"%s"' % sha}, data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
server.daemon_threads = True


def watch_stdin():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


threading.Thread(target=watch_stdin, daemon=True).start()
threading.Timer(args.lifetime, lambda: os._exit(0)).start()
print(server.server_address[1], flush=True)
server.serve_forever()
