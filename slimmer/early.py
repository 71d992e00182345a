"""The build stage's layer, started while the keep stage runs (build.py's load way).

The daemon's apply of the slim layer costs it per file created: 0.3 ms a file on this
machine's filesystem when quiet, over 1 ms when many files were deleted in the minutes
before (ext4 without a journal skips recently deleted inodes one by one: docs/BUILD.md).
The keep stage (0.3-3.5 s on the sample apps) computes the keep set in Python meanwhile.
EarlyLayer runs both at once:

  1. the keeper names each path the moment it keeps it (Keeper's on_keep); the names go
     to the prestarted collect container's stdin as they come (`sensor collect - -`
     reads its list a line at a time and flushes its tar before it waits for more);
  2. the collected tar streams into `docker import` on a thread: the daemon applies the
     layer while the keep stage still computes;
  3. generated/ (written after the keep stage) comes at the end of the tar, and the
     directory entries above a path a rule may generate wait for it (a layer tar must
     not name a path twice): LayerTar's generated_last;
  4. finish() checks the paths sent against keep.list: a path sent that keep.list lacks
     (a rule that took a path back) aborts the early layer and the build streams the
     layer as before; paths keep.list has that were not sent are sent then; the list
     ends, the import completes and build.py goes on with the imported image;
  5. abort() (a failed keep stage, Ctrl-C, a mismatch) makes the import fail: its request
     body never ends, so the daemon creates no image; the collect container is removed.

Only where it cannot change the result: the load way, no --exclude-path (its veto comes
after the keep set is complete), and no image of an earlier build of the same original
left to reuse (build.early_layer decides). SLIMMER_EARLY_LAYER=off turns it off.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterator

from .collect import CollectContainer, PrestartedCollect
from .dockerport import DockerPort
from .errors import SlimError
from .keep import generated_directories
from .layertar import LayerTar, batched
from .sensor import escape_path

EARLY_ENV = "SLIMMER_EARLY_LAYER"


class _Aborted(Exception):
    """Raised inside the import's request body: the daemon sees a broken upload."""


class EarlyLayer:
    """The slim layer's collect and import, fed path by path by the keeper (see the module
    docstring). keep() is called in the keep stage's thread; finish() and abort() in the
    pipeline's; a thread sends the names, another runs the import."""

    def __init__(self, docker: DockerPort, prestarted: PrestartedCollect):
        self.docker = docker
        self.prestarted = prestarted
        self.layer = LayerTar("", generated_last=True, held_names=generated_directories())
        self.collect: CollectContainer | None = None
        self.sent: set[bytes] = set()             # keep-list lines sent, escaped as keep.list has them
        self.pending: list[bytes] = []
        self.cond = threading.Condition()
        self.ending = False                       # the list is complete: end the sensor's stdin
        self.handed_over = False                  # finish() gave the container to the build
        self.aborted = False
        self.imported: str | None = None
        self.error: BaseException | None = None   # what the import raised
        self.sent_error: BaseException | None = None  # what sending the list raised
        self.importer: threading.Thread | None = None
        self.sender = threading.Thread(target=self._send, name="slimmer-early-send", daemon=True)
        self.sender.start()

    # --- the keep stage's side ----------------------------------------------------------

    def keep(self, path: str) -> None:
        """A path the keeper just kept: to the sensor, in the sender's next batch."""
        line = escape_path(path).encode("utf-8", "surrogateescape") + b"\n"
        with self.cond:
            if self.ending or self.aborted or line in self.sent:
                return
            self.sent.add(line)
            self.pending.append(line)
            self.cond.notify()

    # --- the build stage's side ---------------------------------------------------------

    def finish(self, keep_list: str, generated_dir: str) -> "tuple[CollectContainer, LayerTar, Callable[[], str]] | None":
        """The list completed from KEEP_LIST and ended, the import waited for. Returns the
        collect container, the layer, and the import's outcome (a call that returns the
        imported image's ID or raises what the import raised), for build.py to go on as
        after an import of its own. None: the early layer is not usable (a path sent that
        keep.list lacks, or its container never started): it is gone, build the usual way."""
        with open(keep_list, "rb") as handle:
            final = {line + b"\n" for line in handle.read().split(b"\n") if line}
        with self.cond:
            usable = not self.aborted and self.sent <= final
            if usable:
                self.layer.generated_dir = generated_dir
                self.pending.extend(sorted(final - self.sent))
                self.sent |= final
                self.ending = True
                self.cond.notify()
        if not usable:
            self.abort()
            return None
        self.sender.join()
        if self.importer is not None:
            self.importer.join()
        if self.collect is None:
            return None
        self.handed_over = True
        return self.collect, self.layer, self._outcome

    def _outcome(self) -> str:
        if self.error is not None:
            raise self.error
        if self.sent_error is not None:
            raise self.sent_error
        return self.imported or ""

    def abort(self) -> None:
        """Stop: the import fails (no image), the threads end, the container is removed.
        Nothing to do once finish() handed the container over."""
        with self.cond:
            if self.aborted or self.handed_over:
                return
            self.aborted = True
            self.cond.notify()
        collect = self.collect
        if collect is not None and collect.output is not None:
            # the importer's waiting read ends, the sender's writes fail (not close(): it
            # would wait for the buffer's lock, which the importer's read holds)
            collect.output.interrupt()
        self.sender.join()
        if self.importer is not None:
            self.importer.join()
        if self.collect is not None:
            self.collect.close()
        if self.imported:                 # the upload ended before the abort: not an image to keep
            self.docker.remove_image(self.imported)
            self.docker.untrack_image(self.imported)
            self.imported = None

    # --- the threads ------------------------------------------------------------------

    def _send(self) -> None:
        try:
            collect = self.prestarted.take()
        except BaseException:             # build.py starts a container of its own and reports it
            return
        with self.cond:
            self.collect = collect
            if self.aborted:
                return
        self.importer = threading.Thread(target=self._import, name="slimmer-early-import", daemon=True)
        self.importer.start()
        try:
            while True:
                with self.cond:
                    while not self.pending and not self.ending and not self.aborted:
                        self.cond.wait()
                    if self.aborted:
                        return
                    batch, self.pending = b"".join(self.pending), []
                    end = self.ending
                collect.output.send_input(batch, end=end)
                if end:
                    return
        except OSError as exc:            # a dead collect step: its import fails too, and says why
            with self.cond:
                if not self.aborted:
                    self.sent_error = SlimError("cannot send the keep list to the collect container", str(exc),
                                                "check the daemon log and retry")

    def _import(self) -> None:
        try:
            imported = self.docker.import_layer(batched(self._blocks()))
        except BaseException as exc:
            with self.cond:
                if not self.aborted:
                    self.error = exc
            return
        with self.cond:
            self.imported = imported

    def _blocks(self) -> Iterator[bytes]:
        for block in self.layer.blocks(self.collect.output):
            if self.aborted:
                raise _Aborted("the early layer was aborted")
            yield block
