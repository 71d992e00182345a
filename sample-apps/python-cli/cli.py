"""python-cli sample: one subcommand per stdlib module family, imported lazily.

    cli.py count FILE    lines, words and bytes (builtins only: the default CMD)
    cli.py encode FILE   the file in base64
    cli.py gzip FILE     the file gzip-compressed (mtime 0), in base64
    cli.py xml FILE      a JSON summary of an XML file (ElementTree)
    cli.py csv FILE      a JSON summary of a CSV file
Exit codes: 0 done, 2 bad usage, 1 unreadable file.
"""
import sys

USAGE = "usage: cli.py count|encode|gzip|xml|csv FILE"


def count(path):
    with open(path, "rb") as handle:
        data = handle.read()
    text = data.decode("utf-8")
    print(f"lines={len(text.splitlines())} words={len(text.split())} bytes={len(data)}")


def encode(path):
    import base64
    with open(path, "rb") as handle:
        print(base64.b64encode(handle.read()).decode("ascii"))


def gzip_file(path):
    import base64
    import gzip
    with open(path, "rb") as handle:
        data = handle.read()
    compressed = gzip.compress(data, mtime=0)
    assert gzip.decompress(compressed) == data
    print(f"gzip {len(data)} -> {len(compressed)} bytes")
    print(base64.b64encode(compressed).decode("ascii"))


def xml_summary(path):
    import json
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.parse(path).getroot()
    items = [{"name": item.get("name"), "qty": int(item.findtext("qty")),
              "price": item.findtext("price")} for item in root.iter("item")]
    print(json.dumps({"root": root.tag, "items": items,
                      "total_qty": sum(item["qty"] for item in items)}, sort_keys=True))


def csv_summary(path):
    import csv
    import json
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(json.dumps({"rows": len(rows), "columns": list(rows[0]) if rows else [],
                      "top": max(rows, key=lambda row: int(row["qty"]))["name"] if rows else None,
                      "total_qty": sum(int(row["qty"]) for row in rows)}, sort_keys=True))


COMMANDS = {"count": count, "encode": encode, "gzip": gzip_file, "xml": xml_summary, "csv": csv_summary}


def main(argv):
    if len(argv) != 2 or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[0]](argv[1])
    except OSError as exc:
        print(f"cli.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
