"""The server behind `emoscope serve`: uvicorn's, stopped by Ctrl-C (SIGINT) or SIGTERM at any moment of its startup.

uvicorn installs its signal handlers only once ``Server.serve()`` runs, inside the event loop. A signal
that comes before meets whatever the process had: Python's KeyboardInterrupt, asyncio.run's handler
(which cancels the starting server: exit status 3, "startup failure"), or nothing at all where the
parent passed SIGINT down ignored (a background job of a shell script; Python keeps an inherited
SIG_IGN), and then the server serves on forever. So :meth:`Server.run_until_stopped` installs uvicorn's
own handler before the event loop starts, and the address is announced only once the server listens:
whoever reads it can connect, and a signal sent after it is handled like any later one. A signal that
stops the server before it listens is an interruption (KeyboardInterrupt), as one during the model load.
"""
from __future__ import annotations

import signal
import threading
from typing import Callable

import uvicorn
from uvicorn.server import HANDLED_SIGNALS


class Server(uvicorn.Server):
    """``on_listening(port)`` is called once the server listens (not when it was stopped before)."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[int], None] | None = None):
        super().__init__(config)
        self.on_listening = on_listening
        self.listened = False

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self.listened = True
            if self.on_listening is not None:
                self.on_listening(self.servers[0].sockets[0].getsockname()[1])

    def run_until_stopped(self) -> bool:
        """Serve until SIGINT or SIGTERM, whenever it comes (a second SIGINT: at once, without waiting
        for open connections); True when the server did start. KeyboardInterrupt when a signal stopped it
        before it listened (a failed startup is not that: uvicorn exits then)."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            # The same handler uvicorn installs in serve(), from now on: a signal from here to there stops
            # the server as soon as it runs, and asyncio.run keeps out (it takes SIGINT only from Python's default).
            handlers = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            self.run()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if self.started and not self.listened:
            raise KeyboardInterrupt
        return self.started
