"""Sample app for slimmer: Flask endpoints that load things lazily at request time."""
import datetime
import importlib
import re
import ssl
import zoneinfo

from flask import Flask, jsonify, request

app = Flask(__name__)

# 2024-01-15 12:00 UTC: a fixed instant, so a zone's offset is a known answer.
FIXED_INSTANT = datetime.datetime(2024, 1, 15, 12, 0, tzinfo=datetime.timezone.utc)
PLUGIN_NAME = re.compile(r"^[a-z_]{1,32}$")


@app.get("/")
def index():
    return (
        "<!doctype html><html><head><title>python-flask sample</title></head><body>"
        "<h1>python-flask sample</h1><ul>"
        '<li><a href="/lazy?plugin=report&amp;n=5">lazy plugin import</a></li>'
        '<li><a href="/tls">TLS context</a></li>'
        '<li><a href="/time?tz=Europe/Paris">time in a zone</a></li>'
        "</ul></body></html>"
    )


@app.get("/lazy")
def lazy():
    """Import plugins.<plugin> only now, and let it compute something."""
    plugin = request.args.get("plugin", "report")
    if not PLUGIN_NAME.match(plugin):
        return jsonify(error="bad plugin name"), 400
    n = request.args.get("n", "5")
    if not n.isdigit() or not 1 <= int(n) <= 1000:
        return jsonify(error="n must be 1..1000"), 400
    try:
        module = importlib.import_module(f"plugins.{plugin}")
    except ModuleNotFoundError as exc:
        return jsonify(error=f"no plugin {plugin}: {exc}"), 404
    return jsonify(plugin=plugin, n=int(n), result=module.compute(int(n)))


@app.get("/tls")
def tls():
    context = ssl.create_default_context()
    stats = context.cert_store_stats()
    return jsonify(x509_ca=stats["x509_ca"], x509=stats["x509"], openssl=ssl.OPENSSL_VERSION)


@app.get("/time")
def time_in_zone():
    name = request.args.get("tz", "UTC")
    at = request.args.get("at")
    instant = FIXED_INSTANT
    if at:
        try:
            instant = datetime.datetime.fromisoformat(at).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return jsonify(error="at must be an ISO date/time (UTC)"), 400
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        return jsonify(error=f"unknown time zone {name!r}: {exc}"), 400
    local = instant.astimezone(zone)
    return jsonify(
        tz=name,
        utc=instant.isoformat(),
        local=local.isoformat(),
        utcoffset=local.isoformat()[-6:],
        abbreviation=local.tzname(),
    )
