"""Plugins loaded by name at request time (see app.lazy)."""
