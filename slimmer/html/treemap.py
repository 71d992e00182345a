"""The build report's script: the treemap, the directory table and the removed-files list."""
from __future__ import annotations

# The treemap, the directory table and the removed-files list, drawn from #fs-data.
# Plain DOM, no library; everything stays on this page.
TREEMAP_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fs-data").textContent);
  var reasons = data.reasons;
  var MAX_DEPTH = 4, MIN_AREA = 36, HEADER = 15;

  function human(n) {
    var units = ["B", "kB", "MB", "GB"];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(n) < 1000 || i === units.length - 1) return i === 0 ? n.toFixed(0) + " B" : n.toFixed(1) + " " + units[i];
      n /= 1000;
    }
  }
  // [name, [children]] is a directory, [name, size, reason] a file
  function build(raw, parentPath) {
    var name = raw[0], path = parentPath === null ? "/" : (parentPath === "/" ? "/" + name : parentPath + "/" + name);
    if (raw.length === 3) {
      var kept = raw[2] !== 0;
      return {name: name, path: path, file: true, isKept: kept, size: raw[1], kept: kept ? raw[1] : 0,
              removed: kept ? 0 : raw[1], files: 1, removedFiles: kept ? 0 : 1, reason: reasons[raw[2]]};
    }
    var node = {name: name, path: path, file: false, size: 0, kept: 0, removed: 0, files: 0, removedFiles: 0, children: []};
    raw[1].forEach(function (child) {
      var c = build(child, path);
      node.children.push(c);
      node.size += c.size; node.kept += c.kept; node.removed += c.removed;
      node.files += c.files; node.removedFiles += c.removedFiles;
    });
    node.children.sort(function (a, b) { return b.size - a.size || (a.name < b.name ? -1 : 1); });
    return node;
  }
  var root = build(data.root, null);
  var byPath = {};
  (function index(node) { byPath[node.path] = node; (node.children || []).forEach(index); })(root);

  // squarified treemap (Bruls, Huizing, van Wijk): rows whose rectangles are as square as possible
  function worst(sizes, sum, side, scale) {
    var thickness = sum * scale / side, ratio = 0;
    sizes.forEach(function (s) { var len = s * scale / thickness; ratio = Math.max(ratio, len / thickness, thickness / len); });
    return ratio;
  }
  function squarify(items, x, y, w, h) {
    var out = [], total = 0, i = 0;
    items.forEach(function (it) { total += it.size; });
    while (i < items.length && w > 0 && h > 0 && total > 0) {
      var scale = w * h / total, side = Math.min(w, h), row = [], sum = 0, best = Infinity;
      while (i < items.length) {
        var sizes = row.map(function (r) { return r.size; }).concat([items[i].size]);
        var ratio = worst(sizes, sum + items[i].size, side, scale);
        if (row.length && ratio > best) break;
        row.push(items[i]); sum += items[i].size; best = ratio; i++;
      }
      var thick = sum * scale / side, offset = 0;
      row.forEach(function (it) {
        var len = it.size * scale / thick;
        if (w >= h) out.push([it, x, y + offset, thick, len]); else out.push([it, x + offset, y, len, thick]);
        offset += len;
      });
      if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
      total -= sum;
    }
    return out;
  }
  function box(parent, cls, x, y, w, h, title) {
    var el = document.createElement("div");
    el.className = cls;
    el.style.left = x + "px"; el.style.top = y + "px"; el.style.width = w + "px"; el.style.height = h + "px";
    if (title) el.title = title;
    parent.appendChild(el);
    return el;
  }
  function share(node) { return node.size ? Math.round(100 * node.kept / node.size) : 0; }
  function describe(node) {
    return node.path + "\n" + human(node.size) + " in the original: " + human(node.kept) + " kept, " +
      human(node.removed) + " removed" + (node.file ? (node.isKept ? " (kept: " + node.reason + ")" : "") :
      " (" + node.files + " files, " + node.removedFiles + " removed)");
  }
  // a directory too small or too deep to open: its kept and removed bytes as two parts
  function split(el, node, w, h) {
    var keptShare = node.size ? node.kept / node.size : 0;
    if (w >= h) {
      box(el, "part kept", 0, 0, w * keptShare, h);
      box(el, "part removed", w * keptShare, 0, w * (1 - keptShare), h);
    } else {
      box(el, "part kept", 0, 0, w, h * keptShare);
      box(el, "part removed", 0, h * keptShare, w, h * (1 - keptShare));
    }
  }
  function draw(parent, node, x, y, w, h, depth) {
    var items = node.children.filter(function (c) { return c.size > 0; });
    var area = w * h, total = node.size, shown = [], rest = null;
    items.forEach(function (c) {
      if (rest === null && c.size / total * area >= MIN_AREA) shown.push(c);
      else {
        rest = rest || {name: "(smaller entries)", path: node.path, file: false, size: 0, kept: 0, removed: 0,
                        files: 0, removedFiles: 0, children: [], other: true};
        rest.size += c.size; rest.kept += c.kept; rest.removed += c.removed;
        rest.files += c.files; rest.removedFiles += c.removedFiles;
      }
    });
    if (rest) shown.push(rest);
    squarify(shown, x, y, w, h).forEach(function (cell) {
      var c = cell[0], cx = cell[1], cy = cell[2], cw = cell[3], ch = cell[4];
      if (c.file) {
        var f = box(parent, "file " + (c.isKept ? "kept" : "removed"), cx, cy, cw, ch, describe(c));
        f.dataset.path = c.path;
        if (cw > 50 && ch > 16) {
          var name = document.createElement("span");
          name.className = "name";
          name.textContent = c.name + "  " + human(c.size);
          f.appendChild(name);
        }
        return;
      }
      var el = box(parent, "dir" + (c.other ? " other" : ""), cx, cy, cw, ch, describe(c));
      if (!c.other) el.dataset.path = c.path;
      var roomy = cw > 40 && ch > 34;
      if (roomy) {
        var label = document.createElement("span");
        label.className = "name";
        label.textContent = c.name + "  " + human(c.size);
        el.appendChild(label);
      }
      if (!c.other && depth < MAX_DEPTH && roomy && cw * ch > 4 * MIN_AREA) {
        draw(el, c, 1, HEADER, cw - 4, ch - HEADER - 3, depth + 1);
      } else if (roomy) {
        var inner = box(el, "part", 1, HEADER, cw - 4, ch - HEADER - 3);
        split(inner, c, cw - 4, ch - HEADER - 3);
      } else {
        split(el, c, cw - 2, ch - 2);
      }
    });
  }

  var treemap = document.getElementById("treemap");
  function crumbs(node) {
    var el = document.getElementById("crumbs");
    el.textContent = "";
    var parts = node.path === "/" ? [""] : node.path.split("/");
    var path = "";
    parts.forEach(function (part, i) {
      path = i === 0 ? "/" : (path === "/" ? "/" + part : path + "/" + part);
      var a = document.createElement("a");
      a.textContent = i === 0 ? "/ (root)" : part;
      a.dataset.path = path;
      a.href = "#" + encodeURI(path);
      el.appendChild(a);
      if (i < parts.length - 1) el.appendChild(document.createTextNode(" \u203a "));
    });
  }
  function table(node) {
    var body = document.querySelector("#dirtable tbody");
    body.textContent = "";
    node.children.slice(0, 200).forEach(function (c) {
      var tr = document.createElement("tr");
      tr.className = c.file ? "entry file" : "entry dir";
      tr.dataset.path = c.path;
      var name = document.createElement("td");
      if (c.file) name.textContent = c.name;
      else { var a = document.createElement("a"); a.href = "#" + encodeURI(c.path); a.textContent = c.name + "/"; name.appendChild(a); }
      tr.appendChild(name);
      [human(c.size), human(c.kept), human(c.removed)].forEach(function (text) {
        var td = document.createElement("td"); td.className = "num"; td.textContent = text; tr.appendChild(td);
      });
      var bar = document.createElement("td");
      bar.innerHTML = '<span class="share"><span style="width:' + share(c) + '%"></span></span> ' + share(c) + "%";
      tr.appendChild(bar);
      var files = document.createElement("td"); files.className = "num"; files.textContent = c.files; tr.appendChild(files);
      body.appendChild(tr);
    });
    document.getElementById("dirsummary").textContent = node.path + ": " + human(node.size) + " in " + node.files +
      " files; kept " + human(node.kept) + " (" + share(node) + "%), removed " + human(node.removed) + " in " +
      node.removedFiles + " files" + (node.children.length > 200 ? "; the 200 largest entries below" : "");
  }
  function show() {
    var wanted = decodeURI(location.hash.slice(1)) || "/";
    var node = byPath[wanted];
    if (!node || node.file) node = root;
    treemap.textContent = "";
    treemap.dataset.path = node.path;
    var w = treemap.clientWidth, h = treemap.clientHeight;
    if (node.size > 0) draw(treemap, node, 0, 0, w, h, 1);
    crumbs(node);
    table(node);
  }
  treemap.addEventListener("click", function (event) {
    var el = event.target.closest(".dir[data-path]");
    if (el) location.hash = encodeURI(el.dataset.path);
  });
  window.addEventListener("hashchange", show);
  window.addEventListener("resize", show);

  // every removed regular file, largest first; a filter and a "show all" button
  var removed = [];
  (function collect(node) {
    if (node.file) { if (!node.isKept) removed.push(node); return; }
    node.children.forEach(collect);
  })(root);
  removed.sort(function (a, b) { return b.size - a.size || (a.path < b.path ? -1 : 1); });
  var limit = 100;
  var search = document.getElementById("removed-search"), more = document.getElementById("removed-more");
  function listRemoved() {
    var needle = search.value.trim(), matches = needle ? removed.filter(function (f) { return f.path.indexOf(needle) >= 0; }) : removed;
    var body = document.querySelector("#removed tbody");
    body.textContent = "";
    matches.slice(0, limit).forEach(function (f) {
      var tr = document.createElement("tr");
      tr.className = "removed-file";
      var size = document.createElement("td"); size.className = "num"; size.textContent = human(f.size);
      var path = document.createElement("td"); path.className = "mono"; path.textContent = f.path;
      tr.appendChild(size); tr.appendChild(path); body.appendChild(tr);
    });
    var bytes = 0; matches.forEach(function (f) { bytes += f.size; });
    document.getElementById("removed-count").textContent = matches.length + " files, " + human(bytes) +
      (matches.length > limit ? "; showing the " + limit + " largest" : "");
    more.hidden = matches.length <= limit;
    more.textContent = "show all " + matches.length;
  }
  search.addEventListener("input", function () { limit = 100; listRemoved(); });
  more.addEventListener("click", function () { limit = Infinity; listRemoved(); });
  show();
  listRemoved();
})();
"""
