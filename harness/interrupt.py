"""One flag that Ctrl-C sets, polled by long waits (VM runs, host compiles) so they stop cleanly and
hand back what they finished instead of losing it."""

import threading

_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def reset() -> None:
    _stop.clear()
