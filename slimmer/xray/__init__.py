"""xray: what each layer of an image costs, and what it wastes.

Reading the image is one streaming pass (read.py), done apart from the
analysis; the analysis is pure: it takes the per-layer data of imagefs
(LayerFiles) and the layer instructions, and computes an XrayReport.

  read.py      xray_image, the one call for the CLI and lint (`docker save` of an image,
               docker-archive:FILE.tar, oci:DIR, oci-archive:FILE.tar); layer_instructions
  layout.py    where the config and layer blobs are: docker save archives, OCI image layouts
  store.py     an image of the daemon read from Docker's layer store (tar-split and diff
               dirs, no docker save) when it is readable; read.py falls back to docker save
  scan.py      a layer's files from its tar headers; content hashes only for the files asked
  analyse.py   analyse: sizes, reclaimable bytes, efficiency, per-layer changes, caches,
               largest files and directories, duplicates (how each figure is scored)
  findings.py  plain-word findings and where advice goes (imported base layers are context)
  tree.py      each layer's file tree (+ added, ~ modified, - removed), --tree LAYER; with
               --unmodified the whole filesystem at that layer, its changes marked (full_trees)
  ci.py        CI rules from flags, .slim-ci.toml and dive's .dive-ci, evaluated
  render.py    the text report and the JSON schema of `slim xray --json`
  report.py    the report's dataclasses
"""
from __future__ import annotations

from ..history import instruction
from .analyse import CACHE_KINDS, DUPLICATE_NOISE, TOP_N, analyse, cache_kind, is_imported
from .ci import (BYTE_RULES, CI_FILE, DEFAULT_RULES, DISABLED, DIVE_CI_FILE, DIVE_KEYS, RULES, RuleResult,
                 evaluate_rules, load_ci_rules, parse_bytes, parse_ratio, rule_flag, rule_name, rule_value)
from .findings import MB
from .layout import OCI_ARCHIVE_PREFIX, OCI_PREFIX, needs_docker
from .read import ARCHIVE_PREFIX, BASE_LABEL, layer_instructions, read_image, xray_archive, xray_file, xray_image
from .render import render_text, shorten, to_json
from .report import Change, Duplicate, FileChange, Finding, LayerReport, SizedPath, XrayReport
from .tree import MARKS, TREE_LIMIT, full_trees, render_full_tree, render_tree, select_layer


__all__ = [
    "ARCHIVE_PREFIX", "BASE_LABEL", "BYTE_RULES", "CACHE_KINDS", "CI_FILE", "DEFAULT_RULES", "DISABLED",
    "DIVE_CI_FILE", "DIVE_KEYS", "DUPLICATE_NOISE", "MARKS", "MB", "OCI_ARCHIVE_PREFIX", "OCI_PREFIX", "RULES", "TOP_N", "TREE_LIMIT", "Change",
    "Duplicate", "FileChange", "Finding", "LayerReport", "RuleResult", "SizedPath", "XrayReport", "analyse",
    "cache_kind", "evaluate_rules", "instruction", "is_imported", "layer_instructions",
    "load_ci_rules", "needs_docker", "parse_bytes", "parse_ratio", "read_image", "render_text", "render_full_tree", "render_tree", "full_trees", "rule_flag",
    "rule_name", "rule_value", "select_layer", "shorten", "to_json", "xray_archive", "xray_file", "xray_image",
]
