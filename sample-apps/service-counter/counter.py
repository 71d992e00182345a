"""service-counter: a counter kept in Redis, behind a token.

    APP_TOKEN   required: the service exits 1 without it; every request must send
                it in the X-Token header (401 otherwise)
    REDIS_HOST  where Redis answers (default "cache"), REDIS_PORT (default 6379)

    GET  /                      {"service": "service-counter", "redis": "PONG"}
    POST /hit?name=NAME         increments counter NAME (default "hits"), {"name": .., "count": N}
    GET  /count?name=NAME       {"name": .., "count": N}, 0 for a counter never hit
"""
import hmac
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import redis

TOKEN = os.environ.get("APP_TOKEN", "")
if not TOKEN:
    print("service-counter: APP_TOKEN is not set; refusing to start "
          "(run it with -e APP_TOKEN=...)", file=sys.stderr)
    sys.exit(1)
REDIS_HOST = os.environ.get("REDIS_HOST", "cache")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
PORT = 8080
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

store = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=3, socket_connect_timeout=3)


class Handler(BaseHTTPRequestHandler):
    server_version = "service-counter/1.0"

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def handle_request(self, method):
        url = urlsplit(self.path)
        if not hmac.compare_digest(self.headers.get("X-Token", "").encode(), TOKEN.encode()):
            return self.reply(401, {"error": "missing or wrong X-Token header"})
        name = parse_qs(url.query).get("name", ["hits"])[0]
        if not NAME.fullmatch(name):
            return self.reply(400, {"error": "a counter name is 1-64 letters, digits, _ . -"})
        routes = {("GET", "/"): self.index, ("POST", "/hit"): self.hit, ("GET", "/count"): self.count}
        route = routes.get((method, url.path))
        if route is None:
            return self.reply(404 if url.path not in ("/", "/hit", "/count") else 405,
                              {"error": f"no route for {method} {url.path}"})
        try:
            self.reply(200, route(name))
        except redis.RedisError as exc:
            self.reply(503, {"error": f"redis at {REDIS_HOST}:{REDIS_PORT}: {exc}"})

    def index(self, _name):
        return {"service": "service-counter", "redis": "PONG" if store.ping() else "?"}

    def hit(self, name):
        return {"name": name, "count": store.incr(f"counter:{name}")}

    def count(self, name):
        return {"name": name, "count": int(store.get(f"counter:{name}") or 0)}

    def reply(self, status, document):
        body = json.dumps(document, sort_keys=True).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"service-counter: {self.address_string()} {fmt % args}", file=sys.stderr)


if __name__ == "__main__":
    print(f"service-counter: listening on :{PORT}, redis at {REDIS_HOST}:{REDIS_PORT}", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
