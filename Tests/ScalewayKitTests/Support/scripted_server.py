#!/usr/bin/env python3
"""A scripted HTTP(S) server for the ScalewayKit transport and policy tests.

    scripted_server.py PORT PLAN.json LOG.jsonl [CERT.pem KEY.pem]

PLAN.json:
  {"routes": [{"method": "GET", "path": "/x", "query": "page=2" (optional, exact),
               "responses": [{"status": 429, "headers": {"X-Envoy-Ratelimited": "true"},
                              "body": "" | {...json...}, "delay": 0.0}, ...]}],
   "objects": {"/bucket/key": {"size": N, "seed": S, "drop_after": [bytes, ...],
                               "slow": false, "ignore_range": false}}}

Route responses are served in order; the last one repeats. An object serves
byte i = (i * 31 + seed) % 251, honours Range (206 + Content-Range) unless
ignore_range, and for the k-th GET with drop_after[k] defined, sends the
headers and that many body bytes, waits until the client acknowledged them,
then resets the connection. "slow" sends
one byte every 0.2 s and logs {"method": "DISCONNECTED", "headers": {"time"}}
when the client goes away. Every request is appended to LOG.jsonl as
{"method", "path", "query", "headers", "body"}.
"""
import fcntl
import json
import socket
import ssl
import struct
import sys
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PORT, PLAN_PATH, LOG_PATH = int(sys.argv[1]), sys.argv[2], sys.argv[3]
PLAN = json.load(open(PLAN_PATH))
LOCK = threading.Lock()
COUNTERS = {}


PERIODS = {}


def wait_until_acknowledged(sock, timeout=30.0):
    """Waits until the client's kernel has acknowledged every byte written.

    An abortive close (the RST below) discards whatever still sits in this
    socket's send queue, so without this wait the number of body bytes the
    client gets before the reset would depend on how fast it reads (a client
    under ThreadSanitizer got fewer than drop_after). Bytes the client's
    kernel acknowledged are delivered to it before the reset's error. The
    kernel has no event for an empty send queue: SIOCOUTQ (TIOCOUTQ) is
    polled, bounded by `timeout`, after which the reset goes out anyway."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
        if queued == 0:
            return
        time.sleep(0.001)


def content(seed, start, end):
    """Bytes start..<end of the object with `seed` (the pattern repeats every 251 bytes)."""
    period = PERIODS.get(seed)
    if period is None:
        period = PERIODS[seed] = bytes(((i * 31 + seed) % 251) for i in range(251)) * 4200
    out = bytearray()
    position = start
    while position < end:
        offset = position % 251
        take = min(end - position, len(period) - offset)
        out += period[offset:offset + take]
        position += take
    return bytes(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with LOCK:
            with open(LOG_PATH, "a") as log:
                log.write(json.dumps({"method": self.command, "path": parts.path, "query": parts.query,
                                      "headers": dict(self.headers.items()),
                                      "body": body.decode("utf-8", "replace")}) + "\n")
        obj = PLAN.get("objects", {}).get(parts.path)
        if obj is not None and self.command in ("GET", "HEAD"):
            return self.serve_object(parts.path, obj)
        for index, route in enumerate(PLAN.get("routes", [])):
            if route["method"] == self.command and route["path"] == parts.path and \
                    ("query" not in route or route["query"] == parts.query):
                with LOCK:
                    n = COUNTERS.get(index, 0)
                    COUNTERS[index] = n + 1
                responses = route["responses"]
                return self.send(responses[min(n, len(responses) - 1)])
        self.send({"status": 404, "body": {"type": "not_found", "message": "no route " + parts.path}})

    def send(self, response):
        if response.get("delay"):
            time.sleep(response["delay"])
        body = response.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        data = body.encode("utf-8")
        self.send_response(response["status"])
        headers = response.get("headers", {})
        for name, value in headers.items():
            self.send_header(name, value)
        if data and "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "req-%d" % int(time.time() * 1e6))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def serve_object(self, path, obj):
        size, seed = obj["size"], obj.get("seed", 0)
        start, end, status = 0, size, 200
        rng = self.headers.get("Range")
        if rng and not obj.get("ignore_range"):
            first, _, last = rng[len("bytes="):].partition("-")
            start = int(first)
            end = min(size, int(last) + 1) if last else size
            status = 206
        if self.command == "GET":
            with LOCK:
                k = COUNTERS.get(path, 0)
                COUNTERS[path] = k + 1
        drops = obj.get("drop_after", [])
        drop = drops[k] if self.command == "GET" and k < len(drops) else None
        self.send_response(status)
        self.send_header("Content-Length", str(end - start))
        self.send_header("ETag", '"etag-%d"' % seed)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/x-qemu-disk")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        if drop is not None:
            self.wfile.write(content(seed, start, min(end, start + drop)))
            self.wfile.flush()
            wait_until_acknowledged(self.connection)
            # RST instead of FIN: the client sees a reset mid-body.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if obj.get("slow"):
            try:
                for i in range(start, end):
                    self.wfile.write(content(seed, i, i + 1))
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                # The client went away: log when, for the cancellation test.
                with LOCK:
                    with open(LOG_PATH, "a") as log:
                        log.write(json.dumps({"method": "DISCONNECTED", "path": path, "query": "",
                                              "headers": {"time": repr(time.time())}, "body": ""}) + "\n")
                self.close_connection = True
            return
        position = start
        while position < end:
            chunk = min(end, position + (1 << 20))
            self.wfile.write(content(seed, position, chunk))
            position = chunk

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
if len(sys.argv) > 5:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
