"""The image filesystem stage: an index of an image's merged filesystem.

Input is the `docker save` stream of one image, read in one streaming pass, or the
layer cache when every layer of the image was indexed before. One module per job:

  saved.py   the outer `docker save` tar: manifest, config, which member is which layer
  codecs.py  how a layer blob is decoded (tar, tar+gzip, tar+zstd; declared media types)
  layer.py   one layer tar: its entries, whiteouts and opaque dirs (LayerRecord), placed
             in an image as LayerFiles (xray reads this level)
  sources.py which file contents are captured on the way (scripts, package databases, sources)
  merge.py   how layers merge (overlayfs semantics: whiteouts, opaque dirs, implicit parents)
  cache.py   the layer cache across runs (~/.cache/slimmer, content-addressed, bounded)
  index.py   the ImageIndex: index_image (a stream), index_image_cached (`slim build`)
  size.py    an image's size: the content size of its layer tars (docs/BUILD.md)
  query.py   reading an index: children, walk, bytes per top-level directory
"""
from __future__ import annotations

from .cache import (CACHE_DIR_ENV, CACHE_MAX_ENV, CacheStats, LayerCache, default_cache, load_python_scans,
                    save_python_scans)
from .codecs import LAYER_CODECS
from .index import IndexRead, index_image, index_image_cached
from .layer import (ELF_READ_CAP, OPAQUE_MARKER, SHEBANG_MAX, STREAM_BUFFER, WHITEOUT_PREFIX, LayerFiles,
                    LayerRecord, normalise, parse_layer, record_marker, stored_bytes, whiteout)
from .merge import HiddenCallback, MergedTree, merge_layers
from .query import bytes_by_top_dir, children, walk
from .saved import SavedImage, iter_layers, read_saved_image, saved_content_size, variant
from .size import content_size, known_content_size
from .sources import CAPTURE_MAX, CAPTURED_CONTENT, SOURCE_BUDGET, SOURCE_MAX, SOURCE_SUFFIXES

__all__ = [
    "CACHE_DIR_ENV", "CACHE_MAX_ENV", "CAPTURE_MAX", "CAPTURED_CONTENT", "CacheStats", "ELF_READ_CAP",
    "HiddenCallback", "IndexRead", "LAYER_CODECS", "LayerCache", "LayerFiles", "LayerRecord", "MergedTree",
    "OPAQUE_MARKER", "SHEBANG_MAX", "SOURCE_BUDGET", "SOURCE_MAX", "SOURCE_SUFFIXES", "STREAM_BUFFER",
    "SavedImage", "WHITEOUT_PREFIX", "load_python_scans", "save_python_scans", "bytes_by_top_dir", "children", "content_size", "default_cache",
    "index_image", "index_image_cached", "iter_layers", "known_content_size", "merge_layers", "normalise",
    "parse_layer", "read_saved_image", "record_marker", "saved_content_size", "stored_bytes", "variant", "walk", "whiteout",
]
