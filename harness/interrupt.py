"""One flag that Ctrl-C sets, polled by long waits (VM runs, host compiles) so they stop cleanly and
hand back what they finished instead of losing it."""

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def reset() -> None:
    _stop.clear()


@contextmanager
def ctrl_c_requests_stop() -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) only sets the flag instead of raising KeyboardInterrupt
    wherever the main thread happens to be, e.g. halfway through writing results. Only the main
    thread can own a signal handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: request_stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
