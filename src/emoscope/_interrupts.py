"""A Ctrl-C that Python drops. A KeyboardInterrupt raised inside a callback that Python runs for itself (the
weakref callback that frees an import's module lock, a destructor) is printed as "Exception ignored in ..."
and dropped, so a Ctrl-C that lands there while a command imports its libraries is lost: measured, `emoscope
serve` then served on. This hook remembers such an interrupt, so that the command line honours it at its next
step (:func:`raise_if_dropped`); every unraisable exception still goes on to the hook that was there before."""
from __future__ import annotations

import sys

_dropped = False


def _remember_dropped_interrupts(unraisable, previous=sys.unraisablehook) -> None:
    global _dropped
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _dropped = True
    previous(unraisable)


def raise_if_dropped() -> None:
    """Raise the KeyboardInterrupt that Python dropped since the process began, if it did."""
    if _dropped:
        raise KeyboardInterrupt


sys.unraisablehook = _remember_dropped_interrupts
