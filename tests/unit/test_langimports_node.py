"""Node requires and imports (slimmer/langimports/node.py): what a module names, the files
Node opens for it, and its global dirs, on small fake images."""
from __future__ import annotations

import json

import pytest

from slimmer.langimports import Import, ImportResolver, discover, node_path, scan_node, strip_js_comments
from tests.unit.langfs import FakeFs, Link, Proc


# --- Node ----------------------------------------------------------------------------------

JS = br'''
// require('commented-out')
/* import x from 'also-commented' */
const fs = require('fs');
const fsp = require("node:fs/promises");
const a = require('./lib/a');
const url = "http://example.com/x"; // a // in a string is no comment
const re = /\/\/ not a comment/;
import express from 'express';
import { thing } from "@scope/pkg/sub";
import 'side-effect';
export * from './reexport.mjs';
async function lazy() {
  const m = await import('lazy-dep');
  const n = require(`templated`);
  const computed = require(name);           // out of reach
  return require.resolve('resolved-only');
}
'''


def test_node_scan_skips_comments_and_takes_literal_specifiers_only():
    names = [imp.name for imp in scan_node(JS)]
    assert names == ["fs", "node:fs/promises", "./lib/a", "express", "@scope/pkg/sub", "side-effect",
                     "./reexport.mjs", "lazy-dep", "templated", "resolved-only"]
    kinds = {imp.name: imp.kind for imp in scan_node(JS)}
    assert kinds["express"] == "import" and kinds["./lib/a"] == "require"


def test_strip_js_comments_keeps_strings_and_regex_literals():
    text = "a = '//x'; b = /[/]*/g; // gone\nc = `/* kept */` /* gone */ + 1"
    assert strip_js_comments(text) == "a = '//x'; b = /[/]*/g; \nc = `/* kept */` " + " " * 10 + " + 1"


NODE = {
    "/usr/bin/node": b"\x7fELF",
    "/app/server.js": "",
    "/app/package.json": json.dumps({"name": "app", "imports": {"#db": "./lib/db.js"}}),
    "/app/lib/a/index.js": "",
    "/app/lib/db.js": "",
    "/app/lib/b.json": "{}",
    "/app/node_modules/main-pkg/package.json": json.dumps({"main": "dist/entry"}),
    "/app/node_modules/main-pkg/dist/entry.js": "",
    "/app/node_modules/exp/package.json": json.dumps({"exports": {
        ".": {"import": "./esm/index.mjs", "require": "./cjs/index.js"},
        "./feature": {"node": {"require": "./cjs/feature.js"}, "default": "./feature.js"},
        "./utils/*": "./src/utils/*.js",
        "./internal/*": None}}),
    "/app/node_modules/exp/esm/index.mjs": "",
    "/app/node_modules/exp/cjs/index.js": "",
    "/app/node_modules/exp/cjs/feature.js": "",
    "/app/node_modules/exp/feature.js": "",
    "/app/node_modules/exp/src/utils/x.js": "",
    "/app/node_modules/exp/src/internal/y.js": "",
    "/app/node_modules/strexp/package.json": json.dumps({"exports": "./only.js"}),
    "/app/node_modules/strexp/only.js": "",
    "/app/node_modules/@scope/pkg/sub.js": "",
    "/app/node_modules/native/build/Release/addon.node": b"\x7fELF",
    "/usr/share/nodejs/debian-pkg/index.js": "",
    "/usr/share/nodejs/debian-pkg/package.json": "{}",
    "/opt/shared/from-node-path.js": "",
}


@pytest.mark.parametrize("specifier, kind, expected", [
    ("fs", "require", []),
    ("node:path", "import", []),
    ("./lib/a", "require", ["/app/lib/a/index.js"]),
    ("./lib/b", "require", ["/app/lib/b.json"]),
    ("#db", "require", ["/app/package.json", "/app/lib/db.js"]),
    ("main-pkg", "require", ["/app/node_modules/main-pkg/package.json", "/app/node_modules/main-pkg/dist/entry.js"]),
    ("exp", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/index.js"]),
    ("exp", "import", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/esm/index.mjs"]),
    ("exp/feature", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/feature.js"]),
    ("exp/feature", "import", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/feature.js"]),
    ("exp/utils/x", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/src/utils/x.js"]),
    ("exp/internal/y", "require", []),                  # exported as null: sealed
    ("exp/src/utils/x.js", "require", []),              # not exported
    ("strexp", "require", ["/app/node_modules/strexp/package.json", "/app/node_modules/strexp/only.js"]),
    ("@scope/pkg/sub", "import", ["/app/node_modules/@scope/pkg/sub.js"]),
    ("native/build/Release/addon.node", "require", ["/app/node_modules/native/build/Release/addon.node"]),
    ("debian-pkg", "require", ["/usr/share/nodejs/debian-pkg/package.json", "/usr/share/nodejs/debian-pkg/index.js"]),
    ("from-node-path", "require", ["/opt/shared/from-node-path.js"]),
    ("missing", "require", []),
])
def test_node_resolution(specifier, kind, expected):
    fs = FakeFs(NODE)
    resolver = ImportResolver(fs, discover(fs, {"NODE_PATH": "/opt/shared"}, [Proc("/usr/bin/node", ("node",))]))
    assert resolver.resolve_node(Import(specifier, kind), "/app/server.js") == expected


def test_node_module_lookup_walks_up_from_a_nested_package():
    fs = FakeFs({**NODE, "/app/node_modules/main-pkg/dist/more.js": "require('exp')\n"})
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert resolver.imports_of("/app/node_modules/main-pkg/dist/more.js",
                               fs.read("/app/node_modules/main-pkg/dist/more.js"), "node") == [
        "/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/index.js"]


def test_node_global_dirs_include_debian_dirs_and_prefix_lib_node():
    fs = FakeFs({"/usr/bin/nodejs": b"\x7fELF", "/usr/bin/node": Link("nodejs"), "/usr/share/nodejs": "DIR",
                 "/usr/lib/nodejs": "DIR", "/usr/lib/x86_64-linux-gnu/nodejs": "DIR", "/usr/lib/node": "DIR",
                 "/root/.node_modules": "DIR"})
    assert node_path(fs, {}, []).global_dirs == ("/root/.node_modules", "/usr/lib/node",
                                                 "/usr/lib/x86_64-linux-gnu/nodejs", "/usr/share/nodejs",
                                                 "/usr/lib/nodejs")
    assert node_path(FakeFs({"/usr/share/nodejs": "DIR"}), {}, []) is None      # no node in the image
