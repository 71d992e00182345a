"""slimmer: make container images small without breaking them."""

__version__ = "0.1.0"
