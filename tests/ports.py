"""Loopback ports for the servers the tests start (`portal serve`, SMTP, a
Stripe stand-in), free from the moment they are chosen until a server binds them.

A port the kernel hands out for `bind(("127.0.0.1", 0))` comes from its range
for outgoing connections, so in the moment between choosing it and the server
binding it, a client's connection elsewhere in the run could take it; and
pytest-xdist workers choosing at once could get the same one. Ports here come
from below that range, each xdist worker from a slice of its own, starting at
a random place in it (so that two runs on one machine rarely meet); each is
checked by binding it before it is handed out.
"""

from __future__ import annotations

import os
import random
import socket

# Linux hands out 32768-60999 for outgoing connections by default.
FIRST_PORT = 20_000
PORTS_PER_WORKER = 1_500
WORKER_SLICES = 8

_next: int | None = None


def _worker_index() -> int:
    """0 for gw0 (and without xdist), 1 for gw1, ..."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = name.removeprefix("gw")
    return int(digits) % WORKER_SLICES if digits.isdigit() else 0


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nobody listens on, not handed out before in this run."""
    global _next
    start = FIRST_PORT + _worker_index() * PORTS_PER_WORKER
    if _next is None:
        _next = random.randrange(PORTS_PER_WORKER)
    for _ in range(PORTS_PER_WORKER):
        port = start + _next
        _next = (_next + 1) % PORTS_PER_WORKER
        if _is_free(port):
            return port
    raise RuntimeError(f"no free loopback port in {start}-{start + PORTS_PER_WORKER - 1}")
