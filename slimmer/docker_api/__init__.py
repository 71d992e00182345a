"""The one package that talks to the Docker SDK (no other module imports it).

Everything slimmer creates (containers, images, volumes) carries the label
`slimmer.session=<session id>`, is registered in the adapter's ledger and is
removed by `cleanup()`, also after a failure or Ctrl-C. Every public method of
Docker raises slimmer's errors only (choke.translate_errors); the client connects on
first use (Session.client).

  session.py     the client, the label, the ledger and cleanup
  images.py      inspect, save, load, import, tag, build, file reads
  containers.py  create, copy in/out, attach, start, wait, exec, logs, remove
  networks.py    networks and volumes of the run context
  streams.py     readable streams over the daemon's HTTP responses
  choke.py       the error choke point
"""
from __future__ import annotations

from .choke import translate_errors
from .containers import Containers
from .images import ImageFileReader, Images
from .networks import Networks
from .reference import check_reference
from .session import SESSION_LABEL, Session
from .streams import AttachedOutput, ClosingTarFile, StreamReader, chunks_of


@translate_errors
class Docker(Session, Images, Containers, Networks):
    """A Docker client with a ledger of what this session created (see the package docstring)."""


__all__ = ["Docker", "ImageFileReader", "SESSION_LABEL", "AttachedOutput", "ClosingTarFile", "StreamReader",
           "check_reference", "chunks_of"]
