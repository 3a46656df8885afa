"""`emoscope serve` says where to open the app."""
import os
import signal
import socket
import subprocess
import sys

import pytest

pytest.importorskip("uvicorn")


def test_serve_prints_the_address_to_open():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "emoscope.cli", "serve", "--detector", "haar", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        first_line = server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert first_line.startswith(f"EmoScope is at http://127.0.0.1:{port}/")
