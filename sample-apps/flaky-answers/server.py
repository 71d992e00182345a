"""flaky-answers sample: right answers that differ from one run to the next.

    GET  /        an index linking /status and /stats
    GET  /status  the status file, rewritten every second: {"time", "uptime_s", "ok", "pid"}
    POST /add     counter += 1 (optional body: an integer step); answers the new value
    GET  /stats   {"count": N, "adds": M, "started": ISO time}
"""
import datetime
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS_DIR = os.environ.get("STATUS_DIR", "/var/lib/flaky")
STATUS_FILE = os.path.join(STATUS_DIR, "status.json")
STARTED = time.time()
LOCK = threading.Lock()
STATE = {"count": 0, "adds": 0}


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def write_status() -> None:
    status = {"ok": True, "time": now_iso(), "uptime_s": round(time.time() - STARTED, 3),
              "pid": os.getpid()}
    temporary = STATUS_FILE + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
        handle.write("\n")
    os.replace(temporary, STATUS_FILE)


def status_writer() -> None:
    while True:
        time.sleep(1.0)
        write_status()


class Handler(BaseHTTPRequestHandler):
    server_version = "flaky-answers/1.0"

    def reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, payload, status: int = 200) -> None:
        self.reply(status, (json.dumps(payload, sort_keys=True) + "\n").encode())

    def do_GET(self):
        if self.path == "/":
            self.reply(200, b'<!doctype html><html><head><title>flaky-answers sample</title></head>'
                            b'<body><h1>flaky-answers sample</h1><ul>'
                            b'<li><a href="/status">status</a></li>'
                            b'<li><a href="/stats">stats</a></li></ul></body></html>\n',
                       "text/html; charset=utf-8")
        elif self.path == "/status":
            with open(STATUS_FILE, "rb") as handle:
                self.reply(200, handle.read())
        elif self.path == "/stats":
            with LOCK:
                payload = dict(STATE)
            payload["started"] = datetime.datetime.fromtimestamp(
                STARTED, datetime.timezone.utc).isoformat(timespec="seconds")
            self.reply_json(payload)
        else:
            self.reply_json({"error": "not found"}, 404)

    def do_POST(self):
        if self.path != "/add":
            self.reply_json({"error": "not found"}, 404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).strip() if length else b""
        try:
            step = int(raw) if raw else 1
        except ValueError:
            self.reply_json({"error": "the body must be an integer step"}, 400)
            return
        with LOCK:
            STATE["count"] += step
            STATE["adds"] += 1
            payload = dict(STATE)
        self.reply_json(payload)


if __name__ == "__main__":
    os.makedirs(STATUS_DIR, exist_ok=True)
    write_status()
    threading.Thread(target=status_writer, daemon=True).start()
    print("flaky-answers listening on 8080", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
