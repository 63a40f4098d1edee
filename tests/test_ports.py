"""Ports for the tests' servers: each xdist worker's own, outside the range
the kernel takes outgoing connections' ports from, and not in use."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests import ports


def test_each_worker_hands_out_ports_of_its_own_below_the_outgoing_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: dict[str, set[int]] = {}
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setattr(ports, "_next", None)
        handed[worker] = {ports.free_port() for _ in range(20)}

    assert all(len(chosen) == 20 for chosen in handed.values())
    assert not handed["gw0"] & handed["gw1"]
    assert not handed["gw1"] & handed["gw2"]
    assert all(ports.FIRST_PORT <= port < 32768 for chosen in handed.values() for port in chosen)


def test_a_port_someone_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_next", 0)
    taken = ports.FIRST_PORT + ports._worker_index() * ports.PORTS_PER_WORKER
    with socket.socket() as listener:
        with contextlib.suppress(OSError):  # taken by someone else already: as good
            listener.bind(("127.0.0.1", taken))
            listener.listen()
        assert ports.free_port() != taken
