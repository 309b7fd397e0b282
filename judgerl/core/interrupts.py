"""Ctrl-C (SIGINT) and SIGTERM as one exception, `Interrupted`, remembered even where a library
swallows it.

The command line installs the handlers for the time a command runs: each raises Interrupted (a
KeyboardInterrupt) and records the signal, because an exception raised in the middle of a library's
import or C code can come out as another exception, or not at all (a bare `except:`). The pipeline
asks `received()` so that such a stage is still reported as interrupted, and stops before the next.

    restore = install()
    try:
        run()
    finally:
        restore()
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from judgerl.core.errors import Interrupted

_received: list[str] = []


def _handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    _received.append(name)
    raise Interrupted(name)


def received() -> str | None:
    """The signal ("SIGINT", "SIGTERM") received since `install()`, or None.

    Usage: if received(): raise Interrupted(received(), stage=name)
    """
    return _received[-1] if _received else None


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM (where they have their default handling, in the main thread) by
    raising Interrupted; returns the function that puts the earlier handlers back.

    Usage: restore = install(); ...; restore()
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {sig: signal.getsignal(sig) for sig in defaults}
    mine = [sig for sig, default in defaults.items() if previous[sig] is default]  # ignored stays ignored
    for sig in mine:
        signal.signal(sig, _handler)
    _received.clear()

    def restore() -> None:
        for sig in mine:
            signal.signal(sig, previous[sig])
        _received.clear()

    return restore
