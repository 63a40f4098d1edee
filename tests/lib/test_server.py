"""`portal serve` as a real process: the portal's error shape where uvicorn would
answer by itself, the client address behind proxies, and a graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lib.migrate import upgrade
from lib.server import MAX_HEAD_BYTES, MAX_TARGET_BYTES, CoalescingTransport
from tests.processes import Processes, processes, start_server

ROOT = Path(__file__).resolve().parents[2]
REFUSED_WITHIN_SECONDS = 30
SOCKET_TIMEOUT_SECONDS = 30


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Processes]:
    database_url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(database_url)
    with processes(database_url=database_url, folder=tmp_path) as started:
        yield started


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # the server closed with our request unread: what came before counts
    return data


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw request on a connection of its own; the answer, read to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_SECONDS) as sock:
        sock.sendall(raw)
        return parse(read_until_closed(sock))


def parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def error_code(headers: dict[str, str], body: bytes) -> str:
    assert headers["content-type"] == "application/json", (headers, body)
    document: dict[str, Any] = json.loads(body)
    assert set(document["error"]) >= {"code", "message"}
    return str(document["error"]["code"])


# --- what uvicorn would answer in plain text ---------------------------------------------


@pytest.mark.parametrize(
    ("request_head", "status", "code"),
    [
        pytest.param(
            f"GET /api/health?{'q' * MAX_TARGET_BYTES} HTTP/1.1\r\nHost: x\r\n\r\n",
            414, "uri_too_long", id="long-request-line",
        ),
        pytest.param(
            "GET /api/health HTTP/1.1\r\nHost: x\r\n"
            + "".join(f"X-Filler-{n}: {'v' * 1000}\r\n" for n in range(40)) + "\r\n",
            431, "headers_too_large", id="many-headers",
        ),
        pytest.param(
            f"GET /api/health HTTP/1.1\r\nHost: x\r\nCookie: {'c' * (MAX_HEAD_BYTES + 1)}\r\n\r\n",
            431, "headers_too_large", id="one-huge-header",
        ),
        pytest.param("GARBAGE\r\n\r\n", 400, "malformed_request", id="not-http"),
        pytest.param(
            "GET /api/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            400, "malformed_request", id="broken-header-line",
        ),
    ],
)  # fmt: skip
def test_a_request_head_the_server_refuses_gets_the_json_error_shape(
    group: Processes, request_head: str, status: int, code: str
) -> None:
    # GIVEN a running portal
    _, base_url = start_server(group)
    # WHEN a request head it cannot take arrives
    answer_status, headers, body = exchange(port_of(base_url), request_head.encode())
    # THEN the answer is the portal's error shape, not uvicorn's plain text
    assert answer_status == status, body
    assert error_code(headers, body) == code
    assert headers["connection"] == "close"
    # AND the server goes on serving
    ok_status, _, ok_body = exchange(
        port_of(base_url), b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert ok_status == 200, ok_body


# --- behind Render's proxies, as render.yaml configures the API --------------------------


def render_api_proxy_settings() -> dict[str, str]:
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    [api] = [s for s in blueprint["services"] if s["name"] == "student-portal-api"]
    wanted = {"PORTAL_TRUSTED_PROXY_HOPS", "FORWARDED_ALLOW_IPS"}
    return {v["key"]: str(v["value"]) for v in api["envVars"] if v["key"] in wanted}


def failed_sign_in(port: int, n: int, forwarded_for: str) -> int:
    body = json.dumps({"login": f"nobody{n}", "password": "not-the-password"})
    status, _, _ = exchange(
        port,
        (
            "POST /api/auth/login HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Forwarded-For: {forwarded_for}\r\nX-Forwarded-Proto: https\r\n\r\n{body}"
        ).encode(),
    )
    return status


def test_behind_render_a_client_cannot_choose_its_own_address(group: Processes) -> None:
    # GIVEN the API configured as render.yaml configures it behind Render's proxies
    # (Cloudflare appends the client's address, Render's proxy appends Cloudflare's)
    _, base_url = start_server(group, **render_api_proxy_settings())
    port = port_of(base_url)
    # WHEN one client guesses sign-ins, writing a fresh left-most X-Forwarded-For each time
    statuses = [
        failed_sign_in(port, n, f"203.0.113.{n}, 198.51.100.7, 104.22.17.40") for n in range(60)
    ]
    # THEN its real address is throttled all the same
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert statuses[first:] == [429] * (len(statuses) - first)
    # AND another client is not, and the access log names each by its real address
    assert failed_sign_in(port, 99, "192.0.2.44, 104.22.17.40") == 401
    log = group.started[0].terminate().stdout.splitlines()
    events = [json.loads(line) for line in log if line.startswith("{")]
    clients = {
        e.get("client")
        for e in events
        if e.get("event") == "http.request" and e["path"] == "/api/auth/login"
    }
    assert clients == {"198.51.100.7", "192.0.2.44"}


# --- graceful shutdown --------------------------------------------------------------------


def wait_until_refused(port: int) -> None:
    until = time.monotonic() + REFUSED_WITHIN_SECONDS
    while time.monotonic() < until:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.05)  # pacing a bounded poll, not waiting for an outcome
    raise AssertionError("the server still accepts connections after SIGTERM")


def test_sigterm_lets_a_request_in_flight_finish_and_refuses_new_ones(group: Processes) -> None:
    # GIVEN a running portal and a sign-in whose body the client is still sending
    server, base_url = start_server(group)
    port = port_of(base_url)
    body = json.dumps({"login": "nobody", "password": "not-the-password"}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_SECONDS)
    sock.sendall(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    # (100 Continue comes when the endpoint starts reading the body: it is in flight)
    assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
    try:
        # WHEN the server is told to stop
        server.process.send_signal(signal.SIGTERM)
        # THEN it takes no new connection
        wait_until_refused(port)
        # AND the request in flight still gets its whole answer once the body arrives
        sock.sendall(body[:5])
        sock.sendall(body[5:])
        status, headers, answer = parse(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 401, answer
    assert error_code(headers, answer) == "invalid_credentials"
    # AND the server exits cleanly
    finished = server.finish()
    assert finished.returncode == 0, server.output()


class _Recorded:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


async def test_a_responses_head_and_body_leave_in_one_write() -> None:
    loop = asyncio.get_running_loop()
    inner = _Recorded()
    transport = CoalescingTransport(inner, loop)  # type: ignore[arg-type]
    # WHEN a head and a body are written in one turn of the loop
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"{}")
    assert inner.writes == []
    await asyncio.sleep(0)
    # THEN they leave as one write
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    # AND a write of a later turn leaves on its own; the rest reaches the transport
    transport.write(b"more")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"more"]
    assert transport.get_extra_info("peername") == "extra peername"
    # AND closing sends what is pending first, and nothing is written once closed
    transport.write(b"last")
    transport.close()
    assert inner.writes[2:] == [b"last"]
    assert inner.closed
    transport.write(b"too late")
    await asyncio.sleep(0)
    assert inner.writes[3:] == []
