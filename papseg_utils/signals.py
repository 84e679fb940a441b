"""Stop on any signal as on Ctrl-C: SIGTERM and SIGHUP raise :class:`KeyboardInterrupt`.

A scheduler's time limit (Slurm sends SIGTERM), ``timeout``, ``kill`` and a
closed terminal (SIGHUP) would otherwise end a command at once, without its
``except KeyboardInterrupt`` clean-up: the runner's kernels would be orphaned
and go on writing, a study's runs would be left running. Every command calls
:func:`stop_on_signals` first, so all of these take the one Ctrl-C path:
children are stopped, unfinished work is recorded as interrupted, checkpoints
stay intact, one line is printed and the exit code is 130.

Use::

    stop_on_signals()  # first thing in a command's main()
    ...
    except KeyboardInterrupt:
        print(f"interrupted ({received()}): ...")  # 'Ctrl-C', 'SIGTERM' or 'SIGHUP'
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The signals that stop a command like Ctrl-C (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(
    s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)  # fmt: skip
_received: list[str] = []


def _raise(signum: int, frame) -> None:
    _received.append(signal.Signals(signum).name)
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`KeyboardInterrupt` (main thread only).

    SIGINT is reset too: a parent that ignores it (nohup-like launchers, some
    test runners) passes the ignore on, and Ctrl-C must always stop the command.
    Elsewhere than in the main thread (a notebook kernel's helper thread, a test
    worker) it does nothing, since Python accepts handlers only there.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _received.clear()
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise)


def received() -> str:
    """The last stop signal seen by :func:`stop_on_signals`' handler: ``'SIGTERM'``, ..., or ``'Ctrl-C'``."""
    name = _received[-1] if _received else "SIGINT"
    return "Ctrl-C" if name == "SIGINT" else name


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Ignore the stop signals while clean-up runs (a second one cannot orphan children)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
