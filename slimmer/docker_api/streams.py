"""Readable streams over the daemon's HTTP responses: `docker save`, container
archives, and an attached container's output. Each close() ends its HTTP stream: a
reader that stops early (an error, Ctrl-C) must not leave the daemon writing into a
connection nobody reads, holding the container or image busy for minutes."""
from __future__ import annotations

import io
import socket
import tarfile
import threading
from typing import BinaryIO, Callable, Iterable, Iterator


class StreamReader(io.RawIOBase):
    """A file-like object over an iterator of byte chunks (docker save, get_archive).

    With prefetch, a thread pulls chunks from the daemon while the caller parses
    the previous ones (the socket read releases the GIL), so `docker save` and
    tar parsing overlap instead of taking turns; at most `prefetch` chunks wait.

    close() ends the HTTP stream (on_close) and the prefetch thread: a reader that
    stops early (an error, Ctrl-C) must not leave the daemon writing into a
    connection nobody reads, holding the container or image busy for minutes.
    """

    def __init__(self, chunks: Iterable[bytes], prefetch: int = 0, on_close: Callable[[], None] | None = None):
        self._stop = threading.Event()
        self._on_close = on_close
        self._chunks = iter(chunks) if not prefetch else self._prefetched(chunks, prefetch)
        self._buffer = memoryview(b"")

    def _prefetched(self, chunks: Iterable[bytes], depth: int) -> Iterator[bytes]:
        import queue
        pending: queue.Queue = queue.Queue(maxsize=depth)
        done = object()

        def hand_over(item) -> bool:
            while not self._stop.is_set():
                try:
                    pending.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def pump():
            try:
                for chunk in chunks:
                    if not hand_over(chunk):
                        return
                hand_over(done)
            except BaseException as exc:  # handed to the reader, raised there
                hand_over(exc)

        threading.Thread(target=pump, daemon=True, name="slimmer-stream").start()
        while True:
            item = pending.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            if self._on_close is not None:
                try:
                    self._on_close()
                except Exception:  # already gone: nothing more to end
                    pass
        super().close()


class ClosingTarFile(tarfile.TarFile):
    """A streamed tar whose close() also ends the HTTP stream it reads (StreamReader)."""

    source: BinaryIO | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.source is not None:
                self.source.close()


class AttachedOutput(io.BufferedReader):
    """stdout of an attached container (Docker's multiplexed frames: an 8-byte header,
    stream 1 stdout or 2 stderr, then the payload), buffered; stderr goes to `stderr`."""

    def __init__(self, sock):
        super().__init__(_Frames(sock), buffer_size=1 << 20)

    @property
    def stderr(self) -> bytes:
        return bytes(self.raw.stderr)

    def interrupt(self) -> None:
        """End the connection from another thread: a read waiting in it returns the end of
        the stream. (close() takes the buffer's lock, which a waiting read holds.)"""
        self.raw.close()

    def send_input(self, data: bytes, end: bool = True) -> None:
        """DATA to the container's stdin; with END, then its end (the write half of the
        connection shut: the daemon closes a stdin_once container's stdin)."""
        raw = getattr(self.raw.socket, "_sock", self.raw.socket)
        if data:
            raw.sendall(data)
        if end:
            raw.shutdown(socket.SHUT_WR)


class _Frames(io.RawIOBase):
    STDERR_KEEP = 64 << 10                  # the last 64 kB of stderr: the sensor's message

    def __init__(self, sock):
        self.socket = sock
        self.left = 0                       # stdout bytes left in the current frame
        self.stderr = bytearray()

    def readable(self) -> bool:
        return True

    def _receive(self, view) -> int:
        if hasattr(self.socket, "recv_into"):
            return self.socket.recv_into(view)
        if hasattr(self.socket, "readinto"):
            return self.socket.readinto(view) or 0
        data = self.socket.recv(len(view))
        view[:len(data)] = data
        return len(data)

    def _exactly(self, size: int) -> bytes | None:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            n = self._receive(view[got:])
            if not n:
                return None
            got += n
        return bytes(buffer)

    def readinto(self, target) -> int:
        while self.left == 0:
            header = self._exactly(8)
            if header is None:
                return 0
            size = int.from_bytes(header[4:8], "big")
            if header[0] == 1:
                self.left = size
                continue
            payload = self._exactly(size) or b""
            if header[0] == 2:
                self.stderr += payload
                del self.stderr[:-self.STDERR_KEEP]
        n = self._receive(memoryview(target)[:min(len(target), self.left)])
        self.left -= n
        return n

    def close(self) -> None:
        """Shut the hijacked connection down for real: closing the SDK's socket object alone
        leaves the socket open while anything else references it, the daemon then blocks
        writing the container's output to it, and the container (and every `docker rmi`
        that looks at containers) waits with it."""
        if not self.closed:
            raw = getattr(self.socket, "_sock", self.socket)      # socket.SocketIO wraps the socket
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except Exception:  # already gone: nothing more to end
                pass
            response = getattr(self.socket, "_response", None)
            for end in (getattr(self.socket, "close", None), getattr(raw, "close", None),
                        getattr(response, "close", None)):
                try:
                    if end is not None:
                        end()
                except Exception:  # already gone: nothing more to end
                    pass
        super().close()


def open_stream(api, url: str, params: dict | None = None):
    """A streamed GET whose response the caller can close: (response, chunk iterator)."""
    response = api._get(url, params=params, stream=True)
    api._raise_for_status(response)
    return response, response.iter_content(1 << 20, False)



def chunks_of(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block
