"""--continue-after signal: SIGUSR1 to slim ends the wait (slimmer/trace.py's _Sigusr1),
and the handler takes no lock (a signal can land while the main thread holds one)."""
from __future__ import annotations

import os
import signal
import threading
import time

from slimmer.trace import _Sigusr1


def test_sigusr1_ends_the_wait_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGUSR1)
    waiter = _Sigusr1(None)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    started = time.monotonic()
    waiter.wait()
    assert time.monotonic() - started < 5
    waiter.restore()
    assert signal.getsignal(signal.SIGUSR1) == before


def test_the_handler_only_sets_a_flag():
    waiter = _Sigusr1(None)
    try:
        lock = threading.Lock()
        with lock:                   # as if the signal landed inside a locked block
            waiter._on_signal(signal.SIGUSR1, None)
        assert waiter.received
        waiter.wait()                # returns at once
    finally:
        waiter.restore()


def test_an_event_of_the_caller_ends_the_wait():
    event = threading.Event()
    waiter = _Sigusr1(event)
    threading.Timer(0.2, event.set).start()
    waiter.wait()
    assert not waiter.installed
