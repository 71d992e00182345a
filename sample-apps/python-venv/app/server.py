"""python-venv sample: a stdlib HTTP server whose handlers import lazily.

Only `/` is reached by a default probe (GET / and a crawl of its links; it links
nowhere). The other handlers import what they need when they run:
  /yaml      the venv's third-party PyYAML and its C extension (libyaml)
  /db        sqlite3 (a stdlib package backed by _sqlite3 and libsqlite3)
  /resource  importlib.resources on this app's own package (venvapp)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_DOC = "name: slimmer\nitems: [1, 2, 3]\nnested: {ok: true, ratio: 0.5}\n"


def index(query):
    return 200, "text/plain; charset=utf-8", (
        "python-venv sample\n"
        f"python {sys.version.split()[0]} from {sys.prefix}\n").encode()


def yaml_handler(query):
    import yaml  # third-party, in /opt/venv only; C extension yaml/_yaml*.so
    document = query.get("doc", [DEFAULT_DOC])[0]
    data = yaml.load(document, Loader=yaml.CSafeLoader)
    dumped = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=True)
    return _json({"parsed": data, "dumped": dumped.strip(), "libyaml": yaml.__with_libyaml__,
                  "module": yaml.__file__})


def db_handler(query):
    import sqlite3  # stdlib, backed by lib-dynload/_sqlite3 -> libsqlite3.so.0
    n = int(query.get("n", ["5"])[0])
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE numbers (value INTEGER)")
        connection.executemany("INSERT INTO numbers VALUES (?)", [(i,) for i in range(1, n + 1)])
        total, count = connection.execute("SELECT sum(value), count(*) FROM numbers").fetchone()
        version = connection.execute("SELECT sqlite_version()").fetchone()[0]
    finally:
        connection.close()
    return _json({"n": n, "sum": total, "count": count, "sqlite": version})


def resource_handler(query):
    import importlib.resources  # -> importlib.readers for a package on the file system
    name = query.get("name", ["greeting.txt"])[0]
    if "/" in name or name.startswith("."):
        return 400, "text/plain", b"bad name\n"
    resource = importlib.resources.files("venvapp").joinpath("data", name)
    if not resource.is_file():
        return 404, "text/plain", f"no resource {name}\n".encode()
    text = resource.read_text(encoding="utf-8")
    return _json({"name": name, "text": text, "lines": len(text.splitlines())})


def _json(payload, status=200):
    return status, "application/json", (json.dumps(payload, sort_keys=True) + "\n").encode()


ROUTES = {"/": index, "/yaml": yaml_handler, "/db": db_handler, "/resource": resource_handler}


class Handler(BaseHTTPRequestHandler):
    server_version = "python-venv-sample/1.0"

    def do_GET(self):
        url = urlsplit(self.path)
        route = ROUTES.get(url.path)
        if route is None:
            status, ctype, body = 404, "text/plain", b"not found\n"
        else:
            try:
                status, ctype, body = route(parse_qs(url.query))
            except Exception as exc:  # report import errors and the like to the client
                status, ctype, body = 500, "text/plain", f"{type(exc).__name__}: {exc}\n".encode()
                print(f"error on {self.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print("python-venv sample listening on 8080", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
