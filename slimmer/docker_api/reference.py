"""Image references: what can name an image, checked before the daemon is asked."""
from __future__ import annotations

import re

from ..errors import BadInput

# docker/distribution reference grammar, simplified: [host[:port]/]name[:tag][@digest]
_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def check_reference(reference: str) -> str:
    """Return the reference unchanged, or raise BadInput when it cannot be an image."""
    if re.fullmatch(r"(sha256:)?[0-9a-f]{12,64}", reference):
        return reference
    if not reference or not _REFERENCE.match(reference):
        raise BadInput(
            "malformed image reference", repr(reference),
            "use NAME[:TAG] or an image id, e.g. myapp:1.0 (lowercase name)")
    return reference
